// syncd init | sync | watch | pause | resume | conflicts: their arguments.
// The work is in client-commands.ts, imported when one of them runs, so
// `syncd --help` or `syncd serve` never load the agent's modules.

import { Option, type Command } from 'commander';
import { addConfigFlags } from './config-cmd.js';

type RunOpts = Record<string, unknown>;

const work = () => import('./client-commands.js');

export function register(program: Command): void {
  program
    .command('init')
    .description('link a folder to a namespace on a syncd server (the folder is created if missing)')
    .argument('<dir>', 'the folder to sync')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:7420')
    .option('--token <token>', 'device token from `syncd server add-device` ("-" reads it from stdin; prefer --token-file or SYNCD_TOKEN: a command line is visible to other users)')
    .option('--token-file <file>', 'read the device token from this file')
    .action(async (dir: string, o: { server: string; token?: string; tokenFile?: string }) => (await work()).runInit(dir, o));

  addConfigFlags(program.command('sync'))
    .description('run one full cycle (pull, reconcile, push); exit 0 when the folder and the namespace agree')
    .argument('[dir]', 'the folder (default: current directory)')
    .action(async (dir: string | undefined, o: RunOpts) => (await work()).runSync(dir, o));

  addConfigFlags(program.command('watch'))
    .description('run the agent in the foreground until SIGINT/SIGTERM')
    .argument('[dir]', 'the folder (default: current directory)')
    .action(async (dir: string | undefined, o: RunOpts) => (await work()).runWatch(dir, o));

  program
    .command('pause')
    .description('pause syncing of a folder (the agent keeps running and keeps pulling)')
    .argument('[dir]', 'the folder (default: current directory)')
    .action(async (dir: string | undefined) => (await work()).runPause(dir));

  program
    .command('resume')
    .description('resume a paused folder; after a mass-delete pause the held-back deletions then go ahead')
    .argument('[dir]', 'the folder (default: current directory)')
    .option('--force', 'resume even though the folder is missing its marker or is empty (you emptied it on purpose)')
    .action(async (dir: string | undefined, o: { force?: boolean }) => (await work()).runResume(dir, o));

  program
    .command('conflicts')
    .description('list conflicted copies; --keep resolves them all at once')
    .argument('[dir]', 'the folder (default: current directory)')
    .addOption(new Option('--keep <side>', 'keep the local copy (replacing the synced file) or the remote version (deleting the copy)').choices(['local', 'remote']))
    .option('--json', 'machine-readable output')
    .action(async (dir: string | undefined, o: { keep?: 'local' | 'remote'; json?: boolean }) => (await work()).runConflicts(dir, o));
}
