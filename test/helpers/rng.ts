// Seeded PRNG (mulberry32) so randomized tests replay from a printed seed.

import { seededRandom } from '../../src/client/agent/backoff.js';

export type Rng = () => number;

export function rng(seed: number): Rng {
  return seededRandom(seed);
}

/** `n` bytes drawn from the generator seeded with `seed`: the same bytes for the same seed */
export function seededBytes(seed: number, n: number): Buffer {
  const r = rng(seed);
  const b = Buffer.allocUnsafe(n + 3);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
  return b.subarray(0, n);
}

export function pick<T>(r: Rng, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}

export function shuffle<T>(r: Rng, xs: T[]): T[] {
  const a = [...xs];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

/**
 * The base seed of a randomized test: SYNCD_SEED replays a run; SYNCD_RANDOM=1
 * explores fresh seeds (the soak does); otherwise a fixed base, so `npm test`
 * is repeatable and a red CI run always replays.
 */
export function baseSeed(fixed = 1): number {
  const env = process.env.SYNCD_SEED;
  if (env) return Number(env) >>> 0;
  if (process.env.SYNCD_RANDOM === '1') return Math.floor(Math.random() * 2 ** 31);
  return fixed;
}
