// Token buckets per device and per namespace: the 429 `rate_limited` of the
// protocol. `take` is a pure step (no clock of its own); the limiter keeps
// one bucket per key and forgets buckets that have refilled, so an idle
// tenant costs no memory.

export interface Bucket {
  tokens: number;
  /** when `tokens` was computed, ms */
  at: number;
}

export interface BucketSpec {
  /** tokens added per second; 0 = unlimited */
  rate: number;
  /** bucket size */
  burst: number;
}

/** One request's step: the bucket after it and, when refused, the seconds until a token is there. */
export function take(b: Bucket | undefined, spec: BucketSpec, now: number): { bucket: Bucket; retryAfterS: number | null } {
  const prev = b ?? { tokens: spec.burst, at: now };
  const tokens = Math.min(spec.burst, prev.tokens + (Math.max(0, now - prev.at) / 1000) * spec.rate);
  if (tokens >= 1) return { bucket: { tokens: tokens - 1, at: now }, retryAfterS: null };
  return { bucket: { tokens, at: now }, retryAfterS: Math.max(1, Math.ceil((1 - tokens) / spec.rate)) };
}

export class RateLimiter {
  readonly #spec: BucketSpec;
  #buckets = new Map<string, Bucket>();
  #sweptAt = 0;

  constructor(spec: BucketSpec) {
    this.#spec = spec;
  }

  get enabled(): boolean {
    return this.#spec.rate > 0;
  }

  /** null when `key` may go on, else the Retry-After in seconds */
  check(key: string, now: number): number | null {
    if (!this.enabled) return null;
    const step = take(this.#buckets.get(key), this.#spec, now);
    this.#buckets.set(key, step.bucket);
    this.#sweep(now);
    return step.retryAfterS;
  }

  /** Drops buckets that are full again (they equal a fresh one), once a minute. */
  #sweep(now: number): void {
    if (now - this.#sweptAt < 60_000) return;
    this.#sweptAt = now;
    const fullAfterMs = (this.#spec.burst / this.#spec.rate) * 1000;
    for (const [k, b] of this.#buckets) if (now - b.at >= fullAfterMs) this.#buckets.delete(k);
  }

  get size(): number {
    return this.#buckets.size;
  }
}
