// PUT/GET/HEAD /v1/blobs/{hash} and the batch download extension
// POST /v1/blobs/fetch (its frames: src/protocol/frames.ts). Reads are gated
// by the caller namespace's blob_refs.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { setImmediate } from 'node:timers/promises';
import { HttpError, badRequest } from '../../protocol/errors.js';
import { encodeFrameHeader, FETCH_MAX_HASHES, FRAME_MISSING } from '../../protocol/frames.js';
import { isSha256Hex } from '../../protocol/names.js';
import { openContent } from '../content.js';
import { EMPTY_SHA256 } from '../store/decide.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { readJson, sendError, sendJson, pacedBody } from '../http/io.js';
import { reserveFor } from '../http/body-budget.js';
import { parseRange } from '../http/range.js';
import { drainedOrCut } from '../http/drain.js';
import type { RequestInfo, Router } from '../http/router.js';


export function hashParam(param: string): string {
  if (!isSha256Hex(param)) throw badRequest('the blob path must end in 64 lowercase hex characters (SHA-256)');
  return param;
}

export function blobRoutes(router: Router, ctx: ServerContext): void {
  router.on('PUT', '/v1/blobs/*', async ({ req, res, param }) => {
    await putContent(ctx, req, res, hashParam(param), ctx.opts.maxBlobBytes);
  });

  const get = async (r: RequestInfo, head: boolean): Promise<void> => {
    const { req, res } = r;
    const device = await authenticate(ctx, req);
    const hash = hashParam(r.param);
    const source = await openContent(ctx.store, ctx.blobs, device.namespace, hash);
    if (source === null) throw new HttpError('not_found', `this namespace has no blob ${hash}`);
    const size = source.size;
    const range = parseRange(req.headers.range, size);
    const common = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      etag: `"${hash}"`,
      'cache-control': 'private, max-age=31536000, immutable',
    };
    if (range.kind === 'unsatisfiable') {
      sendError(res, new HttpError('range_not_satisfiable', `range ${req.headers.range} is outside the ${size} bytes`), {
        'content-range': `bytes */${size}`,
      });
      return;
    }
    const status = range.kind === 'partial' ? 206 : 200;
    const start = range.kind === 'partial' ? range.start : 0;
    const end = range.kind === 'partial' ? range.end : size - 1;
    const headers: Record<string, string> = { ...common, 'content-length': String(end - start + 1) };
    if (range.kind === 'partial') headers['content-range'] = `bytes ${start}-${end}/${size}`;
    res.writeHead(status, headers);
    if (head || end < start) {
      res.end();
      return;
    }
    await pipeSource(res, source.read({ start, end }), ctx.opts.replyStallMs);
    res.end();
  };
  router.on('GET', '/v1/blobs/*', (r) => get(r, false));
  router.on('HEAD', '/v1/blobs/*', (r) => get(r, true));
  // chunks are blobs: the same reader, the same gate (routes/chunks.ts has the rest)
  router.on('GET', '/v1/chunks/*', (r) => get(r, false));
  router.on('HEAD', '/v1/chunks/*', (r) => get(r, true));

  const fetch = async ({ req, res }: RequestInfo): Promise<void> => {
    const device = await authenticate(ctx, req);
    const body = await readJson(req, { maxBytes: 256 * 1024, idleMs: ctx.opts.bodyIdleMs, deadlineMs: ctx.opts.bodyDeadlineMs, reserve: reserveFor(ctx.bodies, device.namespace.name) });
    const hashes = (body as { hashes?: unknown } | null)?.hashes;
    if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray(hashes)) {
      throw badRequest('body must be {"hashes": ["<sha256>", ...]}');
    }
    if (hashes.length === 0) throw badRequest('"hashes" is empty');
    if (hashes.length > FETCH_MAX_HASHES) throw new HttpError('too_large', `at most ${FETCH_MAX_HASHES} hashes per fetch`);
    hashes.forEach((h, i) => {
      if (!isSha256Hex(h)) throw badRequest(`hashes[${i}] must be 64 lowercase hex characters`);
    });
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'cache-control': 'no-store' });
    // Small blobs are read whole and sent many per write: one write (one
    // chunk on the wire) per blob header and body costs both ends more
    // than the bytes, for thousands of small files.
    const out = new Coalescer(res, ctx.opts.replyStallMs);
    // one lookup of the caller's refs for the whole request, not a query per hash
    const readable = await ctx.store.content.readable(device.namespace, hashes as string[]);
    for (const hash of hashes as string[]) {
      if (res.destroyed) return;
      const ref = hash === EMPTY_SHA256 || readable.has(hash);
      const got = ref ? ctx.blobs.readSmall(hash, SMALL_BLOB) : null;
      // no blob file: a file assembled from chunks, streamed from them
      const source = ref && got === null ? await openContent(ctx.store, ctx.blobs, device.namespace, hash) : null;
      if (source !== null) {
        out.push(Buffer.from(`${hash} ${source.size}\n`, 'latin1'));
        await out.flush();
        if (source.size > 0) await pipeSource(res, source.read({ start: 0, end: source.size - 1 }), ctx.opts.replyStallMs);
        continue;
      }
      if (got === null) {
        out.push(encodeFrameHeader(hash, FRAME_MISSING));
      } else if (typeof got !== 'number') {
        out.push(encodeFrameHeader(hash, got.length));
        out.push(got);
      } else {
        out.push(encodeFrameHeader(hash, got));
        await out.flush();
        await pipeSource(res, ctx.blobs.read(hash, { start: 0, end: got - 1 }), ctx.opts.replyStallMs);
        continue;
      }
      if (out.full) {
        await out.flush();
        await setImmediate(); // other requests get a turn between writes
      }
    }
    await out.flush();
    res.end();
  };
  router.on('POST', '/v1/blobs/fetch', fetch);
  router.on('POST', '/v1/chunks/fetch', fetch);
}

/**
 * Stores an uploaded blob or chunk and refs it for the caller's namespace.
 * The bytes are written unless this namespace already has them, so the
 * answer's timing says nothing about other namespaces. After the ref, the
 * file must still be there: a collector pass that judged the hash unneeded
 * just before the ref may have removed it, and the client is then told to
 * retry (its retry writes the file again).
 */
export async function putContent(ctx: ServerContext, req: IncomingMessage, res: ServerResponse, hash: string, max: number): Promise<void> {
  const device = await authenticate(ctx, req);
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > max) {
    throw new HttpError('too_large', `blob is ${declared} bytes; the limit is ${max}`);
  }
  const pace = { idleMs: ctx.opts.bodyIdleMs, minBytesPerS: ctx.opts.minBodyBytesPerS, graceMs: ctx.opts.bodyRateGraceMs };
  const put = await ctx.blobs.put(pacedBody(req, pace), hash, max);
  if (!put.ok && put.code === 'too_large') throw new HttpError('too_large', `blob exceeds ${max} bytes`);
  if (!put.ok) {
    throw new HttpError('hash_mismatch', `the uploaded ${put.size} bytes do not hash to ${hash}; nothing was stored`);
  }
  const added = await ctx.store.addBlobRef(device.namespace, hash, put.size, ctx.now());
  if (!(await ctx.blobs.exists(hash))) {
    throw new HttpError('unavailable', 'the content was collected while it was being stored; upload it again', {}, 1);
  }
  sendJson(res, added ? 201 : 200, { hash, size: put.size });
}

/** Blobs up to this size are read whole into memory and batched into larger writes. */
const SMALL_BLOB = 128 * 1024;
/** Bytes gathered before one write. */
const WRITE_BYTES = 256 * 1024;

/** Gathers small buffers into one write. */
class Coalescer {
  readonly #res: ServerResponse;
  readonly #stallMs: number;
  #parts: Buffer[] = [];
  #bytes = 0;

  constructor(res: ServerResponse, stallMs: number) {
    this.#res = res;
    this.#stallMs = stallMs;
  }

  push(b: Buffer): void {
    this.#parts.push(b);
    this.#bytes += b.length;
  }

  get full(): boolean {
    return this.#bytes >= WRITE_BYTES;
  }

  async flush(): Promise<void> {
    if (this.#bytes === 0 || this.#res.destroyed) return;
    const data = this.#parts.length === 1 ? (this.#parts[0] as Buffer) : Buffer.concat(this.#parts, this.#bytes);
    this.#parts = [];
    this.#bytes = 0;
    if (!this.#res.write(data)) await drainedOrCut(this.#res, this.#stallMs);
  }
}

/** Streams content into res without ending it, honouring backpressure; a client that takes nothing for `stallMs` is cut. */
export async function pipeSource(res: ServerResponse, source: AsyncIterable<Buffer>, stallMs: number): Promise<void> {
  // leaving the loop early (res gone) closes the source's file handles
  for await (const chunk of source) {
    if (res.destroyed) return;
    if (!res.write(chunk) && !(await drainedOrCut(res, stallMs))) return;
  }
}
