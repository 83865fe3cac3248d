// The hand-on of chunks a file holds more than once (transfer/recurring-chunks.ts).

import { describe, expect, it } from 'vitest';
import { isZero, RecurringChunks } from '../../../../src/client/transfer/recurring-chunks.js';

describe('isZero', () => {
  it('finds a single set byte anywhere, across its 64 KiB windows', () => {
    for (const size of [0, 1, 65_535, 65_536, 65_537, 300_000]) {
      const b = Buffer.alloc(size);
      expect(isZero(b)).toBe(true);
      for (const at of [0, size >> 1, size - 1]) {
        if (size === 0) continue;
        b[at] = 1;
        expect(isZero(b)).toBe(false);
        b[at] = 0;
      }
    }
  });
});

describe('RecurringChunks', () => {
  const chunks = ['a', 'b', 'a', 'c', 'b', 'a'].map((hash) => ({ hash, size: 4 }));

  it('later places get the first one’s bytes as a copy (not the buffer the first goes on with), zeros as "zero"', async () => {
    const r = new RecurringChunks(chunks, 1024);
    expect([0, 1, 2, 3, 4, 5].map((i) => r.isLater(i))).toEqual([false, false, true, false, true, true]);
    const a = Buffer.from('aaaa');
    r.first(0, a);
    r.first(1, Buffer.alloc(8));
    r.first(3, Buffer.from('cc')); // not recurring: nothing waits, nothing is held
    a.fill(0x7a); // the first place's buffer goes on (to the hasher): the copy must not follow it
    const got = await r.later(2);
    expect(got).toEqual(Buffer.from('aaaa'));
    expect(await r.later(4)).toBe('zero');
    await r.served(2);
    await r.served(4);
    expect(await r.later(5)).toEqual(Buffer.from('aaaa'));
    await r.served(5);
  });

  it('past the budget a later place gets null (it is got the usual way), and a served copy frees its room', async () => {
    const r = new RecurringChunks(['x', 'y', 'x', 'y', 'z', 'z'].map((hash) => ({ hash, size: 8 })), 10);
    r.first(0, Buffer.alloc(8, 1));
    r.first(1, Buffer.alloc(8, 2)); // 8 + 8 > 10
    expect(await r.later(2)).toEqual(Buffer.alloc(8, 1));
    expect(await r.later(3)).toBeNull();
    await r.served(2); // x's copy goes
    await r.served(3);
    r.first(4, Buffer.alloc(8, 3)); // fits again
    expect(await r.later(5)).toEqual(Buffer.alloc(8, 3));
  });

  it('one hash listed with two sizes (a lying server): nothing is handed on between them', () => {
    const r = new RecurringChunks([{ hash: 'h', size: 10 }, { hash: 'h', size: 20 }, { hash: 'h', size: 10 }], 1024);
    expect([0, 1, 2].map((i) => r.isLater(i))).toEqual([false, false, true]);
  });

  it('a first place that failed, or an abandoned assembly, never leaves a later place waiting', async () => {
    const r = new RecurringChunks(chunks, 1024);
    r.first(0, null);
    expect(await r.later(2)).toBeNull();
    const waiting = r.later(4);
    r.abandon();
    expect(await waiting).toBeNull();
  });
});
