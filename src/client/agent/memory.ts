// A full garbage collection on demand, for an agent that just let go of most
// of its heap (Engine: idle release). V8 would return that memory on its own
// only when its memory reducer happens to run: measured on an idle agent
// after a 100,000-file start, sometimes 15 s later, sometimes not within a
// minute, and then as a burst of CPU in the middle of idling.
//
// `gc` is V8's own extension (what `node --expose-gc` installs); the flag
// only decides whether new contexts get it, so it is switched on for the one
// context that hands the function over, then off again.

import { setFlagsFromString } from 'node:v8';
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
