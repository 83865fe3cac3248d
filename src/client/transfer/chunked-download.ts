// Downloads of large files by chunks: the server's chunk list says which
// chunks make the new version; chunks that a local file already holds are
// copied from it, the others fetched, several at once. The local files are
// those the state DB's chunk index names (`known`: any file this device
// uploaded or downloaded, checked by identity before use) and the previous
// version of the same file (`reuse`, chunked here when the index does not
// know it as it is). Each chunk is checked against its
// hash as it lands in the temp file, and the finished temp file against
// the whole-file hash, so a local file that changed under us, or a lying
// server, never yields a wrong file; placing it stays the executor's job.
// A download cut short in the same directory (a partial, partials.ts) that
// holds the first chunk is taken over as the temp file: the chunks it
// holds at their offsets (each hashed) stay, only the others are written.

import { Backoff, sleep } from '../agent/backoff.js';
import { LIMITS } from '../../protocol/types.js';
import { isDiskError } from '../disk/errno.js';
import { runLimited, type Fsys, type FsHandle, type FsStat } from '../disk/fsys.js';
import { isRetryable, RemoteError } from '../remote/errors.js';
import type { RemoteClient } from '../remote/remote.js';
import { chunkHandle, readExactly, sameIdentity, sha256, type FileChunk, type FileIdentity } from './chunk-file.js';
import { fileHasher, type FileHasher } from './file-hasher.js';
import { adoptPartial, type PartialSource } from './partials.js';
import { isZero, RecurringChunks } from './recurring-chunks.js';
import { requestSlots, type Slots, type Throttle } from './throttle.js';

export type ChunkFetchRemote = Pick<RemoteClient, 'fileChunks' | 'getChunk'>;

/**
 * chunks of one file worked on at once: local copies run this wide, fetches
 * as wide as the request slots (`concurrency`) let them
 */
const CHUNK_JOBS = 16;
/** chunks that may be done ahead of the first one not yet hashed (their buffers wait in memory) */
const HASH_WINDOW = 24;
/**
 * chunks no local file holds, fetched from the start of an assembly rather
 * than at their turn (an edit's few new chunks arrive while the local ones
 * are copied); at most this many buffers of up to 8 MiB wait
 */
const FETCH_AHEAD = 8;
/** a temp file to be fsynced is flushed in the background each time this much more was written, so that the final fsync has little left */
const WRITEBACK_EVERY = 64 * 1024 * 1024;
/** bytes of chunks that recur in a file kept for their later occurrences at a time (runs of zeros need none) */
const RECURRING_COPY_BYTES = 32 * 1024 * 1024;

/** A place on this disk where a chunk was when it was recorded: a hint, checked before use. */
export interface LocalChunkPlace {
  abs: string;
  offset: number;
  size: number;
  /** the file's identity when the chunk was recorded there */
  identity: FileIdentity;
}

/** What this device knows about chunks on its disk (the state DB's chunk index). */
export interface KnownChunks {
  /** the recorded places of these chunks */
  places(hashes: readonly string[]): Map<string, readonly LocalChunkPlace[]>;
  /** the identity a file's recorded chunk list belongs to, or null when none is recorded */
  identityOf(abs: string): FileIdentity | null;
}

export interface ChunkedDownload {
  hash: string;
  size: number;
  /** the temp file to create (it must not exist) */
  path: string;
  /** creates it (default: Fsys.createNew of `path`); the executor's creates it through its directory held open */
  create?: () => Promise<FsHandle>;
  /** local files that may share chunks with the new version (missing or unreadable ones are skipped) */
  reuse: readonly string[];
  mode?: number;
  mtimeMs?: number;
}

export interface ChunkedDownloadOptions {
  fsync: boolean;
  fs: Fsys;
  retries: number;
  signal?: AbortSignal;
  throttle?: Throttle;
  /** the request budget (config `concurrency`) each chunk fetch takes a slot of; default 4 slots for this file alone */
  slots?: Slots;
  /** bytes copied from local files, fetched, and found in place in a partial taken over, for tests and progress */
  stats?: { reused: number; fetched: number; resumed?: number };
  /** the chunk index: chunks any known local file holds are copied, not fetched */
  known?: KnownChunks;
  /** with `fsync`: flush in the background each time this many more bytes were written (default 64 MiB) */
  writebackEvery?: number;
  /** downloads cut short: one in the temp file's directory may be taken over, and this one, cut short, is left there */
  partials?: PartialSource;
}

/**
 * Local files opened for reading chunks, each once; a file whose identity is
 * not the one its chunks were recorded with is not opened for them.
 */
class Sources {
  readonly #fs: Fsys;
  readonly #open = new Map<string, Promise<{ fh: FsHandle; id: FileIdentity } | null>>();

  constructor(fs: Fsys) {
    this.#fs = fs;
  }

  async get(abs: string, expect?: FileIdentity): Promise<FsHandle | null> {
    let p = this.#open.get(abs);
    if (!p) {
      p = this.#fs.openRead(abs).then(
        async (fh) => {
          const st = await fh.stat().catch(() => null);
          if (st?.isFile()) return { fh, id: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } };
          await fh.close().catch(() => {});
          return null;
        },
        () => null, // gone, or not a regular file: nothing to reuse
      );
      this.#open.set(abs, p);
    }
    const got = await p;
    if (!got || (expect && !sameIdentity(got.id, expect))) return null;
    return got.fh;
  }

  async close(): Promise<void> {
    await Promise.all([...this.#open.values()].map(async (p) => (await p)?.fh.close().catch(() => {})));
  }
}

/**
 * The whole-file SHA-256, fed in file order from chunks that complete in
 * any order (to the hashing worker for a large file: the main thread goes
 * on reading and writing meanwhile). Chunk `i` may start only while it is
 * less than `window` ahead of the first chunk the hasher has not taken yet
 * (not merely put in line for it: the copy may outrun the hash, and then
 * what waits in line would grow to most of the file), which bounds the
 * buffers held; a failure wakes every waiting chunk with it. A buffer
 * given to `put` belongs to the hasher from then on.
 */
class InOrderHash {
  readonly #hasher: FileHasher;
  readonly #done = new Map<number, Buffer>();
  readonly #window: number;
  /** the first chunk not yet put in line for the hasher */
  #next = 0;
  /** the first chunk the hasher has not taken yet */
  #taken = 0;
  /** the hasher's updates, one after the other in file order */
  #fed: Promise<void> = Promise.resolve();
  #failed: { e: unknown } | null = null;
  #waiting: (() => void)[] = [];

  constructor(size: number, window: number) {
    this.#hasher = fileHasher(size, false);
    this.#window = window;
  }

  async turn(i: number): Promise<void> {
    while (this.#failed === null && i >= this.#taken + this.#window) await new Promise<void>((r) => this.#waiting.push(r));
    if (this.#failed) throw this.#failed.e;
  }

  /** a buffer to read a local chunk into (the hasher recycles them) */
  take(size: number): Buffer {
    return this.#hasher.take(size);
  }

  put(i: number, buf: Buffer): void {
    this.#done.set(i, buf);
    for (let b = this.#done.get(this.#next); b !== undefined; b = this.#done.get(this.#next)) {
      const next = b;
      this.#fed = this.#fed.then(async () => {
        await this.#hasher.update(next);
        this.#taken++;
        this.#wake();
      });
      this.#done.delete(this.#next++);
    }
    this.#fed.catch((e: unknown) => this.fail(e));
  }

  fail(e: unknown): void {
    this.#failed ??= { e };
    this.#wake();
  }

  async digest(): Promise<string> {
    await this.#fed;
    return (await this.#hasher.finish(false)).hash;
  }

  abandon(): void {
    this.#hasher.abandon();
  }

  #wake(): void {
    const w = this.#waiting;
    this.#waiting = [];
    for (const r of w) r();
  }
}

function wrong(hash: string, detail: string): RemoteError {
  return new RemoteError('hash_mismatch', `blob ${hash} does not match: ${detail}; it was discarded`, { server: 'the server' });
}

async function writeAll(fh: FsHandle, buf: Buffer, pos: number): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, pos + off)).bytesWritten;
}

/** A verified temp file, its stat once written, and the chunk list it was built from (for the chunk index). */
export interface ChunkedResult {
  path: string;
  stat: FsStat;
  chunks: { hash: string; offset: number; size: number }[];
}

/**
 * The file built from its chunks; null when the server stores it whole (a
 * chunk larger than any the API accepts: a file uploaded in one piece is
 * its own one chunk), which the caller then streams: no chunk of a file's
 * size is ever held in memory, whatever size the server announces.
 */
export async function downloadChunked(remote: ChunkFetchRemote, d: ChunkedDownload, opts: ChunkedDownloadOptions): Promise<ChunkedResult | null> {
  const slots = opts.slots ?? requestSlots(4);
  // the chunk list is a request of the budget too: files starting at once never exceed it
  const list = await slots(() => remote.fileChunks(d.hash));
  if (list.size !== d.size) throw wrong(d.hash, `the server lists ${list.size} bytes, ${d.size} were expected`);
  if (list.chunks.some((c) => c.size > LIMITS.chunkMaxBytes)) return null;
  const { fs } = opts;
  const sources = new Sources(fs);
  const places = new Map<string, LocalChunkPlace[]>();
  for (const [h, ps] of opts.known?.places(list.chunks.map((c) => c.hash)) ?? []) places.set(h, [...ps]);
  const wanted = new Set(list.chunks.map((c) => c.hash));
  try {
    for (const abs of d.reuse) {
      const fh = await sources.get(abs);
      if (!fh) continue;
      const st = await fh.stat();
      const id = { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
      const recorded = opts.known?.identityOf(abs);
      if (recorded && sameIdentity(recorded, id)) continue; // its chunks are in the index already
      // not known as it is: one read of it finds its chunks
      for (const c of (await chunkHandle(fh, st.size)).chunks) {
        if (!wanted.has(c.hash)) continue;
        const at = { abs, offset: c.offset, size: c.size, identity: id };
        const ps = places.get(c.hash);
        if (ps) ps.unshift(at);
        else places.set(c.hash, [at]);
      }
    }
    // Local chunks are first taken on the whole-file hash alone (the file
    // they come from has the identity they were recorded with); only when
    // the assembled file does not hash right is it built again with every
    // local chunk checked against its own hash (a file changed in place
    // without a new size, mtime or inode), so a bad one is fetched instead.
    // a download of this directory cut short may hold much of the file already: go on in it
    const extent = opts.partials && list.chunks.length > 0 ? await adoptPartial(fs, opts.partials, d.path, list.chunks[0]!, d.size) : 0;
    const first = await assemble(remote, d, list.chunks, sources, places, { ...opts, slots }, false, extent);
    if (first.ok) return first.result;
    if (!first.recheck) throw first.error;
    const again = await assemble(remote, d, list.chunks, sources, places, { ...opts, slots }, true);
    if (again.ok) return again.result;
    throw again.error;
  } finally {
    await sources.close();
  }
}

type Assembly = { ok: true; result: ChunkedResult } | { ok: false; error: unknown; recheck: boolean };

/**
 * The temp file from the chunk list: each chunk copied from a local place
 * (hashed first only when `checkLocal`) or fetched (always hashed), the
 * whole-file hash fed in file order. With `extent` > 0 the temp file is a
 * partial taken over: a chunk within its first `extent` bytes that hashes
 * right where it is stays. A failure removes the temp file, or leaves it
 * as a partial when it may be resumed (not a wrong file, not a full
 * disk); `recheck` says the file did not hash right and a local chunk was
 * used without its own hash check (so checking them may yet give the file).
 */
async function assemble(remote: ChunkFetchRemote, d: ChunkedDownload, chunks: readonly FileChunk[], sources: Sources, places: ReadonlyMap<string, LocalChunkPlace[]>, opts: ChunkedDownloadOptions & { slots: Slots }, checkLocal: boolean, taken = 0): Promise<Assembly> {
  const { fs } = opts;
  let unchecked = false;
  let mismatch = false;
  const { out, extent } = await openTemp(fs, d.path, taken, d.create);
  let closed = false;
  // the whole-file hash is fed in file order as chunks land (no read-back):
  // the identity the commit and every device agree on
  const whole = new InOrderHash(d.size, HASH_WINDOW);
  const writeback = opts.fsync ? new Writeback(out, opts.writebackEvery ?? WRITEBACK_EVERY) : null;
  // the first chunks that no local place claims start now, whatever their turn
  const early = new Map<number, Promise<Buffer>>();
  // a chunk the file holds more than once is got once: the later ones take its bytes (zeros: a hole)
  const recurring = new RecurringChunks(chunks, RECURRING_COPY_BYTES);
  let holes = false;
  for (let i = 0; i < chunks.length && early.size < FETCH_AHEAD; i++) {
    const c = chunks[i]!;
    if (c.offset + c.size <= extent || recurring.isLater(i) || (places.get(c.hash) ?? []).some((p) => p.size === c.size)) continue;
    const p = fetchChunk(remote, c.hash, c.size, opts, whole.take(c.size));
    p.catch(() => {}); // awaited at its turn
    early.set(i, p);
  }
  try {
    // the bytes of chunk `i` as the usual way gets them: from the partial taken over, a local file, or the server
    const get = async (c: FileChunk, i: number): Promise<{ buf: Buffer; inPlace: boolean }> => {
      const fetched = early.get(i);
      if (!fetched && c.offset + c.size <= extent) {
        const there = await readExactly(out, whole.take(c.size), c.offset).catch(() => null);
        if (there !== null && sha256(there) === c.hash) {
          if (opts.stats) opts.stats.resumed = (opts.stats.resumed ?? 0) + c.size;
          return { buf: there, inPlace: true };
        }
      }
      let buf = fetched ? null : await fromLocal(sources, places.get(c.hash) ?? [], c, checkLocal ? null : whole);
      if (buf) {
        if (!checkLocal) unchecked = true;
        if (opts.stats) opts.stats.reused += c.size;
      } else {
        buf = await (fetched ?? fetchChunk(remote, c.hash, c.size, opts, whole.take(c.size)));
        if (opts.stats) opts.stats.fetched += c.size;
      }
      return { buf, inPlace: false };
    };
    // a later occurrence of a chunk: the first one's bytes, or null (then got the usual way)
    const repeat = async (c: FileChunk, i: number): Promise<Buffer | null> => {
      const r = await recurring.later(i);
      try {
        if (r === null) return null;
        if (opts.stats) opts.stats.reused += c.size;
        const buf = whole.take(c.size);
        if (r === 'zero') buf.fill(0, 0, c.size);
        else r.copy(buf, 0, 0, c.size);
        return buf.subarray(0, c.size);
      } finally {
        await recurring.served(i);
      }
    };
    const jobs = chunks.map((c, i) => async () => {
      let got: Buffer | null = null;
      try {
        await whole.turn(i);
        const again = recurring.isLater(i) ? await repeat(c, i) : null;
        const { buf, inPlace } = again ? { buf: again, inPlace: false } : await get(c, i);
        got = buf;
        if (!recurring.isLater(i)) recurring.first(i, buf);
        if (!inPlace) {
          // zeros past what a partial holds are left unwritten: the file gets a hole there, as its source had
          if (c.offset >= extent && isZero(buf)) holes = true;
          else {
            await writeAll(out, buf, c.offset);
            writeback?.wrote(buf.length);
          }
        }
        whole.put(i, buf);
      } catch (e) {
        if (got === null && !recurring.isLater(i)) recurring.first(i, null);
        whole.fail(e);
        throw e;
      }
    });
    await runLimited(jobs, CHUNK_JOBS);
    await writeback?.settle();
    // a partial taken over is no longer than the file (resumeCandidates), but the whole-file hash would not see bytes past the end
    // (and a hole at the end gives the file its length)
    if (taken > 0 || holes) await out.truncate(d.size);
    const digest = await whole.digest();
    if (digest !== d.hash) {
      mismatch = true;
      throw wrong(d.hash, `the assembled file hashes to ${digest}`);
    }
    if (d.mode !== undefined) await out.chmod(d.mode & ~process.umask());
    if (d.mtimeMs !== undefined) await out.utimes(new Date(), new Date(d.mtimeMs));
    const stat = await out.stat();
    if (opts.fsync) await out.sync();
    closed = true;
    await out.close();
    return { ok: true, result: { path: d.path, stat, chunks: [...chunks] } };
  } catch (e) {
    whole.abandon();
    recurring.abandon();
    await Promise.allSettled([...early.values(), writeback?.settle()]);
    if (!closed) await out.close().catch(() => {});
    // what was written stays for the next attempt to resume from, unless it is wrong or the disk is full
    const kept = opts.partials && !mismatch && !isDiskError(e, 'disk_full') ? await opts.partials.keep(d.path).catch(() => false) : false;
    if (!kept) await fs.unlink(d.path).catch(() => {});
    return { ok: false, error: e, recheck: mismatch && unchecked };
  }
}

/**
 * The temp file: a new one, or the partial taken over (renamed `path`)
 * when `extent` > 0, as long as it is a regular file with one link: it is
 * written in place, and through a second link the bytes would land in
 * another file (one outside the folder, even). Returns the extent to check.
 */
async function openTemp(fs: Fsys, path: string, extent: number, create = (): Promise<FsHandle> => fs.createNew(path)): Promise<{ out: FsHandle; extent: number }> {
  if (extent > 0) {
    const out = await fs.openWrite(path).catch(() => null);
    const st = out ? await out.stat().catch(() => null) : null;
    if (out && st?.isFile() && (st.nlink ?? 1) === 1) return { out, extent: Math.min(extent, st.size) };
    await out?.close().catch(() => {});
    await fs.unlink(path).catch(() => {});
  }
  return { out: await create(), extent: 0 };
}

/**
 * Flushes a file being written while it is written: an fsync in the
 * background each time `every` more bytes were written (one at a time),
 * so the disk writes along with the copy instead of all at the end.
 */
class Writeback {
  readonly #fh: FsHandle;
  readonly #every: number;
  #pending = 0;
  #running: Promise<void> | null = null;

  constructor(fh: FsHandle, every: number) {
    this.#fh = fh;
    this.#every = every;
  }

  wrote(n: number): void {
    this.#pending += n;
    if (this.#pending < this.#every || this.#running) return;
    this.#pending = 0;
    this.#running = this.#fh.sync().then(
      () => void (this.#running = null),
      () => void (this.#running = null), // the final fsync reports what matters
    );
  }

  async settle(): Promise<void> {
    await this.#running;
  }
}

/**
 * A chunk's bytes from the first local place that still holds them: the
 * file must have the identity the place was recorded with; with `check`
 * null the bytes must also hash to the chunk (a file can change in place
 * without its identity changing), otherwise they are read into a buffer of
 * `into` and left to the whole-file hash. Else the next place, or null.
 */
async function fromLocal(sources: Sources, places: readonly LocalChunkPlace[], c: { hash: string; size: number }, into: InOrderHash | null): Promise<Buffer | null> {
  for (const p of places) {
    if (p.size !== c.size) continue;
    const fh = await sources.get(p.abs, p.identity);
    if (!fh) continue;
    const buf = await readExactly(fh, into ? into.take(c.size) : Buffer.allocUnsafe(c.size), p.offset).catch(() => null);
    if (buf !== null && (into !== null || sha256(buf) === c.hash)) return buf;
  }
  return null;
}

/** A chunk from the server, verified; read into `into` (a buffer the hasher recycles: no fresh memory per chunk). */
async function fetchChunk(remote: ChunkFetchRemote, hash: string, size: number, opts: ChunkedDownloadOptions & { slots: Slots }, into: Buffer): Promise<Buffer> {
  const backoff = new Backoff({ baseMs: 250, capMs: 5000 });
  for (let failures = 0; ; failures++) {
    try {
      const buf = await opts.slots(() => remote.getChunk(hash, size, opts.signal, into));
      await opts.throttle?.(buf.length, opts.signal);
      if (buf.length !== size || sha256(buf) !== hash) throw wrong(hash, `${buf.length} bytes arrived that do not hash to it`);
      return buf;
    } catch (e) {
      if (!isRetryable(e) || failures >= opts.retries || opts.signal?.aborted) throw e;
      await sleep(backoff.nextFor(e), opts.signal);
    }
  }
}
