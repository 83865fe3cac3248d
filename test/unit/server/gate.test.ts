import { describe, expect, it } from 'vitest';
import { fairGate } from '../../../src/server/gate.js';

const full = (key: string): Error => new Error(`full: ${key}`);
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** calls that run until released, recording when each started */
function harness(g: ReturnType<typeof fairGate>) {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  const call = (key: string, name: string, fail = false): Promise<string> =>
    g(key, async () => {
      started.push(name);
      await new Promise<void>((r) => release.set(name, r));
      if (fail) throw new Error(name);
      return name;
    });
  return { started, done: (name: string) => release.get(name)!(), call };
}

describe('fairGate', () => {
  it('runs at most `total` at once, the others in arrival order, and passes results and errors through', async () => {
    const g = fairGate({ total: 2, perKey: 2, maxWaiting: 10, full });
    const h = harness(g);
    const calls = ['a', 'b', 'c', 'd'].map((n) => h.call('ns', n, n === 'c'));
    const settled = Promise.allSettled(calls); // handled from the start: c rejects before the end
    await tick();
    expect(h.started).toEqual(['a', 'b']);
    h.done('a');
    await tick();
    expect(h.started).toEqual(['a', 'b', 'c']);
    h.done('c');
    h.done('b');
    await tick();
    h.done('d');
    const out = await settled;
    expect(out.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual(['a', 'b', 'c', 'd']);
    expect(await g('ns', async () => 'again')).toBe('again'); // the slots are free again
  });

  it('one key never holds more than `perKey` slots: another key starts at once beside its long calls', async () => {
    const g = fairGate({ total: 4, perKey: 2, maxWaiting: 10, full });
    const h = harness(g);
    for (const n of ['h1', 'h2', 'h3', 'h4', 'h5']) void h.call('hostile', n);
    await tick();
    expect(h.started).toEqual(['h1', 'h2']);
    void h.call('other', 'o1');
    void h.call('other', 'o2');
    await tick();
    expect(h.started).toEqual(['h1', 'h2', 'o1', 'o2']);
  });

  it('a freed slot goes to the first waiter whose key is below `perKey`, past a queue of the busy key', async () => {
    const g = fairGate({ total: 3, perKey: 2, maxWaiting: 10, full });
    const h = harness(g);
    void h.call('a', 'a1');
    void h.call('a', 'a2');
    void h.call('b', 'b1');
    void h.call('a', 'a3'); // waits: total reached (and a at its share)
    void h.call('b', 'b2'); // waits: total reached
    await tick();
    expect(h.started).toEqual(['a1', 'a2', 'b1']);
    h.done('b1');
    await tick();
    expect(h.started).toEqual(['a1', 'a2', 'b1', 'b2']); // not a3: a holds its two already
    h.done('a1');
    await tick();
    expect(h.started).toEqual(['a1', 'a2', 'b1', 'b2', 'a3']);
  });

  it('a key with `maxWaiting` calls waiting is refused with full(key); other keys are not', async () => {
    const g = fairGate({ total: 1, perKey: 1, maxWaiting: 2, full });
    const h = harness(g);
    void h.call('a', 'a1');
    void h.call('a', 'a2');
    void h.call('a', 'a3');
    await expect(h.call('a', 'a4')).rejects.toThrow('full: a');
    const b = h.call('b', 'b1'); // b waits (the one slot is a1's) but is not refused
    await tick();
    h.done('a1');
    await tick();
    expect(h.started).toEqual(['a1', 'a2']);
    h.done('a2');
    await tick();
    expect(h.started).toEqual(['a1', 'a2', 'a3']); // one slot: the waiters in arrival order
    h.done('a3');
    await tick();
    expect(h.started).toEqual(['a1', 'a2', 'a3', 'b1']);
    h.done('b1');
    expect(await b).toBe('b1');
    void h.call('a', 'a5'); // room again: not refused, and it runs
    await tick();
    expect(h.started.at(-1)).toBe('a5');
  });

  it('refuses a gate without slots', () => {
    expect(() => fairGate({ total: 0, perKey: 1, maxWaiting: 1, full })).toThrow(/at least 1 slot/);
    expect(() => fairGate({ total: 2, perKey: 0, maxWaiting: 1, full })).toThrow(/at least 1 slot/);
  });
});
