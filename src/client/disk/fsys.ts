// The file-system operations the agent performs on a synced folder, behind
// one small interface. `nodeFsys` is the real disk; the reliability
// simulation (test/sim) passes an in-memory file system that reorders,
// fails and crashes these calls. Only what the scanner, the executor and
// transfers use is here; the state DB and config files stay on node:fs.

import {
  chmodSync,
  close as fsClose,
  closeSync,
  constants as fsc,
  fstat as fsFstat,
  fstatSync,
  fsync as fsFsync,
  lstatSync,
  futimes as fsFutimes,
  futimesSync,
  linkSync,
  mkdirSync,
  open as fsOpen,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writev as fsWritev,
  writevSync,
  type Dirent,
  type Stats,
} from 'node:fs';
import { copyFile, lstat, open, readdir, readlink, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { piecesBytes } from '../../protocol/frames.js';
import { promisify } from 'node:util';
import { FileStat, type FsStat } from './file-stat.js';
import { WriteWorker } from './write-worker.js';
import { SyncfsRunner } from './syncfs.js';

/** The fields of an lstat the agent reads. node's Stats has them all. */
export type { FsStat } from './file-stat.js';

/** A directory entry: the name as bytes (a name may not be valid UTF-8). */
export interface FsDirent {
  name: Buffer;
  isDirectory(): boolean;
}

/** A directory entry with its lstat: what a full scan needs of each name. */
export interface FsDirStat {
  /** the name; its bytes when they are not valid UTF-8 (such a name cannot be synced, only reported) */
  name: string | Buffer;
  /** the entry's lstat; null when it vanished, failed (`err`), or its name is not valid UTF-8 (not looked at) */
  st: FsStat | null;
  /** why lstat failed, other than the entry vanishing */
  err: NodeJS.ErrnoException | null;
}

/** An open file. node's FileHandle is one. */
export interface FsHandle {
  stat(): Promise<FsStat>;
  read(buf: Buffer, off: number, len: number, pos: number): Promise<{ bytesRead: number; buffer: Buffer }>;
  write(buf: Buffer, off: number, len: number, pos: number): Promise<{ bytesWritten: number }>;
  truncate(len: number): Promise<void>;
  sync(): Promise<void>;
  chmod(mode: number): Promise<void>;
  utimes(atime: Date, mtime: Date): Promise<void>;
  close(): Promise<void>;
}

/**
 * A directory held open. A name under `at` is resolved inside that very
 * directory, wherever it was moved and whatever took its name since: on
 * Linux `at` is /proc/self/fd/N (node has no openat); elsewhere it is the
 * directory's path, without that guarantee.
 */
export interface FsDir {
  readonly at: string;
  readonly dev: number;
  readonly ino: number;
  close(): Promise<void>;
}

export interface WriteNewOptions {
  /** fsync the file before closing it */
  fsync: boolean;
  /** permission bits at creation, less the umask (default 0600) */
  mode?: number;
  /** the file's mtime in ms since the epoch (default: the time of writing) */
  mtimeMs?: number;
  /** one of many files written at once: a small one not fsync'ed on its own may be written on a worker thread */
  many?: boolean;
}

export interface Fsys {
  lstat(p: string): Promise<FsStat>;
  readdir(p: string): Promise<FsDirent[]>;
  /** readdir + lstat of every entry, in one call (the full scan's inner loop) */
  lstatDir(p: string): Promise<FsDirStat[]>;
  readlink(p: string): Promise<string>;
  mkdir(p: string): Promise<void>;
  rmdir(p: string): Promise<void>;
  unlink(p: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** a hard link; fails with EEXIST rather than replace anything */
  link(existing: string, p: string): Promise<void>;
  symlink(target: string, p: string): Promise<void>;
  chmod(p: string, mode: number): Promise<void>;
  utimes(p: string, atime: Date, mtime: Date): Promise<void>;
  /** an existing regular file, for reading, never through a symlink (ELOOP) */
  openRead(p: string): Promise<FsHandle>;
  /** an existing regular file, for reading and writing, never through a symlink (ELOOP): a partial download taken over */
  openWrite(p: string): Promise<FsHandle>;
  /** a new file (EEXIST when the name is taken), mode 0600, for writing */
  createNew(p: string): Promise<FsHandle>;
  /** the directory `p`, held open; never through a symlink at `p` (ENOTDIR or ELOOP) */
  openDir(p: string): Promise<FsDir>;
  /**
   * A new file (EEXIST when taken) holding `data` (its pieces in order), with the mode and mtime
   * asked for, fsynced when asked. Returns its stat, taken on the open file:
   * the identity the file keeps when it is later renamed or linked. On
   * failure nothing is left at `p`.
   */
  writeNew(p: string, data: Buffer | readonly Buffer[], opts: WriteNewOptions): Promise<FsStat>;
  /** a copy of `src` under a new name (EEXIST when taken); a reflink where the disk can */
  copyNew(src: string, dst: string): Promise<void>;
  /** fsync of a directory: the entries created, renamed or removed in it are durable */
  syncDir(p: string): Promise<void>;
  /**
   * The data of all these files is durable when this resolves (a batch of
   * fsyncs; an implementation may flush more than asked, never less).
   */
  syncFiles(paths: readonly string[]): Promise<void>;
  /** stat that follows links, or null when nothing usable is there (start-up checks) */
  statSync(p: string): FsStat | null;
  readFileSync(p: string): Buffer;
  /** a small new file (EEXIST when taken), mode 0666 less the umask */
  writeNewSync(p: string, data: Buffer | string): void;
}

const fdOpen = promisify(fsOpen);
const fdClose = promisify(fsClose);
const fdSync = promisify(fsFsync);
const fdStat = promisify(fsFstat) as (fd: number) => Promise<Stats>;
const fdUtimes = promisify(fsFutimes);
const fdWritev = (fd: number, bufs: readonly Buffer[], pos: number): Promise<number> =>
  new Promise((resolve, reject) => fsWritev(fd, bufs as Buffer[], pos, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * Below this size a new file is written with blocking calls: open, write,
 * futimes, fstat and close of a small file take the kernel microseconds,
 * less than the thread-pool round trips the async calls cost (this is how
 * `cp` gets its speed). fsync, a wait on the disk, is never done blocking.
 */
const SYNC_WRITE_MAX = 256 * 1024;

/** writes the small files of a batch off the main thread (write-worker.ts); started by the first */
let writer: WriteWorker | null = null;

/**
 * Runs a blocking call and hands its outcome over as a promise. The calls
 * done this way only touch metadata (names, links, modes, times): on a local
 * disk each takes the kernel microseconds, while the thread-pool round trip
 * of its async twin costs the agent's main thread several times that, which
 * for ten thousand placed files is most of a mirror's time.
 */
function now<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (e) {
    return Promise.reject(e as Error);
  }
}

/** The pieces of `data` after its first `n` bytes (no copy). */
function after(data: readonly Buffer[], n: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = n;
  for (const p of data) {
    if (skip >= p.length) skip -= p.length;
    else {
      out.push(skip > 0 ? p.subarray(skip) : p);
      skip = 0;
    }
  }
  return out;
}

function pieces(data: Buffer | readonly Buffer[]): Buffer[] {
  return (Buffer.isBuffer(data) ? [data] : data).filter((p) => p.length > 0);
}

/** Writes the pieces in order from offset 0 (a short write goes on from where it stopped). */
function writeFd(fd: number, data: readonly Buffer[]): void {
  let pos = 0;
  for (let todo = data; todo.length > 0; ) {
    const n = writevSync(fd, todo as Buffer[], pos);
    pos += n;
    todo = after(todo, n);
  }
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

function writeNewSyncImpl(path: string, buf: Buffer, mode = 0o600): void {
  const fd = openSync(path, 'wx', mode);
  try {
    writeFd(fd, pieces(buf));
  } catch (e) {
    try {
      closeSync(fd);
    } finally {
      removeQuietly(path);
    }
    throw e;
  }
  closeSync(fd);
}

const slim = (st: Stats): FsStat => new FileStat(st.dev, st.ino, st.size, st.mtimeMs, st.mode);

/** seconds, as futimes wants them */
const secs = (ms: number): number => ms / 1000;

async function writeNewImpl(path: string, content: Buffer | readonly Buffer[], opts: WriteNewOptions): Promise<FsStat> {
  const mode = opts.mode ?? 0o600;
  const data = pieces(content);
  const bytes = piecesBytes(data);
  if (opts.many === true && !opts.fsync && bytes <= SYNC_WRITE_MAX) return (writer ??= new WriteWorker()).write(path, data, bytes, mode, opts.mtimeMs);
  if (bytes <= SYNC_WRITE_MAX) {
    const fd = openSync(path, 'wx', mode);
    try {
      writeFd(fd, data);
      if (opts.mtimeMs !== undefined) futimesSync(fd, secs(Date.now()), secs(opts.mtimeMs));
      const st = slim(fstatSync(fd));
      if (opts.fsync) await fdSync(fd);
      closeSync(fd);
      return st;
    } catch (e) {
      try {
        closeSync(fd);
      } catch {
        // closed already, or the close failed too: the unlink below is what matters
      }
      removeQuietly(path);
      throw e;
    }
  }
  // plain fds, not FileHandles: for thousands of files the FileHandle
  // objects cost more main-thread time than the writes
  const fd = await fdOpen(path, 'wx', mode);
  try {
    let pos = 0;
    for (let todo = data; todo.length > 0; ) {
      const n = await fdWritev(fd, todo, pos);
      pos += n;
      todo = after(todo, n);
    }
    if (opts.mtimeMs !== undefined) await fdUtimes(fd, secs(Date.now()), secs(opts.mtimeMs));
    const st = slim(await fdStat(fd));
    if (opts.fsync) await fdSync(fd);
    await fdClose(fd);
    return st;
  } catch (e) {
    await fdClose(fd).catch(() => {});
    await unlink(path).catch(() => {});
    throw e;
  }
}

async function fsyncPath(p: string, flags: number): Promise<void> {
  const fd = await fdOpen(p, flags);
  try {
    await fdSync(fd);
  } finally {
    await fdClose(fd);
  }
}

/**
 * A directory's entries with their lstat, as blocking calls: for the 10,000
 * entries of a folder, lstatSync takes ~17 ms where one promise per entry
 * takes ~60 ms of main-thread time (thread-pool round trips). The caller
 * yields between directories, so one call blocks for one directory only.
 */
function lstatDirImpl(p: string): Promise<FsDirStat[]> {
  try {
    let names: (string | Buffer)[] = readdirSync(p);
    // a name that is not UTF-8 decodes with U+FFFD: only then read the bytes
    // (such a name cannot be reached through a decoded string)
    if (names.some((n) => (n as string).includes('\ufffd'))) {
      names = readdirSync(p, { encoding: 'buffer' }).map((b) => {
        const s = b.toString('utf8');
        return Buffer.from(s, 'utf8').equals(b) ? s : b;
      });
    }
    const out: FsDirStat[] = new Array(names.length);
    const prefix = p.endsWith('/') ? p : `${p}/`;
    for (let i = 0; i < names.length; i++) {
      const name = names[i] as string | Buffer;
      if (typeof name !== 'string') {
        out[i] = { name, st: null, err: null };
        continue;
      }
      try {
        out[i] = { name, st: lstatSync(prefix + name, { throwIfNoEntry: false }) ?? null, err: null };
      } catch (err) {
        // ENOTDIR: the directory itself was replaced since readdir, so the entry is gone too
        const e = err as NodeJS.ErrnoException;
        out[i] = { name, st: null, err: e.code === 'ENOENT' || e.code === 'ENOTDIR' ? null : e };
      }
    }
    return Promise.resolve(out);
  } catch (err) {
    return Promise.reject(err);
  }
}

async function syncDirImpl(p: string): Promise<void> {
  try {
    await fsyncPath(p, fsc.O_RDONLY | fsc.O_DIRECTORY);
  } catch (err) {
    // some file systems refuse fsync on directories; the data is synced already
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR') throw err;
  }
}

/** Runs the jobs with at most `limit` in flight; the first failure rejects once all have settled. */
export async function runLimited(jobs: ReadonlyArray<() => Promise<void>>, limit: number): Promise<void> {
  let next = 0;
  let failure: { e: unknown } | null = null;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) {
      const job = jobs[next++] as () => Promise<void>;
      try {
        await job();
      } catch (e) {
        failure ??= { e };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure) throw (failure as { e: unknown }).e;
}

/** fsyncs in flight at once when files are synced one by one */
const FSYNC_PARALLEL = 16;

/**
 * From this many files on, syncFiles flushes the file systems that hold
 * them with one syncfs(2) each (`sync -f`, Linux) instead of one fsync per
 * file: on ext4, 10,000 fsyncs of new small files take 0.3–1 s even 16 in
 * flight, one syncfs 50–70 ms plus ~5 ms to start `sync`. Below it, the
 * process start costs more than the fsyncs it saves.
 */
const SYNCFS_MIN_FILES = 256;
/** after this many failed `sync -f` in a row, syncfs is given up for the process */
const SYNCFS_MAX_FAILURES = 3;
let syncfsWorks = process.platform === 'linux';
let syncfsFailures = 0;
let syncfsRunner: SyncfsRunner | null = null;

/**
 * syncfs(2) of every file system that holds one of `paths`, through
 * coreutils `sync -f` (node has no binding). syncfs writes back and waits
 * for every dirty page and inode of the file system, so it covers each
 * file's data as fsync would, and since Linux 5.8 reports writeback errors
 * the same way. Returns false when it could not be done (no `sync -f`, an
 * error): the caller then fsyncs file by file, which reports any error.
 */
async function syncFs(paths: readonly string[]): Promise<boolean> {
  if (!syncfsWorks) return false;
  // one directory per file system: syncfs is per super block, and a folder
  // may hold a mount point
  const byDev = new Map<number, string>();
  const seen = new Set<string>();
  for (const p of paths) {
    const d = dirname(p);
    if (seen.has(d)) continue;
    seen.add(d);
    let dev: number;
    try {
      dev = statSync(d).dev;
    } catch {
      return false;
    }
    if (!byDev.has(dev)) byDev.set(dev, d);
  }
  const ok = await (syncfsRunner ??= new SyncfsRunner()).run([...byDev.values()]);
  // A failure may be passing (the directory was deleted meanwhile, a
  // writeback error the fsyncs then report): syncfs goes on. Failing time
  // after time (an old coreutils, busybox without -f, …): fsync file by
  // file from now on.
  syncfsFailures = ok ? 0 : syncfsFailures + 1;
  if (syncfsFailures >= SYNCFS_MAX_FAILURES) syncfsWorks = false;
  return ok;
}

async function syncFilesImpl(paths: readonly string[]): Promise<void> {
  if (paths.length >= SYNCFS_MIN_FILES && (await syncFs(paths))) return;
  await runLimited(
    paths.map((p) => () => fsyncPath(p, fsc.O_RDONLY | fsc.O_NOFOLLOW)),
    FSYNC_PARALLEL,
  );
}

/** /proc/self/fd where the kernel has it: a path through a directory's descriptor */
const PROC_FD = process.platform === 'linux' && statSync('/proc/self/fd', { throwIfNoEntry: false })?.isDirectory() ? '/proc/self/fd' : null;

function openDirImpl(p: string): Promise<FsDir> {
  return now(() => {
    const fd = openSync(p, fsc.O_RDONLY | fsc.O_DIRECTORY | fsc.O_NOFOLLOW);
    let held = true;
    try {
      const st = fstatSync(fd);
      return {
        at: PROC_FD ? `${PROC_FD}/${fd}` : p,
        dev: st.dev,
        ino: st.ino,
        close: () => now(() => {
          if (held) closeSync(fd);
          held = false;
        }),
      };
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  });
}

/** The real disk. */
export const nodeFsys: Fsys = {
  // observation stays on the thread pool: a scan of a big folder must not
  // hold the event loop for its whole walk
  lstat: (p) => lstat(p),
  readdir: (p) => readdir(p, { withFileTypes: true, encoding: 'buffer' }) as Promise<Dirent<Buffer>[]>,
  lstatDir: lstatDirImpl,
  readlink: (p) => readlink(p),
  mkdir: (p) => now(() => void mkdirSync(p)),
  rmdir: (p) => now(() => rmdirSync(p)),
  unlink: (p) => now(() => unlinkSync(p)),
  rename: (a, b) => now(() => renameSync(a, b)),
  link: (a, b) => now(() => linkSync(a, b)),
  symlink: (t, p) => now(() => symlinkSync(t, p)),
  chmod: (p, m) => now(() => chmodSync(p, m)),
  utimes: (p, a, m) => now(() => utimesSync(p, a, m)),
  openRead: (p) => open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW),
  openWrite: (p) => open(p, fsc.O_RDWR | fsc.O_NOFOLLOW),
  createNew: (p) => open(p, 'wx', 0o600),
  openDir: openDirImpl,
  writeNew: writeNewImpl,
  copyNew: (a, b) => copyFile(a, b, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE),
  syncDir: syncDirImpl,
  syncFiles: syncFilesImpl,
  statSync: (p) => {
    try {
      return statSync(p);
    } catch {
      return null; // missing, or not reachable (EACCES, ENOTDIR, …): not usable either way
    }
  },
  readFileSync: (p) => readFileSync(p),
  writeNewSync: (p, data) => writeNewSyncImpl(p, typeof data === 'string' ? Buffer.from(data) : data, 0o666),
};
