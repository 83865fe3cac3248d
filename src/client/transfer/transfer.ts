// Content I/O for the executor: blobs into temp files next to their target
// (verified before anyone can rename them into place), files up by
// streaming, hashing, and clean-up of temp files a crash left behind.
// Placing a temp file (re-check, rename, fsync of the directory) is the
// executor's job, not this module's.

import { createHash, randomBytes, webcrypto } from 'node:crypto';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../core/syncd-names.js';
import { nodeFsys, runLimited, type Fsys, type FsHandle, type FsStat } from '../disk/fsys.js';
import { Backoff, sleep, type BackoffOptions } from '../agent/backoff.js';
import type { RemoteClient } from '../remote/remote.js';
import type { Throttle } from './throttle.js';
import { FETCH_MAX_HASHES } from '../../protocol/frames.js';
import { discard } from '../remote/streams.js';
import { SINGLE_CHUNK_MAX } from '../../core/chunker.js';
import { downloadChunked, type ChunkFetchRemote, type KnownChunks } from './chunked-download.js';
import type { FileChunk } from './chunk-file.js';
import { isRetryable, RemoteError } from '../remote/errors.js';

/** Prefix of every temp file syncd creates inside a synced folder. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What transfer needs from the remote; RemoteClient has it, tests may fake it. */
export type BlobRemote = Pick<RemoteClient, 'getBlob' | 'fetchBlobBuffers' | 'putBlob'> & Partial<ChunkRemote> & Partial<ChunkFetchRemote>;
/** The content layer's upload calls: a remote without them uploads whole blobs. */
export type ChunkRemote = Pick<RemoteClient, 'missingChunks' | 'putChunk' | 'assembleFile'>;

export interface DownloadItem {
  hash: string;
  size: number;
  /** the directory the file will be renamed into; the temp file is created here */
  dirAbs: string;
  /** permission bits the temp file gets (default 0600; the umask applies) */
  mode?: number;
  /** mtime the temp file gets, ms since the epoch (default: when it was written) */
  mtimeMs?: number;
  /** local files that may share chunks with this content (the previous version): a large file copies those instead of fetching them */
  reuse?: readonly string[];
}

export interface DownloadOptions {
  /** fsync each temp file before returning it (default true). Pass false to fsync a whole batch later. */
  fsync?: boolean;
  /** retries after transient failures without progress (default 5); an attempt that made progress resets the count */
  retries?: number;
  /** delay policy between retries (default: 250 ms base, 5 s cap, full jitter); each download gets its own Backoff */
  backoff?: BackoffOptions;
  signal?: AbortSignal;
  /** takes bytes from the agent's bandwidth budget (config `bandwidthLimit`) */
  throttle?: Throttle;
  /** the file system the temp files go to (default: the real disk) */
  fs?: Fsys;
  /** the chunk index: a large file copies the chunks any known local file holds instead of fetching them */
  known?: KnownChunks;
}

export interface DownloadManyOptions extends DownloadOptions {
  /** batch requests / large downloads in flight at once (default 4) */
  concurrency?: number;
  /** hashes per batch request (default and max 1000) */
  maxBatchCount?: number;
  /** bytes per batch request (default 16 MiB) */
  maxBatchBytes?: number;
  /** files larger than this are downloaded alone, with Range resume (default 4 MiB) */
  largeFileBytes?: number;
}

/**
 * A verified temp file and its stat once written (mode and mtime set): the
 * identity it keeps when renamed or linked; a file built from chunks comes
 * with its chunk list.
 */
export type DownloadResult = ({ ok: true } & Written) | { ok: false; error: Error };
type Written = { path: string; stat: FsStat; chunks?: FileChunk[] };

// One random draw per process plus a counter: unique enough with 'wx'
// (which refuses to reuse a name), and far cheaper than a draw per file.
const TEMP_SESSION = randomBytes(6).toString('hex');
let tempCounter = 0;

export function tempName(): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${TEMP_PREFIX}${TEMP_SESSION}-${tempCounter.toString(36)}`;
}

function mismatch(remote: unknown, hash: string, detail: string): RemoteError {
  const server = (remote as { server?: unknown }).server;
  const s = typeof server === 'string' ? server : 'the server';
  return new RemoteError('hash_mismatch', `blob ${hash} from ${s} does not match: ${detail}; it was discarded`, { server: s });
}

function serverOf(remote: unknown): string {
  const server = (remote as { server?: unknown }).server;
  return typeof server === 'string' ? server : 'the server';
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

/** Creates a temp file for `item` holding exactly `buf`. Nothing is left on failure. */
async function writeTemp(fs: Fsys, item: DownloadItem, buf: Buffer, fsync: boolean): Promise<{ path: string; stat: FsStat }> {
  const path = join(item.dirAbs, tempName());
  const stat = await fs.writeNew(path, buf, { fsync, mode: item.mode, mtimeMs: item.mtimeMs });
  return { path, stat };
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
    return writeTemp(fs, item, Buffer.alloc(0), fsync);
  }
  const retries = opts.retries ?? 5;
  if (size > SINGLE_CHUNK_MAX && remote.fileChunks && remote.getChunk) {
    try {
      return await downloadChunked(remote as ChunkFetchRemote, { hash, size, path: join(dirAbs, tempName()), reuse: item.reuse ?? [], mode: item.mode, mtimeMs: item.mtimeMs }, {
        fsync, fs, retries, signal: opts.signal, throttle: opts.throttle, known: opts.known,
      });
    } catch (e) {
      // a server without the content layer: the whole blob, below
      if (!(e instanceof RemoteError && e.code === 'not_found')) throw e;
    }
  }
  const backoff = new Backoff({ baseMs: 250, capMs: 5000, ...opts.backoff });
  const path = join(dirAbs, tempName());
  const fh = await fs.createNew(path);
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

interface Group {
  hash: string;
  size: number;
  /** indexes into items: every one gets its own temp file */
  idx: number[];
  /** why the group's content could not be had (set on the group, reported for each of its items) */
  error?: Error;
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
    jobs.push(() => fetchBatch(remote, b, large, items, out, fsync, opts));
    batch = [];
    batchBytes = 0;
  };
  for (const g of byKey.values()) {
    if (g.size > large) {
      jobs.push(() => fetchLarge(remote, g, items, out, fsync, opts));
      continue;
    }
    if (batch.length >= maxCount || (batch.length > 0 && batchBytes + g.size > maxBytes)) flush();
    batch.push(g);
    batchBytes += g.size;
  }
  flush();

  await runLimited(jobs, concurrency);
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
    first = await downloadOne(remote, items[lead] as DownloadItem, { ...opts, fsync });
  } catch (e) {
    g.error = asError(e);
    return;
  }
  out[lead] = { ok: true, ...first };
  for (const i of rest) {
    try {
      out[i] = { ok: true, ...(await copyTemp(fs, first.path, items[i] as DownloadItem, fsync)), chunks: first.chunks };
    } catch (e) {
      out[i] = { ok: false, error: asError(e) };
    }
  }
}

async function copyTemp(fs: Fsys, src: string, item: DownloadItem, fsync: boolean): Promise<{ path: string; stat: FsStat }> {
  const dst = join(item.dirAbs, tempName());
  try {
    // a copy, never a hard link: the targets must be independent files
    await fs.copyNew(src, dst);
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

/** One batch request for `groups`; the undelivered remainder is retried after transient failures. */
async function fetchBatch(remote: BlobRemote, groups: Group[], maxBytes: number, items: readonly DownloadItem[], out: (DownloadResult | undefined)[], fsync: boolean, opts: DownloadOptions): Promise<void> {
  const fs = opts.fs ?? nodeFsys;
  const retries = opts.retries ?? 5;
  const backoff = new Backoff({ baseMs: 250, capMs: 5000, ...opts.backoff });
  // verified blobs are written while the reply keeps streaming: many small
  // files cost file-system round trips, not bandwidth
  const writes = new InFlight();
  const received = new Set<Group>();
  const write = (i: number, buf: Buffer): Promise<void> =>
    writeTemp(fs, items[i] as DownloadItem, buf, fsync).then(
      (r) => void (out[i] = { ok: true, path: r.path, stat: r.stat }),
      (e: unknown) => void (out[i] = { ok: false, error: asError(e) }),
    );
  let remaining = groups;
  let failures = 0;
  try {
    while (remaining.length > 0) {
      const todo = remaining;
      let k = 0;
      let progress = false;
      try {
        await remote.fetchBlobBuffers(
          todo.map((g) => g.hash),
          maxBytes,
          async (hash, size, data) => {
            const g = todo[k++];
            if (g === undefined || g.hash !== hash) {
              throw new RemoteError('protocol', `batch download delivered ${hash} out of order`, { server: serverOf(remote) });
            }
            if (data !== null) await opts.throttle?.(data.length, opts.signal);
            received.add(g);
            progress = true;
            // verified and written while the next frames are parsed (a big
            // blob is hashed on the thread pool meanwhile)
            if (data !== null && data.length >= POOL_HASH_MIN) {
              writes.add(verifyOnPool(remote, g, size, data).then(
                async (buf) => {
                  if (buf !== undefined) for (const i of g.idx) await write(i, buf);
                },
                (e: unknown) => void (g.error = asError(e)),
              ));
            } else {
              const buf = verify(remote, g, size, data);
              if (buf !== undefined) for (const i of g.idx) writes.add(write(i, buf));
            }
            await writes.below(PARALLEL_WRITES);
          },
          opts.signal,
        );
        remaining = todo.filter((g) => !received.has(g));
        if (remaining.length > 0) {
          const e = new RemoteError('protocol', `batch download did not deliver ${remaining.length} blobs`, { server: serverOf(remote) });
          for (const g of remaining) g.error = e;
        }
        return;
      } catch (e) {
        remaining = todo.filter((g) => !received.has(g));
        if (progress) {
          failures = 0;
          backoff.reset();
        }
        const again = isRetryable(e) || (e instanceof RemoteError && e.code === 'protocol');
        if (!again || failures >= retries || opts.signal?.aborted) {
          for (const g of remaining) g.error = asError(e);
          return;
        }
        failures++;
        try {
          await sleep(backoff.nextFor(e), opts.signal);
        } catch (abort) {
          for (const g of remaining) g.error = asError(abort);
          return;
        }
      }
    }
  } finally {
    await writes.below(1);
  }
}

/** Writes in flight per batch request. */
const PARALLEL_WRITES = 16;

/** Counts promises in flight (their outcome is recorded by themselves) and lets one caller wait for room. */
class InFlight {
  #n = 0;
  #wake: (() => void) | null = null;

  add(p: Promise<void>): void {
    this.#n++;
    const done = (): void => {
      this.#n--;
      const w = this.#wake;
      this.#wake = null;
      w?.();
    };
    void p.then(done, done);
  }

  /** Resolves once fewer than `limit` are in flight. */
  async below(limit: number): Promise<void> {
    while (this.#n >= limit) await new Promise<void>((r) => (this.#wake = r));
  }
}

/**
 * Checks one frame of a batch and returns its bytes, or records on the
 * group why not. Verification happens in memory, before anything is
 * written, so bad content never touches the disk.
 */
function verify(remote: BlobRemote, g: Group, size: number, data: Buffer | null, digest?: string): Buffer | undefined {
  if (size === -1) {
    g.error = new RemoteError('not_found', `the server at ${serverOf(remote)} cannot serve blob ${g.hash} (missing, or not readable by this namespace)`, {
      server: serverOf(remote),
      status: 404,
    });
    return undefined;
  }
  if (size !== g.size || data === null) {
    g.error = mismatch(remote, g.hash, `the server has ${size} bytes, ${g.size} were expected`);
    return undefined;
  }
  const got = digest ?? createHash('sha256').update(data).digest('hex');
  if (got !== g.hash) {
    g.error = mismatch(remote, g.hash, `its content hashes to ${got}`);
    return undefined;
  }
  return data;
}

/** From this size on, a blob is hashed on the thread pool (WebCrypto), off the main thread. */
const POOL_HASH_MIN = 256 * 1024;

/** verify, with the SHA-256 computed on the thread pool. */
async function verifyOnPool(remote: BlobRemote, g: Group, size: number, data: Buffer): Promise<Buffer | undefined> {
  if (size !== g.size) return verify(remote, g, size, data);
  return verify(remote, g, size, data, Buffer.from(await webcrypto.subtle.digest('SHA-256', data)).toString('hex'));
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}

/** Makes the data of many files durable at once (callers that deferred durability with `fsync: false`). */
export async function syncFiles(paths: readonly string[], fs: Fsys = nodeFsys): Promise<void> {
  await fs.syncFiles(paths);
}
