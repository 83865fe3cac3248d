// Runs a stepped computation of src/core (a generator that yields between
// slices) to its end at once: how the tests call what the server drives a
// turn of the event loop at a time (src/server/slices.ts).

export function runSteps<R>(steps: Generator<void, R>): R {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}
