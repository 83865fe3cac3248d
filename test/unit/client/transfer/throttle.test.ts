import { describe, expect, it } from 'vitest';
import { tokenBucket, unlimited } from '../../../../src/client/transfer/throttle.js';

describe('bandwidth throttle (token bucket)', () => {
  it('0 means unlimited', () => {
    expect(tokenBucket(0)).toBe(unlimited);
  });

  it('lets a second of budget through at once, then paces the rest', async () => {
    let clock = 0;
    const waits: number[] = [];
    const realSetTimeout = globalThis.setTimeout;
    // a fake clock: sleeping advances it
    globalThis.setTimeout = ((fn: () => void, ms: number) => {
      waits.push(ms);
      clock += ms;
      return realSetTimeout(fn, 0);
    }) as typeof setTimeout;
    try {
      const take = tokenBucket(1000, () => clock);
      await take(1000); // the initial bucket
      expect(clock).toBe(0);
      await take(500);
      await take(1500);
      // 2,000 more bytes at 1,000 B/s: about two seconds of waiting
      expect(clock).toBeGreaterThanOrEqual(2000);
      expect(clock).toBeLessThan(2100);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
  });
});
