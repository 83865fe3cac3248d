// One request to the server over the client's undici Pool: path and query,
// auth headers, one retry of a stale keep-alive socket, undici's errors
// translated, a non-2xx reply turned into its RemoteError, and JSON replies
// read with a size cap and checked for shape before anyone sees them.

import type { Readable } from 'node:stream';
import type { Dispatcher, Pool as UndiciPool } from 'undici';
import { Pool } from './pool.js';
import { ReplyCheck } from '../../protocol/replies.js';
import type { RemoteError } from './errors.js';
import { translateNetworkError } from './errors.js';
import { errorForStatus, malformedReply } from './reply-errors.js';
import { chunksOf, discard } from './streams.js';
import { PieceList } from '../../protocol/frames.js';

type Headers = Record<string, string | string[] | undefined>;

export interface Req {
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

export interface Reply {
  status: number;
  headers: Headers;
  body: Dispatcher.ResponseData['body'];
}

export interface SenderOptions {
  pool: UndiciPool;
  /** the server's base URL (origin and path prefix), for messages */
  server: string;
  /** the path prefix put before every request path */
  prefix: string;
  token: string;
  userAgent: string;
  /** cap on a JSON reply, bytes */
  maxJsonBytes: number;
}

/** Where and how to connect: what `openSender` needs. */
export interface ConnectOptions {
  /** server base URL, e.g. `http://127.0.0.1:7420` (a path prefix is kept: `https://h/syncd/`) */
  server: string;
  /** device token, sent as `Authorization: Bearer …` */
  token: string;
  userAgent: string;
  /** keep-alive connections in the pool (default 8) */
  connections?: number;
  /** TCP/TLS connect timeout, ms (default 10 000) */
  connectTimeoutMs?: number;
  /** time to the reply headers, ms (default 30 000) */
  headersTimeoutMs?: number;
  /** longest silence inside a reply body, ms (default 60 000) */
  bodyTimeoutMs?: number;
  /** cap on a JSON reply, bytes (default 256 MiB) */
  maxJsonBytes?: number;
}

/**
 * A Sender on a fresh keep-alive Pool to `o.server`, with the timeouts and
 * the JSON cap every caller gets. Throws TypeError on a bad URL or token.
 */
export function openSender(o: ConnectOptions): Sender {
  let url: URL;
  try {
    url = new URL(o.server);
  } catch {
    throw new TypeError(`server must be an http(s) URL, got ${JSON.stringify(o.server)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`server must be an http(s) URL, got ${o.server}`);
  if (typeof o.token !== 'string' || o.token.length === 0 || /[\r\n]/.test(o.token)) throw new TypeError('token must be a non-empty single-line string');
  const connections = o.connections ?? 8;
  if (!Number.isInteger(connections) || connections < 1) throw new TypeError(`connections must be an integer >= 1, got ${connections}`);
  const prefix = url.pathname.replace(/\/+$/, '');
  const pool = new Pool(url.origin, {
    connections,
    pipelining: 1, // keep-alive, one request at a time per connection
    connectTimeout: o.connectTimeoutMs ?? 10_000,
    headersTimeout: o.headersTimeoutMs ?? 30_000,
    bodyTimeout: o.bodyTimeoutMs ?? 60_000,
    keepAliveTimeout: 30_000,
  });
  return new Sender({ pool, server: url.origin + prefix, prefix, token: o.token, userAgent: o.userAgent, maxJsonBytes: o.maxJsonBytes ?? 256 * 1024 * 1024 });
}

/** Cap on the body of an error reply we read for its message. */
const ERROR_BODY_BYTES = 64 * 1024;

export class Sender {
  readonly server: string;
  readonly #pool: UndiciPool;
  readonly #prefix: string;
  readonly #auth: string;
  readonly #ua: string;
  readonly #maxJson: number;

  constructor(opts: SenderOptions) {
    this.#pool = opts.pool;
    this.server = opts.server;
    this.#prefix = opts.prefix;
    this.#auth = `Bearer ${opts.token}`;
    this.#ua = opts.userAgent;
    this.#maxJson = opts.maxJsonBytes;
  }

  /** The 2xx reply to `req`; any other status rejects with its RemoteError. */
  async send(req: Req): Promise<Reply> {
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
    let text = '';
    try {
      text = (await this.readAll(reply, ERROR_BODY_BYTES, req.what)).toString('utf8');
    } catch {
      // keep going with the status alone
    }
    throw errorForStatus(this.server, req.what, { status: reply.status, retryAfter: reply.headers['retry-after'], text });
  }

  /** The 200 JSON reply to `req`, checked by `check`. */
  async json<T>(req: Req, check: (v: unknown, c: ReplyCheck) => T): Promise<T> {
    const reply = await this.send(req);
    if (reply.status !== 200) {
      discard(reply.body);
      throw this.malformed(req.what, `unexpected status ${reply.status}`);
    }
    const buf = await this.readAll(reply, this.#maxJson, req.what);
    let v: unknown;
    try {
      v = JSON.parse(buf.toString('utf8'));
    } catch {
      throw this.malformed(req.what, `the reply is not JSON (${describeBytes(buf)})`);
    }
    return check(v, new ReplyCheck(malformedReply(this.server, req.what)));
  }

  /** Reads and drops a body whose content does not matter (its status said it all). */
  async dump(reply: Reply): Promise<void> {
    try {
      await reply.body.dump({ limit: 64 * 1024 });
    } catch {
      // the status is what counts; a lost tail of an ignored body is not an error
    }
  }

  /** The `protocol` error for a reply to `what` that breaks the protocol. */
  malformed(what: string, detail: string): RemoteError {
    return malformedReply(this.server, what)(detail);
  }

  /** Drops every connection; requests still in flight fail with `network`. */
  async close(): Promise<void> {
    if (!this.#pool.destroyed) await this.#pool.destroy();
  }

  /** The whole body of `reply`, at most `max` bytes (more is a `protocol` error). */
  async readAll(reply: Reply, max: number, what: string): Promise<Buffer> {
    // a reply trickled in tiny reads is joined as it comes (PieceList)
    const chunks = new PieceList();
    try {
      // chunk by chunk as received: async iteration of the body would join
      // what is buffered into new Buffers, one more copy of every byte
      for await (const c of chunksOf(reply.body)) {
        if (chunks.bytes + c.length > max) {
          discard(reply.body);
          throw this.malformed(what, `the reply exceeds ${max} bytes`);
        }
        chunks.push(c);
      }
    } catch (e) {
      throw translateNetworkError(e, this.server);
    }
    const { parts, bytes } = chunks;
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, bytes);
  }

  /**
   * The whole body of `reply` copied into `into` (at most its length; more
   * is a `protocol` error): the bytes that came, as a slice of it. A buffer
   * used before is already backed by memory, where a new one would take a
   * page fault every 4 KiB.
   */
  async readInto(reply: Reply, into: Buffer, what: string): Promise<Buffer> {
    let n = 0;
    try {
      for await (const c of chunksOf(reply.body)) {
        if (n + c.length > into.length) {
          discard(reply.body);
          throw this.malformed(what, `the reply exceeds ${into.length} bytes`);
        }
        n += c.copy(into, n);
      }
    } catch (e) {
      throw translateNetworkError(e, this.server);
    }
    return into.subarray(0, n);
  }
}

export function headerValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isStaleSocket(e: unknown): boolean {
  const code = typeof e === 'object' && e !== null ? (e as { code?: unknown }).code : undefined;
  return code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET';
}

function describeBytes(b: Buffer): string {
  if (b.length === 0) return 'empty body';
  const s = b.subarray(0, 60).toString('utf8').replace(/[\u0000-\u001f\u007f]/g, ' ');
  return `${b.length} bytes starting ${JSON.stringify(s)}`;
}
