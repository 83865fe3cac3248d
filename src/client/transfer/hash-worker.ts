// The process's hashing worker threads, for file-hasher.ts: two in a line.
// A buffer goes to the first, which adds it to the whole-file hash and,
// when the file's chunk hashes are asked for, moves it on to the second,
// which hashes the chunks in it and moves it back: the two SHA-256 passes
// of an upload run on two cores at once (the first on buffer k while the
// second is on buffer k - 1), and the calling thread only reads and chunks.
// A buffer is moved between threads, never copied or shared, so it is
// freed or reused like any other. The first worker starts with the first
// large file, the second with the first one that wants chunk hashes; both
// end when idle, and a file in progress keeps the process alive.

import { MessageChannel, Worker } from 'node:worker_threads';

/** the workers end after this long without a file to hash (a new file starts them again) */
const IDLE_MS = 30_000;

// The workers' source, evaluated (no separate file: the same code runs from
// dist/ and from the TypeScript sources under test); the chunk step repeats
// file-hasher.ts's hashChunks in plain JS. From the calling thread, to the
// first worker: 'p' hands it the port to the second, 'o' opens a job, 'u'
// hashes a buffer of it, 'f' finishes it, 'x' drops it; the first passes a
// chunked job's messages on (with the whole-file hash on 'f'). To the
// calling thread, from whichever worker is last for the job: 'a' gives a
// buffer back, 'd' the result.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const jobs = new Map();
let next = null;
const on = (m) => {
  const j = jobs.get(m.id);
  if (m.t === 'p') {
    next = m.port;
    next.on('message', on);
  } else if (m.t === 'o') {
    jobs.set(m.id, workerData.first ? { whole: createHash('sha256'), chunks: m.chunks } : { part: createHash('sha256'), hashes: [] });
    if (workerData.first && m.chunks) next.postMessage(m);
  } else if (m.t === 'u' && j) {
    const b = new Uint8Array(m.buf, 0, m.n);
    if (j.whole) j.whole.update(b);
    else {
      let prev = 0;
      for (const end of m.cuts) {
        j.part.update(b.subarray(prev, end));
        j.hashes.push(j.part.digest('hex'));
        j.part = createHash('sha256');
        prev = end;
      }
      j.part.update(b.subarray(prev));
    }
    if (j.chunks) next.postMessage(m, [m.buf]);
    else parentPort.postMessage({ t: 'a', id: m.id, buf: m.buf }, [m.buf]);
  } else if (m.t === 'f' && j) {
    jobs.delete(m.id);
    if (j.whole && j.chunks) next.postMessage({ t: 'f', id: m.id, tail: m.tail, hash: j.whole.digest('hex') });
    else if (j.whole) parentPort.postMessage({ t: 'd', id: m.id, hash: j.whole.digest('hex'), hashes: [] });
    else {
      if (m.tail) j.hashes.push(j.part.digest('hex'));
      parentPort.postMessage({ t: 'd', id: m.id, hash: m.hash, hashes: j.hashes });
    }
  } else if (m.t === 'x') {
    jobs.delete(m.id);
    if (j && j.chunks) next.postMessage(m);
  }
};
parentPort.on('message', on);
`;

type Reply = { t: 'a'; id: number; buf: ArrayBuffer } | { t: 'd'; id: number; hash: string; hashes: string[] };

export interface JobHandlers {
  /** a buffer posted with `update`, hashed by every pass of the job: the caller's again */
  ack(buf: ArrayBuffer): void;
  /** the whole-file hash, and the chunk hashes (empty when not asked for) */
  done(hash: string, chunkHashes: string[]): void;
  fail(e: Error): void;
}

/** One file's passes on the workers. */
export interface WorkerJob {
  /** hashes the first `n` bytes of `buf`, which moves to the workers; `cuts`: chunk ends in it (a job with chunk hashes) */
  update(buf: ArrayBuffer, n: number, cuts: readonly number[]): void;
  /** the result comes to `done`; `tail`: the bytes after the last cut are a chunk of their own */
  finish(tail: boolean): void;
  drop(): void;
}

export class HashWorkers {
  static #shared: HashWorkers | null = null;
  readonly #first: Worker;
  #second: Worker | null = null;
  readonly #jobs = new Map<number, JobHandlers>();
  #nextId = 1;
  #idle: NodeJS.Timeout | null = null;
  #dead = false;

  /** a job on the process's workers (started if they are not running); `chunks`: the chunk hashes are wanted too */
  static open(chunks: boolean, handlers: JobHandlers): WorkerJob {
    if (!HashWorkers.#shared || HashWorkers.#shared.#dead) HashWorkers.#shared = new HashWorkers();
    return HashWorkers.#shared.#open(chunks, handlers);
  }

  private constructor() {
    this.#first = this.#start(true);
  }

  #start(first: boolean): Worker {
    // execArgv: [] — the source is CommonJS; a parent's --input-type=module must not reach it
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { first }, execArgv: [] });
    w.unref();
    w.on('message', (m: Reply) => {
      const j = this.#jobs.get(m.id);
      if (!j) return;
      if (m.t === 'a') j.ack(m.buf);
      else {
        this.#end(m.id);
        j.done(m.hash, m.hashes);
      }
    });
    const die = (e: Error): void => {
      if (this.#dead) return;
      this.#dead = true;
      const jobs = [...this.#jobs.values()];
      this.#jobs.clear();
      for (const j of jobs) j.fail(e);
      void this.#first.terminate();
      void this.#second?.terminate();
    };
    w.on('error', die);
    w.on('exit', (code) => die(new Error(`a hashing worker exited (code ${code})`)));
    return w;
  }

  #open(chunks: boolean, handlers: JobHandlers): WorkerJob {
    if (this.#idle) clearTimeout(this.#idle);
    this.#idle = null;
    if (chunks && !this.#second) {
      const { port1, port2 } = new MessageChannel();
      this.#first.postMessage({ t: 'p', port: port1 }, [port1]);
      this.#second = this.#start(false);
      this.#second.postMessage({ t: 'p', port: port2 }, [port2]);
    }
    // a file in progress keeps the process alive (a caller may be awaiting nothing but a worker's answer)
    this.#first.ref();
    this.#second?.ref();
    const id = this.#nextId++;
    this.#jobs.set(id, handlers);
    this.#first.postMessage({ t: 'o', id, chunks });
    return {
      update: (buf, n, cuts) => this.#first.postMessage({ t: 'u', id, buf, n, cuts }, [buf]),
      finish: (tail) => this.#first.postMessage({ t: 'f', id, tail }),
      drop: () => {
        if (!this.#jobs.has(id)) return;
        this.#first.postMessage({ t: 'x', id });
        this.#end(id);
      },
    };
  }

  #end(id: number): void {
    this.#jobs.delete(id);
    if (this.#jobs.size === 0 && !this.#dead) {
      this.#first.unref();
      this.#second?.unref();
      this.#idle = setTimeout(() => {
        this.#dead = true;
        void this.#first.terminate();
        void this.#second?.terminate();
      }, IDLE_MS);
      this.#idle.unref();
    }
  }
}
