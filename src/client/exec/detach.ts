// Removing a file the plan says to delete, without a window in which a
// user's fresh edit of that path could be deleted instead. An lstat check
// followed by unlink-by-path has one: whatever is at the path at unlink time
// goes, checked or not. So the file is first renamed aside (atomic: it takes
// exactly what is there), the aside is checked, and only then unlinked; if
// it is not what the plan expected, it goes back (or, if the path was taken
// again meanwhile, becomes a conflicted copy). A crash between the rename and
// the end leaves a `.syncd-trash-<ino>-…` file: the next scan meets it and
// `recoverTrash` decides with what Local knew of that inode. With the local
// trash on (disk/trash.ts), "unlinked" reads "moved into `.syncd-trash/`".

import { randomBytes } from 'node:crypto';
import { basename, dirname, join, relative } from 'node:path';
import type { LocalEntry, LocalExpect } from '../../core/local.js';
import { baseName } from '../../core/tree.js';
import { TRASH_PREFIX, trashIno, trashName } from '../../core/syncd-names.js';
import type { Fsys, FsStat } from '../disk/fsys.js';
import { lstatOrNull, matchesExpect } from '../disk/safe-fs.js';
import { isDiskError } from '../disk/errno.js';
import type { Log } from '../agent/log.js';
import type { Dispose } from './to-trash.js';

export type DetachResult = 'deleted' | 'gone' | 'changed';

function kindOf(st: FsStat): 'file' | 'symlink' | 'dir' {
  return st.isFile() ? 'file' : st.isSymbolicLink() ? 'symlink' : 'dir';
}

function newTrashName(ino: number): string {
  return trashName(ino, randomBytes(6).toString('hex'));
}

/**
 * Puts `aside` back at `abs` without replacing anything; when `abs` is taken,
 * under the first free "(kept by syncd N)" name beside it. Never loses it.
 * A file goes back by link() and a symlink is made again by symlink() (both
 * refuse a name that exists; link() follows symlinks on some systems), a
 * directory by rename() (which refuses a file or a non-empty directory).
 * An lstat of the name and then rename() would replace a file the user
 * wrote there in between (engine simulation, seed 1240 with batches of 3).
 */
async function putBack(fs: Fsys, aside: string, abs: string, kind: 'file' | 'symlink' | 'dir'): Promise<string> {
  const linkTarget = kind === 'symlink' ? await fs.readlink(aside).catch(() => null) : null;
  if (kind === 'symlink' && linkTarget === null) return aside; // not a symlink any more: left where it is
  const dir = dirname(abs);
  const name = basename(abs);
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  for (let n = 0; n < 1000; n++) {
    const target = n === 0 ? abs : join(dir, `${stem} (kept by syncd${n === 1 ? '' : ` ${n}`})${ext}`);
    try {
      if (kind === 'file') await fs.link(aside, target);
      else if (linkTarget !== null) await fs.symlink(linkTarget, target);
      else await fs.rename(aside, target);
      if (kind !== 'dir') await fs.unlink(aside);
      return target;
    } catch (err) {
      if (!isDiskError(err, 'path_taken', 'dir_not_empty', 'path_not_dir')) throw err;
    }
  }
  return aside; // left where it is: the next scan tries again
}

/**
 * Deletes the file or symlink at `abs` only if it still is `expect`: it is
 * unlinked, or handed to `dispose` (the local trash) once checked.
 * 'gone': nothing was there; 'changed': something else was (it is back in
 * place, or beside it); 'deleted': done.
 */
export async function detachAndDelete(fs: Fsys, abs: string, expect: LocalExpect, dispose?: Dispose): Promise<DetachResult> {
  const aside = join(dirname(abs), newTrashName(expect.ino));
  try {
    await fs.rename(abs, aside);
  } catch (err) {
    if (isDiskError(err, 'path_missing')) return 'gone';
    throw err;
  }
  const st = await lstatOrNull(aside, fs);
  if (st !== null && matchesExpect(st, expect)) {
    await (dispose ? dispose(aside, st) : fs.unlink(aside));
    return 'deleted';
  }
  if (st !== null) await putBack(fs, aside, abs, kindOf(st));
  return 'changed';
}

/**
 * A `.syncd-trash-*` file a crash left (disk path `rel` under `root`): if it
 * still is the file Local knew at that inode, the delete goes through; else it
 * goes back to where Local had it. Returns what it did, for the log.
 */
export async function recoverTrash(fs: Fsys, root: string, rel: string, local: ReadonlyMap<string, LocalEntry>, dispose?: (path: string) => Dispose | undefined, restoredTo?: string[]): Promise<'deleted' | 'restored' | 'left'> {
  const abs = join(root, rel);
  const st = await lstatOrNull(abs, fs);
  if (st === null || st.isDirectory()) return 'left';
  const ino = trashIno(basename(rel)) ?? NaN;
  let known: LocalEntry | undefined;
  for (const e of local.values()) if (e.ino === ino && e.ino === st.ino) known = e;
  if (known && known.kind !== 'dir' && matchesExpect(st, { kind: known.kind, size: known.size, mtimeMs: known.mtimeMs, ino: known.ino })) {
    const d = dispose?.(known.diskPath);
    await (d ? d(abs, st) : fs.unlink(abs));
    return 'deleted';
  }
  // not provably what a delete meant to take: give it back
  const home = known ? join(root, known.diskPath) : join(dirname(abs), `recovered by syncd ${basename(rel).slice(TRASH_PREFIX.length)}`);
  const at = await putBack(fs, abs, home, kindOf(st));
  if (at === abs) return 'left';
  restoredTo?.push(relative(root, at));
  return 'restored';
}

/**
 * Clears what a crash left in the folder (the scan reports them as `temps`):
 * a download temp file is kept as a partial when `keep` takes it (a large
 * download's, to resume from: transfer/partials.ts), else unlinked (a link
 * of that name goes, never its target); a delete interrupted after its
 * rename aside is finished only if the file is still what Local knew, and
 * undone otherwise. Returns the disk paths (under `root`) where undone
 * deletes put files back: new to Local.
 */
export async function removeLeftovers(fs: Fsys, root: string, temps: readonly string[], local: ReadonlyMap<string, LocalEntry>, log: Log, dispose?: (path: string) => Dispose | undefined, keep?: (abs: string) => Promise<boolean>): Promise<string[]> {
  let removed = 0;
  let kept = 0;
  const restored: string[] = [];
  for (const t of temps) {
    try {
      if (baseName(t).startsWith(TRASH_PREFIX)) {
        const r = await recoverTrash(fs, root, t, local, dispose, restored);
        if (r !== 'left') log.info(`an interrupted delete was ${r === 'deleted' ? 'finished' : 'undone (the file had changed)'}`, { path: t });
        continue;
      }
      if (keep && (await keep(join(root, t)))) {
        kept++;
        continue;
      }
      await fs.unlink(join(root, t));
      removed++;
    } catch (err) {
      // gone already, or not removable now: the next scan that meets it tries again
      if (!isDiskError(err, 'path_missing')) log.warn(`cannot remove the leftover temp file ${t}: ${(err as Error).message}`);
    }
  }
  if (removed) log.info('removed leftover temp files', { count: removed });
  if (kept) log.info('kept the temp files of large downloads cut short, to resume from', { count: kept });
  return restored;
}
