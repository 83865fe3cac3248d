// collectGarbage: a full GC without `node --expose-gc`, leaving no `gc` behind.

import { describe, expect, it } from 'vitest';
import { collectGarbage } from '../../../../src/client/agent/memory.js';

describe('collectGarbage', () => {
  it('collects what nothing references any more, and exposes no global gc', async () => {
    let big: number[][] | null = Array.from({ length: 200 }, () => new Array(10_000).fill(1.5));
    const ref = new WeakRef(big);
    big = null;
    await new Promise((r) => setImmediate(r)); // WeakRef targets live until the end of the job
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
    collectGarbage(); // again: the function is kept
  });
});
