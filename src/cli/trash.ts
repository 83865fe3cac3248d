// syncd trash list | restore: their arguments (docs/folder-modes.md "Local
// trash"). The work is in trash-commands.ts, imported when one of them runs.

import type { Command } from 'commander';

const work = () => import('./trash-commands.js');

export function register(program: Command): void {
  const trash = program
    .command('trash')
    .description("the local trash: files a remote change deleted or replaced on this device (kept trashDays, see `syncd config`)");

  trash
    .command('list')
    .description('what the local trash holds, oldest first')
    .argument('[dir]', 'the linked folder, or a folder inside it (default: current directory)')
    .option('--json', 'machine-readable output: an array of {id, path, deleted_at, size, reason, kind, hash}')
    .action(async (dir: string | undefined, o: { json?: boolean }) => (await work()).runTrashList(dir, o));

  trash
    .command('restore')
    .description('put a trashed file back (its newest version; every file under PATH when PATH was a folder); never overwrites: a taken name becomes "NAME (restored N)"')
    .argument('<path>', 'the original path inside a linked folder, absolute or relative to the current directory')
    .option('--id <id>', 'restore this entry (see `syncd trash list`) instead of the newest version')
    .action(async (path: string, o: { id?: string }) => (await work()).runTrashRestore(path, o));
}
