// A concurrency gate shared fairly by keys (namespaces). Pure (promises
// only): the server bounds with it the memory and the time that chunk
// assemblies and history requests hold, whatever one tenant asks for, and
// the SQLite store queues its snapshot reads (`gate`, one key).

/** Runs `fn` once fewer than `n` calls passed to the gate are running; the others wait in arrival order. */
export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

export function gate(n: number): Gate {
  const g = fairGate({ total: n, perKey: n, maxWaiting: Infinity, full: () => new Error('unreachable') });
  return (fn) => g('', fn);
}

/** Runs `fn` for `key` once a slot is free for it; see `fairGate`. */
export type FairGate = <T>(key: string, fn: () => Promise<T>) => Promise<T>;

/**
 * A gate shared by keys (namespaces): at most `total` calls run at once and
 * at most `perKey` of one key; a freed slot goes to the first waiter whose
 * key is below `perKey`, so one key's long calls and long queue never hold
 * another key up. A key that already has `maxWaiting` calls waiting gets
 * `full(key)` thrown instead of a place in the queue.
 */
export function fairGate(opts: { total: number; perKey: number; maxWaiting: number; full: (key: string) => Error }): FairGate {
  const { total, perKey, maxWaiting } = opts;
  if (!Number.isInteger(total) || total < 1 || !Number.isInteger(perKey) || perKey < 1) throw new RangeError(`a gate needs at least 1 slot, got ${total} (${perKey} per key)`);
  let active = 0;
  const running = new Map<string, number>();
  const waiting: { key: string; go: () => void }[] = [];
  const waitingOf = (key: string): number => waiting.reduce((n, w) => n + (w.key === key ? 1 : 0), 0);
  const free = (key: string): boolean => active < total && (running.get(key) ?? 0) < perKey;
  const enter = (key: string): void => {
    active++;
    running.set(key, (running.get(key) ?? 0) + 1);
  };
  const leave = (key: string): void => {
    active--;
    const n = (running.get(key) ?? 1) - 1;
    if (n > 0) running.set(key, n);
    else running.delete(key);
    const i = waiting.findIndex((w) => free(w.key));
    if (i < 0) return;
    const [next] = waiting.splice(i, 1);
    enter(next!.key);
    next!.go();
  };
  return async <T>(key: string, fn: () => Promise<T>): Promise<T> => {
    if (free(key)) enter(key);
    else {
      if (waitingOf(key) >= maxWaiting) throw opts.full(key);
      await new Promise<void>((go) => waiting.push({ key, go }));
    }
    try {
      return await fn();
    } finally {
      leave(key);
    }
  };
}
