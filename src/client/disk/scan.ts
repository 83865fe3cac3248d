// Observation: what the folder looks like now. A full scan at start (and
// when watches are unavailable), a targeted re-stat of dirty paths while
// watching. Hashes only what changed by (inode, size, mtime); a file moved
// within the folder keeps its hash. Symlinks are lstat'ed, never followed.

import { join } from 'node:path';
import { isBuiltinIgnoredName } from '../../core/ignore-rules.js';
import type { LocalEntry, LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import { baseName, isWithin, parentPath } from '../../core/tree.js';
import { nodeFsys, type Fsys, type FsDirStat, type FsStat } from './fsys.js';
import { hashFile } from '../transfer/upload.js';
import { PART_PREFIX, TEMP_PREFIX, TRASH_PREFIX } from '../../core/syncd-names.js';
import type { PartialFile } from '../../core/policy/partials.js';
import { isDiskError } from './errno.js';

export type IgnoreFn = (path: string, isDir: boolean) => boolean;

export interface ScanResult {
  tree: LocalTree;
  hashed: number;
  problems: PlanProblem[];
  /** leftover download temp files (`.syncd-tmp-*`) the walk passed, as disk paths */
  temps: string[];
  /** partials of downloads cut short (`.syncd-part-*`) the walk passed, by disk path */
  partials: PartialFile[];
}

interface Ctx {
  fs: Fsys;
  root: string;
  prev: LocalTree;
  /** previous file entries by inode (moves keep their hash); built on first use */
  prevByIno: Map<number, LocalEntry> | null;
  isIgnored: IgnoreFn;
  out: LocalTree;
  problems: PlanProblem[];
  hashed: number;
  /** leftover download temp files seen (disk paths) */
  temps: string[];
  partials: PartialFile[];
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

/** ENOTDIR: a parent on the way is no longer a directory, so the path is gone too. */
function isGone(err: unknown): boolean {
  return isDiskError(err, 'path_missing', 'path_not_dir');
}

/** Same inode, size and mtime: the content is taken to be unchanged. */
function sameIdentity(a: LocalEntry, ino: number, size: number, mtimeMs: number): boolean {
  return a.kind === 'file' && a.hash !== null && a.ino === ino && a.size === size && a.mtimeMs === mtimeMs;
}

function byIno(ctx: Ctx): Map<number, LocalEntry> {
  if (ctx.prevByIno) return ctx.prevByIno;
  const m = new Map<number, LocalEntry>();
  for (const e of ctx.prev.values()) if (e.kind === 'file') m.set(e.ino, e);
  return (ctx.prevByIno = m);
}

async function statEntry(ctx: Ctx, diskPath: string): Promise<LocalEntry | null | typeof UNREADABLE> {
  let st;
  try {
    st = await ctx.fs.lstat(join(ctx.root, diskPath));
  } catch (err) {
    if (isGone(err)) return null;
    return unreadable(ctx, diskPath, err);
  }
  return entryOf(ctx, diskPath, st);
}

/**
 * The Local entry for what lstat found at `diskPath`: the previous entry
 * itself when nothing changed (most of a scan), else a new one, hashing a
 * file only when its identity (inode, size, mtime) is new.
 */
function entryOf(ctx: Ctx, diskPath: string, st: FsStat): LocalEntry | null | typeof UNREADABLE | Promise<LocalEntry | null | typeof UNREADABLE> {
  const before = ctx.prev.get(diskPath);
  if (st.isFile()) {
    const exec = (st.mode & 0o100) !== 0;
    if (before && sameIdentity(before, st.ino, st.size, st.mtimeMs)) {
      return before.exec === exec ? before : { ...before, exec };
    }
  } else if (st.isDirectory() && before && before.kind === 'dir' && before.ino === st.ino && before.mtimeMs === st.mtimeMs) {
    return before;
  }
  const path = diskPath.normalize('NFC');
  const base = { path, diskPath, mtimeMs: st.mtimeMs, ino: st.ino, exec: false, hash: null, target: null, size: null };
  if (st.isDirectory()) return { ...base, kind: 'dir' };
  if (st.isSymbolicLink()) return readSymlink(ctx, diskPath, base);
  if (!st.isFile()) {
    ctx.problems.push({ path: diskPath, code: 'special_file', message: `"${diskPath}" is not a regular file, directory or symlink; it is not synced` });
    return null;
  }
  const e: LocalEntry = { ...base, kind: 'file', size: st.size, exec: (st.mode & 0o100) !== 0 };
  const moved = byIno(ctx).get(st.ino);
  if (moved && sameIdentity(moved, st.ino, st.size, st.mtimeMs)) return { ...e, hash: moved.hash };
  return hashEntry(ctx, diskPath, e, st);
}

async function readSymlink(ctx: Ctx, diskPath: string, base: Omit<LocalEntry, 'kind'>): Promise<LocalEntry | null | typeof UNREADABLE> {
  try {
    return { ...base, kind: 'symlink', target: await ctx.fs.readlink(join(ctx.root, diskPath)) };
  } catch (err) {
    if (isGone(err)) return null;
    return unreadable(ctx, diskPath, err);
  }
}

async function hashEntry(ctx: Ctx, diskPath: string, e: LocalEntry, st: FsStat): Promise<LocalEntry | null | typeof UNREADABLE> {
  const abs = join(ctx.root, diskPath);
  try {
    const h = await hashFile(abs, ctx.fs);
    ctx.hashed++;
    const again = await ctx.fs.lstat(abs);
    // changed while we read it: leave the hash unknown, a later pass retries
    if (again.size !== h.size || again.mtimeMs !== st.mtimeMs || again.ino !== st.ino) return e;
    return { ...e, hash: h.hash };
  } catch (err) {
    if (isGone(err)) return null;
    return unreadable(ctx, diskPath, err);
  }
}

function ignored(ctx: Ctx, diskPath: string, isDir: boolean): boolean {
  const name = baseName(diskPath);
  // the previous entry at this spelling already holds its NFC path
  return isBuiltinIgnoredName(name) || ctx.isIgnored(ctx.prev.get(diskPath)?.path ?? diskPath.normalize('NFC'), isDir);
}

/** Entries being read (symlinks) or hashed at once. */
const IN_FLIGHT = 16;

async function walk(ctx: Ctx, dir: string): Promise<void> {
  let list: FsDirStat[];
  try {
    list = await ctx.fs.lstatDir(dir === '' ? ctx.root : join(ctx.root, dir));
  } catch (err) {
    if (!isGone(err)) {
      unreadable(ctx, dir, err);
      for (const [k, e] of ctx.prev) if (dir === '' || k.startsWith(dir + '/')) ctx.out.set(k, e);
    }
    return;
  }
  const subdirs: string[] = [];
  const slow: { rel: string; p: Promise<LocalEntry | null | typeof UNREADABLE> }[] = [];
  const settle = (rel: string, e: LocalEntry | null | typeof UNREADABLE): void => {
    if (e === UNREADABLE) return carry(ctx, rel);
    if (!e) return;
    ctx.out.set(rel, e);
    if (e.kind === 'dir') subdirs.push(rel);
  };
  const drain = async (): Promise<void> => {
    for (const x of slow.splice(0)) settle(x.rel, await x.p);
  };
  for (const d of list) {
    // a name that is not valid UTF-8 (given as bytes) cannot be synced (nor
    // even opened through a decoded string), so it is reported, not skipped
    if (typeof d.name !== 'string') {
      const shown = (dir === '' ? '' : `${dir}/`) + d.name.toString('utf8');
      ctx.problems.push({ path: shown, code: 'invalid_name', message: `"${shown}" has a name that is not valid UTF-8 (bytes ${d.name.toString('hex')}); rename it to sync it` });
      continue;
    }
    const name = d.name;
    const rel = dir === '' ? name : `${dir}/${name}`;
    if (d.err) {
      // its kind is unknown: skipped only if ignored either way, else kept as Local knew it
      if (!(ignored(ctx, rel, false) && ignored(ctx, rel, true))) {
        unreadable(ctx, rel, d.err);
        carry(ctx, rel);
      }
      continue;
    }
    const st = d.st;
    if (!st) continue; // vanished since readdir
    if ((name.startsWith(TEMP_PREFIX) || name.startsWith(TRASH_PREFIX)) && !st.isDirectory()) ctx.temps.push(rel);
    else if (name.startsWith(PART_PREFIX) && st.isFile()) ctx.partials.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs });
    if (ignored(ctx, rel, st.isDirectory())) continue;
    const e = entryOf(ctx, rel, st);
    if (e instanceof Promise) {
      slow.push({ rel, p: e });
      if (slow.length >= IN_FLIGHT) await drain();
    } else settle(rel, e);
  }
  await drain();
  for (const s of subdirs) await walk(ctx, s);
}

function context(fs: Fsys, root: string, prev: LocalTree, isIgnored: IgnoreFn, out: LocalTree): Ctx {
  return { fs, root, prev, prevByIno: null, isIgnored, out, problems: [], hashed: 0, temps: [], partials: [] };
}

/** Scans the whole folder. `prev` is the Local tree of the last scan (its hashes are reused). */
export async function scanAll(root: string, prev: LocalTree, isIgnored: IgnoreFn, fs: Fsys = nodeFsys): Promise<ScanResult> {
  const ctx = context(fs, root, prev, isIgnored, new Map());
  await walk(ctx, '');
  return { tree: ctx.out, hashed: ctx.hashed, problems: ctx.problems, temps: ctx.temps, partials: ctx.partials };
}

/**
 * Re-stats the given disk paths (watcher hints) and returns the updated tree:
 * a path that vanished takes its subtree with it, a new directory is walked.
 */
export async function scanPaths(root: string, prev: LocalTree, dirty: Iterable<string>, isIgnored: IgnoreFn, fs: Fsys = nodeFsys): Promise<ScanResult> {
  const out = new Map(prev);
  const ctx = context(fs, root, prev, isIgnored, out);
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
      return scanAll(root, prev, isIgnored, fs);
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
  return { tree: out, hashed: ctx.hashed, problems: ctx.problems, temps: ctx.temps, partials: ctx.partials };
}

/** Writes the difference between two Local trees into the state DB rows. */
export function localDiff(prev: LocalTree, next: LocalTree): { put: LocalEntry[]; del: string[] } {
  const put: LocalEntry[] = [];
  const del: string[] = [];
  for (const [k, e] of next) {
    const p = prev.get(k);
    if (p === e) continue; // the scan kept the entry as it was
    if (!p || p.kind !== e.kind || p.ino !== e.ino || p.size !== e.size || p.mtimeMs !== e.mtimeMs || p.hash !== e.hash || p.exec !== e.exec || p.target !== e.target || p.path !== e.path) put.push(e);
  }
  for (const k of prev.keys()) if (!next.has(k)) del.push(k);
  return { put, del };
}
