// Downloads of large files by chunks: the server's chunk list says which
// chunks make the new version; chunks that a local file already holds (the
// previous version of the same file, passed as `reuse`) are copied from it,
// the others fetched, several at once. Each chunk is checked against its
// hash as it lands in the temp file, and the finished temp file against
// the whole-file hash, so a local file that changed under us, or a lying
// server, never yields a wrong file; placing it stays the executor's job.

import { createHash } from 'node:crypto';
import { Backoff, sleep } from '../agent/backoff.js';
import { runLimited, type Fsys, type FsHandle, type FsStat } from '../disk/fsys.js';
import { isRetryable, RemoteError } from '../remote/errors.js';
import type { RemoteClient } from '../remote/remote.js';
import { chunkHandle } from './chunk-file.js';
import type { Throttle } from './throttle.js';

export type ChunkFetchRemote = Pick<RemoteClient, 'fileChunks' | 'getChunk'>;

/** chunk fetches of one file in flight at once */
const CHUNK_FETCHES_IN_FLIGHT = 4;
const READ_BYTES = 1024 * 1024;

export interface ChunkedDownload {
  hash: string;
  size: number;
  /** the temp file to create (it must not exist) */
  path: string;
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
  /** bytes copied from local files and fetched, for tests and progress */
  stats?: { reused: number; fetched: number };
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

function wrong(hash: string, detail: string): RemoteError {
  return new RemoteError('hash_mismatch', `blob ${hash} does not match: ${detail}; it was discarded`, { server: 'the server' });
}

async function readExactly(fh: FsHandle, size: number, pos: number): Promise<Buffer | null> {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const { bytesRead } = await fh.read(buf, off, size - off, pos + off);
    if (bytesRead === 0) return null;
    off += bytesRead;
  }
  return buf;
}

async function writeAll(fh: FsHandle, buf: Buffer, pos: number): Promise<void> {
  let off = 0;
  while (off < buf.length) off += (await fh.write(buf, off, buf.length - off, pos + off)).bytesWritten;
}

export async function downloadChunked(remote: ChunkFetchRemote, d: ChunkedDownload, opts: ChunkedDownloadOptions): Promise<{ path: string; stat: FsStat }> {
  const list = await remote.fileChunks(d.hash);
  if (list.size !== d.size) throw wrong(d.hash, `the server lists ${list.size} bytes, ${d.size} were expected`);
  const { fs } = opts;
  const sources: FsHandle[] = [];
  const local = new Map<string, { fh: FsHandle; offset: number }>();
  const wanted = new Set(list.chunks.map((c) => c.hash));
  try {
    for (const p of d.reuse) {
      let fh: FsHandle;
      try {
        fh = await fs.openRead(p);
      } catch {
        continue; // gone, or not a regular file: nothing to reuse
      }
      sources.push(fh);
      for (const c of (await chunkHandle(fh)).chunks) if (wanted.has(c.hash) && !local.has(c.hash)) local.set(c.hash, { fh, offset: c.offset });
    }
    const out = await fs.createNew(d.path);
    let closed = false;
    try {
      const jobs = list.chunks.map((c) => async () => {
        const have = local.get(c.hash);
        if (have) {
          // the local file may have changed since it was indexed: its bytes count only if they still hash right
          const buf = await readExactly(have.fh, c.size, have.offset);
          if (buf !== null && sha256(buf) === c.hash) {
            await writeAll(out, buf, c.offset);
            if (opts.stats) opts.stats.reused += c.size;
            return;
          }
        }
        const buf = await fetchChunk(remote, c.hash, c.size, opts);
        await writeAll(out, buf, c.offset);
        if (opts.stats) opts.stats.fetched += c.size;
      });
      await runLimited(jobs, CHUNK_FETCHES_IN_FLIGHT);
      // the whole file, read back: the identity the commit and every device agree on
      const digest = await hashFirst(fs, d.path, d.size);
      if (digest !== d.hash) throw wrong(d.hash, `the assembled file hashes to ${digest}`);
      if (d.mode !== undefined) await out.chmod(d.mode & ~process.umask());
      if (d.mtimeMs !== undefined) await out.utimes(new Date(), new Date(d.mtimeMs));
      const stat = await out.stat();
      if (opts.fsync) await out.sync();
      closed = true;
      await out.close();
      return { path: d.path, stat };
    } catch (e) {
      if (!closed) await out.close().catch(() => {});
      await fs.unlink(d.path).catch(() => {});
      throw e;
    }
  } finally {
    await Promise.all(sources.map((fh) => fh.close().catch(() => {})));
  }
}

/** SHA-256 of the first `size` bytes of a file (the temp file is write-only: read through its own handle) */
async function hashFirst(fs: Fsys, path: string, size: number): Promise<string> {
  const fh = await fs.openRead(path);
  try {
    const whole = createHash('sha256');
    const buf = Buffer.allocUnsafe(READ_BYTES);
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(READ_BYTES, size - pos), pos);
      if (bytesRead === 0) break;
      whole.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return whole.digest('hex');
  } finally {
    await fh.close();
  }
}

async function fetchChunk(remote: ChunkFetchRemote, hash: string, size: number, opts: ChunkedDownloadOptions): Promise<Buffer> {
  const backoff = new Backoff({ baseMs: 250, capMs: 5000 });
  for (let failures = 0; ; failures++) {
    try {
      const buf = await remote.getChunk(hash, size, opts.signal);
      await opts.throttle?.(buf.length, opts.signal);
      if (buf.length !== size || sha256(buf) !== hash) throw wrong(hash, `${buf.length} bytes arrived that do not hash to it`);
      return buf;
    } catch (e) {
      if (!isRetryable(e) || failures >= opts.retries || opts.signal?.aborted) throw e;
      await sleep(backoff.nextFor(e), opts.signal);
    }
  }
}
