// A namespace's whole node table for the version history (allNodes), read
// in pages on a second, read-only connection inside one read transaction:
// one consistent snapshot (WAL keeps it while commits go on), and the event
// loop is given back between pages, so a history request over a million
// nodes no longer stops every other tenant's requests for the seconds the
// read takes (300,000 nodes: 4.7 s in one `all()`). One read at a time on
// that connection; the callers queue.

import { setImmediate } from 'node:timers/promises';
import Database from 'better-sqlite3';
import { gate } from '../../gate.js';
import { NODE_COLS } from './statements.js';

/** rows per page: ~10–20 ms of the event loop */
const PAGE = 5_000;

export class SnapshotReader {
  readonly #file: string;
  #db: Database.Database | null = null;
  readonly #one = gate(1);

  constructor(file: string) {
    this.#file = file;
  }

  /** Every node row of namespace `ns`, as of one moment, each through `map` as its page arrives. */
  allNodes<R extends { id: string }, T>(ns: number, map: (row: R) => T): Promise<T[]> {
    return this.#one(async () => {
      const db = (this.#db ??= opened(this.#file));
      const page = db.prepare(`SELECT ${NODE_COLS} FROM nodes WHERE ns = ? AND id > ? ORDER BY id LIMIT ?`);
      const out: T[] = [];
      db.exec('BEGIN');
      try {
        for (let after = ''; ; ) {
          const rows = page.all(ns, after, PAGE) as R[];
          for (const r of rows) out.push(map(r));
          if (rows.length < PAGE) return out;
          after = rows[rows.length - 1]!.id;
          await setImmediate();
        }
      } finally {
        db.exec('COMMIT');
      }
    });
  }

  close(): void {
    this.#db?.close();
    this.#db = null;
  }
}

function opened(file: string): Database.Database {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  // a reader in WAL mode waits only while the WAL is being reset: not long
  db.pragma('busy_timeout = 10000');
  return db;
}
