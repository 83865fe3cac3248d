// The outbox: one op_id per intent (an op the executor is about to send), so
// a commit retried after a crash or a lost reply carries the same op_id and
// the server applies it once.

import type { StateStore } from './store.js';

export class Outbox {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  /** The intent's op_id: the stored one, or `make()`'s, stored first. */
  opIdFor(intent: string, make: () => string): string {
    const row = this.#s.stmt('SELECT op_id FROM outbox WHERE intent = ?').get(intent) as { op_id: string } | undefined;
    if (row) return row.op_id;
    const opId = make();
    this.#s.stmt('INSERT INTO outbox (intent, op_id, created_at) VALUES (?, ?, ?)').run(intent, opId, Date.now());
    return opId;
  }

  clearIntent(intent: string): void {
    this.#s.stmt('DELETE FROM outbox WHERE intent = ?').run(intent);
  }

  /** Nothing is in flight (the plan is empty): every intent's outcome is known. */
  clearAllIntents(): void {
    this.#s.stmt('DELETE FROM outbox').run();
  }

  outboxCount(): number {
    return (this.#s.stmt('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }
}
