// Work over a whole namespace (300,000 nodes and more) done a slice at a
// time, the event loop given a turn between slices, so that one tenant's
// big request never holds every other request up for long. The stepped
// computations themselves are pure (core/steps.ts).

import { setImmediate as yieldTurn } from 'node:timers/promises';
import { eachStep, SLICE, sortSteps } from '../core/steps.js';

/** Runs a stepped computation, a turn of the event loop between its steps. */
export async function drive<R>(steps: Generator<void, R>): Promise<R> {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
    await yieldTurn();
  }
}

/** Calls `fn` on each item, giving the event loop a turn every `slice` items. */
export function eachSliced<T>(items: Iterable<T>, fn: (item: T) => void, slice = SLICE): Promise<void> {
  return drive(eachStep(items, fn, slice));
}

/** `items` sorted like a stable `Array.prototype.sort`, into a new array, a turn of the event loop every `slice` items (core/steps.ts sortSteps). */
export function sortSliced<T>(items: readonly T[], cmp: (a: T, b: T) => number, slice = SLICE): Promise<T[]> {
  return drive(sortSteps(items, cmp, slice));
}
