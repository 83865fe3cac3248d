// syncd exclude add|remove PATH...  and  syncd exclude list [DIR] [--json]:
// their arguments; the work is in exclude-commands.ts, imported when they run.

import type { Command } from 'commander';

const work = () => import('./exclude-commands.js');

export function register(program: Command): void {
  const exclude = program
    .command('exclude')
    .description('selective sync: keep folders or files of the namespace out of this device\'s folder (see docs/folder-modes.md)');

  exclude
    .command('add')
    .description('exclude paths: each local copy is removed once every local change in it has reached the server; nothing is deleted on the server')
    .argument('<path...>', 'paths inside a linked folder (absolute or relative to the current directory)')
    .action(async (paths: string[]) => (await work()).runExcludeAdd(paths));

  exclude
    .command('remove')
    .description('sync excluded paths again: their content is downloaded')
    .argument('<path...>', 'excluded paths inside a linked folder (absolute or relative to the current directory)')
    .action(async (paths: string[]) => (await work()).runExcludeRemove(paths));

  exclude
    .command('list')
    .description('list the excluded paths of a folder')
    .argument('[dir]', 'the folder, or a path inside it (default: current directory)')
    .option('--json', 'a JSON array of paths relative to the linked folder')
    .action(async (dir: string | undefined, o: { json?: boolean }) => (await work()).runExcludeList(dir, o));
}
