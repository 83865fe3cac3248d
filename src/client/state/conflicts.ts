// The conflict log: each conflicted copy syncd made, until the user resolves
// it (`syncd conflicts`).

import type { StateStore } from './store.js';

export interface ConflictRecord {
  /** the conflicted copy */
  path: string;
  /** the path both sides changed */
  original: string;
  reason: string;
  at: number;
}

export class Conflicts {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  addConflict(path: string, original: string, reason: string): void {
    this.#s.stmt('INSERT OR REPLACE INTO conflicts (path, original, reason, at) VALUES (?, ?, ?, ?)').run(path, original, reason, Date.now());
  }

  conflicts(): ConflictRecord[] {
    return this.#s.stmt('SELECT path, original, reason, at FROM conflicts ORDER BY at').all() as ConflictRecord[];
  }

  removeConflict(path: string): void {
    this.#s.stmt('DELETE FROM conflicts WHERE path = ?').run(path);
  }
}
