// The state DB's SQLite connection: opening (WAL, synchronous=FULL, schema
// migrated), prepared statements, and the two kinds of transaction. The
// tables' modules (trees, meta, outbox, problems, conflicts) all write
// through one StateStore, so one transaction can span them.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';
import { migrate } from './migrate.js';

/** WAL pages (4 KiB) between automatic checkpoints */
const WAL_CHECKPOINT_PAGES = 16384;

export class StateStore {
  readonly db: Database.Database;
  readonly #stmts = new Map<string, Database.Statement>();
  readonly #onRollback: (() => void)[] = [];

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    if (!opts.readonly) mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: 5000 });
    } catch (err) {
      throw new SyncdError('state_db', `cannot open the state DB ${file}: ${(err as Error).message}`, {}, { cause: err });
    }
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      // a checkpoint per 64 MiB of WAL, not per 4 MiB (SQLite's default): a
      // first mirror's rounds each rewrite thousands of index pages (random
      // ids), and copying them back to the main file after every commit cost
      // more than the commits themselves at 300,000 files; the WAL is cut back
      // to this size after each checkpoint
      this.db.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
      this.db.pragma(`journal_size_limit = ${WAL_CHECKPOINT_PAGES * 4096}`);
      migrate(this.db);
    }
  }

  stmt(sql: string): Database.Statement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  /** `fn` runs whenever a transaction fails: in-memory copies of rows may no longer match the DB. */
  onRollback(fn: () => void): void {
    this.#onRollback.push(fn);
  }

  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      for (const f of this.#onRollback) f();
      throw err;
    }
  }

  /**
   * A transaction for what only describes the agent (state, pending counts,
   * problems, the plan memo): committed without waiting for the disk
   * (synchronous = NORMAL), as a power cut may lose it and nothing else.
   * The WAL keeps commit order, so a later FULL commit makes it durable too.
   * Inside another transaction it is part of that one.
   */
  lightTx<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.tx(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  close(): void {
    this.db.close();
  }
}
