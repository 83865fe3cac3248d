// The SHA-256 passes over a large file: the whole-file hash and, when asked,
// the hash of each content-defined chunk. From OFF_THREAD_MIN bytes on they
// run on worker threads, one pass each (hash-worker.ts), while the calling
// thread reads and chunks the next buffer: two cores share a big file's
// passes. Below it, and in the engine simulation (whose scheduler cannot
// see a worker), they run in the calling thread; both give exactly the
// same hashes.
//
// A buffer given to `update` belongs to the hasher from then on (it is
// moved to the workers, not copied); `take` hands out buffers the hasher
// recycles, so a file's pass allocates only a few.

import { createHash, type Hash } from 'node:crypto';
import { HashWorkers, type WorkerJob } from './hash-worker.js';

/** files from this size on are hashed on the worker threads (below, a thread's start-up and messages cost more than they save) */
export const OFF_THREAD_MIN = 16 * 1024 * 1024;
/** buffers handed to the workers and not yet given back; `update` waits beyond this */
const IN_FLIGHT = 4;
/** the smallest buffer `take` allocates on the worker path */
const MIN_BUFFER = 64 * 1024;

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

/**
 * ArrayBuffers finished hashers gave back, for the next file's reads: a new
 * buffer costs a page fault per 4 KiB the first time it is written (on the
 * 2-core VMs here ~3.4 ms per MiB, twice the SHA-256 of it), a used one
 * nothing. A mirror of many large files would otherwise put most of their
 * bytes through fresh memory. At most SPARE_MAX bytes are kept, and none
 * once SPARE_IDLE_MS passed without a hasher taking or giving one.
 */
const SPARE_MAX = 64 * 1024 * 1024;
const SPARE_IDLE_MS = 10_000;
const spare: ArrayBuffer[] = [];
let spareBytes = 0;
let spareTimer: NodeJS.Timeout | null = null;

function spareUsed(): void {
  if (spareTimer) spareTimer.refresh();
  else {
    spareTimer = setTimeout(() => {
      spare.length = 0;
      spareBytes = 0;
      spareTimer = null;
    }, SPARE_IDLE_MS);
    spareTimer.unref();
  }
}

/** A buffer of at least `size` bytes: the smallest spare one that fits, else a new one of a power-of-two size (so that spares fit later reads). */
function takeBuffer(size: number): ArrayBuffer {
  let i = -1;
  for (let j = 0; j < spare.length; j++) {
    const b = spare[j]!;
    if (b.byteLength >= size && (i < 0 || b.byteLength < spare[i]!.byteLength)) i = j;
  }
  if (i < 0) return new ArrayBuffer(size <= MIN_BUFFER ? MIN_BUFFER : 2 ** Math.ceil(Math.log2(size)));
  const ab = spare.splice(i, 1)[0]!;
  spareBytes -= ab.byteLength;
  spareUsed();
  return ab;
}

/** Keeps a buffer nothing uses any more for a later take (a detached one, moved to a worker, is empty and dropped). */
function giveBuffer(ab: ArrayBuffer): void {
  if (ab.byteLength === 0 || spareBytes + ab.byteLength > SPARE_MAX) return;
  spare.push(ab);
  spareBytes += ab.byteLength;
  spareUsed();
}

/** Spare buffers held now, in bytes (tests). */
export function spareBufferBytes(): number {
  return spareBytes;
}

/** A hasher for a file of `size` bytes: on the worker threads from OFF_THREAD_MIN on. */
export function fileHasher(size: number, chunkHashes: boolean): FileHasher {
  return size >= OFF_THREAD_MIN ? new ThreadHasher(chunkHashes) : new InlineHasher(chunkHashes);
}

class InlineHasher implements FileHasher {
  readonly #whole = createHash('sha256');
  #part: Hash | null;
  readonly #hashes: string[] = [];
  /** `update` hashes before it returns, so one buffer serves every read in turn */
  #buf: Buffer | null = null;
  /** #buf was taken and not yet given back through `update` (a second taker gets another buffer) */
  #lent = false;
  /** the other buffers `take` handed out: spares again once hashed */
  readonly #extra = new WeakSet<ArrayBuffer>();

  constructor(chunkHashes: boolean) {
    this.#part = chunkHashes ? createHash('sha256') : null;
  }

  take(size: number): Buffer {
    if (this.#lent) {
      const ab = takeBuffer(size);
      this.#extra.add(ab);
      return Buffer.from(ab, 0, size);
    }
    if (!this.#buf || this.#buf.length < size) {
      if (this.#buf) giveBuffer(this.#buf.buffer as ArrayBuffer);
      this.#buf = Buffer.from(takeBuffer(size));
    }
    this.#lent = true;
    return this.#buf.subarray(0, size);
  }

  async update(buf: Buffer, cuts: readonly number[] = []): Promise<void> {
    this.#whole.update(buf);
    if (this.#part) this.#part = hashChunks(this.#part, this.#hashes, buf, cuts);
    if (this.#buf && buf.buffer === this.#buf.buffer && buf.byteOffset === this.#buf.byteOffset) this.#lent = false;
    else if (this.#extra.has(buf.buffer as ArrayBuffer)) {
      this.#extra.delete(buf.buffer as ArrayBuffer);
      giveBuffer(buf.buffer as ArrayBuffer);
    }
  }

  async finish(tail: boolean): Promise<FileHashes> {
    if (this.#part && tail) this.#hashes.push(this.#part.digest('hex'));
    this.#release();
    return { hash: this.#whole.digest('hex'), chunkHashes: this.#hashes };
  }

  abandon(): void {
    this.#release();
  }

  /** #buf to the spares, unless it is still lent (its taker may yet read into it) */
  #release(): void {
    if (this.#buf && !this.#lent) giveBuffer(this.#buf.buffer as ArrayBuffer);
    this.#buf = null;
  }
}

/**
 * The chunk hashes' step of the inline hasher (hash-worker.ts repeats it in
 * plain JS): `part` is the chunk begun in an earlier buffer; each chunk that
 * ends in `buf` is pushed to `out`; returns the chunk that goes on into the
 * next buffer.
 */
function hashChunks(part: Hash, out: string[], buf: Uint8Array, cuts: readonly number[]): Hash {
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

/** A large file's passes on the hashing workers (hash-worker.ts); the calling thread only reads and chunks. */
class ThreadHasher implements FileHasher {
  readonly #job: WorkerJob;
  readonly #free: ArrayBuffer[] = [];
  /** the ArrayBuffers `take` handed out: these move to the workers whatever their length */
  readonly #ours = new WeakSet<ArrayBuffer>();
  #inFlight = 0;
  #waiter: (() => void) | null = null;
  #result: { resolve(r: FileHashes): void; reject(e: Error): void } | null = null;
  #error: Error | null = null;

  constructor(chunked: boolean) {
    this.#job = HashWorkers.open(chunked, {
      ack: (buf) => {
        this.#inFlight--;
        this.#free.push(buf);
        this.#wake();
      },
      done: (hash, chunkHashes) => {
        this.#release();
        this.#result?.resolve({ hash, chunkHashes });
      },
      fail: (e) => {
        this.#error = e;
        this.#result?.reject(e);
        this.#wake();
      },
    });
  }

  take(size: number): Buffer {
    // the smallest free one that fits, else a spare or a new one (takeBuffer)
    let i = -1;
    this.#free.forEach((b, j) => {
      if (b.byteLength >= size && (i < 0 || b.byteLength < this.#free[i]!.byteLength)) i = j;
    });
    const ab = i >= 0 ? this.#free.splice(i, 1)[0]! : takeBuffer(size);
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
    this.#job.update(own, buf.length, cuts);
  }

  finish(tail: boolean): Promise<FileHashes> {
    if (this.#error) return Promise.reject(this.#error);
    return new Promise<FileHashes>((resolve, reject) => {
      this.#result = { resolve, reject };
      this.#job.finish(tail);
    });
  }

  abandon(): void {
    this.#job.drop();
    this.#release();
  }

  /** the buffers back from the workers, to the spares for the next file */
  #release(): void {
    for (const b of this.#free.splice(0)) giveBuffer(b);
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = null;
    w?.();
  }
}
