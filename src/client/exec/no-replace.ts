// Moving an entry to a new name without ever replacing what appeared at that
// name after the executor looked. rename() replaces a file or symlink at the
// target, so "lstat the target, then rename" loses a file the user writes
// there in between (found by the engine simulation, seed 1569: a conflict
// rename took the place of a file written a moment before). Instead:
// - a file gets the new name by link(), which refuses an existing name; the
//   old name then goes by a checked delete (detach.ts), so a file the user
//   put at the old name meanwhile is not what goes;
// - a symlink is made again at the new name (symlink() refuses an existing
//   name; link() would follow it on macOS), then the old one goes, checked;
// - a directory is renamed: rename() refuses a file or a non-empty
//   directory as its target, so at most an empty directory is replaced.
// A crash between the two steps leaves both names (a file's are hard links
// of one inode, and an interrupted checked delete of the old one finishes
// at the next scan): nothing is lost.

import type { LocalExpect } from '../../core/local.js';
import { isDiskError } from '../disk/errno.js';
import type { Fsys, FsStat } from '../disk/fsys.js';
import { detachAndDelete } from './detach.js';

/**
 * Moves what is at `from` (checked to be `expect`, lstat `st`) to `to`.
 * Returns the identity of what now sits at `to`, or null when `to` was
 * taken or the entry changed (nothing moved). Other disk errors are thrown.
 */
export async function moveNoReplace(fs: Fsys, from: string, to: string, expect: LocalExpect, st: FsStat): Promise<FsStat | null> {
  if (st.isDirectory()) {
    try {
      await fs.rename(from, to);
    } catch (err) {
      if (isDiskError(err, 'path_taken', 'dir_not_empty', 'path_not_dir')) return null;
      throw err;
    }
    return st;
  }
  let target: string | null = null;
  if (st.isSymbolicLink()) {
    target = await fs.readlink(from).catch(() => null);
    if (target === null) return null; // not a symlink any more: the entry changed, nothing moved
  }
  try {
    if (target !== null) await fs.symlink(target, to);
    else await fs.link(from, to);
  } catch (err) {
    if (isDiskError(err, 'path_taken')) return null;
    throw err;
  }
  // the old name goes only if it still is what was moved (a new file there stays)
  await detachAndDelete(fs, from, expect);
  return st.isSymbolicLink() ? fs.lstat(to) : st;
}
