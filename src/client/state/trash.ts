// The local trash's index (migration 004): one row per file a remote change
// took off the disk into `.syncd-trash/`. The files themselves are moved by
// client/disk/trash.ts; this module only remembers them.

import type { TrashReason } from '../../core/policy/trash.js';
import type { StateStore } from './store.js';

export interface TrashEntry {
  id: number;
  /** where it was, relative to the folder */
  path: string;
  /** where it lies now, relative to the folder (under `.syncd-trash/`) */
  stored: string;
  /** ms since the epoch */
  deletedAt: number;
  size: number;
  /** SHA-256 hex when known */
  hash: string | null;
  kind: 'file' | 'symlink';
  reason: TrashReason;
}

const COLUMNS = 'id, path, stored, deleted_at AS deletedAt, size, hash, kind, reason';

export class TrashIndex {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  /** Inside the caller's transaction when there is one. */
  addTrash(e: Omit<TrashEntry, 'id'>): number {
    const r = this.#s.stmt('INSERT INTO trash (path, stored, deleted_at, size, hash, kind, reason) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(e.path, e.stored, e.deletedAt, e.size, e.hash, e.kind, e.reason);
    return Number(r.lastInsertRowid);
  }

  /** How much the trash holds, by one aggregate query (for `syncd status`). */
  trashSummary(): { files: number; bytes: number } {
    return this.#s.stmt('SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM trash').get() as { files: number; bytes: number };
  }

  /** Oldest first. */
  trashEntries(): TrashEntry[] {
    return this.#s.stmt(`SELECT ${COLUMNS} FROM trash ORDER BY deleted_at, id`).all() as TrashEntry[];
  }

  trashEntry(id: number): TrashEntry | null {
    return (this.#s.stmt(`SELECT ${COLUMNS} FROM trash WHERE id = ?`).get(id) as TrashEntry | undefined) ?? null;
  }

  /** The versions of one original path, newest first. */
  trashOf(path: string): TrashEntry[] {
    return this.#s.stmt(`SELECT ${COLUMNS} FROM trash WHERE path = ? ORDER BY deleted_at DESC, id DESC`).all(path) as TrashEntry[];
  }

  removeTrash(ids: readonly number[]): void {
    const del = this.#s.stmt('DELETE FROM trash WHERE id = ?');
    for (const id of ids) del.run(id);
  }
}
