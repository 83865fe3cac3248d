// Long pure computations (over a whole namespace) written as generators that
// yield every `slice` items: the caller decides what happens between two
// steps (the server gives the event loop a turn; a test runs them through).

/** items handled between two steps */
export const SLICE = 10_000;

/** Calls `fn` on each item, a step every `slice` items. */
export function* eachStep<T>(items: Iterable<T>, fn: (item: T) => void, slice = SLICE): Generator<void, void> {
  let n = 0;
  for (const item of items) {
    fn(item);
    if (++n % slice === 0) yield;
  }
}

/**
 * `items` sorted by `cmp` like a stable `Array.prototype.sort`, into a new
 * array: runs of `slice` items sorted, then merged pairwise, a step every
 * `slice` items placed.
 */
export function* sortSteps<T>(items: readonly T[], cmp: (a: T, b: T) => number, slice = SLICE): Generator<void, T[]> {
  let runs: T[][] = [];
  for (let i = 0; i < items.length; i += slice) {
    runs.push(items.slice(i, i + slice).sort(cmp));
    yield;
  }
  let placed = 0;
  while (runs.length > 1) {
    const next: T[][] = [];
    for (let r = 0; r < runs.length; r += 2) {
      const a = runs[r]!;
      const b = runs[r + 1];
      if (b === undefined) {
        next.push(a);
        continue;
      }
      const out = new Array<T>(a.length + b.length);
      let i = 0;
      let j = 0;
      for (let k = 0; k < out.length; k++) {
        // a's item first on a tie: stable
        out[k] = j >= b.length || (i < a.length && cmp(a[i]!, b[j]!) <= 0) ? a[i++]! : b[j++]!;
        if (++placed % slice === 0) yield;
      }
      next.push(out);
    }
    runs = next;
  }
  return runs[0] ?? [];
}
