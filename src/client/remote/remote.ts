// The client side of the wire protocol (shared/PROTOCOL.md) on undici: one
// keep-alive Pool per client. Every reply is checked for shape before it is
// returned, because a lying or broken server can send anything; a bad reply
// becomes a RemoteError `protocol`, never a TypeError deep in the engine.
// Names are not validated here (the engine re-validates every name), only
// types and shapes.

import { Readable } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { isSha256Hex } from '../../protocol/names.js';
import {
  OP_ERROR_CODES,
  type ChangesReply,
  type DeviceStatus,
  type JournalEntry,
  type ListReply,
  type LongpollReply,
  type NodeKind,
  type Op,
  type OpErrorCode,
  type OpKind,
  type OpResult,
  type ResetReason,
  type StatusReply,
  type WireNode,
} from '../../protocol/types.js';
import { VERSION } from '../../version.js';
import {
  parseRetryAfter,
  MAX_BACKOFF_S,
  RemoteError,
  RESET_REASONS,
  translateNetworkError,
  type RemoteErrorCode,
} from './errors.js';
import { readAdvancedEvents } from './sse.js';

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

/** Max hashes per `POST /v1/blobs/fetch`. */
export const FETCH_MAX_HASHES = 1000;
/** Seconds added on top of longpoll timeout × 1.1 before we call the server silent. */
export const LONGPOLL_MARGIN_S = 15;

type Headers = Record<string, string | string[] | undefined>;

interface Req {
  method: 'GET' | 'POST' | 'PUT';
  path: string;
  query?: Record<string, string | number | undefined>;
  headers?: Record<string, string>;
  /** a function makes a fresh stream per attempt, so the request stays replayable */
  body?: string | Buffer | (() => Readable);
  signal?: AbortSignal;
  headersTimeout?: number;
  bodyTimeout?: number;
  /** what the request is, for messages: "list", "changes", … */
  what: string;
}

interface Reply {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
}

export type OnBlob = (hash: string, size: number, body: Readable) => Promise<void>;
/**
 * One frame of a batch as a whole: `data` holds its `size` bytes, or is null
 * when the server cannot serve the hash (`size` -1) or the frame is larger
 * than the caller's limit (it was skipped unread).
 */
export type OnBlobBuffer = (hash: string, size: number, data: Buffer | null) => Promise<void> | void;

export class RemoteClient {
  readonly server: string;
  readonly #origin: string;
  readonly #prefix: string;
  readonly #pool: Pool;
  readonly #auth: string;
  readonly #ua: string;
  readonly #headersTimeout: number;
  readonly #bodyTimeout: number;
  readonly #eventsIdle: number;
  readonly #maxJson: number;
  #batch: boolean | undefined;

  constructor(opts: RemoteClientOptions) {
    let url: URL;
    try {
      url = new URL(opts.server);
    } catch {
      throw new TypeError(`server must be an http(s) URL, got ${JSON.stringify(opts.server)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`server must be an http(s) URL, got ${opts.server}`);
    if (typeof opts.token !== 'string' || opts.token.length === 0 || /[\r\n]/.test(opts.token)) throw new TypeError('token must be a non-empty single-line string');
    const connections = opts.connections ?? 8;
    if (!Number.isInteger(connections) || connections < 1) throw new TypeError(`connections must be an integer >= 1, got ${connections}`);
    this.#origin = url.origin;
    this.#prefix = url.pathname.replace(/\/+$/, '');
    this.server = this.#origin + this.#prefix;
    this.#auth = `Bearer ${opts.token}`;
    this.#ua = opts.userAgent ?? `syncd/${VERSION}`;
    this.#headersTimeout = opts.headersTimeoutMs ?? 30_000;
    this.#bodyTimeout = opts.bodyTimeoutMs ?? 60_000;
    this.#eventsIdle = opts.eventsIdleTimeoutMs ?? 0;
    this.#maxJson = opts.maxJsonBytes ?? 256 * 1024 * 1024;
    this.#pool = new Pool(this.#origin, {
      connections,
      pipelining: 1, // keep-alive, one request at a time per connection
      connectTimeout: opts.connectTimeoutMs ?? 10_000,
      headersTimeout: this.#headersTimeout,
      bodyTimeout: this.#bodyTimeout,
      keepAliveTimeout: 30_000,
    });
  }

  /** Whether the server has `POST /v1/blobs/fetch`: undefined until the first fetchBlobs tells. */
  get supportsBatchFetch(): boolean | undefined {
    return this.#batch;
  }

  async status(): Promise<StatusReply> {
    return this.#json({ method: 'GET', path: '/v1/status', what: 'status' }, checkStatus);
  }

  async list(opts: { pageToken?: string; limit?: number } = {}): Promise<ListReply> {
    return this.#json(
      { method: 'GET', path: '/v1/list', query: { limit: opts.limit, page_token: opts.pageToken }, what: 'list' },
      checkList,
    );
  }

  async changes(cursor: string, limit?: number): Promise<ChangesReply> {
    return this.#json({ method: 'GET', path: '/v1/changes', query: { cursor, limit }, what: 'changes' }, checkChanges);
  }

  /**
   * Holds until the server says the head moved past `cursor` or `timeoutS`
   * passed. Rejects with the signal's AbortError when `signal` aborts.
   */
  async longpoll(cursor: string, timeoutS: number, signal?: AbortSignal): Promise<LongpollReply> {
    // the server may answer as late as 1.1 × timeout; past that plus a margin it is gone
    const limitMs = Math.ceil((timeoutS * 1.1 + LONGPOLL_MARGIN_S) * 1000);
    return this.#json(
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
      reply = await this.#send({
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
      throw this.#protocol('events', `expected 200 text/event-stream, got ${reply.status} ${ctype || '(no content type)'}`);
    }
    try {
      await readAdvancedEvents(reply.body, onAdvanced, this.server);
    } catch (e) {
      discard(reply.body);
      if (signal.aborted) return;
      throw translateNetworkError(e, this.server);
    }
  }

  /**
   * Uploads content by streaming `open()` with a known length. `open` is a
   * factory so a caller can retry without buffering.
   */
  async putBlob(hash: string, size: number, open: () => Readable): Promise<'created' | 'exists'> {
    if (!isSha256Hex(hash)) throw new TypeError(`putBlob: not a SHA-256 hex hash: ${hash}`);
    if (!Number.isSafeInteger(size) || size < 0) throw new TypeError(`putBlob: bad size ${size}`);
    const reply = await this.#send({
      method: 'PUT',
      path: `/v1/blobs/${hash}`,
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
      body: size === 0 ? '' : open,
      what: 'upload',
    });
    await this.#discard(reply);
    if (reply.status === 201) return 'created';
    if (reply.status === 200) return 'exists';
    throw this.#protocol('upload', `unexpected status ${reply.status}`);
  }

  async commit(ops: Op[]): Promise<OpResult[]> {
    const results = await this.#json(
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
      throw this.#protocol('commit', `sent ${ops.length} ops but got ${results.length} results`);
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
    const reply = await this.#send({
      method: 'GET',
      path: `/v1/blobs/${hash}`,
      headers: start > 0 ? { range: `bytes=${start}-` } : {},
      signal: opts.signal,
      what: 'download',
    });
    if (reply.status === 200) {
      const len = headerValue(reply.headers['content-length']);
      const total = len !== undefined && /^[0-9]{1,16}$/.test(len) ? Number(len) : undefined;
      return total === undefined ? { status: 200, body: this.#wrap(reply.body) } : { status: 200, body: this.#wrap(reply.body), total };
    }
    if (reply.status === 206) {
      const cr = headerValue(reply.headers['content-range']) ?? '';
      const m = /^bytes ([0-9]{1,16})-([0-9]{1,16})\/([0-9]{1,16}|\*)$/.exec(cr.trim());
      if (!m || Number(m[1]) !== start || Number(m[2]) < start) {
        discard(reply.body);
        throw this.#protocol('download', `asked for bytes ${start}- and got 206 with Content-Range ${JSON.stringify(cr)}`);
      }
      const body = this.#wrap(reply.body);
      return m[3] === '*' ? { status: 206, body } : { status: 206, body, total: Number(m[3]) };
    }
    discard(reply.body);
    throw this.#protocol('download', `unexpected status ${reply.status}`);
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
        await onBlob(hash, -1, Readable.from([]));
        continue;
      }
      if (got.total === undefined) {
        discard(got.body);
        throw this.#protocol('download', `blob ${hash} came without a Content-Length`);
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
   * fetchBlobs for small blobs: each frame is handed over whole, as one
   * Buffer, without a stream per blob (for thousands of small files the
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
        await onBlob(hash, -1, null);
        continue;
      }
      try {
        if (got.total === undefined) throw this.#protocol('download', `blob ${hash} came without a Content-Length`);
        if (got.total > maxBytes) {
          await onBlob(hash, got.total, null);
          continue;
        }
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const c of got.body as AsyncIterable<Buffer>) {
          n += c.length;
          if (n > got.total) throw this.#protocol('download', `blob ${hash} is longer than its Content-Length`);
          chunks.push(c);
        }
        if (n !== got.total) throw this.#protocol('download', `blob ${hash} ended after ${n} of ${got.total} bytes`);
        await onBlob(hash, got.total, Buffer.concat(chunks, n));
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
      reply = await this.#send({
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
      throw this.#protocol('batch download', `unexpected status ${reply.status}`);
    }
    this.#batch = true;
    return reply;
  }

  /** Drops every connection; requests still in flight fail with `network`. */
  async close(): Promise<void> {
    if (!this.#pool.destroyed) await this.#pool.destroy();
  }

  // ---- plumbing -------------------------------------------------------------

  async #send(req: Req): Promise<Reply> {
    let path = this.#prefix + req.path;
    if (req.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(req.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) path += `?${s}`;
    }
    let res: Dispatcher.ResponseData | undefined;
    for (let attempt = 0; res === undefined; attempt++) {
      try {
        res = await this.#pool.request({
          method: req.method,
          path,
          headers: { authorization: this.#auth, 'user-agent': this.#ua, ...req.headers },
          body: typeof req.body === 'function' ? req.body() : req.body,
          signal: req.signal,
          headersTimeout: req.headersTimeout,
          bodyTimeout: req.bodyTimeout,
        });
      } catch (e) {
        // A keep-alive socket the server closed just as we reused it: every
        // request here is replayable (GETs, PUT by hash, commit by op_id), so
        // one immediate second try on a fresh connection hides the race.
        if (attempt === 0 && !req.signal?.aborted && isStaleSocket(e)) continue;
        throw translateNetworkError(e, this.server);
      }
    }
    const reply: Reply = { status: res.statusCode, headers: res.headers as Headers, body: res.body };
    if (reply.status >= 200 && reply.status < 300) return reply;
    throw await this.#httpError(req.what, reply);
  }

  async #json<T>(req: Req, check: (v: unknown, c: Check) => T): Promise<T> {
    const reply = await this.#send(req);
    if (reply.status !== 200) {
      discard(reply.body);
      throw this.#protocol(req.what, `unexpected status ${reply.status}`);
    }
    const buf = await this.#readAll(reply, this.#maxJson, req.what);
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8'));
    } catch {
      throw this.#protocol(req.what, `the reply is not JSON (${describeBytes(buf)})`);
    }
    return check(v, new Check(this.server, req.what));
  }

  async #readAll(reply: Reply, max: number, what: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of reply.body as AsyncIterable<Buffer>) {
        n += c.length;
        if (n > max) {
          discard(reply.body);
          throw this.#protocol(what, `the reply exceeds ${max} bytes`);
        }
        chunks.push(c);
      }
    } catch (e) {
      throw translateNetworkError(e, this.server);
    }
    return Buffer.concat(chunks, n);
  }

  async #discard(reply: Reply): Promise<void> {
    try {
      await reply.body.dump({ limit: 64 * 1024 });
    } catch {
      // the status is what counts; a lost tail of an ignored body is not an error
    }
  }

  async #httpError(what: string, reply: Reply): Promise<RemoteError> {
    let text = '';
    try {
      text = (await this.#readAll(reply, 64 * 1024, what)).toString('utf8');
    } catch {
      // keep going with the status alone
    }
    let serverCode: string | undefined;
    let serverMsg: string | undefined;
    let reason: unknown;
    try {
      const b = JSON.parse(text) as unknown;
      if (typeof b === 'object' && b !== null) {
        const o = b as Record<string, unknown>;
        if (typeof o.error === 'string') serverCode = o.error.slice(0, 64);
        if (typeof o.message === 'string') serverMsg = sanitize(o.message);
        reason = o.reason;
      }
    } catch {
      // not JSON: a proxy's HTML page, say; the status decides
    }
    const s = this.server;
    const status = reply.status;
    const said = serverMsg ? `: ${serverMsg}` : '';
    const base = { server: s, status, ...(serverCode !== undefined ? { serverCode } : {}) };
    const make = (code: RemoteErrorCode, message: string, extra: Partial<{ reason: ResetReason; retryAfterS: number }> = {}): RemoteError =>
      new RemoteError(code, message, { ...base, ...extra });
    if (status === 401 || status === 403) {
      return make(
        'unauthorized',
        `the syncd server at ${s} rejected this device's token (${status})${said}. The token is wrong or was revoked: create a new one on the server with "syncd server add-device" and link the folder again with "syncd init DIR --server ${s} --token NEW_TOKEN".`,
      );
    }
    if (status === 409) {
      if (serverCode === 'reset' || serverCode === undefined) {
        const known = RESET_REASONS.includes(reason as ResetReason);
        // an unknown reason still means "this cursor cannot be served": a full list is the answer either way
        const r: ResetReason = known ? (reason as ResetReason) : 'invalid';
        return make('reset', `the syncd server at ${s} cannot continue from this cursor (reset: ${known ? r : `unrecognised reason ${JSON.stringify(reason)}`})${said}; a full listing is needed`, { reason: r });
      }
      return make('conflict', `the syncd server at ${s} answered ${what} with a conflict${said}`);
    }
    if (status === 429 || status === 503) {
      const retryAfterS = parseRetryAfter(reply.headers['retry-after']);
      const code = status === 429 ? 'rate_limited' : 'unavailable';
      const why = status === 429 ? 'is rate limiting this device' : 'is temporarily unavailable';
      return make(code, `the syncd server at ${s} ${why}${said}; retry in ${retryAfterS} s`, { retryAfterS });
    }
    if (status === 404) return make('not_found', `the syncd server at ${s} has no such ${what === 'download' ? 'blob' : 'resource'} (404)${said}`);
    if (status === 413) return make('too_large', `the syncd server at ${s} refused ${what} as too large (413)${said}`);
    if (status === 400 && serverCode === 'hash_mismatch') {
      return make('hash_mismatch', `the syncd server at ${s} received content that does not match its hash${said}`);
    }
    if (status >= 400 && status < 500) return make('bad_request', `the syncd server at ${s} rejected ${what} (${status}${serverCode ? ` ${serverCode}` : ''})${said}`);
    if (status >= 500) {
      const ra = reply.headers['retry-after'];
      return make('server_error', `the syncd server at ${s} failed on ${what} (${status})${said}`, ra === undefined ? {} : { retryAfterS: parseRetryAfter(ra) });
    }
    return make('protocol', `the syncd server at ${s} answered ${what} with unexpected status ${status}`);
  }

  #protocol(what: string, detail: string): RemoteError {
    return new RemoteError('protocol', `malformed ${what} reply from the syncd server at ${this.server}: ${detail}`, { server: this.server });
  }

  /** A body whose errors arrive translated (STYLE.md convention 5). */
  #wrap(body: Dispatcher.ResponseData['body']): Readable {
    const server = this.server;
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
}

// ---- batch framing ----------------------------------------------------------

const MAX_FRAME_HEADER = 64 + 1 + 17 + 1;
const FRAME_HEADER = /^([0-9a-f]{64}) (-1|0|[1-9][0-9]{0,15})$/;

/** Pulls chunks one at a time and lets a reader hand back an unread tail. */
class ChunkReader {
  readonly #it: AsyncIterator<unknown>;
  #pending: Buffer | null = null;
  error: unknown;

  constructor(source: AsyncIterable<unknown>) {
    this.#it = source[Symbol.asyncIterator]();
  }

  async next(): Promise<Buffer | null> {
    if (this.#pending !== null) {
      const p = this.#pending;
      this.#pending = null;
      return p;
    }
    if (this.error !== undefined) throw this.error;
    let r: IteratorResult<unknown>;
    try {
      r = await this.#it.next();
    } catch (e) {
      this.error = e;
      throw e;
    }
    if (r.done) return null;
    const v = r.value;
    return Buffer.isBuffer(v) ? v : Buffer.from(v as Uint8Array);
  }

  unshift(b: Buffer): void {
    if (b.length > 0) this.#pending = this.#pending === null ? b : Buffer.concat([b, this.#pending]);
  }
}

/**
 * Parses the `POST /v1/blobs/fetch` reply: per requested hash, in order, a
 * line `<hash> <size>\n` then exactly `size` bytes, or `<hash> -1\n`. Reads
 * incrementally; one frame's body is handed to `onBlob` and fully drained
 * before the next header is read. Exported for tests.
 */
export async function readBlobFrames(source: AsyncIterable<unknown>, hashes: readonly string[], onBlob: OnBlob, server: string): Promise<void> {
  const reader = new ChunkReader(source);
  const bad = (detail: string): RemoteError =>
    new RemoteError('protocol', `malformed batch download reply from the syncd server at ${server}: ${detail}`, { server });
  for (let i = 0; i < hashes.length; i++) {
    const want = hashes[i] as string;
    // header line
    let head: Buffer = Buffer.alloc(0);
    let nl = -1;
    for (;;) {
      const c = await reader.next();
      if (c === null) throw bad(`the reply ended after ${i} of ${hashes.length} blobs`);
      const at = c.indexOf(0x0a);
      if (at >= 0) {
        head = head.length === 0 ? c.subarray(0, at) : Buffer.concat([head, c.subarray(0, at)]);
        reader.unshift(c.subarray(at + 1));
        nl = at;
        break;
      }
      head = head.length === 0 ? c : Buffer.concat([head, c]);
      if (head.length > MAX_FRAME_HEADER) break;
    }
    if (nl < 0 || head.length > MAX_FRAME_HEADER) throw bad(`frame ${i} has no header line within ${MAX_FRAME_HEADER} bytes`);
    const line = head.toString('latin1');
    const m = FRAME_HEADER.exec(line);
    if (!m) throw bad(`frame ${i} header ${JSON.stringify(line.slice(0, 100))} is not "<hash> <size>"`);
    if (m[1] !== want) throw bad(`frame ${i} is for ${m[1]} but ${want} was requested there`);
    const size = Number(m[2]);
    if (!Number.isSafeInteger(size)) throw bad(`frame ${i} size ${m[2]} is out of range`);
    if (size === -1) {
      await onBlob(want, -1, Readable.from([]));
      continue;
    }
    const frame = new FrameBody(reader, size, () => bad(`the reply ended inside the blob of frame ${i} (${want})`), server);
    try {
      await onBlob(want, size, frame.stream);
    } finally {
      frame.stream.destroy();
    }
    await frame.skipRest();
  }
  // nothing may follow the last frame
  const extra = await reader.next();
  if (extra !== null && extra.length > 0) throw bad(`${extra.length}+ bytes follow the last frame`);
}

/**
 * readBlobFrames delivering each frame whole (see fetchBlobBuffers): the
 * frames inside a received chunk are cut out of it without copying or
 * awaiting; a frame spread over chunks is copied once into its own buffer.
 * Exported for tests.
 */
export async function readBlobFrameBuffers(source: AsyncIterable<unknown>, hashes: readonly string[], maxBytes: number, onBlob: OnBlobBuffer, server: string): Promise<void> {
  const it = source[Symbol.asyncIterator]();
  const bad = (detail: string): RemoteError =>
    new RemoteError('protocol', `malformed batch download reply from the syncd server at ${server}: ${detail}`, { server });
  let buf: Buffer = Buffer.alloc(0);
  let pos = 0;
  /** moves on to the next chunk (what was unread of the last one must have been taken); false at the end of the reply */
  const more = async (): Promise<boolean> => {
    const r = await it.next();
    if (r.done) return false;
    buf = Buffer.isBuffer(r.value) ? r.value : Buffer.from(r.value as Uint8Array);
    pos = 0;
    return true;
  };
  for (let i = 0; i < hashes.length; i++) {
    const want = hashes[i] as string;
    const noHeader = (): RemoteError => bad(`frame ${i} has no header line within ${MAX_FRAME_HEADER} bytes`);
    let nl = buf.indexOf(0x0a, pos);
    let line: string;
    if (nl >= 0) {
      if (nl - pos > MAX_FRAME_HEADER) throw noHeader();
      line = buf.toString('latin1', pos, nl);
      pos = nl + 1;
    } else {
      // a header cut by a chunk boundary: only its few bytes are joined
      let head = buf.subarray(pos);
      for (;;) {
        if (head.length > MAX_FRAME_HEADER) throw noHeader();
        if (!(await more())) throw bad(`the reply ended after ${i} of ${hashes.length} blobs`);
        nl = buf.indexOf(0x0a);
        if (nl >= 0) {
          head = Buffer.concat([head, buf.subarray(0, nl)]);
          pos = nl + 1;
          break;
        }
        head = Buffer.concat([head, buf]);
      }
      if (head.length > MAX_FRAME_HEADER) throw noHeader();
      line = head.toString('latin1');
    }
    const m = FRAME_HEADER.exec(line);
    if (!m) throw bad(`frame ${i} header ${JSON.stringify(line.slice(0, 100))} is not "<hash> <size>"`);
    if (m[1] !== want) throw bad(`frame ${i} is for ${m[1]} but ${want} was requested there`);
    const size = Number(m[2]);
    if (!Number.isSafeInteger(size)) throw bad(`frame ${i} size ${m[2]} is out of range`);
    if (size === -1) {
      await onBlob(want, -1, null);
      continue;
    }
    const truncated = (): RemoteError => bad(`the reply ended inside the blob of frame ${i} (${want})`);
    if (size > maxBytes) {
      for (let left = size; left > 0; ) {
        if (pos === buf.length && !(await more())) throw truncated();
        const n = Math.min(left, buf.length - pos);
        pos += n;
        left -= n;
      }
      await onBlob(want, size, null);
      continue;
    }
    let data: Buffer;
    if (buf.length - pos >= size) {
      data = buf.subarray(pos, pos + size);
      pos += size;
    } else {
      data = Buffer.allocUnsafe(size);
      let got = buf.copy(data, 0, pos);
      pos = buf.length;
      while (got < size) {
        if (!(await more())) throw truncated();
        const n = Math.min(size - got, buf.length);
        buf.copy(data, got, 0, n);
        got += n;
        pos = n;
      }
    }
    await onBlob(want, size, data);
  }
  // nothing may follow the last frame
  if (pos < buf.length) throw bad(`${buf.length - pos}+ bytes follow the last frame`);
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    const n = (r.value as Uint8Array).length;
    if (n > 0) throw bad(`${n}+ bytes follow the last frame`);
  }
}

/** The `size` bytes of one frame as a Readable, fed from the shared reader. */
class FrameBody {
  readonly stream: Readable;
  #left: number;
  #inflight: Promise<void> | null = null;
  readonly #reader: ChunkReader;
  readonly #truncated: () => RemoteError;

  constructor(reader: ChunkReader, size: number, truncated: () => RemoteError, server: string) {
    this.#reader = reader;
    this.#truncated = truncated;
    this.#left = size;
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const self = this;
    this.stream = new Readable({
      highWaterMark: 64 * 1024,
      read() {
        if (self.#left === 0) {
          this.push(null);
          return;
        }
        self.#inflight = self.#take().then(
          (chunk) => {
            self.#inflight = null;
            if (chunk === null) {
              this.destroy(truncated());
              return;
            }
            this.push(chunk);
            if (self.#left === 0) this.push(null);
          },
          (e: unknown) => {
            self.#inflight = null;
            this.destroy(translateNetworkError(e, server) as Error);
          },
        );
      },
    });
  }

  /** Next slice of this frame; the accounting happens here even if the stream was destroyed. */
  async #take(): Promise<Buffer | null> {
    const c = await this.#reader.next();
    if (c === null) return null;
    if (c.length > this.#left) {
      this.#reader.unshift(c.subarray(this.#left));
      const mine = c.subarray(0, this.#left);
      this.#left = 0;
      return mine;
    }
    this.#left -= c.length;
    return c;
  }

  /** Discards what the consumer left unread so the next header lines up. */
  async skipRest(): Promise<void> {
    if (this.#inflight) await this.#inflight;
    if (this.#reader.error !== undefined) throw this.#reader.error;
    while (this.#left > 0) {
      const c = await this.#take();
      if (c === null) throw this.#truncated();
    }
  }
}

// ---- reply validation -------------------------------------------------------

/** Collects the context for "malformed X reply: field must be Y" messages. */
class Check {
  constructor(
    readonly server: string,
    readonly what: string,
  ) {}

  fail(path: string, expected: string, got: unknown): never {
    throw new RemoteError('protocol', `malformed ${this.what} reply from the syncd server at ${this.server}: ${path} must be ${expected}, got ${describe(got)}`, {
      server: this.server,
    });
  }

  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Record<string, unknown>;
  }

  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v;
  }

  str(o: Record<string, unknown>, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== 'string') this.fail(`${path}.${k}`, 'a string', v);
    return v;
  }

  nonEmpty(o: Record<string, unknown>, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) this.fail(`${path}.${k}`, 'a non-empty string', v);
    return v;
  }

  int(o: Record<string, unknown>, k: string, path: string, min = 0): number {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(`${path}.${k}`, `an integer >= ${min}`, v);
    return v;
  }

  num(o: Record<string, unknown>, k: string, path: string): number {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${k}`, 'a finite number', v);
    return v;
  }

  bool(o: Record<string, unknown>, k: string, path: string): boolean {
    const v = o[k];
    if (typeof v !== 'boolean') this.fail(`${path}.${k}`, 'true or false', v);
    return v;
  }

  intOrNull(o: Record<string, unknown>, k: string, path: string): number | null {
    const v = o[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(`${path}.${k}`, 'an integer or null', v);
    return v;
  }

  numOrNull(o: Record<string, unknown>, k: string, path: string): number | null {
    const v = o[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${k}`, 'a number or null', v);
    return v;
  }
}

const KINDS: ReadonlySet<string> = new Set<NodeKind>(['file', 'dir', 'symlink']);
const OPS: ReadonlySet<string> = new Set<OpKind>(['create', 'update', 'move', 'delete']);
const OP_ERRORS: ReadonlySet<string> = new Set<string>(OP_ERROR_CODES);

function checkNode(c: Check, v: unknown, path: string): WireNode {
  const o = c.obj(v, path);
  const kind = o.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) c.fail(`${path}.kind`, '"file", "dir" or "symlink"', kind);
  const exec = o.exec === undefined ? false : c.bool(o, 'exec', path);
  const node: WireNode = {
    id: c.nonEmpty(o, 'id', path),
    parent: c.nonEmpty(o, 'parent', path),
    name: c.str(o, 'name', path),
    kind: kind as NodeKind,
    rev: c.int(o, 'rev', path, 1),
    mtime: o.mtime === undefined || o.mtime === null ? 0 : c.num(o, 'mtime', path),
    exec,
    seq: c.int(o, 'seq', path, 0),
  };
  if (kind === 'file') {
    node.size = c.int(o, 'size', path, 0);
    const hash = o.hash;
    if (!isSha256Hex(hash)) c.fail(`${path}.hash`, '64 lowercase hex characters', hash);
    node.hash = hash;
  } else if (kind === 'symlink') {
    node.target = c.str(o, 'target', path);
  }
  return node;
}

function checkStatus(v: unknown, c: Check): StatusReply {
  const o = c.obj(v, 'reply');
  const ret = c.obj(o.retention, 'reply.retention');
  const devices = c.arr(o.devices, 'reply.devices').map((d, i): DeviceStatus => {
    const p = `reply.devices[${i}]`;
    const dv = c.obj(d, p);
    return {
      id: c.str(dv, 'id', p),
      label: typeof dv.label === 'string' ? dv.label : dv.label === null || dv.label === undefined ? '' : c.str(dv, 'label', p),
      cursor_seq: c.intOrNull(dv, 'cursor_seq', p),
      lag: c.intOrNull(dv, 'lag', p),
      last_seen: c.numOrNull(dv, 'last_seen', p),
    };
  });
  const out: StatusReply = {
    namespace: c.str(o, 'namespace', 'reply'),
    epoch: typeof o.epoch === 'number' ? String(o.epoch) : c.str(o, 'epoch', 'reply'),
    head: c.int(o, 'head', 'reply'),
    floor: c.int(o, 'floor', 'reply'),
    retention: { max_age_s: c.numOrNull(ret, 'max_age_s', 'reply.retention'), max_entries: c.intOrNull(ret, 'max_entries', 'reply.retention') },
    devices,
  };
  if (o.device !== undefined) out.device = c.str(o, 'device', 'reply');
  if (o.server_version !== undefined) out.server_version = c.str(o, 'server_version', 'reply');
  if (o.protocol !== undefined) out.protocol = c.int(o, 'protocol', 'reply');
  return out;
}

function checkList(v: unknown, c: Check): ListReply {
  const o = c.obj(v, 'reply');
  const entries = c.arr(o.entries, 'reply.entries').map((n, i) => checkNode(c, n, `reply.entries[${i}]`));
  const out: ListReply = {
    entries,
    cursor: c.nonEmpty(o, 'cursor', 'reply'),
    seq: c.int(o, 'seq', 'reply'),
    has_more: c.bool(o, 'has_more', 'reply'),
  };
  if (out.has_more) out.page_token = c.nonEmpty(o, 'page_token', 'reply');
  else if (typeof o.page_token === 'string' && o.page_token.length > 0) out.page_token = o.page_token;
  return out;
}

function checkChanges(v: unknown, c: Check): ChangesReply {
  const o = c.obj(v, 'reply');
  const entries = c.arr(o.entries, 'reply.entries').map((e, i): JournalEntry => {
    const p = `reply.entries[${i}]`;
    const eo = c.obj(e, p);
    const op = eo.op;
    if (typeof op !== 'string' || !OPS.has(op)) c.fail(`${p}.op`, '"create", "update", "move" or "delete"', op);
    return { seq: c.int(eo, 'seq', p, 1), op: op as OpKind, node: checkNode(c, eo.node, `${p}.node`), device: c.str(eo, 'device', p) };
  });
  return {
    entries,
    cursor: c.nonEmpty(o, 'cursor', 'reply'),
    has_more: c.bool(o, 'has_more', 'reply'),
    head: c.int(o, 'head', 'reply'),
  };
}

function checkLongpoll(v: unknown, c: Check): LongpollReply {
  const o = c.obj(v, 'reply');
  const out: LongpollReply = { changes: c.bool(o, 'changes', 'reply') };
  if (o.backoff !== undefined && o.backoff !== null) {
    const b = c.num(o, 'backoff', 'reply');
    if (b < 0) c.fail('reply.backoff', 'a number >= 0', b);
    // a broken or hostile server must not park the agent for days
    out.backoff = Math.min(b, MAX_BACKOFF_S);
  }
  return out;
}

function checkCommit(v: unknown, c: Check): OpResult[] {
  const o = c.obj(v, 'reply');
  return c.arr(o.results, 'reply.results').map((r, i): OpResult => {
    const p = `reply.results[${i}]`;
    const ro = c.obj(r, p);
    switch (ro.status) {
      case 'ok':
        return { status: 'ok', seq: c.int(ro, 'seq', p, 1), node: checkNode(c, ro.node, `${p}.node`) };
      case 'conflict':
        return { status: 'conflict', current: checkNode(c, ro.current, `${p}.current`) };
      case 'error': {
        const code = ro.error;
        if (typeof code !== 'string' || !OP_ERRORS.has(code)) c.fail(`${p}.error`, `one of ${OP_ERROR_CODES.join(', ')}`, code);
        const message = typeof ro.message === 'string' ? sanitize(ro.message) : String(code);
        return { status: 'error', error: code as OpErrorCode, message };
      }
      default:
        return c.fail(`${p}.status`, '"ok", "conflict" or "error"', ro.status);
    }
  });
}

// ---- small helpers ----------------------------------------------------------

function isStaleSocket(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

function describeBytes(b: Buffer): string {
  if (b.length === 0) return 'empty body';
  const s = b.subarray(0, 60).toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return `${b.length} bytes starting ${JSON.stringify(s)}`;
}

/** A server-sent message, made safe to show: one line, bounded. */
function sanitize(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}

/**
 * Abandons a body without an unhandled 'error' (undici's body emits an
 * AbortError when destroyed before its end).
 */
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

export function discard(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}
