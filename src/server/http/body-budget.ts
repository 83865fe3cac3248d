// Memory for request bodies read whole (the JSON routes): each body is held
// in full until it is parsed, so what many connections send at once is
// bounded here rather than by connections × the largest body (10,000 × the
// 16 MiB an assembly may send). A server-wide budget and a share of it per
// namespace: one tenant sending big bodies on many connections fills its
// share and gets 429, the others still have the rest. A request is given
// its declared length (or the route's limit, for a body of unknown length)
// before its body is read, and gives it back once the body is parsed.

import { HttpError } from '../../protocol/errors.js';
import type { AnyRequest, AnyResponse } from './listener.js';

/** Seconds a refused client is asked to wait: a budget frees up as bodies are parsed. */
const RETRY_AFTER_S = 2;

export class BodyBudget {
  readonly #total: number;
  readonly #perKey: number;
  #used = 0;
  readonly #byKey = new Map<string, number>();

  constructor(totalBytes: number, perKeyBytes: number) {
    this.#total = totalBytes;
    this.#perKey = Math.min(perKeyBytes, totalBytes);
  }

  /**
   * Reserves `bytes` for `key` (a namespace), or throws: `429 rate_limited`
   * when the key's share is taken, `503 unavailable` when the server's is.
   * A body larger than a whole share still goes when the key has nothing
   * reserved (a route's own limit says what is too large). Returns the release.
   */
  take(key: string, bytes: number): () => void {
    const mine = this.#byKey.get(key) ?? 0;
    if (mine > 0 && mine + bytes > this.#perKey) {
      throw new HttpError('rate_limited', `this namespace is sending ${mine} bytes of request bodies already; retry later`, {}, RETRY_AFTER_S);
    }
    if (this.#used > 0 && this.#used + bytes > this.#total) {
      throw new HttpError('unavailable', 'the server is reading too many request bodies at once; retry later', {}, RETRY_AFTER_S);
    }
    this.#used += bytes;
    this.#byKey.set(key, mine + bytes);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#used -= bytes;
      const left = (this.#byKey.get(key) ?? bytes) - bytes;
      if (left > 0) this.#byKey.set(key, left);
      else this.#byKey.delete(key);
    };
  }

  /** bytes reserved now (for tests and metrics) */
  get used(): number {
    return this.#used;
  }
}

/** The bytes a body is given before it is read: its declared length, or `maxBytes` when it declares none (at most `maxBytes`). */
export function bodyBytes(req: AnyRequest, maxBytes: number): number {
  const declared = Number(req.headers['content-length']);
  return Number.isSafeInteger(declared) && declared >= 0 ? Math.min(declared, maxBytes) : maxBytes;
}

/** The `reserve` of a route's BodyLimits: the body's bytes from `bodies`, on the namespace's share. */
export function reserveFor(bodies: BodyBudget, namespace: string): (bytes: number) => () => void {
  return (bytes) => bodies.take(namespace, bytes);
}

/** The share of RPC requests whose credentials name no device: all of them together, like one namespace. */
export const ANONYMOUS = '\u0000anonymous';

/**
 * The same budget in front of the RPC adapter (Connect, gRPC, gRPC-Web),
 * which reads a request's message whole (up to `maxBytes`) before any
 * handler authenticates it: a request with a body takes its declared length
 * (unknown, as over HTTP/2: `maxBytes`) until the body has been read. Its
 * share is its namespace (`keyOf` looks the credentials up), like the JSON
 * routes'; requests whose credentials name no device share one more
 * (`ANONYMOUS`), so tokens made up by an anonymous client never take more
 * than one namespace's share from the tenants. Refused: a plain HTTP 429 or
 * 503 with Retry-After (both are `unavailable` to Connect and gRPC
 * clients), the body unread. Resolves false when it answered the request
 * itself (or the client went away meanwhile).
 */
export async function admitRpcBody(bodies: BodyBudget, req: AnyRequest, res: AnyResponse, maxBytes: number, keyOf: (authorization: string | undefined) => Promise<string | null>): Promise<boolean> {
  if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return true;
  const bytes = bodyBytes(req, maxBytes);
  const auth = req.headers.authorization;
  // a client gone while its credentials are looked up takes nothing (its 'close' would not come again)
  let gone = false;
  const onGone = (): void => {
    gone = true;
  };
  req.once('close', onGone);
  res.once('close', onGone);
  const key = (await keyOf(typeof auth === 'string' ? auth : undefined).catch(() => null)) ?? ANONYMOUS;
  req.off('close', onGone);
  res.off('close', onGone);
  if (gone || req.destroyed || res.destroyed) return false;
  let release: () => void;
  try {
    release = bodies.take(key, bytes);
  } catch (e) {
    const err = e as HttpError;
    const h: Record<string, string> = { 'retry-after': String(err.retryAfter ?? RETRY_AFTER_S), 'content-type': 'application/json' };
    if (req.httpVersionMajor < 2) h.connection = 'close';
    res.writeHead(err.status, h);
    res.end(JSON.stringify(err.toBody()));
    return false;
  }
  // read whole (or gone): the adapter holds the message, not the budget, from here
  req.once('end', release);
  req.once('close', release);
  res.once('close', release);
  return true;
}
