// New small files written on a worker thread, for fsys.ts: a first mirror
// of many small files spends a third of the main thread in the blocking
// open / write / futimes / fstat / close of each temp file, time the
// planner, the state rows and the reply's parsing could use. Files asked
// for within one turn of the event loop go to the worker as one message
// (their bytes copied into one buffer, moved, not shared); it writes them
// in order and answers with each file's stat or its error. The worker
// starts with the first file and ends when idle; a file in progress keeps
// the process alive. Only for files nobody fsyncs on their own (the batch
// is made durable at its end), so the worker never waits on the disk.

import { Worker } from 'node:worker_threads';
import { FileStat, type FsStat } from './file-stat.js';

/** the worker ends after this long without a file to write */
const IDLE_MS = 30_000;
/** a batch is sent once it holds this many files or bytes, else at the end of the turn */
const BATCH_FILES = 64;
const BATCH_BYTES = 1024 * 1024;
/** a batch's buffer is at least this big, and kept for the next one (fresh memory costs page faults) */
const BUFFER_BYTES = 2 * 1024 * 1024;
const SPARE_BUFFERS = 4;

// Evaluated, not a file (the same code runs from dist/ and from the
// sources under test). A request: { id, buf, files: [path, offset,
// length, mode, atime s, mtime s (-1: leave)] }. The answer, per file:
// [0, dev, ino, size, mtimeMs, mode] or [1, code, errno, syscall,
// message]. A file whose write fails after its open is closed and
// removed: nothing is left of a failed file, as with the blocking write.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
parentPort.on('message', (m) => {
  const all = new Uint8Array(m.buf);
  const out = [];
  for (const [path, off, len, mode, atime, mtime] of m.files) {
    let fd = -1;
    try {
      fd = fs.openSync(path, 'wx', mode);
      for (let pos = 0; pos < len; ) pos += fs.writeSync(fd, all, off + pos, len - pos, pos);
      if (mtime >= 0) fs.futimesSync(fd, atime, mtime);
      const st = fs.fstatSync(fd);
      fs.closeSync(fd);
      out.push([0, st.dev, st.ino, st.size, st.mtimeMs, st.mode]);
    } catch (e) {
      if (fd >= 0) {
        try { fs.closeSync(fd); } catch {}
        try { fs.unlinkSync(path); } catch {}
      }
      out.push([1, e.code, e.errno, e.syscall, String(e.message)]);
    }
  }
  parentPort.postMessage({ id: m.id, out, buf: m.buf }, [m.buf]);
});
`;

type Answer = [0, number, number, number, number, number] | [1, string | undefined, number | undefined, string | undefined, string];

interface Waiter {
  resolve(st: FsStat): void;
  reject(e: Error): void;
}

interface Pending {
  path: string;
  data: readonly Buffer[];
  bytes: number;
  mode: number;
  mtimeMs: number | undefined;
  waiter: Waiter;
}

function errorOf(a: Extract<Answer, [1, ...unknown[]]>, path: string): Error {
  const e = new Error(a[4]) as NodeJS.ErrnoException;
  if (a[1] !== undefined) e.code = a[1];
  if (a[2] !== undefined) e.errno = a[2];
  if (a[3] !== undefined) e.syscall = a[3];
  e.path = path;
  return e;
}

export class WriteWorker {
  #worker: Worker | null = null;
  #batch: Pending[] = [];
  #batchBytes = 0;
  #flushQueued = false;
  #sent = new Map<number, Pending[]>();
  #nextId = 1;
  #idle: NodeJS.Timeout | null = null;
  #spare: ArrayBuffer[] = [];

  /** Creates `path` (never replacing anything) holding `data`, with `mode` and, if given, `mtimeMs`; its stat once closed. */
  write(path: string, data: readonly Buffer[], bytes: number, mode: number, mtimeMs: number | undefined): Promise<FsStat> {
    return new Promise<FsStat>((resolve, reject) => {
      this.#batch.push({ path, data, bytes, mode, mtimeMs, waiter: { resolve, reject } });
      this.#batchBytes += bytes;
      if (this.#batch.length >= BATCH_FILES || this.#batchBytes >= BATCH_BYTES) this.#flush();
      else if (!this.#flushQueued) {
        this.#flushQueued = true;
        setImmediate(() => {
          this.#flushQueued = false;
          this.#flush();
        });
      }
    });
  }

  /** Files asked for and not yet answered. */
  get pending(): number {
    let n = this.#batch.length;
    for (const b of this.#sent.values()) n += b.length;
    return n;
  }

  #flush(): void {
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    const need = this.#batchBytes;
    this.#batchBytes = 0;
    const at = this.#spare.findIndex((b) => b.byteLength >= need);
    const buf = new Uint8Array(at >= 0 ? this.#spare.splice(at, 1)[0]! : new ArrayBuffer(Math.max(need, BUFFER_BYTES)));
    const files: [string, number, number, number, number, number][] = [];
    let off = 0;
    const atime = Date.now() / 1000;
    for (const p of batch) {
      const start = off;
      for (const piece of p.data) {
        buf.set(piece, off);
        off += piece.length;
      }
      files.push([p.path, start, off - start, p.mode, atime, p.mtimeMs === undefined ? -1 : p.mtimeMs / 1000]);
    }
    const id = this.#nextId++;
    this.#sent.set(id, batch);
    const w = this.#start();
    w.postMessage({ id, buf: buf.buffer, files }, [buf.buffer]);
  }

  #start(): Worker {
    if (this.#idle) {
      clearTimeout(this.#idle);
      this.#idle = null;
    }
    if (this.#worker) {
      this.#worker.ref();
      return this.#worker;
    }
    // execArgv: [] — the source is CommonJS; a parent's --input-type=module must not reach it
    const w = new Worker(WORKER_SOURCE, { eval: true, execArgv: [] });
    this.#worker = w;
    w.on('message', (m: { id: number; out: Answer[]; buf: ArrayBuffer }) => {
      if (this.#spare.length < SPARE_BUFFERS && m.buf.byteLength <= BUFFER_BYTES) this.#spare.push(m.buf);
      this.#answered(m.id, m.out);
    });
    const gone = (e: Error): void => {
      if (this.#worker !== w) return;
      this.#worker = null;
      // what was sent is not known to be written or not: each is told so (a
      // file the worker did create stays as a leftover temp for the scan)
      const sent = [...this.#sent.values()].flat();
      this.#sent.clear();
      for (const p of sent) p.waiter.reject(e);
    };
    w.on('error', gone);
    w.on('exit', (code) => gone(new Error(`the file-writing worker thread stopped (exit code ${code})`)));
    return w;
  }

  #answered(id: number, out: Answer[]): void {
    const batch = this.#sent.get(id);
    if (!batch) return;
    this.#sent.delete(id);
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i] as Pending;
      const a = out[i];
      if (a === undefined) p.waiter.reject(new Error(`the file-writing worker did not answer for ${p.path}`));
      else if (a[0] === 0) p.waiter.resolve(new FileStat(a[1], a[2], a[3], a[4], a[5]));
      else p.waiter.reject(errorOf(a, p.path));
    }
    if (this.#sent.size === 0 && this.#batch.length === 0 && this.#worker) {
      // nothing in progress: the worker no longer holds the process, and ends when idle
      this.#worker.unref();
      const w = this.#worker;
      this.#idle = setTimeout(() => {
        if (this.#worker !== w || this.pending > 0) return;
        this.#worker = null;
        void w.terminate();
      }, IDLE_MS);
      this.#idle.unref();
    }
  }
}
