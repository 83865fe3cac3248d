// Observation: what the folder looks like now. A full scan at start (and
// when watches are unavailable), a targeted re-stat of dirty paths while
// watching. Hashes only what changed by (inode, size, mtime); a file moved
// within the folder keeps its hash. Symlinks are lstat'ed, never followed.
//
// The full scan compares the disk with Local a directory at a time
// (`LocalSource`: the state DB's rows of one directory, or a tree in
// memory) and reports only what differs (`ScanSink`): it holds one
// directory's entries, never the whole tree.

import { join } from 'node:path';
import { isBuiltinIgnoredName } from '../../core/ignore-rules.js';
import type { LocalEntry, LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import { baseName, isWithin, parentPath } from '../../core/tree.js';
import { nodeFsys, type Fsys, type FsDirStat, type FsStat } from './fsys.js';
import { hashFile } from '../transfer/upload.js';
import { PART_PREFIX, TEMP_PREFIX, TRASH_PREFIX, trashIno } from '../../core/syncd-names.js';
import type { PartialFile } from '../../core/policy/partials.js';
import { isDiskError } from './errno.js';

export type IgnoreFn = (path: string, isDir: boolean) => boolean;

/** Local as a scan reads it: a directory's entries, and files by inode. */
export interface LocalSource {
  /** the entries directly in `dir` (a disk path; '' for the root) */
  children(dir: string): LocalEntry[];
  /** the entries with this inode */
  byIno(ino: number): LocalEntry[];
}

/** Where a full scan reports what differs from Local. */
export interface ScanSink {
  /** a new or changed entry; `before` is what Local held at its disk path (a directory's subtree goes when it is no longer one) */
  put(e: LocalEntry, before: LocalEntry | undefined): void;
  /** the entry at this disk path and everything below it are gone */
  del(diskPath: string): void;
  /** a directory's listing is settled (a writer may flush here) */
  dirDone?(): void;
}

/** What a scan found besides the entries. */
export interface ScanFindings {
  hashed: number;
  problems: PlanProblem[];
  /** leftover download temp files (`.syncd-tmp-*`) the walk passed, as disk paths */
  temps: string[];
  /** partials of downloads cut short (`.syncd-part-*`) the walk passed, by disk path */
  partials: PartialFile[];
  /** the Local entries (as they were before this scan) of the inodes that renamed-aside leftovers (`.syncd-trash-*`) name */
  known: LocalTree;
}

export interface ScanResult extends ScanFindings {
  tree: LocalTree;
}

interface Ctx extends ScanFindings {
  fs: Fsys;
  root: string;
  src: LocalSource;
  sink: ScanSink;
  isIgnored: IgnoreFn;
}

/**
 * What statEntry answers for a path it could not read (EACCES, EIO, ESTALE,
 * …): not "gone" — an unreadable path keeps what Local knew of it, or its
 * absence would propagate as a deletion to the server and every device.
 */
const UNREADABLE = Symbol('unreadable');

type Found = LocalEntry | null | typeof UNREADABLE;

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

/** Does `e` say anything about its path that `before` does not? */
function differs(before: LocalEntry | undefined, e: LocalEntry): boolean {
  if (before === e) return false; // the scan kept the entry as it was
  return !before || before.kind !== e.kind || before.ino !== e.ino || before.size !== e.size || before.mtimeMs !== e.mtimeMs || before.hash !== e.hash ||
    before.exec !== e.exec || before.target !== e.target || before.path !== e.path;
}

async function statEntry(ctx: Ctx, diskPath: string, before: LocalEntry | undefined): Promise<Found> {
  let st;
  try {
    st = await ctx.fs.lstat(join(ctx.root, diskPath));
  } catch (err) {
    if (isGone(err)) return null;
    return unreadable(ctx, diskPath, err);
  }
  return entryOf(ctx, diskPath, st, before);
}

/**
 * The Local entry for what lstat found at `diskPath`: the previous entry
 * itself when nothing changed (most of a scan), else a new one, hashing a
 * file only when its identity (inode, size, mtime) is new.
 */
function entryOf(ctx: Ctx, diskPath: string, st: FsStat, before: LocalEntry | undefined): Found | Promise<Found> {
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
  const moved = ctx.src.byIno(st.ino).find((m) => sameIdentity(m, st.ino, st.size, st.mtimeMs));
  if (moved) return { ...e, hash: moved.hash };
  return hashEntry(ctx, diskPath, e, st);
}

async function readSymlink(ctx: Ctx, diskPath: string, base: Omit<LocalEntry, 'kind'>): Promise<Found> {
  try {
    return { ...base, kind: 'symlink', target: await ctx.fs.readlink(join(ctx.root, diskPath)) };
  } catch (err) {
    if (isGone(err)) return null;
    return unreadable(ctx, diskPath, err);
  }
}

async function hashEntry(ctx: Ctx, diskPath: string, e: LocalEntry, st: FsStat): Promise<Found> {
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

function ignored(ctx: Ctx, diskPath: string, isDir: boolean, before: LocalEntry | undefined): boolean {
  const name = baseName(diskPath);
  // the previous entry at this spelling already holds its NFC path
  return isBuiltinIgnoredName(name) || ctx.isIgnored(before?.path ?? diskPath.normalize('NFC'), isDir);
}

/** A leftover a crash left in the folder: a temp file, a file renamed aside by a delete, or a partial download. */
function leftover(ctx: Ctx, name: string, rel: string, st: FsStat): void {
  if ((name.startsWith(TEMP_PREFIX) || name.startsWith(TRASH_PREFIX)) && !st.isDirectory()) {
    ctx.temps.push(rel);
    // what Local knew of the inode, read before this scan writes anything of its directory
    const ino = trashIno(name);
    if (ino !== null) for (const e of ctx.src.byIno(ino)) ctx.known.set(e.diskPath, e);
  } else if (name.startsWith(PART_PREFIX) && st.isFile()) ctx.partials.push({ path: rel, size: st.size, mtimeMs: st.mtimeMs });
}

/** Entries being read (symlinks) or hashed at once. */
const IN_FLIGHT = 16;

async function walk(ctx: Ctx, dir: string): Promise<void> {
  let list: FsDirStat[];
  try {
    list = await ctx.fs.lstatDir(dir === '' ? ctx.root : join(ctx.root, dir));
  } catch (err) {
    // unreadable: what Local knew below stays; gone: so is everything Local had in it
    if (!isGone(err)) unreadable(ctx, dir, err);
    else for (const e of ctx.src.children(dir)) ctx.sink.del(e.diskPath);
    return;
  }
  const prev = new Map<string, LocalEntry>();
  for (const e of ctx.src.children(dir)) prev.set(e.diskPath, e);
  const seen = new Set<string>();
  const subdirs: string[] = [];
  const slow: { rel: string; p: Promise<Found> }[] = [];
  const settle = (rel: string, e: Found): void => {
    if (e === UNREADABLE) {
      seen.add(rel); // kept as Local knew it, with all below
      return;
    }
    if (!e) return;
    seen.add(rel);
    const before = prev.get(rel);
    if (differs(before, e)) ctx.sink.put(e, before);
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
    const before = prev.get(rel);
    if (d.err) {
      // its kind is unknown: skipped only if ignored either way, else kept as Local knew it
      if (!(ignored(ctx, rel, false, before) && ignored(ctx, rel, true, before))) {
        unreadable(ctx, rel, d.err);
        seen.add(rel);
      }
      continue;
    }
    const st = d.st;
    if (!st) continue; // vanished since readdir
    leftover(ctx, name, rel, st);
    if (ignored(ctx, rel, st.isDirectory(), before)) continue;
    const e = entryOf(ctx, rel, st, before);
    if (e instanceof Promise) {
      slow.push({ rel, p: e });
      if (slow.length >= IN_FLIGHT) await drain();
    } else settle(rel, e);
  }
  await drain();
  // gone from the disk (or ignored now): the entry and all below it
  for (const k of prev.keys()) if (!seen.has(k)) ctx.sink.del(k);
  ctx.sink.dirDone?.();
  prev.clear();
  for (const s of subdirs) await walk(ctx, s);
}

function context(fs: Fsys, root: string, src: LocalSource, sink: ScanSink, isIgnored: IgnoreFn): Ctx {
  return { fs, root, src, sink, isIgnored, problems: [], hashed: 0, temps: [], partials: [], known: new Map() };
}

function findings(ctx: Ctx): ScanFindings {
  return { hashed: ctx.hashed, problems: ctx.problems, temps: ctx.temps, partials: ctx.partials, known: ctx.known };
}

/**
 * Walks the whole folder, comparing each directory with what `src` says
 * Local holds in it, and tells `sink` what differs.
 */
export async function scanFolder(root: string, src: LocalSource, sink: ScanSink, isIgnored: IgnoreFn, fs: Fsys = nodeFsys): Promise<ScanFindings> {
  const ctx = context(fs, root, src, sink, isIgnored);
  await walk(ctx, '');
  return findings(ctx);
}

/** Local in memory as a scan reads it (indexes built on first use); `byIno` may look elsewhere (the state DB). */
function treeSource(tree: LocalTree, byIno?: (ino: number) => LocalEntry[]): LocalSource {
  let dirs: Map<string, LocalEntry[]> | null = null;
  let inos: Map<number, LocalEntry[]> | null = null;
  // the tree's keys are disk paths
  const index = <K>(key: (diskPath: string, e: LocalEntry) => K): Map<K, LocalEntry[]> => {
    const m = new Map<K, LocalEntry[]>();
    for (const [k, e] of tree) {
      const at = key(k, e);
      const list = m.get(at);
      if (list) list.push(e);
      else m.set(at, [e]);
    }
    return m;
  };
  return {
    children: (dir) => (dirs ??= index((k) => parentPath(k))).get(dir) ?? [],
    byIno: byIno ?? ((ino) => (inos ??= index((_, e) => e.ino)).get(ino) ?? []),
  };
}

/** A sink that applies what a scan reports to a tree in memory. */
function treeSink(out: LocalTree, src: LocalSource): ScanSink {
  const drop = (k: string): void => {
    if (!out.delete(k)) return;
    for (const c of src.children(k)) drop(c.diskPath);
  };
  return {
    put(e, before) {
      if (before?.kind === 'dir' && e.kind !== 'dir') drop(e.diskPath);
      out.set(e.diskPath, e);
    },
    del: drop,
  };
}

/** Scans the whole folder. `prev` is the Local tree of the last scan (its hashes are reused). */
export async function scanAll(root: string, prev: LocalTree, isIgnored: IgnoreFn, fs: Fsys = nodeFsys): Promise<ScanResult> {
  const out = new Map(prev);
  const src = treeSource(prev);
  const found = await scanFolder(root, src, treeSink(out, src), isIgnored, fs);
  return { tree: out, ...found };
}

/**
 * Re-stats the given disk paths (watcher hints) and returns the updated tree:
 * a path that vanished takes its subtree with it, a new directory is walked.
 * `byIno` finds a moved file's previous entry beyond `prev` (the state DB).
 */
export async function scanPaths(root: string, prev: LocalTree, dirty: Iterable<string>, isIgnored: IgnoreFn, fs: Fsys = nodeFsys, byIno?: (ino: number) => LocalEntry[]): Promise<ScanResult> {
  const out = new Map(prev);
  const src = treeSource(prev, byIno);
  const ctx = context(fs, root, src, treeSink(out, src), isIgnored);
  const paths = [...new Set(dirty)].sort();
  // directories walked whole in this pass: what is below them is already
  // up to date (a watcher names every entry of a new directory too, and
  // re-stating them would hash each new file a second time)
  const walked = new Set<string>();
  const underWalked = (p: string) => {
    for (let a = parentPath(p); a !== ''; a = parentPath(a)) if (walked.has(a)) return true;
    return false;
  };
  for (const hint of paths) {
    if (hint === '') return scanAll(root, prev, isIgnored, fs);
    // a path whose parent Local does not hold as a directory (a directory new
    // to Local, or one that was a file) is looked at from the highest such
    // ancestor, walked whole: Local never holds an entry without its parent
    let p = hint;
    for (let a = parentPath(hint); a !== '' && out.get(a)?.kind !== 'dir'; a = parentPath(a)) p = a;
    if (walked.has(p) || (walked.size && underWalked(p))) continue;
    const before = prev.get(p);
    if (ignored(ctx, p, before?.kind === 'dir', before)) continue;
    const e = await statEntry(ctx, p, before);
    if (e === UNREADABLE) continue; // out still holds what Local knew
    const had = out.get(p);
    if (!e) {
      for (const k of [...out.keys()]) if (isWithin(k, p)) out.delete(k);
      continue;
    }
    if (had && had.kind === 'dir' && e.kind !== 'dir') for (const k of [...out.keys()]) if (k !== p && isWithin(k, p)) out.delete(k);
    out.set(p, e);
    if (e.kind === 'dir' && (!had || had.kind !== 'dir' || had.ino !== e.ino)) {
      await walk(ctx, p);
      walked.add(p);
    }
  }
  return { tree: out, ...findings(ctx) };
}

/** Writes the difference between two Local trees into the state DB rows. */
export function localDiff(prev: LocalTree, next: LocalTree): { put: LocalEntry[]; del: string[] } {
  const put: LocalEntry[] = [];
  const del: string[] = [];
  for (const [k, e] of next) if (differs(prev.get(k), e)) put.push(e);
  for (const k of prev.keys()) if (!next.has(k)) del.push(k);
  return { put, del };
}
