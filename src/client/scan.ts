// Observation: what the folder looks like now. A full scan at start (and
// when watches are unavailable), a targeted re-stat of dirty paths while
// watching. Hashes only what changed by (inode, size, mtime); a file moved
// within the folder keeps its hash. Symlinks are lstat'ed, never followed.

import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { isBuiltinIgnoredName } from '../core/ignore-rules.js';
import type { LocalEntry, LocalTree } from '../core/local.js';
import type { PlanProblem } from '../core/ops.js';
import { baseName, isWithin, parentPath } from '../core/tree.js';
import { hashFile } from './transfer.js';

export type IgnoreFn = (path: string, isDir: boolean) => boolean;

export interface ScanResult {
  tree: LocalTree;
  hashed: number;
  problems: PlanProblem[];
}

interface Ctx {
  root: string;
  prev: LocalTree;
  prevByIno: Map<number, LocalEntry>;
  isIgnored: IgnoreFn;
  out: LocalTree;
  problems: PlanProblem[];
  hashed: number;
}

/**
 * What statEntry answers for a path it could not read (EACCES, EIO, ESTALE,
 * …): not "gone" — an unreadable path keeps what Local knew of it, or its
 * absence would propagate as a deletion to the server and every device.
 */
const UNREADABLE = Symbol('unreadable');

/** Keeps the previous Local entries of a path and everything below it. */
function carry(ctx: Ctx, path: string): void {
  const below = path === '' ? '' : path + '/';
  for (const [k, e] of ctx.prev) if (k === path || k.startsWith(below)) ctx.out.set(k, e);
}

function unreadable(ctx: Ctx, path: string, err: unknown): typeof UNREADABLE {
  ctx.problems.push({ path, code: 'unreadable', message: `cannot read "${path}" (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); what was synced of it is left as it is` });
  return UNREADABLE;
}

function identityKey(e: { ino: number; size: number | null; mtimeMs: number }): string {
  return `${e.ino}:${e.size}:${e.mtimeMs}`;
}

async function statEntry(ctx: Ctx, diskPath: string): Promise<LocalEntry | null | typeof UNREADABLE> {
  const abs = join(ctx.root, diskPath);
  let st;
  try {
    st = await lstat(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return unreadable(ctx, diskPath, err);
  }
  const path = diskPath.normalize('NFC');
  const base = { path, diskPath, mtimeMs: st.mtimeMs, ino: st.ino, exec: false, hash: null, target: null, size: null };
  if (st.isDirectory()) return { ...base, kind: 'dir' };
  if (st.isSymbolicLink()) {
    try {
      return { ...base, kind: 'symlink', target: await readlink(abs) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return unreadable(ctx, diskPath, err);
    }
  }
  if (!st.isFile()) {
    ctx.problems.push({ path: diskPath, code: 'special_file', message: `"${diskPath}" is not a regular file, directory or symlink; it is not synced` });
    return null;
  }
  const e: LocalEntry = { ...base, kind: 'file', size: st.size, exec: (st.mode & 0o100) !== 0 };
  const key = identityKey(e);
  const before = ctx.prev.get(diskPath);
  if (before && before.kind === 'file' && before.hash && identityKey(before) === key) return { ...e, hash: before.hash };
  const moved = ctx.prevByIno.get(st.ino);
  if (moved && moved.kind === 'file' && moved.hash && identityKey(moved) === key) return { ...e, hash: moved.hash };
  try {
    const h = await hashFile(abs);
    ctx.hashed++;
    const again = await lstat(abs);
    // changed while we read it: leave the hash unknown, a later pass retries
    if (again.size !== h.size || again.mtimeMs !== st.mtimeMs || again.ino !== st.ino) return e;
    return { ...e, hash: h.hash };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return unreadable(ctx, diskPath, err);
  }
}

function ignored(ctx: Ctx, diskPath: string, isDir: boolean): boolean {
  const name = baseName(diskPath);
  return isBuiltinIgnoredName(name) || ctx.isIgnored(diskPath.normalize('NFC'), isDir);
}

async function walk(ctx: Ctx, dir: string): Promise<void> {
  let names: import('node:fs').Dirent<Buffer>[];
  try {
    // names as bytes: a name that is not valid UTF-8 cannot be synced (nor
    // even opened through a decoded string), so it is reported, not skipped
    names = await readdir(dir === '' ? ctx.root : join(ctx.root, dir), { withFileTypes: true, encoding: 'buffer' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      unreadable(ctx, dir, err);
      for (const [k, e] of ctx.prev) if (dir === '' || k.startsWith(dir + '/')) ctx.out.set(k, e);
    }
    return;
  }
  const subdirs: string[] = [];
  const CHUNK = 64;
  for (let i = 0; i < names.length; i += CHUNK) {
    await Promise.all(names.slice(i, i + CHUNK).map(async (d) => {
      const name = d.name.toString('utf8');
      if (!Buffer.from(name, 'utf8').equals(d.name)) {
        const shown = (dir === '' ? '' : `${dir}/`) + name;
        ctx.problems.push({ path: shown, code: 'invalid_name', message: `"${shown}" has a name that is not valid UTF-8 (bytes ${d.name.toString('hex')}); rename it to sync it` });
        return;
      }
      const rel = dir === '' ? name : `${dir}/${name}`;
      if (ignored(ctx, rel, d.isDirectory())) return;
      const e = await statEntry(ctx, rel);
      if (e === UNREADABLE) return carry(ctx, rel);
      if (!e) return;
      ctx.out.set(rel, e);
      if (e.kind === 'dir') subdirs.push(rel);
    }));
  }
  for (const s of subdirs) await walk(ctx, s);
}

function context(root: string, prev: LocalTree, isIgnored: IgnoreFn, out: LocalTree): Ctx {
  const prevByIno = new Map<number, LocalEntry>();
  for (const e of prev.values()) if (e.kind === 'file') prevByIno.set(e.ino, e);
  return { root, prev, prevByIno, isIgnored, out, problems: [], hashed: 0 };
}

/** Scans the whole folder. `prev` is the Local tree of the last scan (its hashes are reused). */
export async function scanAll(root: string, prev: LocalTree, isIgnored: IgnoreFn): Promise<ScanResult> {
  const ctx = context(root, prev, isIgnored, new Map());
  await walk(ctx, '');
  return { tree: ctx.out, hashed: ctx.hashed, problems: ctx.problems };
}

/**
 * Re-stats the given disk paths (watcher hints) and returns the updated tree:
 * a path that vanished takes its subtree with it, a new directory is walked.
 */
export async function scanPaths(root: string, prev: LocalTree, dirty: Iterable<string>, isIgnored: IgnoreFn): Promise<ScanResult> {
  const out = new Map(prev);
  const ctx = context(root, prev, isIgnored, out);
  const paths = [...new Set(dirty)].sort();
  // directories walked whole in this pass: what is below them is already
  // up to date (a watcher names every entry of a new directory too, and
  // re-stating them would hash each new file a second time)
  const walked = new Set<string>();
  const underWalked = (p: string) => {
    for (let a = parentPath(p); a !== ''; a = parentPath(a)) if (walked.has(a)) return true;
    return false;
  };
  for (const p of paths) {
    if (p === '' ) {
      return scanAll(root, prev, isIgnored);
    }
    if (walked.size && underWalked(p)) continue;
    // a parent that is not (or no longer) a directory: rescan from the nearest known ancestor
    const parent = parentPath(p);
    if (parent !== '' && out.get(parent)?.kind !== 'dir') {
      const pe = await statEntry(ctx, parent);
      if (!pe || pe === UNREADABLE || pe.kind !== 'dir') continue;
    }
    const isDirHint = prev.get(p)?.kind === 'dir';
    if (ignored(ctx, p, isDirHint)) continue;
    const e = await statEntry(ctx, p);
    if (e === UNREADABLE) continue; // out still holds what Local knew
    const had = out.get(p);
    if (!e) {
      for (const k of [...out.keys()]) if (isWithin(k, p)) out.delete(k);
      continue;
    }
    if (had && had.kind === 'dir' && e.kind !== 'dir') for (const k of [...out.keys()]) if (k !== p && isWithin(k, p)) out.delete(k);
    out.set(p, e);
    if (e.kind === 'dir' && (!had || had.kind !== 'dir' || had.ino !== e.ino)) {
      for (const k of [...out.keys()]) if (k !== p && isWithin(k, p)) out.delete(k);
      await walk(ctx, p);
      walked.add(p);
    }
  }
  return { tree: out, hashed: ctx.hashed, problems: ctx.problems };
}

/** Writes the difference between two Local trees into the state DB rows. */
export function localDiff(prev: LocalTree, next: LocalTree): { put: LocalEntry[]; del: string[] } {
  const put: LocalEntry[] = [];
  const del: string[] = [];
  for (const [k, e] of next) {
    const p = prev.get(k);
    if (!p || p.kind !== e.kind || p.ino !== e.ino || p.size !== e.size || p.mtimeMs !== e.mtimeMs || p.hash !== e.hash || p.exec !== e.exec || p.target !== e.target || p.path !== e.path) put.push(e);
  }
  for (const k of prev.keys()) if (!next.has(k)) del.push(k);
  return { put, del };
}
