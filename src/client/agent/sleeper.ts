// The watch loop's sleep: until a deadline, or until something wakes it
// (a watcher hint after a short coalescing delay, a pull request, an
// exclusion edit: all at once when the delay is 0).

export class Sleeper {
  /** wakes the current sleep after `delayMs` (a burst of hints within it becomes one cycle) */
  #wake: ((delayMs: number) => void) | null = null;

  /** Wakes the current sleep, if any, after `delayMs`. */
  wake(delayMs: number): void {
    this.#wake?.(delayMs);
  }

  /** Resolves after `ms`, when woken, or when `signal` aborts. */
  sleep(signal: AbortSignal, ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      let finished = false;
      let debounce: NodeJS.Timeout | null = null;
      const wake = (delayMs: number) => {
        if (delayMs <= 0) return done();
        if (!debounce) debounce = setTimeout(done, delayMs);
      };
      const done = () => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        if (debounce) clearTimeout(debounce);
        if (this.#wake === wake) this.#wake = null; // only our own hook: a newer sleep may own it
        signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      this.#wake = wake;
      signal.addEventListener('abort', done, { once: true });
    });
  }
}
