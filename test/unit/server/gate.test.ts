import { describe, expect, it } from 'vitest';
import { gate } from '../../../src/server/gate.js';

describe('gate', () => {
  it('runs at most n at once, the others in arrival order, and passes results and errors through', async () => {
    const g = gate(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: (() => void)[] = [];
    const calls = Array.from({ length: 6 }, (_, i) => g(async () => {
      started.push(i);
      most = Math.max(most, ++running);
      await new Promise<void>((r) => releases.push(r));
      running--;
      if (i === 3) throw new Error('three');
      return i * 10;
    }));
    const settled = Promise.allSettled(calls); // handled from the start: call 3 rejects before the end
    for (let k = 0; k < 6; k++) {
      await new Promise((r) => setImmediate(r));
      expect(running).toBeLessThanOrEqual(2);
      releases.shift()!();
    }
    const out = await settled;
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5]);
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([0, 10, 20, 'three', 40, 50]);
    // the slots are free again
    expect(await g(async () => 'again')).toBe('again');
  });

  it('refuses a gate without slots', () => {
    expect(() => gate(0)).toThrow(/at least 1 slot/);
  });
});
