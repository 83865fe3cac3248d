import { describe, expect, test } from 'vitest';
import { Backoff, retryAfterMs, seededRandom, sleep } from '../../../../src/client/agent/backoff.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';

const SEED = 20250101;

describe('Backoff', () => {
  test('full jitter under a ceiling that doubles from 250 ms up to the 60 s cap', () => {
    const ceilings: number[] = [];
    const b = new Backoff({ random: seededRandom(SEED) });
    for (let i = 0; i < 12; i++) {
      const c = b.ceilingMs();
      ceilings.push(c);
      const d = b.next();
      expect(d, `attempt ${i}`).toBeGreaterThanOrEqual(0);
      expect(d, `attempt ${i}`).toBeLessThan(c);
      expect(Number.isInteger(d)).toBe(true);
    }
    expect(ceilings).toEqual([250, 500, 1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000, 60000]);
  });

  test('a random source at its extremes gives 0 and just under the ceiling', () => {
    expect(new Backoff({ random: () => 0 }).next()).toBe(0);
    expect(new Backoff({ random: () => 0.999999 }).next()).toBe(249);
    // a broken source (1, NaN) cannot push the delay past the ceiling
    expect(new Backoff({ random: () => 1 }).next()).toBe(0);
    expect(new Backoff({ random: () => Number.NaN }).next()).toBe(0);
  });

  test('resets to the base after a success', () => {
    const b = new Backoff({ random: () => 0.5 });
    for (let i = 0; i < 5; i++) b.next();
    expect(b.attempt).toBe(5);
    b.reset();
    expect(b.attempt).toBe(0);
    expect(b.next()).toBe(125);
  });

  test('deterministic for a seed', () => {
    const run = (seed: number): number[] => {
      const b = new Backoff({ random: seededRandom(seed) });
      return Array.from({ length: 10 }, () => b.next());
    };
    expect(run(SEED)).toEqual(run(SEED));
    expect(run(SEED)).not.toEqual(run(SEED + 1));
  });

  test('never overflows after very many failures', () => {
    const b = new Backoff({ random: () => 0.5 });
    for (let i = 0; i < 5000; i++) b.next();
    expect(b.next()).toBe(30000);
  });

  test('honours Retry-After as a floor', () => {
    const busy = new RemoteError('unavailable', 'busy', { server: 's', status: 503, retryAfterS: 7 });
    const b = new Backoff({ random: () => 0.5 });
    expect(b.nextFor(busy)).toBe(7000);
    expect(b.attempt).toBe(1);
    // once the jittered delay exceeds it, the larger one wins
    const late = new Backoff({ random: () => 0.99, baseMs: 20_000, capMs: 60_000 });
    expect(late.nextFor(busy)).toBe(19800);
    // other errors: plain jitter
    expect(new Backoff({ random: () => 0.5 }).nextFor(new Error('x'))).toBe(125);
  });

  test('retryAfterMs', () => {
    expect(retryAfterMs(new RemoteError('rate_limited', 'x', { server: 's', retryAfterS: 3 }))).toBe(3000);
    expect(retryAfterMs(new RemoteError('network', 'x', { server: 's' }))).toBeUndefined();
    expect(retryAfterMs({ retryAfterS: 3 })).toBeUndefined();
  });

  test.each([
    { name: 'zero base', opts: { baseMs: 0 } },
    { name: 'cap below base', opts: { baseMs: 100, capMs: 50 } },
    { name: 'NaN cap', opts: { capMs: Number.NaN } },
  ])('rejects $name', ({ opts }) => {
    expect(() => new Backoff(opts)).toThrow(RangeError);
  });
});

describe('seededRandom', () => {
  test('uniform-ish in [0, 1)', () => {
    const r = seededRandom(SEED);
    const buckets = new Array<number>(10).fill(0);
    for (let i = 0; i < 10_000; i++) {
      const x = r();
      expect(x >= 0 && x < 1).toBe(true);
      buckets[Math.floor(x * 10)]!++;
    }
    for (const n of buckets) expect(n).toBeGreaterThan(800);
  });
});

describe('sleep', () => {
  test('rejects with the abort reason', async () => {
    const ac = new AbortController();
    const p = sleep(60_000, ac.signal);
    ac.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
  });

  test('an already aborted signal rejects at once', async () => {
    await expect(sleep(60_000, AbortSignal.abort())).rejects.toMatchObject({ name: 'AbortError' });
  });

  test('resolves', async () => {
    await expect(sleep(1)).resolves.toBeUndefined();
  });
});
