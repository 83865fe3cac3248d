// The notifier: "namespace N advanced to seq S". Lossy by contract (the pull
// is authoritative), so a subscriber that misses one loses nothing. The
// in-process bus is the default; processes sharing a PostgreSQL store use
// bus/shared.ts, which carries advances between them over NATS (a subject
// per namespace) and PostgreSQL LISTEN/NOTIFY.

export type AdvanceListener = (head: number) => void;

export interface Notifier {
  publish(namespace: string, head: number): void;
  /** returns the unsubscribe function */
  subscribe(namespace: string, listener: AdvanceListener): () => void;
  close(): Promise<void>;
}

export class LocalBus implements Notifier {
  readonly #subs = new Map<string, Set<AdvanceListener>>();

  publish(namespace: string, head: number): void {
    const set = this.#subs.get(namespace);
    if (!set) return;
    for (const fn of [...set]) {
      try {
        fn(head);
      } catch {
        // a failing subscriber must not stop the others; it can only lose a wake
      }
    }
  }

  subscribe(namespace: string, listener: AdvanceListener): () => void {
    let set = this.#subs.get(namespace);
    if (!set) this.#subs.set(namespace, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#subs.get(namespace) === set) this.#subs.delete(namespace);
    };
  }

  /** namespaces with at least one subscriber */
  namespaces(): string[] {
    return [...this.#subs.keys()];
  }

  listenerCount(namespace: string): number {
    return this.#subs.get(namespace)?.size ?? 0;
  }

  async close(): Promise<void> {
    this.#subs.clear();
  }
}
