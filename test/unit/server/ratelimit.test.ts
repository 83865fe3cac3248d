import { describe, expect, it } from 'vitest';
import { RateLimiter, take } from '../../../src/server/ratelimit.js';

describe('token bucket', () => {
  const cases = [
    { desc: 'a fresh bucket allows its burst', spec: { rate: 1, burst: 3 }, at: [0, 0, 0], want: [null, null, null] },
    { desc: 'the request past the burst waits for a token', spec: { rate: 1, burst: 2 }, at: [0, 0, 0], want: [null, null, 1] },
    { desc: 'tokens refill at the rate', spec: { rate: 2, burst: 1 }, at: [0, 0, 500, 500], want: [null, 1, null, 1] },
    { desc: 'Retry-After rounds up to whole seconds', spec: { rate: 0.1, burst: 1 }, at: [0, 0], want: [null, 10] },
    { desc: 'refill never exceeds the burst', spec: { rate: 1, burst: 2 }, at: [0, 100_000, 100_000, 100_000], want: [null, null, null, 1] },
  ];
  for (const c of cases) {
    it(c.desc, () => {
      let b;
      const got: Array<number | null> = [];
      for (const t of c.at) {
        const step = take(b, c.spec, t);
        b = step.bucket;
        got.push(step.retryAfterS);
      }
      expect(got).toEqual(c.want);
    });
  }

  it('keys are independent and a zero rate is off', () => {
    const l = new RateLimiter({ rate: 1, burst: 1 });
    expect(l.check('a', 0)).toBe(null);
    expect(l.check('a', 0)).toBe(1);
    expect(l.check('b', 0)).toBe(null);
    const off = new RateLimiter({ rate: 0, burst: 1 });
    for (let i = 0; i < 100; i++) expect(off.check('a', 0)).toBe(null);
  });

  it('forgets buckets that refilled', () => {
    const l = new RateLimiter({ rate: 1, burst: 2 });
    for (let i = 0; i < 50; i++) l.check(`k${i}`, 0);
    l.check('late', 120_000);
    expect(l.size).toBe(1);
  });
});
