// The content layer's endpoints (docs/api.md, "Chunks"):
//   POST /v1/chunks/missing   which of these hashes this namespace cannot reference yet
//   PUT  /v1/chunks/{hash}    upload one chunk (a blob of at most MAX_CHUNK_BYTES)
//   GET  /v1/chunks/{hash}    one chunk, Range supported (the blob reader)
//   POST /v1/chunks/fetch     many chunks in one reply (the blob batch framing)
//   POST /v1/files/{hash}     assemble a file from a chunk list; the server checks the whole-file SHA-256
//   GET  /v1/files/{hash}     a file's chunk list
// A chunk is stored and gated exactly like a blob (blob_refs per
// namespace), so every answer is about the caller's namespace only.

import { createHash } from 'node:crypto';
import { setImmediate } from 'node:timers/promises';
import { HttpError, badRequest } from '../../protocol/errors.js';
import { isSha256Hex } from '../../protocol/names.js';
import { LIMITS } from '../../protocol/types.js';
import { openContent } from '../content.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { readJson, sendJson } from '../http/io.js';
import { reserveFor } from '../http/body-budget.js';
import type { Router } from '../http/router.js';
import type { ChunkRef } from '../store/content-types.js';
import type { NamespaceRef } from '../store/types.js';
import { hashParam, putContent } from './blobs.js';
import { fairGate } from '../gate.js';
import { HashCheckpoints, type Checkpoint } from '../hash-resume.js';

export const MAX_CHUNK_BYTES = LIMITS.chunkMaxBytes;
export const MISSING_MAX_HASHES = 10_000;
/** a 64 GiB file in chunks of the chunker's 256 KiB minimum */
export const MAX_FILE_CHUNKS = 262_144;
/** chunks read ahead of the one being hashed during an assembly (at most 4 × 8 MiB in memory) */
const ASSEMBLY_READ_AHEAD = 4;
/**
 * assemblies hashing at once, server-wide (the others wait their turn): what
 * many tenants' (or one hostile tenant's) assemblies hold stays ≤ 4 × 32 MiB
 */
const ASSEMBLIES_AT_ONCE = 4;
/**
 * of those, one namespace's at once: a tenant whose assemblies take long (a
 * list naming one 8 MiB chunk 190,000 times is 1.5 TiB to hash, for one
 * request) never holds more than half the slots, and a freed slot goes to
 * the first waiter of a namespace below this, not to that tenant's queue
 */
const ASSEMBLIES_PER_NAMESPACE = 2;
/** a namespace's assemblies waiting at most (each holds its parsed chunk list); past that `429 rate_limited` */
const ASSEMBLIES_WAITING_PER_NAMESPACE = 8;

function hashList(body: unknown, max: number): string[] {
  const hashes = (body as { hashes?: unknown } | null)?.hashes;
  if (typeof body !== 'object' || body === null || Array.isArray(body) || !Array.isArray(hashes)) {
    throw badRequest('body must be {"hashes": ["<sha256>", ...]}');
  }
  if (hashes.length > max) throw new HttpError('too_large', `at most ${max} hashes per request`);
  hashes.forEach((h, i) => {
    if (!isSha256Hex(h)) throw badRequest(`hashes[${i}] must be 64 lowercase hex characters`);
  });
  return hashes as string[];
}

function chunkList(body: unknown): { size: number; chunks: ChunkRef[] } {
  const b = body as { size?: unknown; chunks?: unknown } | null;
  if (typeof b !== 'object' || b === null || Array.isArray(b) || !Array.isArray(b.chunks) || !Number.isSafeInteger(b.size) || (b.size as number) < 0) {
    throw badRequest('body must be {"size": <bytes>, "chunks": [{"hash": "<sha256>", "size": <bytes>}, ...]}');
  }
  if (b.chunks.length > MAX_FILE_CHUNKS) throw new HttpError('too_large', `at most ${MAX_FILE_CHUNKS} chunks per file`);
  const chunks = b.chunks.map((c: unknown, i: number): ChunkRef => {
    const x = c as { hash?: unknown; size?: unknown } | null;
    if (typeof x !== 'object' || x === null || !isSha256Hex(x.hash) || !Number.isSafeInteger(x.size) || (x.size as number) < 1 || (x.size as number) > MAX_CHUNK_BYTES) {
      throw badRequest(`chunks[${i}] must be {"hash": "<sha256>", "size": 1..${MAX_CHUNK_BYTES}}`);
    }
    return { hash: x.hash as string, size: x.size as number };
  });
  if (chunks.reduce((s, c) => s + c.size, 0) !== b.size) throw badRequest('the chunk sizes do not add up to "size"');
  return { size: b.size as number, chunks };
}

/** a chunk's stored bytes: its blob file, or (a file assembled from chunks named as a chunk) its content */
async function readChunk(ctx: ServerContext, ns: NamespaceRef, c: ChunkRef, into: Buffer): Promise<Buffer | null> {
  const whole = await ctx.blobs.readWhole(c.hash, c.size, into);
  if (whole !== null) return whole;
  const src = await openContent(ctx.store, ctx.blobs, ns, c.hash);
  if (src === null || src.size !== c.size) return null;
  const parts: Buffer[] = [];
  for await (const part of src.read({ start: 0, end: c.size - 1 })) parts.push(part);
  return Buffer.concat(parts);
}

export function chunkRoutes(router: Router, ctx: ServerContext): void {
  const assembling = fairGate({
    total: ASSEMBLIES_AT_ONCE,
    perKey: ASSEMBLIES_PER_NAMESPACE,
    maxWaiting: ASSEMBLIES_WAITING_PER_NAMESPACE,
    full: () => new HttpError('rate_limited', `this namespace has ${ASSEMBLIES_WAITING_PER_NAMESPACE} file assemblies waiting already; retry later`, {}, 5),
  });
  const checkpoints = new HashCheckpoints();
  const limits = { maxBytes: 16 * 1024 * 1024, idleMs: ctx.opts.bodyIdleMs };

  router.on('POST', '/v1/chunks/missing', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const hashes = hashList(await readJson(req, { ...limits, reserve: reserveFor(ctx.bodies, device.namespace.name) }), MISSING_MAX_HASHES);
    const have = await ctx.store.content.readable(device.namespace, hashes);
    sendJson(res, 200, { missing: hashes.filter((h) => !have.has(h)) });
  });

  router.on('PUT', '/v1/chunks/*', async ({ req, res, param }) => {
    await putContent(ctx, req, res, hashParam(param), MAX_CHUNK_BYTES);
  });

  router.on('POST', '/v1/files/*', async ({ req, res, param }) => {
    const device = await authenticate(ctx, req);
    const hash = hashParam(param);
    const list = chunkList(await readJson(req, { ...limits, reserve: reserveFor(ctx.bodies, device.namespace.name) }));
    const ns = device.namespace;
    const known = await ctx.store.blobRef(ns, hash);
    if (known !== null) {
      if (known.size !== list.size) throw new HttpError('hash_mismatch', `${hash} is ${known.size} bytes, not ${list.size}`);
      sendJson(res, 200, { hash, size: known.size });
      return;
    }
    const hashes = list.chunks.map((c) => c.hash);
    const distinct = [...new Set(hashes)];
    const have = await ctx.store.content.readable(ns, distinct);
    const missing = distinct.filter((h) => !have.has(h));
    if (missing.length > 0) {
      throw new HttpError('chunks_missing', `${missing.length} chunk(s) of this file are not uploaded`, { missing });
    }
    // the whole-file hash is the server's own: it reads the chunks it stored,
    // each whole in one read, the next few read while this one is hashed,
    // from the first chunk this namespace's recent assemblies did not start with
    // a client gone (disconnected, or its request cancelled) stops its assembly: nobody waits for the answer
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.on('close', onClose);
    let sha;
    try {
      sha = await assembling(String(ns.id), () => wholeHash(ctx, ns, list.chunks, hashes, checkpoints, gone.signal));
    } finally {
      res.off('close', onClose);
    }
    if (sha.digest !== hash) throw new HttpError('hash_mismatch', `the chunks do not assemble to ${hash}; nothing was stored`);
    checkpoints.remember(ns.id, hashes, sha.states);
    const added = await ctx.store.content.addFile(ns, { hash, size: list.size, chunks: list.chunks }, ctx.now());
    sendJson(res, added ? 201 : 200, { hash, size: list.size });
  });

  router.on('GET', '/v1/files/*', async ({ req, res, param }) => {
    const device = await authenticate(ctx, req);
    const hash = hashParam(param);
    const ref = await ctx.store.blobRef(device.namespace, hash);
    if (ref === null) throw new HttpError('not_found', `this namespace has no file ${hash}`);
    const recipe = await ctx.store.content.recipe(hash);
    // uploaded whole (or below the chunking threshold): one chunk, the file itself
    const chunks = recipe?.chunks ?? (ref.size === 0 ? [] : [{ hash, size: ref.size }]);
    let offset = 0;
    sendJson(res, 200, {
      hash,
      size: ref.size,
      chunks: chunks.map((c) => {
        const o = { hash: c.hash, offset, size: c.size };
        offset += c.size;
        return o;
      }),
    });
  });
}

/**
 * The SHA-256 of the chunks in order, as stored: the server's own whole-file
 * hash, gone on from the state of the longest start of `chunks` this
 * namespace hashed before; with the states to keep should it hash right.
 */
async function wholeHash(ctx: ServerContext, ns: NamespaceRef, chunks: readonly ChunkRef[], hashes: readonly string[], checkpoints: HashCheckpoints, signal: AbortSignal): Promise<{ digest: string; states: Checkpoint[] }> {
  const stopped = (): HttpError => new HttpError('bad_request', 'the client went away; the assembly stopped');
  if (signal.aborted) throw stopped();
  const resume = checkpoints.resume(ns.id, hashes);
  const sha = resume?.hash ?? createHash('sha256');
  const states = resume?.kept ?? [];
  const every = checkpoints.every(chunks.length);
  const from = resume?.at ?? 0;
  // one buffer per read in flight, reused: chunk i's is free again once it
  // is hashed, which is before chunk i + ASSEMBLY_READ_AHEAD is queued
  const largest = chunks.reduce((m, c) => Math.max(m, c.size), 0);
  const buffers = Array.from({ length: Math.min(ASSEMBLY_READ_AHEAD, chunks.length) }, () => Buffer.allocUnsafe(largest));
  const ahead: Promise<Buffer | null>[] = [];
  let queued = from;
  const fill = (): void => {
    while (queued < chunks.length && ahead.length < ASSEMBLY_READ_AHEAD) {
      const p = readChunk(ctx, ns, chunks[queued]!, buffers[queued % ASSEMBLY_READ_AHEAD]!);
      queued++;
      p.catch(() => {}); // awaited at its turn; a rejection before then is not unhandled
      ahead.push(p);
    }
  };
  for (let i = from; i < chunks.length; i++) {
    fill();
    const buf = await ahead.shift()!;
    const c = chunks[i]!;
    if (buf === null) throw badRequest(`chunk ${c.hash} is not ${c.size} bytes`);
    sha.update(buf);
    // the last state too: an append to this file goes on from its end
    if ((i + 1) % every === 0 || i + 1 === chunks.length) states.push({ at: i + 1, hash: sha.copy() });
    if (i % 16 === 15) {
      await setImmediate(); // other requests get a turn during a long assembly
      if (signal.aborted) throw stopped();
    }
  }
  return { digest: sha.digest('hex'), states };
}
