// Path safety at the disk edge: every relative path the engine acts on is
// joined under the root, checked to stay inside it, and its parent chain is
// checked to be real directories, so nothing is ever written through a
// symlink or outside the synced folder.

import { isAbsolute, join, relative, sep } from 'node:path';
import { stillExpected, type DiskState, type LocalExpect } from '../../core/local.js';
import { parentPath } from '../../core/tree.js';
import { SyncdError } from '../../protocol/errors.js';
import { nodeFsys, type Fsys, type FsStat } from './fsys.js';
import { isDiskError } from './errno.js';

export class UnsafePathError extends SyncdError {
  constructor(rel: string, why: string) {
    super('unsafe_path', `refusing to touch "${rel}": ${why}`);
  }
}

/** The absolute path of `rel` under `root`, or an UnsafePathError. */
export function safeJoin(root: string, rel: string): string {
  if (rel === '' ) return root;
  if (rel.includes('\0')) throw new UnsafePathError(rel, 'it contains NUL');
  if (isAbsolute(rel) || rel.startsWith('/')) throw new UnsafePathError(rel, 'it is absolute');
  const segs = rel.split('/');
  if (segs.some((s) => s === '' || s === '.' || s === '..')) throw new UnsafePathError(rel, 'it has an empty, "." or ".." segment');
  const abs = join(root, rel);
  const back = relative(root, abs);
  if (back === '' || back.startsWith('..' + sep) || back === '..' || isAbsolute(back)) throw new UnsafePathError(rel, 'it leads outside the folder');
  return abs;
}

/** The lstat of ancestor `p` of `rel`, which must be a real directory (not a symlink). */
async function realDir(root: string, rel: string, p: string, fs: Fsys): Promise<FsStat> {
  let st;
  try {
    st = await fs.lstat(safeJoin(root, p));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new SyncdError('parent_missing', `"${p}" does not exist`);
    throw err;
  }
  if (st.isSymbolicLink()) throw new UnsafePathError(rel, `"${p}" is a symlink`);
  if (!st.isDirectory()) throw new SyncdError('parent_not_dir', `"${p}" is not a directory`);
  return st;
}

/** Checks that every ancestor of `rel` (below root) is a real directory, not a symlink. */
export async function assertRealParents(root: string, rel: string, cache?: Set<string>, fs: Fsys = nodeFsys): Promise<void> {
  const chain: string[] = [];
  for (let p = parentPath(rel); p !== ''; p = parentPath(p)) chain.unshift(p);
  for (const p of chain) {
    if (cache?.has(p)) continue;
    await realDir(root, rel, p, fs);
    cache?.add(p);
  }
}

/** The identity of each directory between root and `rel`'s parent, top first. */
export type ParentChain = Array<{ path: string; dev: number; ino: number }>;

/** Like assertRealParents, and returns the chain's identities for a later assertSameParents. */
export async function parentChain(root: string, rel: string, fs: Fsys = nodeFsys): Promise<ParentChain> {
  const out: ParentChain = [];
  for (let p = parentPath(rel); p !== ''; p = parentPath(p)) {
    const st = await realDir(root, rel, p, fs);
    out.unshift({ path: p, dev: st.dev, ino: st.ino });
  }
  return out;
}

/**
 * Checks that the directories between root and `rel` are still the ones
 * `chain` recorded, by (dev, ino): a directory swapped for a symlink (or for
 * another directory) between the check and the write would carry the write
 * outside the folder. Throws UnsafePathError; never follows the swap.
 */
export async function assertSameParents(root: string, rel: string, chain: ParentChain, fs: Fsys = nodeFsys): Promise<void> {
  for (const c of chain) {
    const st = await lstatOrNull(safeJoin(root, c.path), fs);
    if (st === null || st.isSymbolicLink() || !st.isDirectory() || st.dev !== c.dev || st.ino !== c.ino) {
      const now = st === null ? 'is gone' : st.isSymbolicLink() ? 'became a symlink' : 'was replaced';
      throw new UnsafePathError(rel, `its parent "${c.path}" ${now} while the file was being fetched`);
    }
  }
}

/** lstat, or null when nothing is there. */
export async function lstatOrNull(abs: string, fs: Fsys = nodeFsys): Promise<FsStat | null> {
  try {
    return await fs.lstat(abs);
  } catch (err) {
    if (isDiskError(err, 'path_missing')) return null;
    throw err;
  }
}

export function kindOf(st: FsStat): 'file' | 'dir' | 'symlink' | 'other' {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isDirectory()) return 'dir';
  if (st.isFile()) return 'file';
  return 'other';
}

/** Does what is on disk still match what the plan expected to replace? */
export function matchesExpect(st: FsStat | null, expect: LocalExpect | null): boolean {
  return stillExpected(diskState(st), expect);
}

/** An lstat result as the core compares it. */
export function diskState(st: FsStat | null): DiskState | null {
  return st && { kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}
