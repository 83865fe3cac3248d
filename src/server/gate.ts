// A concurrency gate: at most `n` calls run at once, the others wait their
// turn in arrival order. Pure (promises only): the server bounds the
// memory of its chunk assemblies with it.

/** Runs `fn` once fewer than `n` calls passed to the gate are running. */
export type Gate = <T>(fn: () => Promise<T>) => Promise<T>;

export function gate(n: number): Gate {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`a gate needs at least 1 slot, got ${n}`);
  let active = 0;
  const waiting: (() => void)[] = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    // a released slot is handed straight to the first waiter (active stays)
    if (active < n) active++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else active--;
    }
  };
}
