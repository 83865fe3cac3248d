import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eachStep, sortSteps } from '../../../src/core/steps.js';
import { runSteps } from '../../helpers/steps.js';

/** runs the steps, counting them */
function counted<R>(steps: Generator<void, R>): { value: R; steps: number } {
  let n = 0;
  for (;;) {
    const r = steps.next();
    if (r.done) return { value: r.value, steps: n };
    n++;
  }
}

describe('sortSteps', () => {
  it('sorts like a stable Array.prototype.sort, whatever the slice', () => {
    fc.assert(
      fc.property(fc.array(fc.record({ k: fc.integer({ min: 0, max: 20 }), i: fc.nat() })), fc.integer({ min: 1, max: 9 }), (items, slice) => {
        const cmp = (a: { k: number }, b: { k: number }): number => a.k - b.k;
        const want = [...items].sort(cmp);
        const got = runSteps(sortSteps(items, cmp, slice));
        expect(got).toEqual(want);
        // equal keys keep their order: the same objects in the same places
        got.forEach((x, j) => expect(x).toBe(want[j]));
      }),
      { numRuns: 300 },
    );
  });

  it('leaves its input alone and steps as it goes', () => {
    const items = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
    const copy = [...items];
    const r = counted(sortSteps(items, (a, b) => a - b, 100));
    expect(r.value).toEqual([...copy].sort((a, b) => a - b));
    expect(items).toEqual(copy);
    // a step per run of 100 sorted (10), and per 100 items placed while merging:
    // 1,000 in the first pass (runs of 200), 800 (400 + 400 + 200), 800 (800 + 200), 1,000
    expect(r.steps).toBe(10 + 36);
  });

  it('sorts nothing and one item', () => {
    expect(runSteps(sortSteps([], (a: number, b: number) => a - b))).toEqual([]);
    expect(runSteps(sortSteps([3], (a: number, b: number) => a - b))).toEqual([3]);
  });
});

describe('eachStep', () => {
  it('visits every item in order, a step every slice', () => {
    const seen: number[] = [];
    const r = counted(eachStep(new Set([5, 4, 3, 2, 1, 0, 9]), (x) => seen.push(x), 3));
    expect(seen).toEqual([5, 4, 3, 2, 1, 0, 9]);
    expect(r.steps).toBe(2);
  });
});
