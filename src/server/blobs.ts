// Content-addressed blob files: DIR/blobs/ab/cd/<sha256>. An upload streams
// to DIR/tmp while hashing, is fsynced, renamed into place and the directory
// fsynced, so a blob that exists is complete. Which namespace may read which
// blob is the journal store's business (blob_refs), not this module's.
// A folder shared by several server processes (`shared`) gives each process
// its own DIR/tmp/<host>-<pid>-<random>, so no process clears another's
// uploads in flight; temp files of crashed processes go once they are stale.

import { createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, fstatSync, openSync, readSync, type ReadStream } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { SyncdError } from '../protocol/errors.js';
import { EMPTY_SHA256 } from './store/decide.js';
import { DIR_MODE, FILE_MODE } from './store/open.js';

export type PutResult = { ok: true; size: number } | { ok: false; code: 'hash_mismatch' | 'too_large'; size: number };

export class BlobStore {
  readonly #root: string;
  readonly #tmp: string;
  readonly #knownDirs = new Set<string>();

  private constructor(dataDir: string, shared: boolean) {
    this.#root = join(dataDir, 'blobs');
    this.#tmp = shared ? join(dataDir, 'tmp', `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`) : join(dataDir, 'tmp');
  }

  /** Creates the folders, removes temp files a crash left behind, stores the empty blob. */
  static async open(dataDir: string, opts: { shared?: boolean; staleTempMs?: number } = {}): Promise<BlobStore> {
    const b = new BlobStore(dataDir, opts.shared ?? false);
    await mkdir(b.#root, { recursive: true, mode: DIR_MODE });
    await chmod(b.#root, DIR_MODE);
    if (opts.shared) await sweepStaleTemp(join(dataDir, 'tmp'), opts.staleTempMs ?? 24 * 3_600_000);
    else await rm(b.#tmp, { recursive: true, force: true });
    await mkdir(b.#tmp, { recursive: true, mode: DIR_MODE });
    await chmod(b.#tmp, DIR_MODE);
    if (!(await b.exists(EMPTY_SHA256))) {
      const r = await b.put((async function* () {})(), EMPTY_SHA256, 0);
      if (!r.ok) throw new SyncdError('blob_store', 'cannot store the empty blob');
    }
    return b;
  }

  pathOf(hash: string): string {
    return join(this.#root, hash.slice(0, 2), hash.slice(2, 4), hash);
  }

  async exists(hash: string): Promise<boolean> {
    return (await this.size(hash)) !== null;
  }

  /** size in bytes, or null when the blob is not stored */
  async size(hash: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(hash))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * Streams `body` into the store under `hash` if its SHA-256 equals `hash`.
   * The bytes are always written and renamed into place, also when a file
   * of that name exists: a damaged stored file is repaired by the next good
   * upload, and an upload costs the same whether or not another namespace
   * already holds the content (no confirmation-of-file oracle).
   * A fresh file also keeps the collector off it (src/server/gc.ts).
   * Throws (after removing the temp file) when the body stream fails, e.g.
   * the client aborted.
   */
  async put(body: AsyncIterable<Buffer | string>, hash: string, maxBytes: number): Promise<PutResult> {
    const final = this.pathOf(hash);
    const sha = createHash('sha256');
    let size = 0;
    const tmp = join(this.#tmp, `${hash.slice(0, 16)}.${randomBytes(6).toString('hex')}`);
    const fh = await this.#openTemp(tmp);
    let closed = false;
    try {
      for await (const raw of body) {
        const chunk = typeof raw === 'string' ? Buffer.from(raw) : raw;
        size += chunk.length;
        if (size > maxBytes) return { ok: false, code: 'too_large', size };
        sha.update(chunk);
        let off = 0;
        while (off < chunk.length) off += (await fh.write(chunk, off, chunk.length - off)).bytesWritten;
      }
      if (sha.digest('hex') !== hash) return { ok: false, code: 'hash_mismatch', size };
      await fh.sync();
      await fh.close();
      closed = true;
      const dir = join(this.#root, hash.slice(0, 2), hash.slice(2, 4));
      await this.#ensureDir(dir);
      await rename(tmp, final);
      await fsyncDir(dir);
      return { ok: true, size };
    } finally {
      if (!closed) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
    }
  }

  async #openTemp(tmp: string): Promise<FileHandle> {
    try {
      return await open(tmp, 'wx', FILE_MODE);
    } catch (err) {
      // in a shared folder, another process may have swept our temp folder after a long idle spell
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.#tmp, { recursive: true, mode: DIR_MODE });
      return await open(tmp, 'wx', FILE_MODE);
    }
  }

  async #ensureDir(dir: string): Promise<void> {
    if (this.#knownDirs.has(dir)) return;
    const made = await mkdir(dir, { recursive: true, mode: DIR_MODE });
    if (made !== undefined) {
      // new directories must be durable too, or the renamed blob can vanish
      await fsyncDir(join(dir, '..'));
      await fsyncDir(this.#root);
    }
    this.#knownDirs.add(dir);
  }

  /**
   * A small blob read whole with blocking calls (open, fstat, read, close:
   * microseconds for a few KiB, where a stream costs several thread-pool
   * round trips): its bytes, its size when it is larger than `maxBytes`
   * (stream it instead), or null when it is not stored.
   */
  readSmall(hash: string, maxBytes: number): Buffer | number | null {
    let fd: number;
    try {
      fd = openSync(this.pathOf(hash), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      const size = fstatSync(fd).size;
      if (size > maxBytes) return size;
      const buf = Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const n = readSync(fd, buf, off, size - off, off);
        if (n === 0) throw new SyncdError('blob_store', `blob ${hash} is shorter than its ${size} bytes`);
        off += n;
      }
      return buf;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * A blob of at most `maxBytes` read whole with one positioned read (a
   * chunk during assembly: one thread-pool round trip where a read stream
   * takes one per 64 KiB), or null when it is not stored or not `size` bytes.
   * The bytes land in `into` when it is large enough (no allocation).
   */
  async readWhole(hash: string, size: number, into?: Buffer): Promise<Buffer | null> {
    let fh: FileHandle;
    try {
      fh = await open(this.pathOf(hash), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    try {
      if ((await fh.stat()).size !== size) return null;
      const buf = into !== undefined && into.length >= size ? into.subarray(0, size) : Buffer.allocUnsafe(size);
      let off = 0;
      while (off < size) {
        const { bytesRead } = await fh.read(buf, off, size - off, off);
        if (bytesRead === 0) return null;
        off += bytesRead;
      }
      return buf;
    } finally {
      await fh.close();
    }
  }

  /** A read stream of [start, end] inclusive (whole blob when omitted). */
  read(hash: string, range?: { start: number; end: number }): ReadStream {
    return createReadStream(this.pathOf(hash), range ? { start: range.start, end: range.end } : {});
  }

  /** Writes and removes a probe file: the health check of the blob folder. */
  async probe(): Promise<void> {
    const p = join(this.#tmp, `probe.${randomBytes(6).toString('hex')}`);
    const fh = await this.#openTemp(p);
    try {
      await fh.write('ok');
      await fh.sync();
    } finally {
      await fh.close();
      await unlink(p);
    }
  }

  /** Every stored hash (the collector's walk). */
  async *hashes(): AsyncGenerator<string> {
    for (const a of await readdirOrEmpty(this.#root)) {
      for (const b of await readdirOrEmpty(join(this.#root, a))) {
        for (const name of await readdirOrEmpty(join(this.#root, a, b))) if (/^[0-9a-f]{64}$/.test(name)) yield name;
      }
    }
  }

  /** modification time in ms, or null when not stored */
  async mtimeMs(hash: string): Promise<number | null> {
    try {
      return (await stat(this.pathOf(hash))).mtimeMs;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  /**
   * Removes a blob the collector found unneeded, in two steps so an upload
   * racing it is never lost: the file is first moved to `trash` (reads now
   * miss it; an upload that refs it meanwhile finds it gone and is told to
   * retry), then `stillUnneeded` is asked again: yes → deleted, no → moved
   * back. A crash between the steps leaves it in `trash`, where
   * `recoverTrash` judges it again. Returns the bytes freed.
   */
  async remove(hash: string, trash: string, stillUnneeded: () => Promise<boolean>): Promise<number> {
    await mkdir(trash, { recursive: true });
    const aside = join(trash, hash);
    try {
      await rename(this.pathOf(hash), aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    return this.#settle(hash, aside, stillUnneeded);
  }

  /** Judges again every blob a crashed collector left in `trash`. */
  async recoverTrash(trash: string, stillUnneeded: (hash: string) => Promise<boolean>): Promise<void> {
    for (const name of await readdirOrEmpty(trash)) {
      if (/^[0-9a-f]{64}$/.test(name)) await this.#settle(name, join(trash, name), () => stillUnneeded(name));
    }
  }

  async #settle(hash: string, aside: string, stillUnneeded: () => Promise<boolean>): Promise<number> {
    if (await stillUnneeded()) {
      const size = (await stat(aside)).size;
      await unlink(aside);
      return size;
    }
    const dir = join(this.#root, hash.slice(0, 2), hash.slice(2, 4));
    await mkdir(dir, { recursive: true });
    // an upload may have stored it again meanwhile: the same bytes, keep either
    await rename(aside, this.pathOf(hash));
    await fsyncDir(dir);
    return 0;
  }

  /** Number of temp files (uploads in progress or leaked): used by tests. */
  async tempCount(): Promise<number> {
    return (await readdir(this.#tmp)).length;
  }
}

/**
 * Removes, in a temp root shared by several processes, the files nobody has
 * written for `maxAgeMs` (a live upload writes continuously; an idle one is
 * cut after bodyIdleMs) and the per-process folders they leave empty.
 */
async function sweepStaleTemp(tmpRoot: string, maxAgeMs: number): Promise<void> {
  const cutoff = Date.now() - maxAgeMs;
  let dirs: string[];
  try {
    dirs = await readdir(tmpRoot);
  } catch {
    return;
  }
  for (const d of dirs) {
    const dir = join(tmpRoot, d);
    try {
      // judged before removing files, which would touch the folder's mtime
      const dirStale = (await stat(dir)).mtimeMs < cutoff;
      for (const f of await readdir(dir)) {
        const p = join(dir, f);
        if ((await stat(p)).mtimeMs < cutoff) await unlink(p);
      }
      if (dirStale) await rmdir(dir);
    } catch {
      // another process swept it first, or it is not ours to judge (a file in tmp/ itself)
    }
  }
}

async function readdirOrEmpty(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
