// Jittered exponential backoff ("full jitter": a uniform draw from
// [0, min(cap, base·2^attempt)]), so a fleet of clients that lost the server
// at the same moment does not come back in lockstep.

import { RemoteError } from '../remote/errors.js';

export type RandomFn = () => number;

export interface BackoffOptions {
  /** first ceiling, ms (default 250) */
  baseMs?: number;
  /** largest ceiling, ms (default 60 000) */
  capMs?: number;
  /** uniform [0, 1) source; pass a seeded one (see `seededRandom`) for deterministic tests */
  random?: RandomFn;
}

export class Backoff {
  readonly #baseMs: number;
  readonly #capMs: number;
  readonly #random: RandomFn;
  #attempt = 0;

  constructor(opts: BackoffOptions = {}) {
    const baseMs = opts.baseMs ?? 250;
    const capMs = opts.capMs ?? 60_000;
    if (!(Number.isFinite(baseMs) && baseMs > 0)) throw new RangeError(`backoff baseMs must be > 0, got ${baseMs}`);
    if (!(Number.isFinite(capMs) && capMs >= baseMs)) throw new RangeError(`backoff capMs must be >= baseMs, got ${capMs}`);
    this.#baseMs = baseMs;
    this.#capMs = capMs;
    this.#random = opts.random ?? Math.random;
  }

  /** Failures since the last success. */
  get attempt(): number {
    return this.#attempt;
  }

  /** The ceiling the next delay is drawn under. */
  ceilingMs(): number {
    // 2^attempt overflows to Infinity long after it passed the cap; min() handles that
    return Math.min(this.#capMs, this.#baseMs * 2 ** this.#attempt);
  }

  /** Delay before the next retry, ms; counts one more failure. */
  next(): number {
    const ceiling = this.ceilingMs();
    this.#attempt++;
    const r = this.#random();
    const u = r >= 0 && r < 1 ? r : 0;
    return Math.floor(u * ceiling);
  }

  /**
   * Delay after `err`: a server's Retry-After (RemoteError.retryAfterS) is
   * honoured as a floor, otherwise the jittered delay. Counts one failure
   * either way so repeated failures keep growing.
   */
  nextFor(err: unknown): number {
    const jittered = this.next();
    const after = retryAfterMs(err);
    return after === undefined ? jittered : Math.max(after, jittered);
  }

  /** Call after a success: the next failure starts from the base again. */
  reset(): void {
    this.#attempt = 0;
  }
}

/** Retry-After of a RemoteError in ms, if it carried one. */
export function retryAfterMs(err: unknown): number | undefined {
  if (err instanceof RemoteError && err.retryAfterS !== undefined) return err.retryAfterS * 1000;
  return undefined;
}

/** mulberry32: a tiny seeded PRNG giving uniform [0, 1). Not for secrets. */
export function seededRandom(seed: number): RandomFn {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
