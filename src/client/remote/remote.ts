// The client side of the wire protocol (shared/PROTOCOL.md) on undici: one
// keep-alive Pool per client, one method per verb. Every reply is checked
// for shape before it is returned (src/protocol/replies.ts), because a lying
// or broken server can send anything; a bad reply becomes a RemoteError
// `protocol`, never a TypeError deep in the engine. Requests go through
// send.ts; bodies and batch frames are read by streams.ts.

import { Readable } from 'node:stream';
import { FETCH_MAX_HASHES, FRAME_MISSING, PieceList } from '../../protocol/frames.js';
import { isSha256Hex } from '../../protocol/names.js';
import { checkChanges, checkCommit, checkList, checkLongpoll, checkStatus } from '../../protocol/replies.js';
import type { ChangesReply, ListReply, LongpollReply, Op, OpResult, StatusReply } from '../../protocol/types.js';
import { VERSION } from '../../version.js';
import { RemoteError, translateNetworkError } from './errors.js';
import { headerValue, openSender, type Reply, type Sender } from './send.js';
import { chunksOf, discard, readBlobFrameBuffers, readBlobFrames, translatedBody, type OnBlob, type OnBlobBuffer } from './streams.js';

export type { OnBlob, OnBlobBuffer } from './streams.js';

export interface RemoteClientOptions {
  /** server base URL, e.g. `http://127.0.0.1:7420` (a path prefix is kept: `https://h/syncd/`) */
  server: string;
  /** device token, sent as `Authorization: Bearer …` */
  token: string;
  userAgent?: string;
  /** keep-alive connections in the pool (default 8); a held longpoll or event stream occupies one */
  connections?: number;
  /** TCP/TLS connect timeout, ms (default 10 000) */
  connectTimeoutMs?: number;
  /** time to the reply headers of ordinary requests, ms (default 30 000; commit gets 4×) */
  headersTimeoutMs?: number;
  /** longest silence inside a reply body, ms (default 60 000) */
  bodyTimeoutMs?: number;
  /** longest silence on the event stream before it is treated as dead, ms (default 0: none; the caller's signal ends it) */
  eventsIdleTimeoutMs?: number;
  /** cap on a JSON reply, bytes (default 256 MiB) */
  maxJsonBytes?: number;
}

/** Seconds added on top of longpoll timeout × 1.1 before we call the server silent. */
export const LONGPOLL_MARGIN_S = 15;

export class RemoteClient {
  readonly server: string;
  readonly #http: Sender;
  readonly #headersTimeout: number;
  readonly #eventsIdle: number;
  /** for the Subscribe stream, which goes through its own RPC client, not the Sender */
  readonly #auth: string;
  readonly #ua: string;
  #batch: boolean | undefined;

  constructor(opts: RemoteClientOptions) {
    this.#headersTimeout = opts.headersTimeoutMs ?? 30_000;
    this.#eventsIdle = opts.eventsIdleTimeoutMs ?? 0;
    this.#auth = `Bearer ${opts.token}`;
    this.#ua = opts.userAgent ?? `syncd/${VERSION}`;
    this.#http = openSender({ ...opts, userAgent: this.#ua, headersTimeoutMs: this.#headersTimeout });
    this.server = this.#http.server;
  }

  /** Whether the server has `POST /v1/blobs/fetch`: undefined until the first fetchBlobs tells. */
  get supportsBatchFetch(): boolean | undefined {
    return this.#batch;
  }

  async status(): Promise<StatusReply> {
    return this.#http.json({ method: 'GET', path: '/v1/status', what: 'status' }, checkStatus);
  }

  async list(opts: { pageToken?: string; limit?: number } = {}): Promise<ListReply> {
    return this.#http.json(
      { method: 'GET', path: '/v1/list', query: { limit: opts.limit, page_token: opts.pageToken }, what: 'list' },
      checkList,
    );
  }

  async changes(cursor: string, limit?: number): Promise<ChangesReply> {
    return this.#http.json({ method: 'GET', path: '/v1/changes', query: { cursor, limit }, what: 'changes' }, checkChanges);
  }

  /**
   * Holds until the server says the head moved past `cursor` or `timeoutS`
   * passed. Rejects with the signal's AbortError when `signal` aborts.
   */
  async longpoll(cursor: string, timeoutS: number, signal?: AbortSignal): Promise<LongpollReply> {
    // the server may answer as late as 1.1 × timeout; past that plus a margin it is gone
    const limitMs = Math.ceil((timeoutS * 1.1 + LONGPOLL_MARGIN_S) * 1000);
    return this.#http.json(
      {
        method: 'GET',
        path: '/v1/longpoll',
        query: { cursor, timeout: timeoutS },
        signal,
        headersTimeout: limitMs,
        bodyTimeout: limitMs,
        what: 'longpoll',
      },
      checkLongpoll,
    );
  }

  /**
   * Follows `GET /v1/events` and calls `onAdvanced(head)` per `advanced`
   * event. Resolves when the server ends the stream or `signal` aborts;
   * rejects with a RemoteError otherwise (`unsupported` when the server
   * has no event stream).
   */
  async events(cursor: string, onAdvanced: (head: number) => void, signal: AbortSignal): Promise<void> {
    let reply: Reply;
    try {
      reply = await this.#http.send({
        method: 'GET',
        path: '/v1/events',
        query: { cursor },
        headers: { accept: 'text/event-stream' },
        signal,
        bodyTimeout: this.#eventsIdle,
        what: 'events',
      });
    } catch (e) {
      if (signal.aborted) return;
      if (e instanceof RemoteError && e.code === 'not_found') {
        throw new RemoteError('unsupported', `the syncd server at ${this.server} has no event stream (GET /v1/events answered 404); use longpoll`, {
          server: this.server,
          status: 404,
          cause: e,
        });
      }
      throw e;
    }
    const ctype = headerValue(reply.headers['content-type']) ?? '';
    if (reply.status !== 200 || !/^text\/event-stream\b/i.test(ctype)) {
      discard(reply.body);
      throw this.#http.malformed('events', `expected 200 text/event-stream, got ${reply.status} ${ctype || '(no content type)'}`);
    }
    try {
      // loaded here: only an agent on the SSE channel reads events (a no-op `sync` never does)
      const { readAdvancedEvents } = await import('./sse.js');
      await readAdvancedEvents(reply.body, onAdvanced, this.server);
    } catch (e) {
      discard(reply.body);
      if (signal.aborted) return;
      throw translateNetworkError(e, this.server);
    }
  }

  /**
   * Holds the Subscribe stream (syncd.v1.SyncService) and calls
   * `onHead(head, heartbeat)` per message. Resolves when the server ends it
   * or `signal` aborts; rejects with a RemoteError (`unsupported` for a
   * server without it). The RPC client loads on the first call only.
   */
  async subscribe(cursor: string, onHead: (head: number, heartbeat: boolean) => void, signal: AbortSignal): Promise<void> {
    const { subscribe } = await import('./subscribe.js');
    await subscribe({ server: this.server, auth: this.#auth, userAgent: this.#ua, cursor, onHead, signal });
  }

  /**
   * Uploads content by streaming `open()` with a known length. `open` is a
   * factory so a caller can retry without buffering.
   */
  async putBlob(hash: string, size: number, open: () => Readable): Promise<'created' | 'exists'> {
    if (!isSha256Hex(hash)) throw new TypeError(`putBlob: not a SHA-256 hex hash: ${hash}`);
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`putBlob: bad size ${size}`);
    const reply = await this.#http.send({
      method: 'PUT',
      path: `/v1/blobs/${hash}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: size === 0 ? '' : open,
      what: 'upload',
    });
    await this.#http.dump(reply);
    if (reply.status === 201) return 'created';
    if (reply.status === 200) return 'exists';
    throw this.#http.malformed('upload', `unexpected status ${reply.status}`);
  }

  /**
   * `POST /v1/chunks/missing`: which of `hashes` this namespace cannot
   * reference yet (the chunks an upload still has to send). A server
   * without the content layer answers 404: RemoteError `not_found`.
   */
  async missingChunks(hashes: readonly string[]): Promise<string[]> {
    const asked = new Set(hashes);
    return this.#http.json(
      { method: 'POST', path: '/v1/chunks/missing', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ hashes }), what: 'chunks' },
      (v: unknown) => {
        const missing = (v as { missing?: unknown } | null)?.missing;
        if (!Array.isArray(missing) || !missing.every((h) => typeof h === 'string' && asked.has(h))) {
          throw this.#http.malformed('chunks', 'the reply is not {"missing": [<hashes that were asked>]}');
        }
        return missing as string[];
      },
    );
  }

  /** `PUT /v1/chunks/{hash}`: one chunk, streamed from `open()`. */
  async putChunk(hash: string, size: number, open: () => Readable): Promise<'created' | 'exists'> {
    if (!isSha256Hex(hash)) throw new TypeError(`putChunk: not a SHA-256 hex hash: ${hash}`);
    if (!Number.isSafeInteger(size) || size < 1) throw new TypeError(`putChunk: bad size ${size}`);
    const reply = await this.#http.send({
      method: 'PUT',
      path: `/v1/chunks/${hash}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: open,
      what: 'upload',
    });
    await this.#http.dump(reply);
    return reply.status === 201 ? 'created' : 'exists';
  }

  /**
   * `POST /v1/files/{hash}`: the server assembles the file from chunks this
   * namespace has and checks its SHA-256 (RemoteError `hash_mismatch` if the
   * chunks are not that file; `chunks_missing` if some were collected).
   */
  async assembleFile(hash: string, size: number, chunks: ReadonlyArray<{ hash: string; size: number }>): Promise<'created' | 'exists'> {
    const reply = await this.#http.send({
      method: 'POST',
      path: `/v1/files/${hash}`,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size, chunks: chunks.map((c) => ({ hash: c.hash, size: c.size })) }),
      headersTimeout: this.#headersTimeout * 4,
      what: 'upload',
    });
    await this.#http.dump(reply);
    return reply.status === 201 ? 'created' : 'exists';
  }

  /** `GET /v1/files/{hash}`: the file's chunk list (a file stored whole is its own one chunk). */
  async fileChunks(hash: string): Promise<{ hash: string; size: number; chunks: Array<{ hash: string; offset: number; size: number }> }> {
    if (!isSha256Hex(hash)) throw new TypeError(`fileChunks: not a SHA-256 hex hash: ${hash}`);
    return this.#http.json({ method: 'GET', path: `/v1/files/${hash}`, what: 'chunks' }, (v: unknown) => {
      const f = v as { hash?: unknown; size?: unknown; chunks?: unknown } | null;
      let next = 0;
      const ok =
        f !== null && typeof f === 'object' && f.hash === hash && Number.isSafeInteger(f.size) && Array.isArray(f.chunks) &&
        f.chunks.every((c: { hash?: unknown; offset?: unknown; size?: unknown }) => {
          const good = isSha256Hex(c?.hash) && c.offset === next && Number.isSafeInteger(c.size) && (c.size as number) > 0;
          if (good) next += c.size as number;
          return good;
        }) && next === f.size;
      if (!ok) throw this.#http.malformed('chunks', 'the chunk list is malformed or does not cover the file');
      return f as { hash: string; size: number; chunks: Array<{ hash: string; offset: number; size: number }> };
    });
  }

  /**
   * `GET /v1/chunks/{hash}`: one chunk, whole, in memory (chunks are at most
   * a few MiB); read into `into` when given (at most its length, instead of
   * `maxBytes`), as a slice of it.
   */
  async getChunk(hash: string, maxBytes: number, signal?: AbortSignal, into?: Buffer): Promise<Buffer> {
    if (!isSha256Hex(hash)) throw new TypeError(`getChunk: not a SHA-256 hex hash: ${hash}`);
    const reply = await this.#http.send({ method: 'GET', path: `/v1/chunks/${hash}`, signal, what: 'download' });
    return into ? this.#http.readInto(reply, into, 'download') : this.#http.readAll(reply, maxBytes, 'download');
  }

  async commit(ops: Op[]): Promise<OpResult[]> {
    const results = await this.#http.json(
      {
        method: 'POST',
        path: '/v1/commit',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ ops }),
        headersTimeout: this.#headersTimeout * 4,
        what: 'commit',
      },
      checkCommit,
    );
    if (results.length !== ops.length) {
      throw this.#http.malformed('commit', `sent ${ops.length} ops but got ${results.length} results`);
    }
    return results;
  }

  /**
   * `GET /v1/blobs/{hash}`, from byte `start` when given. 206 means the body
   * starts at `start`; 200 means the server sent the whole blob from byte 0
   * (it ignored the range), so the caller restarts. `total` is the full
   * blob size when the server said it. The body must be consumed or destroyed.
   */
  async getBlob(hash: string, opts: { start?: number; signal?: AbortSignal } = {}): Promise<{ status: 200 | 206; body: Readable; total?: number }> {
    if (!isSha256Hex(hash)) throw new TypeError(`getBlob: not a SHA-256 hex hash: ${hash}`);
    const start = opts.start ?? 0;
    if (!Number.isSafeInteger(start) || start < 0) throw new TypeError(`getBlob: bad start ${start}`);
    const reply = await this.#http.send({
      method: 'GET',
      path: `/v1/blobs/${hash}`,
      headers: start > 0 ? { range: `bytes=${start}-` } : {},
      signal: opts.signal,
      what: 'download',
    });
    if (reply.status === 200) {
      const len = headerValue(reply.headers['content-length']);
      const total = len !== undefined && /^[0-9]{1,16}$/.test(len) ? Number(len) : undefined;
      return total === undefined ? { status: 200, body: translatedBody(reply.body, this.server) } : { status: 200, body: translatedBody(reply.body, this.server), total };
    }
    if (reply.status === 206) {
      const cr = headerValue(reply.headers['content-range']) ?? '';
      const m = /^bytes ([0-9]{1,16})-([0-9]{1,16})\/([0-9]{1,16}|\*)$/.exec(cr.trim());
      if (!m || Number(m[1]) !== start || Number(m[2]) < start) {
        discard(reply.body);
        throw this.#http.malformed('download', `asked for bytes ${start}- and got 206 with Content-Range ${JSON.stringify(cr)}`);
      }
      const body = translatedBody(reply.body, this.server);
      return m[3] === '*' ? { status: 206, body } : { status: 206, body, total: Number(m[3]) };
    }
    discard(reply.body);
    throw this.#http.malformed('download', `unexpected status ${reply.status}`);
  }

  /**
   * Fetches many blobs in one request (`POST /v1/blobs/fetch`) and calls
   * `onBlob` once per requested hash, in order. `size` is -1 (with an empty
   * body) when the server cannot serve that hash. `onBlob` must consume (or
   * destroy) `body` before its promise settles; whatever it leaves unread is
   * skipped. Servers without the route (404/405) are remembered and served by
   * one `getBlob` per hash instead. An error from `onBlob` aborts the reply
   * and is rethrown.
   */
  async fetchBlobs(hashes: string[], onBlob: OnBlob, signal?: AbortSignal): Promise<void> {
    const reply = await this.#fetchRequest('fetchBlobs', hashes, signal);
    if (reply === null) return;
    if (reply !== undefined) return this.#readBatch(reply, (chunks) => readBlobFrames(chunks, hashes, onBlob, this.server));
    for (const hash of hashes) {
      const got = await this.#getBlobOrMissing(hash, signal);
      if (got === null) {
        await onBlob(hash, FRAME_MISSING, Readable.from([]));
        continue;
      }
      if (got.total === undefined) {
        discard(got.body);
        throw this.#http.malformed('download', `blob ${hash} came without a Content-Length`);
      }
      try {
        await onBlob(hash, got.total, got.body);
      } finally {
        discard(got.body);
      }
    }
  }

  /** Reads a batch-fetch reply; a failure mid-reply drops the rest of it and surfaces as a RemoteError. */
  async #readBatch(reply: Reply, read: (chunks: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
    try {
      await read(chunksOf(reply.body));
    } catch (e) {
      discard(reply.body);
      throw translateNetworkError(e, this.server);
    }
  }

  /** One blob by `getBlob` (the per-hash fallback of the batch fetches), or null when the server cannot serve it (404). */
  async #getBlobOrMissing(hash: string, signal?: AbortSignal): Promise<{ status: 200 | 206; body: Readable; total?: number } | null> {
    try {
      return await this.getBlob(hash, { signal });
    } catch (e) {
      if (e instanceof RemoteError && e.code === 'not_found') return null;
      throw e;
    }
  }

  /**
   * fetchBlobs for small blobs: each frame is handed over whole, as the
   * pieces it arrived in, without a stream per blob (for thousands of small files the
   * streams cost more than the bytes). A frame larger than `maxBytes` is
   * skipped unread and reported with `data` null, so a server announcing a
   * huge size cannot make the client buffer it.
   */
  async fetchBlobBuffers(hashes: string[], maxBytes: number, onBlob: OnBlobBuffer, signal?: AbortSignal): Promise<void> {
    const reply = await this.#fetchRequest('fetchBlobBuffers', hashes, signal);
    if (reply === null) return;
    if (reply !== undefined) return this.#readBatch(reply, (chunks) => readBlobFrameBuffers(chunks, hashes, maxBytes, onBlob, this.server));
    for (const hash of hashes) {
      const got = await this.#getBlobOrMissing(hash, signal);
      if (got === null) {
        await onBlob(hash, FRAME_MISSING, null);
        continue;
      }
      try {
        if (got.total === undefined) throw this.#http.malformed('download', `blob ${hash} came without a Content-Length`);
        if (got.total > maxBytes) {
          await onBlob(hash, got.total, null);
          continue;
        }
        const chunks = new PieceList();
        for await (const c of got.body as AsyncIterable<Buffer>) {
          if (chunks.bytes + c.length > got.total) throw this.#http.malformed('download', `blob ${hash} is longer than its Content-Length`);
          chunks.push(c);
        }
        if (chunks.bytes !== got.total) throw this.#http.malformed('download', `blob ${hash} ended after ${chunks.bytes} of ${got.total} bytes`);
        await onBlob(hash, got.total, chunks.parts);
      } finally {
        discard(got.body);
      }
    }
  }

  /**
   * The `POST /v1/blobs/fetch` request of a batch: the reply to parse,
   * undefined when the server has no such route (remembered; the caller
   * falls back to one GET per hash), null when there is nothing to fetch.
   */
  async #fetchRequest(what: string, hashes: string[], signal?: AbortSignal): Promise<Reply | undefined | null> {
    if (hashes.length === 0) return null;
    if (hashes.length > FETCH_MAX_HASHES) throw new TypeError(`${what}: at most ${FETCH_MAX_HASHES} hashes per call, got ${hashes.length}`);
    for (const h of hashes) if (!isSha256Hex(h)) throw new TypeError(`${what}: not a SHA-256 hex hash: ${h}`);
    if (this.#batch === false) return undefined;
    let reply: Reply;
    try {
      reply = await this.#http.send({
        method: 'POST',
        path: '/v1/blobs/fetch',
        headers: { 'content-type': 'application/json', accept: 'application/octet-stream' },
        body: JSON.stringify({ hashes }),
        signal,
        what: 'batch download',
      });
    } catch (e) {
      if (!(e instanceof RemoteError && (e.status === 404 || e.status === 405))) throw e;
      this.#batch = false;
      return undefined;
    }
    if (reply.status !== 200) {
      discard(reply.body);
      throw this.#http.malformed('batch download', `unexpected status ${reply.status}`);
    }
    this.#batch = true;
    return reply;
  }

  /** Drops every connection; requests still in flight fail with `network`. */
  async close(): Promise<void> {
    await this.#http.close();
  }
}
