// An in-memory disk for the engine simulation, with the durability rules of
// a real one and a crash that applies them.
//
// - Metadata (creating, linking, renaming, removing names) done by the agent
//   is logged until a directory fsync; the disk is modelled as an ordered
//   journal, so an fsync of any directory makes every earlier metadata
//   change durable. A crash keeps a random prefix of the unsynced log.
// - File data written by the agent and not fsynced is, at a crash, kept,
//   lost (back to the last fsynced bytes, empty for a new file) or torn (a
//   random prefix of the new bytes): a replaced file must still come out
//   entirely old or entirely new, which the agent guarantees only by
//   fsyncing temp files before renaming them into place.
// - What the simulated *user* does is durable at once (as if followed by
//   fsync), and flushes everything before it, so a crash never takes back
//   a user's own edit.
// - The agent's calls go through `view(proc)`: each async call parks at a
//   scheduler point first, and may fail with ENOSPC or EIO when faults are on.

import { posix } from 'node:path';
import type { Fsys, FsDir, FsDirent, FsDirStat, FsHandle, FsStat } from '../../src/client/disk/fsys.js';
import type { Proc, Scheduler } from './scheduler.js';

type Kind = 'file' | 'dir' | 'symlink';

interface Node {
  ino: number;
  kind: Kind;
  mode: number;
  mtimeMs: number;
  nlink: number;
  /** file bytes as the program sees them */
  data: Buffer;
  /** file bytes that survive a crash (null: never fsynced, a crash leaves the file empty) */
  durable: Buffer | null;
  entries: Map<string, Node>;
  target: string;
}

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

function fsErr(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: simulated ${syscall} '${path}'`), { code, syscall, path, errno: -1 });
}

function statOf(n: Node): FsStat {
  const type = n.kind === 'file' ? S_IFREG : n.kind === 'dir' ? S_IFDIR : S_IFLNK;
  return {
    dev: 1, ino: n.ino, size: n.kind === 'file' ? n.data.length : n.kind === 'symlink' ? n.target.length : 4096, mtimeMs: n.mtimeMs, mode: type | n.mode,
    isFile: () => n.kind === 'file', isDirectory: () => n.kind === 'dir', isSymbolicLink: () => n.kind === 'symlink',
  };
}

export interface DiskFaults {
  /** chance that one agent call fails (ENOSPC for writes, EIO for reads and fsync) */
  p: number;
}

export interface CrashReport {
  metadataUndone: number;
  dataLost: number;
  dataTorn: number;
}

export class SimDisk {
  readonly root: Node;
  #ino = 1;
  clock = 1_700_000_000_000;
  /** agent metadata changes not yet covered by a directory fsync, oldest first */
  #undo: (() => void)[] = [];
  /** files whose data differs from what survives a crash */
  #dirtyData = new Set<Node>();
  /** directories held open (Fsys.openDir): /proc/self/fd/N/… resolves inside them, as on Linux */
  readonly #fds = new Map<number, Node>();
  #nextFd = 3;
  faults: DiskFaults = { p: 0 };
  /** faults injected so far, by code */
  readonly injected: Record<string, number> = {};

  constructor(readonly sched: Scheduler) {
    this.root = this.#node('dir', 0o755);
  }

  #node(kind: Kind, mode: number): Node {
    return { ino: this.#ino++, kind, mode, mtimeMs: this.tick(), nlink: 1, data: Buffer.alloc(0), durable: kind === 'file' ? null : Buffer.alloc(0), entries: new Map(), target: '' };
  }

  tick(): number {
    return ++this.clock;
  }

  // ---- path resolution ---------------------------------------------------

  /** Parent directory and last name of `path`; intermediate symlinks are followed (as the kernel does). */
  #locate(path: string, syscall: string, depth = 0): { dir: Node; name: string; dirPath: string } {
    if (depth > 8) throw fsErr('ELOOP', syscall, path);
    const norm = posix.resolve('/', path);
    const parts = norm.split('/').filter((s) => s !== '');
    if (parts.length === 0) throw fsErr('EBUSY', syscall, path); // the root itself has no parent entry
    let cur = this.root;
    let curPath = '/';
    let i = 0;
    if (parts[0] === 'proc' && parts[1] === 'self' && parts[2] === 'fd' && parts.length > 4) {
      const held = this.#fds.get(Number(parts[3]));
      if (!held) throw fsErr('ENOENT', syscall, path);
      cur = held;
      curPath = `/proc/self/fd/${parts[3]}`;
      i = 4;
    }
    for (; i < parts.length - 1; i++) {
      const child = cur.entries.get(parts[i]!);
      if (!child) throw fsErr('ENOENT', syscall, path);
      if (child.kind === 'symlink') {
        const rest = parts.slice(i + 1).join('/');
        return this.#locate(posix.resolve(curPath, child.target, rest), syscall, depth + 1);
      }
      if (child.kind !== 'dir') throw fsErr('ENOTDIR', syscall, path);
      cur = child;
      curPath = posix.join(curPath, parts[i]!);
    }
    return { dir: cur, name: parts[parts.length - 1]!, dirPath: curPath };
  }

  /** The node at `path` (null when missing); the last component's symlink is followed only with `follow`. */
  #get(path: string, syscall: string, follow: boolean, depth = 0): Node | null {
    if (posix.resolve('/', path) === '/') return this.root;
    const { dir, name, dirPath } = this.#locate(path, syscall, depth);
    const n = dir.entries.get(name) ?? null;
    if (n && follow && n.kind === 'symlink') {
      if (depth > 8) throw fsErr('ELOOP', syscall, path);
      return this.#get(posix.resolve(dirPath, n.target), syscall, true, depth + 1);
    }
    return n;
  }

  #must(path: string, syscall: string, follow: boolean): Node {
    const n = this.#get(path, syscall, follow);
    if (!n) throw fsErr('ENOENT', syscall, path);
    return n;
  }

  #parentFor(path: string, syscall: string): { dir: Node; name: string } {
    const { dir, name } = this.#locate(path, syscall);
    return { dir, name };
  }

  // ---- mutations shared by the agent and the user --------------------------

  #log(agent: boolean, undo: () => void): void {
    if (agent) this.#undo.push(undo);
  }

  #add(dir: Node, name: string, n: Node, agent: boolean): void {
    dir.entries.set(name, n);
    dir.mtimeMs = this.tick();
    this.#log(agent, () => dir.entries.delete(name));
  }

  /** SYNCD_SIM_TRACE=<text>: say when a file holding <text> loses its last name or its bytes */
  #watchLoss(n: Node | undefined, why: string, agent: boolean): void {
    const needle = process.env.SYNCD_SIM_TRACE;
    if (!needle || !n || n.kind !== 'file' || !n.data.toString('utf8').includes(needle)) return;
    this.sched.trace(`LOSS? ${agent ? 'agent' : 'user'} ${why} ino${n.ino} nlink=${n.nlink} ${new Error().stack!.split('\n').slice(2, 12).join(' <- ')}`);
  }

  #remove(dir: Node, name: string, agent: boolean): void {
    const n = dir.entries.get(name)!;
    dir.entries.delete(name);
    n.nlink--;
    if (n.nlink === 0) this.#watchLoss(n, `unlink ${name}`, agent);
    dir.mtimeMs = this.tick();
    this.#log(agent, () => {
      n.nlink++;
      dir.entries.set(name, n);
    });
  }

  mkdir(path: string, agent: boolean): void {
    const { dir, name } = this.#parentFor(path, 'mkdir');
    if (dir.entries.has(name)) throw fsErr('EEXIST', 'mkdir', path);
    this.#add(dir, name, this.#node('dir', 0o755), agent);
  }

  createFile(path: string, data: Buffer, mode: number, agent: boolean): Node {
    const { dir, name } = this.#parentFor(path, 'open');
    if (dir.entries.has(name)) throw fsErr('EEXIST', 'open', path);
    const n = this.#node('file', mode);
    this.#add(dir, name, n, agent);
    this.writeData(n, data, agent);
    return n;
  }

  writeData(n: Node, data: Buffer, agent: boolean): void {
    this.#watchLoss(n, `overwrite ino${n.ino}`, agent);
    n.data = Buffer.from(data);
    n.mtimeMs = this.tick();
    if (agent) this.#dirtyData.add(n);
    else n.durable = n.data;
  }

  rmdir(path: string, agent: boolean): void {
    const n = this.#must(path, 'rmdir', false);
    if (n.kind !== 'dir') throw fsErr('ENOTDIR', 'rmdir', path);
    if (n.entries.size > 0) throw fsErr('ENOTEMPTY', 'rmdir', path);
    const { dir, name } = this.#parentFor(path, 'rmdir');
    this.#remove(dir, name, agent);
  }

  unlink(path: string, agent: boolean): void {
    const n = this.#must(path, 'unlink', false);
    if (n.kind === 'dir') throw fsErr('EISDIR', 'unlink', path);
    const { dir, name } = this.#parentFor(path, 'unlink');
    this.#remove(dir, name, agent);
  }

  rename(from: string, to: string, agent: boolean): void {
    const src = this.#must(from, 'rename', false);
    const a = this.#parentFor(from, 'rename');
    const b = this.#parentFor(to, 'rename');
    const dst = b.dir.entries.get(b.name);
    if (dst === src) return;
    if (src.kind === 'dir') {
      const fromAbs = posix.resolve('/', from);
      const toAbs = posix.resolve('/', to);
      if (toAbs.startsWith(fromAbs + '/')) throw fsErr('EINVAL', 'rename', to);
      if (dst && dst.kind !== 'dir') throw fsErr('ENOTDIR', 'rename', to);
      if (dst && dst.entries.size > 0) throw fsErr('ENOTEMPTY', 'rename', to);
    } else if (dst && dst.kind === 'dir') throw fsErr('EISDIR', 'rename', to);
    a.dir.entries.delete(a.name);
    if (dst) dst.nlink--;
    if (dst && dst.nlink === 0) this.#watchLoss(dst, `rename ${from} over ${to}`, agent);
    b.dir.entries.set(b.name, src);
    a.dir.mtimeMs = b.dir.mtimeMs = this.tick();
    this.#log(agent, () => {
      b.dir.entries.delete(b.name);
      if (dst) {
        dst.nlink++;
        b.dir.entries.set(b.name, dst);
      }
      a.dir.entries.set(a.name, src);
    });
  }

  link(existing: string, path: string, agent: boolean): void {
    const n = this.#must(existing, 'link', false);
    if (n.kind === 'dir') throw fsErr('EPERM', 'link', existing);
    const { dir, name } = this.#parentFor(path, 'link');
    if (dir.entries.has(name)) throw fsErr('EEXIST', 'link', path);
    n.nlink++;
    dir.entries.set(name, n);
    dir.mtimeMs = this.tick();
    this.#log(agent, () => {
      n.nlink--;
      dir.entries.delete(name);
    });
  }

  symlink(target: string, path: string, agent: boolean): void {
    const { dir, name } = this.#parentFor(path, 'symlink');
    if (dir.entries.has(name)) throw fsErr('EEXIST', 'symlink', path);
    const n = this.#node('symlink', 0o777);
    n.target = target;
    this.#add(dir, name, n, agent);
  }

  // ---- the user: durable at once --------------------------------------------

  /** The user fsyncs: every earlier change survives a crash. */
  #flush(): void {
    this.#undo = [];
    for (const n of this.#dirtyData) n.durable = n.data;
    this.#dirtyData.clear();
  }

  user<T>(fn: () => T): T {
    this.#flush();
    try {
      return fn();
    } finally {
      this.#flush();
    }
  }

  userWrite(path: string, content: string): void {
    this.user(() => {
      const n = this.#get(path, 'open', false);
      if (n && n.kind === 'file') this.writeData(n, Buffer.from(content), false);
      else this.createFile(path, Buffer.from(content), 0o644, false);
    });
  }

  /** Removes `path` and everything below it. */
  userRemove(path: string): void {
    this.user(() => {
      const n = this.#get(path, 'rm', false);
      if (!n) return;
      if (n.kind === 'dir') for (const name of [...n.entries.keys()]) this.userRemove(posix.join(path, name));
      if (n.kind === 'dir') this.rmdir(path, false);
      else this.unlink(path, false);
    });
  }

  // ---- reading -----------------------------------------------------------

  lstat(path: string): FsStat | null {
    const n = this.#get(path, 'lstat', false);
    return n ? statOf(n) : null;
  }

  readFile(path: string): Buffer {
    const n = this.#must(path, 'open', true);
    if (n.kind === 'dir') throw fsErr('EISDIR', 'read', path);
    return Buffer.from(n.data);
  }

  list(path: string): { name: string; kind: Kind }[] {
    const n = this.#must(path, 'scandir', true);
    if (n.kind !== 'dir') throw fsErr('ENOTDIR', 'scandir', path);
    return [...n.entries].map(([name, c]) => ({ name, kind: c.kind }));
  }

  readlink(path: string): string {
    const n = this.#must(path, 'readlink', false);
    if (n.kind !== 'symlink') throw fsErr('EINVAL', 'readlink', path);
    return n.target;
  }

  /** Every path under `path` (relative), with what is there: file content, "dir", or "-> target". */
  snapshot(path: string, skip: (name: string) => boolean = () => false): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (abs: string, rel: string) => {
      for (const { name, kind } of this.list(abs).sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
        if (skip(name)) continue;
        const p = rel ? `${rel}/${name}` : name;
        const a = posix.join(abs, name);
        if (kind === 'dir') {
          out[p + '/'] = 'dir';
          walk(a, p);
        } else if (kind === 'symlink') out[p] = `-> ${this.readlink(a)}`;
        else out[p] = this.readFile(a).toString('utf8');
      }
    };
    walk(path, '');
    return out;
  }

  /** What an fsync of a directory does here: every earlier metadata change is durable (an ordered journal). */
  syncMetadata(): void {
    this.#undo = [];
  }

  // ---- crash ---------------------------------------------------------------

  /** Power loss: a random prefix of the unsynced metadata survives; unsynced data is kept, lost or torn. */
  crash(): CrashReport {
    const r = this.sched;
    const keep = r.int(this.#undo.length + 1);
    const undone = this.#undo.splice(keep);
    for (let i = undone.length - 1; i >= 0; i--) undone[i]!();
    this.#undo = [];
    let dataLost = 0;
    let dataTorn = 0;
    for (const n of this.#dirtyData) {
      const k = r.rng();
      if (k < 0.34) continue;
      if (k < 0.67 || n.data.length < 2) {
        n.data = n.durable ?? Buffer.alloc(0);
        dataLost++;
      } else {
        n.data = Buffer.from(n.data.subarray(0, 1 + r.int(n.data.length - 1)));
        dataTorn++;
      }
      n.durable = n.data;
    }
    for (const n of this.#dirtyData) n.durable = n.data;
    this.#dirtyData.clear();
    return { metadataUndone: undone.length, dataLost, dataTorn };
  }

  // ---- the agent's view ------------------------------------------------------

  /** The Fsys an agent incarnation uses: every async call parks, then may fail. */
  view(proc: Proc): Fsys {
    const disk = this;
    const sched = this.sched;
    const op = async <T>(label: string, fault: 'write' | 'read' | 'sync' | 'none', fn: () => T): Promise<T> => {
      await sched.point(proc, label);
      if (fault !== 'none' && sched.chance(disk.faults.p)) {
        const code = fault === 'write' ? 'ENOSPC' : 'EIO';
        disk.injected[code] = (disk.injected[code] ?? 0) + 1;
        throw fsErr(code, label, '(fault)');
      }
      return fn();
    };
    const handle = (n: Node, path: string, writable: boolean): FsHandle => ({
      stat: () => op(`fstat ${path}`, 'none', () => statOf(n)),
      read: (buf, off, len, pos) =>
        op(`read ${path}`, 'read', () => {
          if (n.kind === 'dir') throw fsErr('EISDIR', 'read', path);
          const got = n.data.subarray(pos, pos + len);
          got.copy(buf, off);
          return { bytesRead: got.length, buffer: buf };
        }),
      write: (buf, off, len, pos) =>
        op(`write ${path}`, 'write', () => {
          if (!writable) throw fsErr('EBADF', 'write', path);
          const end = pos + len;
          const next = Buffer.alloc(Math.max(n.data.length, end));
          n.data.copy(next);
          buf.copy(next, pos, off, off + len);
          disk.writeData(n, next, true);
          return { bytesWritten: len };
        }),
      truncate: (len) =>
        op(`truncate ${path}`, 'write', () => {
          const next = Buffer.alloc(len);
          n.data.copy(next, 0, 0, Math.min(len, n.data.length));
          disk.writeData(n, next, true);
        }),
      sync: () =>
        op(`fsync ${path}`, 'sync', () => {
          n.durable = n.data;
          disk.#dirtyData.delete(n);
        }),
      chmod: (mode) => op(`fchmod ${path}`, 'none', () => void (n.mode = mode & 0o7777)),
      utimes: (_a, m) => op(`futimes ${path}`, 'none', () => void (n.mtimeMs = m.getTime())),
      close: () => op(`close ${path}`, 'none', () => undefined),
    });
    return {
      lstat: (p) => op(`lstat ${p}`, 'read', () => {
        const st = disk.lstat(p);
        if (!st) throw fsErr('ENOENT', 'lstat', p);
        return st;
      }),
      readdir: (p) => op(`readdir ${p}`, 'read', () => {
        const n = disk.#must(p, 'scandir', true);
        if (n.kind !== 'dir') throw fsErr('ENOTDIR', 'scandir', p);
        return [...n.entries].map(([name, c]): FsDirent => ({ name: Buffer.from(name, 'utf8'), isDirectory: () => c.kind === 'dir' }));
      }),
      // one point for the listing and its lstats, as the real one is synchronous
      lstatDir: (p) => op(`lstatdir ${p}`, 'read', () => {
        const n = disk.#must(p, 'scandir', true);
        if (n.kind !== 'dir') throw fsErr('ENOTDIR', 'scandir', p);
        return [...n.entries].map(([name, c]): FsDirStat => {
          if (sched.chance(disk.faults.p)) {
            disk.injected.EIO = (disk.injected.EIO ?? 0) + 1;
            return { name, st: null, err: fsErr('EIO', 'lstat', posix.join(p, name)) };
          }
          return { name, st: statOf(c), err: null };
        });
      }),
      readlink: (p) => op(`readlink ${p}`, 'read', () => disk.readlink(p)),
      mkdir: (p) => op(`mkdir ${p}`, 'write', () => disk.mkdir(p, true)),
      rmdir: (p) => op(`rmdir ${p}`, 'none', () => disk.rmdir(p, true)),
      unlink: (p) => op(`unlink ${p}`, 'none', () => disk.unlink(p, true)),
      rename: (a, b) => op(`rename ${a} ${b}`, 'none', () => disk.rename(a, b, true)),
      link: (a, b) => op(`link ${a} ${b}`, 'write', () => disk.link(a, b, true)),
      symlink: (t, p) => op(`symlink ${p}`, 'write', () => disk.symlink(t, p, true)),
      chmod: (p, mode) => op(`chmod ${p}`, 'none', () => void (disk.#must(p, 'chmod', true).mode = mode & 0o7777)),
      utimes: (p, _a, m) => op(`utimes ${p}`, 'none', () => void (disk.#must(p, 'utimes', true).mtimeMs = m.getTime())),
      openRead: (p) => op(`open ${p}`, 'read', () => {
        const n = disk.#must(p, 'open', false);
        if (n.kind === 'symlink') throw fsErr('ELOOP', 'open', p);
        return handle(n, p, false);
      }),
      openWrite: (p) => op(`open ${p}`, 'write', () => {
        const n = disk.#must(p, 'open', false);
        if (n.kind === 'symlink') throw fsErr('ELOOP', 'open', p);
        return handle(n, p, true);
      }),
      createNew: (p) => op(`create ${p}`, 'write', () => handle(disk.createFile(p, Buffer.alloc(0), 0o600, true), p, true)),
      openDir: (p) => op(`opendir ${p}`, 'read', (): FsDir => {
        const n = disk.#must(p, 'open', false);
        if (n.kind !== 'dir') throw fsErr(n.kind === 'symlink' ? 'ELOOP' : 'ENOTDIR', 'open', p);
        const fd = disk.#nextFd++;
        disk.#fds.set(fd, n);
        return { at: `/proc/self/fd/${fd}`, dev: 1, ino: n.ino, close: async () => void disk.#fds.delete(fd) };
      }),
      writeNew: (p, data, o) => op(`writefile ${p}`, 'write', () => {
        const n = disk.createFile(p, Buffer.isBuffer(data) ? data : Buffer.concat(data), (o.mode ?? 0o600) & 0o7777, true);
        if (o.mtimeMs !== undefined) n.mtimeMs = o.mtimeMs;
        if (o.fsync) {
          n.durable = n.data;
          disk.#dirtyData.delete(n);
        }
        return statOf(n);
      }),
      copyNew: (a, b) => op(`copy ${a} ${b}`, 'write', () => void disk.createFile(b, disk.readFile(a), 0o600, true)),
      // one point per file: a crash can land between two of them
      syncFiles: async (paths) => {
        for (const p of paths) {
          await op(`fsync ${p}`, 'sync', () => {
            const n = disk.#must(p, 'open', false);
            n.durable = n.data;
            disk.#dirtyData.delete(n);
          });
        }
      },
      syncDir: (p) => op(`fsyncdir ${p}`, 'sync', () => {
        if (disk.#must(p, 'open', true).kind !== 'dir') throw fsErr('ENOTDIR', 'fsync', p);
        disk.syncMetadata();
      }),
      statSync: (p) => {
        try {
          const n = disk.#get(p, 'stat', true);
          return n ? statOf(n) : null;
        } catch {
          return null;
        }
      },
      readFileSync: (p) => disk.readFile(p),
      writeNewSync: (p, data) => void disk.createFile(p, Buffer.from(data), 0o644, true),
    };
  }
}
