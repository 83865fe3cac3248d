// Reply bodies as the client reads them: chunk by chunk as they arrived
// (chunksOf), with undici's errors translated (translatedBody), and the
// batch download reply cut into per-blob frames (src/protocol/frames.ts) as
// one stream per blob (readBlobFrames) or one Buffer per blob
// (readBlobFrameBuffers).

import { Readable } from 'node:stream';
import { FRAME_MISSING, FrameDecoder } from '../../protocol/frames.js';
import { translateNetworkError } from './errors.js';
import { malformedReply } from './reply-errors.js';

export type OnBlob = (hash: string, size: number, body: Readable) => Promise<void>;
/**
 * One frame of a batch as a whole: `data` holds its `size` bytes, in pieces
 * (slices of what arrived, in order), or is null when the server cannot
 * serve the hash (`size` -1) or the frame is larger than the caller's limit
 * (it was skipped unread).
 */
export type OnBlobBuffer = (hash: string, size: number, data: readonly Buffer[] | null) => Promise<void> | void;

/**
 * Parses the `POST /v1/blobs/fetch` reply incrementally; one frame's body is
 * handed to `onBlob` and fully drained before the next header is read.
 */
export async function readBlobFrames(source: AsyncIterable<unknown>, hashes: readonly string[], onBlob: OnBlob, server: string): Promise<void> {
  const frames = new FrameDecoder(source, hashes, malformedReply(server, 'batch download'));
  for (let head = await frames.next(); head !== null; head = await frames.next()) {
    if (head.size === FRAME_MISSING) {
      await onBlob(head.hash, head.size, Readable.from([]));
      continue;
    }
    const body = new FrameBody(frames, server);
    try {
      await onBlob(head.hash, head.size, body.stream);
    } finally {
      body.stream.destroy();
    }
    await body.settled();
  }
}

/**
 * readBlobFrames delivering each frame whole (see RemoteClient.fetchBlobBuffers):
 * as slices of the chunks it arrived in, never copied (a copy into fresh
 * memory costs a page fault per 4 KiB: on these machines half the client's
 * page faults in a mirror of big files); a frame larger than `maxBytes` is
 * skipped unread before `onBlob` hears of it.
 */
export async function readBlobFrameBuffers(source: AsyncIterable<unknown>, hashes: readonly string[], maxBytes: number, onBlob: OnBlobBuffer, server: string): Promise<void> {
  const frames = new FrameDecoder(source, hashes, malformedReply(server, 'batch download'));
  for (let head = await frames.next(); head !== null; head = await frames.next()) {
    if (head.size === FRAME_MISSING) {
      await onBlob(head.hash, head.size, null);
    } else if (head.size > maxBytes) {
      await frames.skip();
      await onBlob(head.hash, head.size, null);
    } else {
      await onBlob(head.hash, head.size, await frames.pieces());
    }
  }
}

/** The body of the current frame as a Readable, fed from the decoder. */
class FrameBody {
  readonly stream: Readable;
  #inflight: Promise<void> | null = null;

  constructor(frames: FrameDecoder, server: string) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.stream = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (frames.left === 0) {
          this.push(null);
          return;
        }
        // the piece is taken from the decoder even if the stream is destroyed meanwhile, so the accounting holds
        self.#inflight = frames.piece().then(
          (chunk) => {
            self.#inflight = null;
            this.push(chunk);
            if (frames.left === 0) this.push(null);
          },
          (e: unknown) => {
            self.#inflight = null;
            this.destroy(translateNetworkError(e, server) as Error);
          },
        );
      },
    });
  }

  /** Until no read of this body is in flight, so the decoder can move on to the next header. */
  async settled(): Promise<void> {
    if (this.#inflight) await this.#inflight;
  }
}

/** A body whose errors arrive translated (STYLE.md convention 5). */
export function translatedBody(body: Readable, server: string): Readable {
  async function* pump(): AsyncGenerator<Buffer> {
    try {
      for await (const c of chunksOf(body)) yield c;
    } catch (e) {
      throw translateNetworkError(e, server);
    } finally {
      discard(body);
    }
  }
  // object mode hands the received chunks on as they are (see chunksOf)
  return Readable.from(pump(), { objectMode: true, highWaterMark: 16 });
}

/** Chunks buffered before the stream is paused. */
const CHUNKS_AHEAD = 16;

/**
 * The chunks of a byte stream as they arrived. Async iteration of a
 * byte-mode Readable calls read(), which joins everything buffered into one
 * new Buffer: one more copy of every byte received. 'data' events hand each
 * chunk on as it is; the stream is paused while the consumer lags.
 */
export async function* chunksOf(body: Readable): AsyncGenerator<Buffer> {
  const queue: Buffer[] = [];
  let ended = false;
  let error: { e: unknown } | null = null;
  let wake: (() => void) | null = null;
  const notify = (): void => {
    const w = wake;
    wake = null;
    w?.();
  };
  const onData = (c: Buffer | string): void => {
    queue.push(typeof c === 'string' ? Buffer.from(c) : c);
    if (queue.length >= CHUNKS_AHEAD) body.pause();
    notify();
  };
  const onEnd = (): void => {
    ended = true; // after 'close' without 'end' the consumer sees a short stream, which its framing reports
    notify();
  };
  const onError = (e: unknown): void => {
    error ??= { e };
    notify();
  };
  body.on('data', onData);
  body.on('end', onEnd);
  body.on('close', onEnd);
  body.on('error', onError);
  try {
    for (;;) {
      const c = queue.shift();
      if (c !== undefined) {
        if (queue.length < CHUNKS_AHEAD / 2 && body.isPaused() && !ended) body.resume();
        yield c;
        continue;
      }
      if (error !== null) throw (error as { e: unknown }).e;
      if (ended) return;
      await new Promise<void>((r) => (wake = r));
    }
  } finally {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('close', onEnd);
    body.off('error', onError);
    // left early (or failed): like a stream's own iterator, close it
    if (!ended || error !== null) discard(body);
  }
}

/**
 * Abandons a body without an unhandled 'error' (undici's body emits an
 * AbortError when destroyed before its end).
 */
export function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}
