// Memory for request bodies read whole (the JSON routes): each body is held
// in full until it is parsed, so what many connections send at once is
// bounded here rather than by connections × the largest body (10,000 × the
// 16 MiB an assembly may send). A server-wide budget and a share of it per
// namespace: one tenant sending big bodies on many connections fills its
// share and gets 429, the others still have the rest. A request is given
// its declared length (or the route's limit, for a body of unknown length)
// before its body is read, and gives it back once the body is parsed.

import { HttpError } from '../../protocol/errors.js';

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

/** The `reserve` of a route's BodyLimits: the body's bytes from `bodies`, on the namespace's share. */
export function reserveFor(bodies: BodyBudget, namespace: string): (bytes: number) => () => void {
  return (bytes) => bodies.take(namespace, bytes);
}
