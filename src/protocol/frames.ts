// The frames of the batch download reply (`POST /v1/blobs/fetch`), the one
// definition the server encodes with and the client decodes with: per
// requested hash, in request order, a header line `<hash> <size>\n` then
// exactly `size` bytes, or `<hash> -1\n` when the server cannot serve that
// hash. Nothing follows the last frame. The reply is untrusted on the client,
// so the decoder bounds every header and never buffers more than one frame.

import type { Malformed } from './replies.js';

/** Max hashes per `POST /v1/blobs/fetch`. */
export const FETCH_MAX_HASHES = 1000;
/** The size a frame announces for a hash the server cannot serve. */
export const FRAME_MISSING = -1;
/** Longest header line, newline included: a hash, a space, a size of at most 16 digits or `-1`. */
export const MAX_FRAME_HEADER = 64 + 1 + 17 + 1;

// the shortest spelling only (no leading zero, no `+`, no CR): one header has one form
const FRAME_HEADER = /^([0-9a-f]{64}) (-1|0|[1-9][0-9]{0,15})$/;

/** The header line of one frame; `size` is the body length or FRAME_MISSING. */
export function encodeFrameHeader(hash: string, size: number): Buffer {
  return Buffer.from(`${hash} ${size}\n`, 'latin1');
}

/** One decoded header: the frame's position in the request, its hash and its size (FRAME_MISSING: no body). */
export interface FrameHead {
  index: number;
  hash: string;
  size: number;
}

const EMPTY = Buffer.alloc(0);

/** The bytes in `pieces`, a body kept as the pieces it arrived in. */
export function piecesBytes(pieces: readonly Buffer[]): number {
  let n = 0;
  for (const p of pieces) n += p.length;
  return n;
}

/** Received pieces a body is kept in before the latest ones are joined into one. */
export const MAX_PIECES = 1024;

/**
 * A body kept as the pieces it arrived in (no copy), except that each run
 * of MAX_PIECES pieces is joined into one: a reply trickled in tiny reads
 * (a hostile server sending a byte at a time) costs one Buffer object per
 * MAX_PIECES pieces, not one per few bytes. Reads of 64 KiB, the usual,
 * are never joined below 64 MiB.
 */
export class PieceList {
  readonly parts: Buffer[] = [];
  bytes = 0;
  /** parts at the front that are joins already */
  #joined = 0;

  push(p: Buffer): void {
    this.parts.push(p);
    this.bytes += p.length;
    if (this.parts.length - this.#joined >= MAX_PIECES) {
      const run = this.parts.splice(this.#joined);
      this.parts.push(Buffer.concat(run));
      this.#joined++;
    }
  }
}

/**
 * Incremental decoder of a batch reply, pulled by its consumer. Headers and
 * bodies may be cut anywhere by the chunks of `source`; a body that lies
 * inside one chunk is handed on as a slice of it (no copy), and whatever of
 * a frame the consumer leaves unread is skipped when it asks for the next
 * header. A reply that breaks the format becomes `malformed(detail)`; an
 * error of `source` is rethrown as it is, by this and every later call.
 */
export class FrameDecoder {
  readonly #it: AsyncIterator<unknown>;
  readonly #hashes: readonly string[];
  readonly #malformed: Malformed;
  #buf: Buffer = EMPTY;
  #pos = 0;
  #error: { e: unknown } | null = null;
  /** the frame whose body is being read, and how many of its bytes are still ahead */
  #index = -1;
  #left = 0;

  constructor(source: AsyncIterable<unknown>, hashes: readonly string[], malformed: Malformed) {
    this.#it = source[Symbol.asyncIterator]();
    this.#hashes = hashes;
    this.#malformed = malformed;
  }

  /** Body bytes of the current frame not yet taken. */
  get left(): number {
    return this.#left;
  }

  /**
   * The header of the next frame, after skipping what is left of the current
   * one; null after the last requested frame, once the reply has been
   * checked to end there.
   */
  async next(): Promise<FrameHead | null> {
    this.#rethrow();
    if (this.#left > 0) await this.skip();
    const i = this.#index + 1;
    if (i === this.#hashes.length) {
      await this.#checkEnd();
      return null;
    }
    const want = this.#hashes[i] as string;
    const line = this.#lineInChunk(i) ?? (await this.#lineAcrossChunks(i));
    const m = FRAME_HEADER.exec(line);
    if (!m) throw this.#malformed(`frame ${i} header ${JSON.stringify(line.slice(0, 100))} is not "<hash> <size>"`);
    if (m[1] !== want) throw this.#malformed(`frame ${i} is for ${m[1]} but ${want} was requested there`);
    const size = Number(m[2]);
    if (!Number.isSafeInteger(size)) throw this.#malformed(`frame ${i} size ${m[2]} is out of range`);
    this.#index = i;
    this.#left = size === FRAME_MISSING ? 0 : size;
    return { index: i, hash: want, size };
  }

  /** The next piece of the current frame's body, at most what is left of it; null once the body is all taken. */
  async piece(): Promise<Buffer | null> {
    if (this.#left === 0) return null;
    while (this.#pos === this.#buf.length) {
      if (!(await this.#more())) throw this.#truncated();
    }
    const n = Math.min(this.#left, this.#buf.length - this.#pos);
    const out = this.#buf.subarray(this.#pos, this.#pos + n);
    this.#pos += n;
    this.#left -= n;
    return out;
  }

  /**
   * All that is left of the current frame's body, as slices of the chunks it
   * arrived in (no copy; PieceList): a multi-MiB body is not copied into
   * fresh memory, whose page faults cost more than the copy.
   */
  async pieces(): Promise<Buffer[]> {
    const out = new PieceList();
    for (let c = await this.piece(); c !== null; c = await this.piece()) out.push(c);
    return out.parts;
  }

  /** Drops what is left of the current frame's body unread. */
  async skip(): Promise<void> {
    this.#rethrow();
    while ((await this.piece()) !== null);
  }

  /** The header line when the current chunk holds all of it (the common case, no await); null otherwise. */
  #lineInChunk(i: number): string | null {
    const nl = this.#buf.indexOf(0x0a, this.#pos);
    if (nl < 0) return null;
    if (nl - this.#pos > MAX_FRAME_HEADER) throw this.#noHeader(i);
    const line = this.#buf.toString('latin1', this.#pos, nl);
    this.#pos = nl + 1;
    return line;
  }

  /** A header line cut by chunk boundaries: only its few bytes are joined. */
  async #lineAcrossChunks(i: number): Promise<string> {
    let head = this.#buf.subarray(this.#pos);
    for (;;) {
      if (head.length > MAX_FRAME_HEADER) throw this.#noHeader(i);
      if (!(await this.#more())) throw this.#malformed(`the reply ended after ${i} of ${this.#hashes.length} blobs`);
      const at = this.#buf.indexOf(0x0a);
      if (at >= 0) {
        head = Buffer.concat([head, this.#buf.subarray(0, at)]);
        this.#pos = at + 1;
        break;
      }
      head = Buffer.concat([head, this.#buf]);
    }
    if (head.length > MAX_FRAME_HEADER) throw this.#noHeader(i);
    return head.toString('latin1');
  }

  #noHeader(i: number): Error {
    return this.#malformed(`frame ${i} has no header line within ${MAX_FRAME_HEADER} bytes`);
  }

  async #checkEnd(): Promise<void> {
    if (this.#pos < this.#buf.length) throw this.#malformed(`${this.#buf.length - this.#pos}+ bytes follow the last frame`);
    while (await this.#more()) {
      if (this.#buf.length > 0) throw this.#malformed(`${this.#buf.length}+ bytes follow the last frame`);
    }
  }

  #truncated(): Error {
    return this.#malformed(`the reply ended inside the blob of frame ${this.#index} (${this.#hashes[this.#index]})`);
  }

  /** Moves on to the next chunk (the current one must be used up); false at the end of the reply. */
  async #more(): Promise<boolean> {
    this.#rethrow();
    let r: IteratorResult<unknown>;
    try {
      r = await this.#it.next();
    } catch (e) {
      this.#error = { e };
      throw e;
    }
    if (r.done) return false;
    this.#buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    this.#pos = 0;
    return true;
  }

  #rethrow(): void {
    if (this.#error !== null) throw this.#error.e;
  }
}
