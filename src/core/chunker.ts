// Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with
// normalized chunking (level 2) and cut-point skipping. Pure and
// incremental: a stream feeds it buffers of any size and gets the same
// boundaries as if it had seen the whole file at once, because the only
// state carried across pushes is (bytes into the current chunk, gear hash).
//
// Why content-defined: a boundary depends only on the ~32 bytes before it,
// so an insertion or deletion moves the boundaries near the edit and the
// chunks after it are found again unchanged (fixed-size blocks would all
// shift and none would be shared).
//
// Why a 32-bit gear hash: V8 keeps int32 arithmetic in registers, where
// 64-bit (BigInt) would cost an allocation per byte. The window of a 32-bit
// gear hash is 32 bytes (bit k depends on the last k + 1 bytes), which is
// ample for boundary selection; the masks use the top bits, which see the
// whole window.
//
// The gear table and the masks are part of the storage format in effect:
// changing them changes every boundary, so existing chunks would no longer
// be shared with new uploads (never incorrect, just wasteful). Do not change
// them without a reason worth a full re-upload of every large file.

import { WasmGear } from './gear-wasm.js';

export interface ChunkParams {
  /** no boundary before this many bytes (and these are not even hashed) */
  min: number;
  /** the normalization point: the stricter mask applies before it, the looser after */
  avg: number;
  /** a chunk is cut here when no boundary was found */
  max: number;
}

/**
 * The parameters syncd uses (see docs/server.md, "Chunks"): 256 KiB / 1 MiB /
 * 4 MiB. Chunks come out at ~1.1 MiB on average on random data, so a one-byte
 * edit costs about that on the wire each way, while a 512 MiB file is ~460
 * chunks: few enough that a chunk list is one small request.
 */
export const CHUNK_PARAMS: Readonly<ChunkParams> = Object.freeze({ min: 256 * 1024, avg: 1024 * 1024, max: 4 * 1024 * 1024 });

/**
 * Files up to this size are one chunk (their chunk hash is the file hash), so
 * the small-file path keeps one upload and one download per file. A file of
 * at most `max` bytes would be at most a few chunks, and an edit to it could
 * save at most its own size.
 */
export const SINGLE_CHUNK_MAX = CHUNK_PARAMS.max;

/** mulberry32: a fixed, portable sequence for the gear table */
function gearTable(seed: number): Int32Array {
  const t = new Int32Array(256);
  let a = seed >>> 0;
  for (let i = 0; i < 256; i++) {
    a = (a + 0x6d2b79f5) | 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    t[i] = x ^ (x >>> 14);
  }
  return t;
}

const GEAR = gearTable(0x5eed_cdc1);
/** the inner loop on WebAssembly (gear-wasm.ts: ~2× the JavaScript loop), where it runs */
const WASM = WasmGear.create(GEAR);

/** the top `bits` bits set: the bits of a gear hash that depend on the most bytes */
function topMask(bits: number): number {
  return bits >= 32 ? -1 : ~((1 << (32 - bits)) - 1) | 0;
}

function log2(n: number): number {
  return Math.round(Math.log2(n));
}

export function validateParams(p: ChunkParams): void {
  const ok = Number.isInteger(p.min) && Number.isInteger(p.avg) && Number.isInteger(p.max) && p.min >= 64 && p.min < p.avg && p.avg < p.max && p.avg >= 256;
  if (!ok) throw new RangeError(`invalid chunk parameters ${JSON.stringify(p)}: need integers 64 <= min < avg < max, avg >= 256`);
}

/**
 * Incremental FastCDC. `push(buf)` returns the end offsets (exclusive, within
 * `buf`) of the chunks that end inside it; `finish()` returns the length of
 * the last, partial chunk (0 when the data ended on a boundary or was empty)
 * and resets the chunker for another stream.
 */
export class Chunker {
  readonly #min: number;
  readonly #avg: number;
  readonly #max: number;
  /** level-2 normalization: 2 bits harder before avg, 2 bits easier after */
  readonly #maskS: number;
  readonly #maskL: number;
  #len = 0;
  #h = 0;
  readonly #wasm: WasmGear | null;

  /** `opts.js`: the JavaScript loop even where WebAssembly runs (tests compare the two) */
  constructor(params: ChunkParams = CHUNK_PARAMS, opts: { js?: boolean } = {}) {
    validateParams(params);
    this.#wasm = opts.js ? null : WASM;
    this.#min = params.min;
    this.#avg = params.avg;
    this.#max = params.max;
    const bits = log2(params.avg);
    this.#maskS = topMask(bits + 2);
    this.#maskL = topMask(Math.max(1, bits - 2));
  }

  push(buf: Uint8Array): number[] {
    const out: number[] = [];
    const n = buf.length;
    const min = this.#min;
    const avg = this.#avg;
    const max = this.#max;
    // a plain Uint8Array view: V8 keeps element loads on it cheaper than on a Buffer
    const bytes = buf instanceof Buffer ? new Uint8Array(buf.buffer, buf.byteOffset, buf.length) : buf;
    let i = 0;
    let len = this.#len;
    let h = this.#h;
    while (i < n) {
      if (len < min) {
        // cut-point skipping: nothing before min can be a boundary, so it is not hashed
        const skip = Math.min(min - len, n - i);
        i += skip;
        len += skip;
        continue;
      }
      const strict = len < avg;
      const mask = strict ? this.#maskS : this.#maskL;
      const stop = Math.min(n, i + ((strict ? avg : max) - len));
      const wasm = this.#wasm;
      let cut = wasm ? wasm.scan(bytes, i, stop, mask, h) : scan(bytes, i, stop, mask, h);
      h = wasm ? wasm.hash : scanHash;
      if (cut < 0) {
        len += stop - i;
        i = stop;
        if (len < max) continue;
        cut = i;
      }
      out.push(cut);
      i = cut;
      len = 0;
      h = 0;
    }
    this.#len = len;
    this.#h = h;
    return out;
  }

  finish(): number {
    const rest = this.#len;
    this.#len = 0;
    this.#h = 0;
    return rest;
  }
}

/** the gear hash after the last `scan` (a second return value without an allocation) */
let scanHash = 0;

/**
 * Rolls the gear hash over a[from, stop) and returns the end (exclusive) of
 * the first byte where `(h & mask) === 0`, or -1; the hash is left in
 * `scanHash`. Unrolled by four: this loop is the chunker's whole cost, and
 * the unrolled form measured ~1.5× faster on V8 (Node 20).
 */
function scan(a: Uint8Array, from: number, stop: number, mask: number, h: number): number {
  const g = GEAR;
  let j = from;
  for (const last = stop - 4; j <= last; j += 4) {
    h = ((h << 1) + g[a[j]!]!) | 0;
    if ((h & mask) === 0) return ((scanHash = h), j + 1);
    h = ((h << 1) + g[a[j + 1]!]!) | 0;
    if ((h & mask) === 0) return ((scanHash = h), j + 2);
    h = ((h << 1) + g[a[j + 2]!]!) | 0;
    if ((h & mask) === 0) return ((scanHash = h), j + 3);
    h = ((h << 1) + g[a[j + 3]!]!) | 0;
    if ((h & mask) === 0) return ((scanHash = h), j + 4);
  }
  for (; j < stop; j++) {
    h = ((h << 1) + g[a[j]!]!) | 0;
    if ((h & mask) === 0) return ((scanHash = h), j + 1);
  }
  scanHash = h;
  return -1;
}

/** The chunk lengths of a whole buffer (they sum to its length; none for an empty one). */
export function chunkLengths(data: Uint8Array, params: ChunkParams = CHUNK_PARAMS): number[] {
  const c = new Chunker(params);
  const lengths: number[] = [];
  let prev = 0;
  for (const end of c.push(data)) {
    lengths.push(end - prev);
    prev = end;
  }
  const rest = c.finish();
  if (rest > 0) lengths.push(rest);
  return lengths;
}
