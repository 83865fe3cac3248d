// The file-system operations the agent performs on a synced folder, behind
// one small interface. `nodeFsys` is the real disk; the reliability
// simulation (test/sim) passes an in-memory file system that reorders,
// fails and crashes these calls. Only what the scanner, the executor and
// transfers use is here; the state DB and config files stay on node:fs.

import {
  close as fsClose,
  closeSync,
  constants as fsc,
  fsync as fsFsync,
  lstatSync,
  open as fsOpen,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  unlinkSync,
  write as fsWrite,
  writeSync,
  type Dirent,
} from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, open, readdir, readlink, rename, rmdir, symlink, unlink, utimes } from 'node:fs/promises';
import { promisify } from 'node:util';

/** The fields of an lstat the agent reads. node's Stats has them all. */
export interface FsStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  mode: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

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
  close(): Promise<void>;
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
  /** a new file (EEXIST when the name is taken), mode 0600, for writing */
  createNew(p: string): Promise<FsHandle>;
  /** a new file (EEXIST when taken) holding `data`, fsynced when asked */
  writeNew(p: string, data: Buffer, fsync: boolean): Promise<void>;
  /** a copy of `src` under a new name (EEXIST when taken); a reflink where the disk can */
  copyNew(src: string, dst: string): Promise<void>;
  /** fsync of a directory: the entries created, renamed or removed in it are durable */
  syncDir(p: string): Promise<void>;
  /** stat that follows links, or null when nothing usable is there (start-up checks) */
  statSync(p: string): FsStat | null;
  readFileSync(p: string): Buffer;
  /** a small new file (EEXIST when taken), mode 0666 less the umask */
  writeNewSync(p: string, data: Buffer | string): void;
}

const fdOpen = promisify(fsOpen);
const fdClose = promisify(fsClose);
const fdSync = promisify(fsFsync);
const fdWrite = (fd: number, buf: Buffer, off: number, len: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => fsWrite(fd, buf, off, len, pos, (err, n) => (err ? reject(err) : resolve(n))));

/**
 * Below this size, a file that need not be fsynced is written with blocking
 * calls: open+write+close of a small file takes the kernel ~10 µs, less than
 * the three thread-pool round trips the async calls cost (this is how `cp`
 * gets its speed). fsync is never done blocking.
 */
const SYNC_WRITE_MAX = 256 * 1024;

function writeNewSyncImpl(path: string, buf: Buffer, mode = 0o600): void {
  const fd = openSync(path, 'wx', mode);
  try {
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off, off);
  } catch (e) {
    try {
      closeSync(fd);
    } finally {
      try {
        unlinkSync(path);
      } catch {
        // already gone
      }
    }
    throw e;
  }
  closeSync(fd);
}

async function writeNewImpl(path: string, buf: Buffer, fsync: boolean): Promise<void> {
  if (!fsync && buf.length <= SYNC_WRITE_MAX) return writeNewSyncImpl(path, buf);
  // plain fds, not FileHandles: for thousands of files the FileHandle
  // objects cost more main-thread time than the writes
  const fd = await fdOpen(path, 'wx', 0o600);
  try {
    let off = 0;
    while (off < buf.length) off += await fdWrite(fd, buf, off, buf.length - off, off);
    if (fsync) await fdSync(fd);
  } catch (e) {
    await fdClose(fd).catch(() => {});
    await unlink(path).catch(() => {});
    throw e;
  }
  await fdClose(fd);
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
  const fh = await open(p, 'r');
  try {
    await fh.sync();
  } catch (err) {
    // some file systems refuse fsync on directories; the data is synced already
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'EISDIR') throw err;
  } finally {
    await fh.close();
  }
}

/** The real disk. */
export const nodeFsys: Fsys = {
  lstat: (p) => lstat(p),
  readdir: (p) => readdir(p, { withFileTypes: true, encoding: 'buffer' }) as Promise<Dirent<Buffer>[]>,
  lstatDir: lstatDirImpl,
  readlink: (p) => readlink(p),
  mkdir: (p) => mkdir(p),
  rmdir: (p) => rmdir(p),
  unlink: (p) => unlink(p),
  rename: (a, b) => rename(a, b),
  link: (a, b) => link(a, b),
  symlink: (t, p) => symlink(t, p),
  chmod: (p, m) => chmod(p, m),
  utimes: (p, a, m) => utimes(p, a, m),
  openRead: (p) => open(p, fsc.O_RDONLY | fsc.O_NOFOLLOW),
  createNew: (p) => open(p, 'wx', 0o600),
  writeNew: writeNewImpl,
  copyNew: (a, b) => copyFile(a, b, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE),
  syncDir: syncDirImpl,
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
