// syncd history | restore | deleted | rewind | activity: their arguments
// (docs/history.md). The work is in history-commands.ts, imported when one
// of them runs.

import type { Command } from 'commander';

const work = () => import('./history-commands.js');

export function register(program: Command): void {
  program
    .command('history')
    .description('versions of the file at PATH (or of the node last seen there), newest first')
    .argument('<path>', 'a path inside a linked folder, absolute or relative to the current directory')
    .option('--json', 'machine-readable output')
    .option('--limit <n>', 'the newest N versions (1–10000)', '1000')
    .action(async (path: string, o: { json?: boolean; limit: string }) => (await work()).runHistory(path, o));

  program
    .command('restore')
    .description('make a version of PATH the current one on every device; a deleted file or folder comes back as it was just before its deletion')
    .argument('<path>', 'a path inside a linked folder')
    .option('--rev <n>', 'the version to restore (see `syncd history`)')
    .option('--at <time>', 'the version current at TIME: ISO 8601 (local time without offset) or an age such as 90m, 2h, 3d')
    .option('--to <dest>', 'write that version to DEST outside the folder instead, and commit nothing')
    .action(async (path: string, o: { rev?: string; at?: string; to?: string }) => (await work()).runRestore(path, o));

  program
    .command('deleted')
    .description('files and folders deleted under DIR that can still be restored')
    .argument('[dir]', 'a folder inside a linked folder, or the linked folder itself (default: current directory)')
    .option('--json', 'machine-readable output')
    .action(async (dir: string | undefined, o: { json?: boolean }) => (await work()).runDeleted(dir, o));

  program
    .command('rewind')
    .description('bring everything under DIR back to how it was at TIME, as one batch of ordinary changes')
    .argument('<dir>', 'a folder inside a linked folder, or the linked folder itself')
    .requiredOption('--at <time>', 'ISO 8601 (local time without offset) or an age such as 90m, 2h, 3d')
    .option('--dry-run', 'list what it would do and change nothing')
    .action(async (dir: string, o: { at: string; dryRun?: boolean }) => (await work()).runRewind(dir, o));

  program
    .command('activity')
    .description('the latest changes under DIR: time, device, operation, path')
    .argument('[dir]', 'a folder inside a linked folder, or the linked folder itself (default: current directory)')
    .option('--json', 'machine-readable output')
    .option('--limit <n>', 'how many changes (1–10000)', '20')
    .action(async (dir: string | undefined, o: { json?: boolean; limit: string }) => (await work()).runActivity(dir, o));
}
