// The download phase of a round: fetch into verified temp files next to
// their targets, then place each one (re-check the parent chain by identity
// and the target against what the plan expected, link or rename, record
// what happened). A parent swapped for a symlink meanwhile is a problem,
// never written through.

import { dirname, relative, sep } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';
import { placedEdits } from '../../core/apply.js';
import type { LocalOp } from '../../core/ops.js';
import { parentPath } from '../../core/tree.js';
import type { FsStat, Fsys } from '../disk/fsys.js';
import { isDiskError } from '../disk/errno.js';
import { assertSameParents, kindOf, lstatOrNull, matchesExpect, type ParentChain } from '../disk/safe-fs.js';
import { downloadManyToTemp } from '../transfer/transfer.js';
import type { KnownChunks, LocalChunkPlace } from '../transfer/chunked-download.js';
import type { FileChunk } from '../transfer/chunk-file.js';
import type { Slots } from '../transfer/throttle.js';
import type { ExecContext, ExecResult } from './context.js';
import { recordEdits } from './record.js';
import { detachAndDelete } from './detach.js';
import type { RoundTrash } from './to-trash.js';

/** What the download phase needs of the round it runs in (executor.ts's Run). */
export interface RoundRun {
  readonly ctx: ExecContext;
  readonly fs: Fsys;
  readonly res: ExecResult;
  readonly parents: Set<string>;
  readonly trash: RoundTrash;
  readonly slots: Slots;
  abs(rel: string): string;
  problem(path: string, code: string, message: string): void;
  stale(path: string): void;
  guard(rel: string): Promise<boolean>;
  chainOf(rel: string): Promise<ParentChain | null>;
  syncDirs(dirs: Iterable<string>): Promise<Map<string, unknown>>;
}

function fileMode(exec: boolean, umask = process.umask()): number {
  return (exec ? 0o777 : 0o666) & ~umask;
}

/** A file's mode with only the execute bits changed: whoever may read it may run it. */
export function exec(mode: number, on: boolean): number {
  const perm = mode & 0o7777;
  return on ? perm | ((perm & 0o444) >> 2) : perm & ~0o111;
}

type DownloadOp = Extract<LocalOp, { type: 'download' }>;
type Item = { op: DownloadOp; abs: string; dirAbs: string; chain: ParentChain; chunks?: FileChunk[] };
type Ready = Item & { tmp: string; st: FsStat };

/**
 * A round's downloads go in parts of at most this many files (or bytes):
 * while one part is made durable, placed and recorded, the next one's
 * bytes arrive and are written (a first mirror of 10,000 small files
 * otherwise places nothing until the last byte has come, and fetches
 * nothing while it places).
 */
const PART_FILES = 2000;
const PART_BYTES = 1024 * 1024 * 1024;

/** `items` cut in order into parts of at most `maxFiles` files and PART_BYTES bytes (a bigger file is a part alone). */
function parts(items: Item[], maxFiles: number): Item[][] {
  const out: Item[][] = [];
  let cur: Item[] = [];
  let bytes = 0;
  for (const it of items) {
    const size = it.op.node.size ?? 0;
    if (cur.length > 0 && (cur.length >= maxFiles || bytes + size > PART_BYTES)) {
      out.push(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(it);
    bytes += size;
  }
  if (cur.length > 0) out.push(cur);
  return out;
}

export async function downloads(run: RoundRun, ops: DownloadOp[]): Promise<void> {
  const items: Item[] = [];
  // the parents' identities before the download, per directory
  const chains = new Map<string, ParentChain | null>();
  for (const op of ops) {
    if (!(await run.guard(op.path))) continue;
    const dirRel = parentPath(op.path);
    if (!chains.has(dirRel)) chains.set(dirRel, await run.chainOf(op.path));
    const chain = chains.get(dirRel)!;
    if (chain === null) {
      run.stale(op.path);
      continue;
    }
    const abs = run.abs(op.path);
    items.push({ op, abs, dirAbs: dirname(abs), chain });
  }
  const todo = parts(items, Math.max(1, run.ctx.downloadPartFiles ?? PART_FILES));
  const fetchPart = (k: number): Promise<Ready[]> | null => {
    if (k >= todo.length || run.ctx.signal?.aborted) return null;
    const p = fetchToTemp(run, todo[k]!);
    p.catch(() => undefined); // awaited below; meanwhile its failure must not count as unhandled
    return p;
  };
  let next = fetchPart(0);
  for (let k = 0; next !== null; k++) {
    const ready = await next;
    next = fetchPart(k + 1);
    try {
      await settle(run, ready);
    } catch (err) {
      // stopping on this part: the next one's temp files go too
      const more = await next?.catch(() => [] as Ready[]);
      for (const r of more ?? []) await run.fs.unlink(r.tmp).catch(() => undefined);
      throw err;
    }
  }
}

/** Fetches a part's files into verified temp files; a failed one is a problem (a full disk: all of the part's temp files go, and it throws). */
async function fetchToTemp(run: RoundRun, items: Item[]): Promise<Ready[]> {
  const ready: Ready[] = [];
  const umask = process.umask();
  // the temp files get their final mode and mtime as they are written, and
  // their stat then: placing them is a link (or rename) and nothing else
  const results = await downloadManyToTemp(
    run.ctx.remote,
    items.map(({ op, abs, dirAbs, chain }) => ({
      // the temp file is created in the parent the chain checked, never through a symlink put there since
      hash: op.node.hash!, size: op.node.size ?? 0, dirAbs, dirId: chain.at(-1),
      // the file there now is most likely the previous version: a large file reuses its chunks
      reuse: [abs],
      mode: fileMode(op.node.exec, umask), mtimeMs: op.node.mtime > 0 ? op.node.mtime : undefined,
    })),
    {
      fsync: false, concurrency: run.ctx.concurrency, signal: run.ctx.signal, throttle: run.ctx.throttle, fs: run.fs, retries: run.ctx.downloadRetries,
      known: knownChunks(run), slots: run.slots, partials: run.ctx.partials,
    },
  );
  results.forEach((r, i) => {
    const item = items[i]!;
    const { op } = item;
    if (r.ok) ready.push({ ...item, tmp: r.path, st: r.stat, chunks: r.chunks });
    else run.problem(op.path, (r.error as SyncdError).code ?? 'download_failed', `download of "${op.path}" failed: ${r.error.message}`);
  });
  const full = results.find((r) => !r.ok && isDiskError(r.error, 'disk_full'));
  if (full) {
    for (const r of ready) await run.fs.unlink(r.tmp).catch(() => undefined);
    // partials are only a hint: the space they hold goes first
    await run.ctx.partials?.dropAll();
    throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
  }
  return ready;
}

/** Makes a part's temp files durable, places each one, makes the names durable and records what was placed. */
async function settle(run: RoundRun, ready: Ready[]): Promise<void> {
  // durability once per batch: the data first (a file must never be in
  // place with content a crash could take back), then the names, then Synced
  try {
    await run.fs.syncFiles(ready.map((r) => r.tmp));
  } catch (err) {
    for (const r of ready) await run.fs.unlink(r.tmp).catch(() => undefined);
    throw err;
  }
  const placed: (Item & { st: FsStat })[] = [];
  const dirs = new Set<string>();
  // per directory, once the bytes are here and just before its files are placed
  const rechecked = new Map<string, string | null>();
  for (const [i, item] of ready.entries()) {
    const { op, tmp, st } = item;
    let left = true;
    try {
      if (run.ctx.signal?.aborted) continue; // stopping: what is placed so far is recorded below
      // a parent swapped for a symlink while the bytes came would carry the
      // link or rename outside the folder: refuse, report, never write through
      if (!rechecked.has(item.dirAbs)) {
        try {
          await assertSameParents(run.ctx.root, op.path, item.chain, run.fs);
          rechecked.set(item.dirAbs, null);
        } catch (err) {
          const e = err as SyncdError;
          if (e.code !== 'unsafe_path') throw err;
          run.parents.clear();
          rechecked.set(item.dirAbs, e.message);
        }
      }
      const swapped = rechecked.get(item.dirAbs);
      if (swapped) {
        run.problem(op.path, 'unsafe_path', swapped.replace(/^refusing to touch "[^"]*"/, `refusing to touch "${op.path}"`));
        continue;
      }
      // Local records what WE placed: link and rename keep the inode, size
      // and mtime, so the temp file's identity is the placed file's. If
      // someone writes the path right after, the next scan sees a
      // different identity and re-hashes: their edit is never mistaken
      // for our content.
      const how = await place(run, tmp, st, op.path, item.abs, op.expect, op.node.exec);
      if (how === null) continue;
      left = how === 'linked';
      placed.push(item);
      dirs.add(item.dirAbs);
      run.ctx.onTransfer?.(1, op.node.size ?? 0);
    } catch (err) {
      // one file's trouble (its directory vanished, …) must not strand the rest
      if (isDiskError(err, 'disk_full')) {
        for (const r of ready.slice(i + 1)) await run.fs.unlink(r.tmp).catch(() => undefined);
        await run.ctx.partials?.dropAll();
        throw err;
      }
      run.stale(op.path);
    } finally {
      // a linked temp name goes; a renamed one is gone already
      if (left) await run.fs.unlink(tmp).catch(() => undefined);
    }
  }
  // the names are durable before Synced says the files are there; a
  // directory that cannot be synced leaves its files unrecorded, for the
  // next scan to look at again
  const failed = await run.syncDirs(dirs);
  const recorded = failed.size === 0 ? placed : placed.filter((p) => !failed.has(p.dirAbs));
  for (const p of placed) if (failed.has(p.dirAbs)) run.res.dirty.add(p.op.path);
  const { db } = run.ctx;
  db.tx(() => {
    for (const { op, st, chunks } of recorded) {
      recordEdits(db, placedEdits(op, st));
      // the placed file keeps the temp file's identity: its chunks can feed later downloads
      if (chunks) db.recordChunks(op.path, op.node.hash!, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }, chunks);
    }
  });
  run.res.done += recorded.length;
  for (const [d, err] of failed) {
    const rel = relative(run.ctx.root, d).split(sep).join('/');
    run.problem(rel, (err as NodeJS.ErrnoException).code ?? 'error', `cannot make the new files in "${rel || '.'}" durable: ${(err as Error).message}`);
  }
}

/** The state DB's chunk index, as paths of this folder's disk. */
function knownChunks(run: RoundRun): KnownChunks {
  const rel = (abs: string): string => relative(run.ctx.root, abs).split(sep).join('/');
  return {
    places: (hashes) => {
      const out = new Map<string, LocalChunkPlace[]>();
      for (const [h, ps] of run.ctx.db.chunkPlaces(hashes)) out.set(h, ps.map((p) => ({ abs: run.abs(p.path), offset: p.offset, size: p.size, identity: p.identity })));
      return out;
    },
    identityOf: (abs) => run.ctx.db.chunkedIdentity(rel(abs)),
  };
}

/**
 * Puts a finished temp file (with identity `st`) at `rel`: with nothing
 * expected there, as a hard link, which fails rather than replace
 * anything that appeared; otherwise by rename, after re-checking the
 * target still is what the plan saw (a replaced file keeps its
 * permissions, only the execute bits follow the server). Returns how, or
 * null (path marked dirty, or a problem recorded) when the disk moved on.
 */
export async function place(run: RoundRun, tmp: string, st: FsStat, rel: string, abs: string, expect: import('../../core/local.js').LocalExpect | null, execBit: boolean): Promise<'linked' | 'renamed' | null> {
  if (expect === null) {
    try {
      await run.fs.link(tmp, abs);
      return 'linked';
    } catch (err) {
      if (isDiskError(err, 'path_taken')) {
        const there = await lstatOrNull(abs, run.fs);
        if (there && kindOf(there) === 'other') occupied(run, rel);
        else run.stale(rel);
        return null;
      }
      if (!isDiskError(err, 'not_permitted', 'not_supported')) throw err;
    }
  }
  const old = await lstatOrNull(abs, run.fs);
  if (old && kindOf(old) === 'other') {
    occupied(run, rel);
    return null;
  }
  if (!matchesExpect(old, expect)) {
    run.stale(rel);
    return null;
  }
  const mode = old && old.isFile() ? exec(old.mode, execBit) : fileMode(execBit);
  if ((st.mode & 0o7777) !== mode) await run.fs.chmod(tmp, mode);
  // with the local trash on, the old version goes there first (checked again
  // once renamed aside), and the new one takes the freed name without
  // replacing whatever may have appeared there since
  const dispose = old && expect && !old.isDirectory() ? run.trash.dispose(rel, 'remote_replace') : undefined;
  if (dispose) {
    if ((await detachAndDelete(run.fs, abs, expect!, dispose)) === 'changed') {
      run.stale(rel);
      return null;
    }
    try {
      await run.fs.link(tmp, abs);
      return 'linked';
    } catch (err) {
      if (isDiskError(err, 'path_taken')) {
        run.stale(rel);
        return null;
      }
      if (!isDiskError(err, 'not_permitted', 'not_supported')) throw err;
    }
  }
  await run.fs.rename(tmp, abs);
  return 'renamed';
}

export function occupied(run: RoundRun, rel: string): void {
  run.problem(rel, 'occupied', `"${rel}" is taken by something syncd cannot sync (a pipe, socket or device); move it away to receive the server's file`);
}
