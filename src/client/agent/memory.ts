// A full garbage collection on demand, for an agent that just let go of most
// of its heap (Engine: idle release). V8 would return that memory on its own
// only when its memory reducer happens to run: measured on an idle agent
// after a 100,000-file start, sometimes 15 s later, sometimes not within a
// minute, and then as a burst of CPU in the middle of idling.
//
// `gc` is V8's own extension (what `node --expose-gc` installs); the flag
// only decides whether new contexts get it, so it is switched on for the one
// context that hands the function over, then off again.

import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | null = null;

/** Runs a full, synchronous GC. */
export function collectGarbage(): void {
  if (!gc) {
    const g = (globalThis as { gc?: () => void }).gc;
    if (g) gc = g;
    else {
      setFlagsFromString('--expose-gc');
      try {
        gc = runInNewContext('gc') as () => void;
      } finally {
        setFlagsFromString('--no-expose-gc');
      }
    }
  }
  gc();
}

/** Heap growth past the last collection that makes collectGarbageIfGrown collect. */
const GROWTH_BYTES = 64 * 1024 * 1024;
/** the used heap after the last collection collectGarbageIfGrown made */
let usedAfter = 0;

/**
 * A full GC once the used heap has grown GROWTH_BYTES past what the last one
 * left, for a loop that drops most of what it built at each turn (the
 * batches of a plan): V8 would let the heap grow towards its limit (at
 * 300,000 files, batches of 20,000 nodes: 604 MiB), and a full GC after
 * every batch of 5,000 nodes cost ~20 % of a 100,000-file plan in batches
 * (docs/performance.md, session 15).
 */
export function collectGarbageIfGrown(): void {
  if (getHeapStatistics().used_heap_size < usedAfter + GROWTH_BYTES) return;
  collectGarbage();
  usedAfter = getHeapStatistics().used_heap_size;
}
