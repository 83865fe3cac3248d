// Content I/O for the executor: blobs into temp files next to their target
// (verified before anyone can rename them into place), files up by
// streaming, hashing, and clean-up of temp files a crash left behind.
// Placing a temp file (re-check, rename, fsync of the directory) is the
// executor's job, not this module's.

import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { nodeFsys, runLimited, type Fsys, type FsHandle, type FsStat } from '../disk/fsys.js';
import { Backoff, sleep } from '../agent/backoff.js';
import { FETCH_MAX_HASHES } from '../../protocol/frames.js';
import { discard } from '../remote/streams.js';
import { SINGLE_CHUNK_MAX } from '../../core/chunker.js';
import { downloadChunked, type ChunkFetchRemote } from './chunked-download.js';
import { isRetryable, RemoteError } from '../remote/errors.js';
import { fetchBatch } from './batch-download.js';
import { requestSlots, type Slots } from './throttle.js';
import {
  asError, createIn, EMPTY_SHA256, mismatch, serverOf, syncWhenWritten, tempName, TempDirs, writeTemp,
  type BlobRemote, type DownloadItem, type DownloadOptions, type DownloadResult, type Group, type Written,
} from './temp-files.js';

export interface DownloadManyOptions extends DownloadOptions {
  /** files (and batch requests) in flight at once, and the request slots when `slots` is not given (default 4) */
  concurrency?: number;
  /** hashes per batch request (default and max 1000) */
  maxBatchCount?: number;
  /** bytes per batch request (default 16 MiB) */
  maxBatchBytes?: number;
  /** files larger than this are downloaded alone, with Range resume (default 4 MiB) */
  largeFileBytes?: number;
}

async function writeAll(fh: FsHandle, buf: Buffer, position: number): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const { bytesWritten } = await fh.write(buf, off, buf.length - off, position + off);
    off += bytesWritten;
  }
}

/**
 * Writes chunks at explicit offsets with a few writes in flight, so the disk
 * works while the network and the hash do. Errors surface on the next call.
 */
class PositionalWriter {
  static readonly MAX_IN_FLIGHT = 8;
  readonly #fh: FsHandle;
  readonly #inflight = new Set<Promise<void>>();
  error: unknown;

  constructor(fh: FsHandle) {
    this.#fh = fh;
  }

  async write(chunk: Buffer, position: number): Promise<void> {
    if (this.error !== undefined) throw this.error;
    const w: Promise<void> = writeAll(this.#fh, chunk, position).then(
      () => void this.#inflight.delete(w),
      (e: unknown) => {
        this.#inflight.delete(w);
        this.error ??= e;
      },
    );
    this.#inflight.add(w);
    if (this.#inflight.size >= PositionalWriter.MAX_IN_FLIGHT) await Promise.race(this.#inflight);
    if (this.error !== undefined) throw this.error;
  }

  /** Waits for every write in flight; throws the first write error. */
  async settle(): Promise<void> {
    await Promise.all(this.#inflight);
    if (this.error !== undefined) throw this.error;
  }
}

/**
 * Streams one blob into a new `.syncd-tmp-*` file in `dirAbs`, resuming with
 * Range after a dropped connection, and returns its absolute path once size
 * and SHA-256 match (and it is fsynced, unless `fsync: false`). On any
 * failure the temp file is gone; a mismatch throws RemoteError `hash_mismatch`.
 */
export async function downloadToTemp(remote: BlobRemote, item: DownloadItem, opts: DownloadOptions = {}): Promise<string> {
  return (await downloadOne(remote, item, opts)).path;
}

/** downloadToTemp, returning the temp file's stat too. */
async function downloadOne(remote: BlobRemote, item: DownloadItem, opts: DownloadOptions): Promise<Written> {
  const { hash, size, dirAbs } = item;
  const fsync = opts.fsync ?? true;
  const fs = opts.fs ?? nodeFsys;
  if (size === 0) {
    if (hash !== EMPTY_SHA256) throw mismatch(remote, hash, 'a size of 0 cannot have that hash');
    return writeTemp(fs, item, [], fsync, opts.dirs);
  }
  const retries = opts.retries ?? 5;
  if (size > SINGLE_CHUNK_MAX && remote.fileChunks && remote.getChunk) {
    try {
      const name = tempName();
      const create = (): Promise<FsHandle> => createIn(fs, opts.dirs, item, name, (at) => fs.createNew(at));
      const built = await downloadChunked(remote as ChunkFetchRemote, { hash, size, path: join(dirAbs, name), create, reuse: item.reuse ?? [], mode: item.mode, mtimeMs: item.mtimeMs }, {
        fsync, fs, retries, signal: opts.signal, throttle: opts.throttle, known: opts.known, slots: opts.slots, partials: opts.partials,
      });
      // null: stored whole on the server, streamed whole below
      if (built !== null) return built;
    } catch (e) {
      // a server without the content layer: the whole blob, below
      if (!(e instanceof RemoteError && e.code === 'not_found')) throw e;
    }
  }
  // the whole stream is one request: it holds a slot of the budget from start to end
  return opts.slots ? opts.slots(() => downloadWhole(remote, item, opts)) : downloadWhole(remote, item, opts);
}

/** One blob streamed whole into a new temp file, resuming with Range after a dropped connection. */
async function downloadWhole(remote: BlobRemote, item: DownloadItem, opts: DownloadOptions): Promise<Written> {
  const { hash, size, dirAbs } = item;
  const fsync = opts.fsync ?? true;
  const fs = opts.fs ?? nodeFsys;
  const retries = opts.retries ?? 5;
  const backoff = new Backoff({ baseMs: 250, capMs: 5000, ...opts.backoff });
  const name = tempName();
  const path = join(dirAbs, name);
  const fh = await createIn(fs, opts.dirs, item, name, (at) => fs.createNew(at));
  const writes = new PositionalWriter(fh);
  let closed = false;
  try {
    let hasher = createHash('sha256');
    let written = 0;
    let failures = 0;
    for (;;) {
      const before = written;
      try {
        const got = await remote.getBlob(hash, { start: written, signal: opts.signal });
        if (got.status === 200 && written > 0) {
          // the server ignored the range: start again from byte 0
          await writes.settle();
          await fh.truncate(0);
          hasher = createHash('sha256');
          written = 0;
        }
        if (got.total !== undefined && got.total !== size) {
          discard(got.body);
          throw mismatch(remote, hash, `the server has ${got.total} bytes, ${size} were expected`);
        }
        for await (const chunk of got.body as AsyncIterable<Buffer>) {
          await opts.throttle?.(chunk.length, opts.signal);
          if (written + chunk.length > size) {
            discard(got.body);
            throw mismatch(remote, hash, `more than the expected ${size} bytes arrived`);
          }
          // the write runs while the next chunk arrives and this one is hashed
          await writes.write(chunk, written);
          hasher.update(chunk);
          written += chunk.length;
        }
        await writes.settle();
        if (written !== size) throw mismatch(remote, hash, `the reply ended after ${written} of ${size} bytes`);
        break;
      } catch (e) {
        await writes.settle().catch(() => {});
        if (writes.error !== undefined) throw writes.error;
        if (written > before) {
          failures = 0;
          backoff.reset();
        }
        if (!isRetryable(e) || failures >= retries || opts.signal?.aborted) throw e;
        failures++;
        await sleep(backoff.nextFor(e), opts.signal);
      }
    }
    const digest = hasher.digest('hex');
    if (digest !== hash) throw mismatch(remote, hash, `its content hashes to ${digest}`);
    if (item.mode !== undefined) await fh.chmod(item.mode & ~process.umask());
    if (item.mtimeMs !== undefined) await fh.utimes(new Date(), new Date(item.mtimeMs));
    const stat = await fh.stat();
    if (fsync) await fh.sync();
    closed = true;
    await fh.close();
    return { path, stat };
  } catch (e) {
    if (!closed) await fh.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
    throw e;
  }
}

/**
 * Downloads many blobs into temp files, one per item, returned in item
 * order with their stats. Small blobs travel in batch requests
 * (`fetchBlobBuffers`), large ones alone with resume. Items sharing hash and size
 * are fetched once: a small blob is written once per item from memory, a
 * large one copied. Per-item failures are results, not throws (a failed item
 * leaves no file); only an abort rejects.
 */
export async function downloadManyToTemp(remote: BlobRemote, items: readonly DownloadItem[], opts: DownloadManyOptions = {}): Promise<DownloadResult[]> {
  const fsync = opts.fsync ?? true;
  const fs = opts.fs ?? nodeFsys;
  const maxCount = Math.min(FETCH_MAX_HASHES, Math.max(1, opts.maxBatchCount ?? FETCH_MAX_HASHES));
  const maxBytes = opts.maxBatchBytes ?? 16 * 1024 * 1024;
  const large = opts.largeFileBytes ?? 4 * 1024 * 1024;
  const concurrency = Math.max(1, opts.concurrency ?? 4);
  // one request budget for the batches, the whole blobs and every chunk of every large file
  const slots: Slots = opts.slots ?? requestSlots(concurrency);

  // the temp files' directories, each held open while its files are created
  const ownDirs = opts.dirs === undefined;
  const dirs = opts.dirs ?? new TempDirs(fs);
  opts = { ...opts, dirs };
  const byKey = new Map<string, Group>();
  items.forEach((it, i) => {
    const key = `${it.hash}:${it.size}`;
    const g = byKey.get(key);
    if (g) g.idx.push(i);
    else byKey.set(key, { hash: it.hash, size: it.size, idx: [i] });
  });

  const out: (DownloadResult | undefined)[] = new Array<DownloadResult | undefined>(items.length);
  const jobs: Array<() => Promise<void>> = [];
  let batch: Group[] = [];
  let batchBytes = 0;
  const flush = (): void => {
    if (batch.length === 0) return;
    const b = batch;
    jobs.push(() => fetchBatch(remote, b, large, items, out, fsync, { ...opts, slots }));
    batch = [];
    batchBytes = 0;
  };
  // the large files first: each is the longest job, and started last it
  // would be the round's tail with the other slots idle
  const larges = [...byKey.values()].filter((g) => g.size > large).sort((x, y) => y.size - x.size);
  for (const g of larges) jobs.push(() => fetchLarge(remote, g, items, out, fsync, { ...opts, slots }));
  for (const g of byKey.values()) {
    if (g.size > large) continue;
    if (batch.length >= maxCount || (batch.length > 0 && batchBytes + g.size > maxBytes)) flush();
    batch.push(g);
    batchBytes += g.size;
  }
  flush();

  try {
    await runLimited(jobs, concurrency);
  } finally {
    if (ownDirs) await dirs.closeAll();
  }
  if (opts.signal?.aborted) {
    // an abort rejects, so nobody will place or clean up what did arrive
    await Promise.all(out.map((r) => (r?.ok ? fs.unlink(r.path).catch(() => {}) : undefined)));
    opts.signal.throwIfAborted();
  }
  for (const g of byKey.values()) {
    if (g.idx.every((i) => out[i] !== undefined)) continue;
    const error = g.error ?? new RemoteError('protocol', `blob ${g.hash} was not delivered`, { server: serverOf(remote) });
    for (const i of g.idx) out[i] ??= { ok: false, error };
  }
  return out as DownloadResult[];
}

/** One large blob, streamed with resume into the first item's temp file, then copied for the others. */
async function fetchLarge(remote: BlobRemote, g: Group, items: readonly DownloadItem[], out: (DownloadResult | undefined)[], fsync: boolean, opts: DownloadOptions): Promise<void> {
  const fs = opts.fs ?? nodeFsys;
  const [lead, ...rest] = g.idx as [number, ...number[]];
  let first: Written;
  try {
    first = await downloadOne(remote, items[lead] as DownloadItem, { ...opts, fsync: syncWhenWritten(fsync, g.size) });
  } catch (e) {
    g.error = asError(e);
    return;
  }
  out[lead] = { ok: true, ...first };
  for (const i of rest) {
    try {
      out[i] = { ok: true, ...(await copyTemp(fs, first.path, items[i] as DownloadItem, syncWhenWritten(fsync, g.size), opts.dirs)), chunks: first.chunks };
    } catch (e) {
      out[i] = { ok: false, error: asError(e) };
    }
  }
}

async function copyTemp(fs: Fsys, src: string, item: DownloadItem, fsync: boolean, dirs?: TempDirs): Promise<{ path: string; stat: FsStat }> {
  const name = tempName();
  const dst = join(item.dirAbs, name);
  try {
    // a copy, never a hard link: the targets must be independent files
    await createIn(fs, dirs, item, name, (at) => fs.copyNew(src, at));
    await fs.chmod(dst, (item.mode ?? 0o600) & ~process.umask());
    if (item.mtimeMs !== undefined) await fs.utimes(dst, new Date(), new Date(item.mtimeMs));
    const stat = await fs.lstat(dst);
    if (fsync) await fs.syncFiles([dst]);
    return { path: dst, stat };
  } catch (e) {
    await fs.unlink(dst).catch(() => {});
    throw e;
  }
}

/** Makes the data of many files durable at once (callers that deferred durability with `fsync: false`). */
export async function syncFiles(paths: readonly string[], fs: Fsys = nodeFsys): Promise<void> {
  await fs.syncFiles(paths);
}
