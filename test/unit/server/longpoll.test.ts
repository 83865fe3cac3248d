// The hub with fake timers and a scripted random source: deterministic, no wall clock.

import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalBus } from '../../../src/server/bus.js';
import { LongpollHub } from '../../../src/server/longpoll.js';

let bus: LocalBus;
const head = (h: number) => async () => h;
const settled = <T,>(p: Promise<T>) => {
  const s: { value?: T } = {};
  void p.then((v) => (s.value = v));
  return s;
};

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'] });
  bus = new LocalBus();
});
afterEach(() => {
  vi.useRealTimers();
});

function hub(random = () => 0.5, opts: Partial<ConstructorParameters<typeof LongpollHub>[1]> = {}): LongpollHub {
  return new LongpollHub(bus, { spreadMaxMs: 1000, spreadPerWaiterMs: 0.1, maxWaiters: 100, random, ...opts });
}

describe('LongpollHub', () => {
  it('answers as soon as the head it reads after subscribing is past the cursor', async () => {
    const h = hub();
    expect(await h.wait('ns', 3, head(4), 30)).toEqual({ reply: { changes: true }, outcome: 'changes' });
    expect(h.size).toBe(0);
  });

  it('wakes a lone waiter with no spread', async () => {
    const h = hub();
    const s = settled(h.wait('ns', 3, head(3), 30));
    expect(h.size).toBe(1);
    bus.publish('ns', 4);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.value).toEqual({ reply: { changes: true }, outcome: 'changes' });
    expect(h.size).toBe(0);
    expect(bus.listenerCount('ns')).toBe(0);
  });

  it('ignores advances of other namespaces and heads not past the cursor', async () => {
    const h = hub();
    const s = settled(h.wait('ns', 5, head(5), 30));
    bus.publish('other', 99);
    bus.publish('ns', 5);
    await vi.advanceTimersByTimeAsync(10);
    expect(s.value).toBeUndefined();
    expect(h.size).toBe(1);
  });

  it('does not miss an advance that lands while the head is being read', async () => {
    const h = hub();
    let release!: (n: number) => void;
    // the store read is slow and returns the head from before the commit
    const slowRead = () => new Promise<number>((r) => (release = r));
    const s = settled(h.wait('ns', 1, slowRead, 30));
    bus.publish('ns', 2);
    release(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(s.value?.reply).toEqual({ changes: true });
  });

  it('times out between S and 1.1 × S, never before S', async () => {
    const h = hub(() => 0.999);
    const s = settled(h.wait('ns', 0, head(0), 10));
    await vi.advanceTimersByTimeAsync(9_999);
    expect(s.value).toBeUndefined();
    await vi.advanceTimersByTimeAsync(990);
    expect(s.value).toBeUndefined();
    await vi.advanceTimersByTimeAsync(20);
    expect(s.value).toEqual({ reply: { changes: false }, outcome: 'timeout' });
  });

  it('spreads a crowd: 0 for one, growing with the crowd, capped', () => {
    const h = hub();
    expect(h.spreadFor(1)).toBe(0);
    expect(h.spreadFor(11)).toBeCloseTo(1);
    expect(h.spreadFor(1001)).toBeCloseTo(100);
    expect(h.spreadFor(10_001)).toBe(1000);
    expect(h.spreadFor(1_000_000)).toBe(1000);
  });

  it('wakes a crowd of 3,000 within the spread window', async () => {
    let i = 0;
    const h = hub(() => (i++ % 100) / 100, { maxWaiters: 10_000 });
    const all = Array.from({ length: 3000 }, () => settled(h.wait('ns', 0, head(0), 60)));
    bus.publish('ns', 1);
    await vi.advanceTimersByTimeAsync(0);
    const early = all.filter((s) => s.value).length;
    expect(early).toBeGreaterThan(0);
    expect(early).toBeLessThan(3000);
    await vi.advanceTimersByTimeAsync(h.spreadFor(3000) + 1);
    expect(all.every((s) => s.value?.reply.changes === true)).toBe(true);
    expect(h.size).toBe(0);
  });

  it('answers backoff beyond maxWaiters, without holding the request', async () => {
    const h = hub(() => 0, { maxWaiters: 2 });
    void h.wait('ns', 0, head(0), 30);
    void h.wait('ns', 0, head(0), 30);
    expect((await h.wait('ns', 0, head(1), 30)).outcome).toBe('changes');
    const r = await h.wait('ns', 0, head(0), 30);
    expect(r.outcome).toBe('backoff');
    expect(r.reply.changes).toBe(false);
    expect(r.reply.backoff).toBeGreaterThanOrEqual(5);
    expect(h.size).toBe(2);
  });

  it('shutdown answers waiting ones with backoff, woken ones with changes, and refuses new waits', async () => {
    const h = hub(() => 0.9, { spreadMaxMs: 1000 });
    const a = settled(h.wait('x', 0, head(0), 30));
    const crowd = Array.from({ length: 50 }, () => settled(h.wait('y', 0, head(0), 30)));
    bus.publish('y', 1);
    h.shutdown();
    await vi.advanceTimersByTimeAsync(0);
    expect(a.value?.outcome).toBe('backoff');
    expect(a.value?.reply.backoff).toBeGreaterThanOrEqual(1);
    expect(crowd.every((s) => s.value?.reply.changes === true)).toBe(true);
    expect((await h.wait('x', 0, head(0), 30)).outcome).toBe('backoff');
    expect(h.size).toBe(0);
  });

  it('an aborted wait leaves the hub', async () => {
    const h = hub();
    const ac = new AbortController();
    const s = settled(h.wait('ns', 0, head(0), 30, ac.signal));
    ac.abort();
    await vi.advanceTimersByTimeAsync(0);
    expect(s.value).toBeDefined();
    expect(h.size).toBe(0);
    expect(bus.listenerCount('ns')).toBe(0);
  });

  const caps = [
    { desc: 'per device', opts: { maxPerDevice: 2 }, held: [['ns', 'd'], ['ns', 'd']], next: ['ns', 'd'], want: 'backoff' },
    { desc: 'per device leaves other devices alone', opts: { maxPerDevice: 2 }, held: [['ns', 'd'], ['ns', 'd']], next: ['ns', 'e'], want: 'waiting' },
    { desc: 'per namespace', opts: { maxPerNamespace: 2 }, held: [['ns', 'd'], ['ns', 'e']], next: ['ns', 'f'], want: 'backoff' },
    { desc: 'per namespace leaves other tenants alone', opts: { maxPerNamespace: 2 }, held: [['ns', 'd'], ['ns', 'e']], next: ['other', 'x'], want: 'waiting' },
  ];
  for (const c of caps) {
    it(`caps waiters ${c.desc}`, async () => {
      const h = hub(() => 0.5, c.opts);
      for (const [ns, dev] of c.held) void h.wait(ns!, 0, head(0), 30, undefined, dev);
      const s = settled(h.wait(c.next[0]!, 0, head(0), 30, undefined, c.next[1]));
      await vi.advanceTimersByTimeAsync(0);
      expect(s.value === undefined ? 'waiting' : s.value.outcome).toBe(c.want);
    });
  }

  it('ends the longpolls of revoked devices with outcome revoked', async () => {
    const h = hub();
    const gone = settled(h.wait('ns', 0, head(0), 30, undefined, 'gone'));
    const kept = settled(h.wait('ns', 0, head(0), 30, undefined, 'kept'));
    await vi.advanceTimersByTimeAsync(0);
    expect(h.devices().sort()).toEqual(['gone', 'kept']);
    expect(h.endDevices(['gone'])).toBe(1);
    await vi.advanceTimersByTimeAsync(0);
    expect(gone.value?.outcome).toBe('revoked');
    expect(kept.value).toBeUndefined();
    expect(h.devices()).toEqual(['kept']);
  });
});
