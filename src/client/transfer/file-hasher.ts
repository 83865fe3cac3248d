// The SHA-256 passes over a large file: the whole-file hash and, when asked,
// the hash of each content-defined chunk. Above OFF_THREAD_MIN bytes they run
// on a worker thread, so the main thread reads (and chunks) the next buffer
// while the worker hashes this one: two cores share a big file's pass. Below
// it, and in the engine simulation (whose scheduler cannot see a worker),
// they run in the calling thread; both give exactly the same hashes.
//
// A buffer given to `update` belongs to the hasher from then on (it is
// moved to the worker, not copied); `take` hands out buffers the hasher
// recycles, so a file's pass allocates only a few.

import { createHash, type Hash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** files from this size on are hashed on the worker thread (below, a thread's start-up and messages cost more than they save) */
export const OFF_THREAD_MIN = 16 * 1024 * 1024;
/** buffers handed to the worker and not yet hashed; `update` waits beyond this */
const IN_FLIGHT = 4;
/** the worker ends after this long without a file to hash (a new file starts it again) */
const IDLE_MS = 30_000;

export interface FileHashes {
  hash: string;
  /** the chunk hashes, in order (empty when chunk hashes were not asked for) */
  chunkHashes: string[];
}

export interface FileHasher {
  /** a buffer of `size` bytes to read into and then give to `update` */
  take(size: number): Buffer;
  /**
   * Hashes `buf`; with chunk hashes, `cuts` are the chunk ends (exclusive)
   * inside it, in order. `buf` belongs to the hasher from now on.
   */
  update(buf: Buffer, cuts?: readonly number[]): Promise<void>;
  /** the hashes; `tail`: the bytes after the last cut are a chunk of their own (not empty) */
  finish(tail: boolean): Promise<FileHashes>;
  /** gives up (an error on the caller's side); the hasher is not usable after */
  abandon(): void;
}

/** A hasher for a file of `size` bytes: on the worker thread from OFF_THREAD_MIN on. */
export function fileHasher(size: number, chunkHashes: boolean): FileHasher {
  return size >= OFF_THREAD_MIN ? new ThreadHasher(chunkHashes) : new InlineHasher(chunkHashes);
}

class InlineHasher implements FileHasher {
  readonly #whole = createHash('sha256');
  #part: Hash | null;
  readonly #hashes: string[] = [];
  /** `update` hashes before it returns, so one buffer serves every read in turn */
  #buf: Buffer | null = null;
  /** #buf was taken and not yet given back through `update` (a second taker gets a fresh buffer) */
  #lent = false;

  constructor(chunkHashes: boolean) {
    this.#part = chunkHashes ? createHash('sha256') : null;
  }

  take(size: number): Buffer {
    if (this.#lent) return Buffer.allocUnsafe(size);
    if (!this.#buf || this.#buf.length < size) this.#buf = Buffer.allocUnsafe(size);
    this.#lent = true;
    return this.#buf.subarray(0, size);
  }

  async update(buf: Buffer, cuts: readonly number[] = []): Promise<void> {
    this.#part = hashInto(this.#whole, this.#part, this.#hashes, buf, cuts);
    if (this.#buf && buf.buffer === this.#buf.buffer && buf.byteOffset === this.#buf.byteOffset) this.#lent = false;
  }

  async finish(tail: boolean): Promise<FileHashes> {
    if (this.#part && tail) this.#hashes.push(this.#part.digest('hex'));
    return { hash: this.#whole.digest('hex'), chunkHashes: this.#hashes };
  }

  abandon(): void {}
}

/** the one step both hashers take (the worker's source below repeats it in plain JS) */
function hashInto(whole: Hash, part: Hash | null, out: string[], buf: Uint8Array, cuts: readonly number[]): Hash | null {
  whole.update(buf);
  if (!part) return null;
  let prev = 0;
  let p = part;
  for (const end of cuts) {
    p.update(buf.subarray(prev, end));
    out.push(p.digest('hex'));
    p = createHash('sha256');
    prev = end;
  }
  p.update(buf.subarray(prev));
  return p;
}

// The worker's source, evaluated (no separate file: the same code runs from
// dist/ and from the TypeScript sources under test). Messages: 'u' hashes a
// buffer of a job and sends it back for reuse, 'f' finishes a job, 'x' drops one.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
function job(id, chunked) {
  let j = jobs.get(id);
  if (!j) jobs.set(id, (j = { whole: createHash('sha256'), part: chunked ? createHash('sha256') : null, hashes: [] }));
  return j;
}
parentPort.on('message', (m) => {
  if (m.t === 'u') {
    const j = job(m.id, m.chunked);
    const b = new Uint8Array(m.buf, 0, m.n);
    j.whole.update(b);
    if (j.part) {
      let prev = 0;
      for (const end of m.cuts) {
        j.part.update(b.subarray(prev, end));
        j.hashes.push(j.part.digest('hex'));
        j.part = createHash('sha256');
        prev = end;
      }
      j.part.update(b.subarray(prev));
    }
    parentPort.postMessage({ t: 'a', id: m.id, buf: m.buf }, [m.buf]);
  } else if (m.t === 'f') {
    const j = job(m.id, m.chunked);
    jobs.delete(m.id);
    if (j.part && m.tail) j.hashes.push(j.part.digest('hex'));
    parentPort.postMessage({ t: 'd', id: m.id, hash: j.whole.digest('hex'), hashes: j.hashes });
  } else if (m.t === 'x') {
    jobs.delete(m.id);
  }
});
`;

type Reply = { t: 'a'; id: number; buf: ArrayBuffer } | { t: 'd'; id: number; hash: string; hashes: string[] };

interface JobHandlers {
  ack(buf: ArrayBuffer): void;
  done(r: FileHashes): void;
  fail(e: Error): void;
}

/** The process's one hashing worker: started on first use, ended when idle, keeping the process alive only while a file is in progress. */
class HashWorker {
  static #shared: HashWorker | null = null;
  readonly #worker: Worker;
  readonly #jobs = new Map<number, JobHandlers>();
  #nextId = 1;
  #idle: NodeJS.Timeout | null = null;
  #dead = false;

  static get(): HashWorker {
    if (!HashWorker.#shared || HashWorker.#shared.#dead) HashWorker.#shared = new HashWorker();
    return HashWorker.#shared;
  }

  private constructor() {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true });
    this.#worker.unref();
    this.#worker.on('message', (m: Reply) => {
      const j = this.#jobs.get(m.id);
      if (!j) return;
      if (m.t === 'a') j.ack(m.buf);
      else {
        this.#end(m.id);
        j.done({ hash: m.hash, chunkHashes: m.hashes });
      }
    });
    const die = (e: Error): void => {
      this.#dead = true;
      const jobs = [...this.#jobs.values()];
      this.#jobs.clear();
      for (const j of jobs) j.fail(e);
    };
    this.#worker.on('error', die);
    this.#worker.on('exit', (code) => die(new Error(`the hashing worker exited (code ${code})`)));
  }

  open(handlers: JobHandlers): number {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    // a file in progress keeps the process alive (a caller may be awaiting nothing but the worker's answer)
    this.#worker.ref();
    const id = this.#nextId++;
    this.#jobs.set(id, handlers);
    return id;
  }

  post(msg: object, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(msg, transfer);
  }

  drop(id: number): void {
    if (!this.#jobs.has(id)) return;
    this.post({ t: 'x', id });
    this.#end(id);
  }

  #end(id: number): void {
    this.#jobs.delete(id);
    if (this.#jobs.size === 0 && !this.#dead) {
      this.#worker.unref();
      this.#idle = setTimeout(() => {
        this.#dead = true;
        void this.#worker.terminate();
      }, IDLE_MS);
      this.#idle.unref();
    }
  }
}

class ThreadHasher implements FileHasher {
  readonly #chunked: boolean;
  readonly #worker = HashWorker.get();
  readonly #id: number;
  readonly #free: ArrayBuffer[] = [];
  /** the ArrayBuffers `take` handed out: these move to the worker whatever their length */
  readonly #ours = new WeakSet<ArrayBuffer>();
  #inFlight = 0;
  #waiter: (() => void) | null = null;
  #result: { resolve(r: FileHashes): void; reject(e: Error): void } | null = null;
  #error: Error | null = null;

  constructor(chunked: boolean) {
    this.#chunked = chunked;
    this.#id = this.#worker.open({
      ack: (buf) => {
        this.#inFlight--;
        this.#free.push(buf);
        this.#wake();
      },
      done: (r) => this.#result?.resolve(r),
      fail: (e) => {
        this.#error = e;
        this.#result?.reject(e);
        this.#wake();
      },
    });
  }

  take(size: number): Buffer {
    const i = this.#free.findIndex((b) => b.byteLength >= size);
    const ab = i >= 0 ? this.#free.splice(i, 1)[0]! : new ArrayBuffer(size);
    this.#ours.add(ab);
    return Buffer.from(ab, 0, size);
  }

  async update(buf: Buffer, cuts: readonly number[] = []): Promise<void> {
    while (this.#inFlight >= IN_FLIGHT && !this.#error) await new Promise<void>((r) => (this.#waiter = r));
    if (this.#error) throw this.#error;
    // only a buffer whose ArrayBuffer nothing else uses can move (not a slice of
    // Node's shared pool, say); any other is copied into one of ours
    const ab = buf.buffer;
    const movable = ab instanceof ArrayBuffer && buf.byteOffset === 0 && (this.#ours.has(ab) || ab.byteLength === buf.length);
    const own = movable ? (ab as ArrayBuffer) : new Uint8Array(buf).buffer; // a copy in an ArrayBuffer of its own
    this.#inFlight++;
    this.#worker.post({ t: 'u', id: this.#id, chunked: this.#chunked, buf: own, n: buf.length, cuts }, [own]);
  }

  finish(tail: boolean): Promise<FileHashes> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<FileHashes>((resolve, reject) => {
      this.#result = { resolve, reject };
      this.#worker.post({ t: 'f', id: this.#id, chunked: this.#chunked, tail });
    });
  }

  abandon(): void {
    this.#worker.drop(this.#id);
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}
