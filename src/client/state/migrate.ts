// Schema migrations: the numbered .sql files in ./migrations (NNN_what.sql),
// applied in order, each in its own transaction with SQLite's user_version
// set to its number. user_version is how every state DB ever written counts
// its schema, so an existing DB upgrades in place from where it stands.

import type Database from 'better-sqlite3';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';

interface Migration {
  version: number;
  name: string;
  sql: string;
}

const FILE = /^(\d{3})_[a-z0-9_]+\.sql$/;

/**
 * Orders migration file names by number and checks they run 1, 2, 3, …
 * without a gap or a repeat: a missing file would silently skip schema.
 * Other names are not migrations and are ignored.
 */
export function orderMigrations(names: readonly string[]): { version: number; name: string }[] {
  const found = names.flatMap((name) => {
    const m = FILE.exec(name);
    return m ? [{ version: Number(m[1]), name }] : [];
  }).sort((a, b) => a.version - b.version);
  found.forEach((m, i) => {
    if (m.version !== i + 1) throw new SyncdError('state_db', `state DB migrations must be numbered 1, 2, 3, … without gaps or repeats; found ${m.name} at position ${i + 1}`);
  });
  return found;
}

// Next to this module: src/ under the tests, dist/ once built (copied there by scripts/copy-assets.mjs).
const DIR = fileURLToPath(new URL('./migrations/', import.meta.url));
let cached: Migration[] | null = null;

/**
 * The migrations shipped with this syncd, listed once per process; a
 * file's SQL is read only when a DB needs it (a start with a current schema
 * reads none).
 */
export function shippedMigrations(dir = DIR): Migration[] {
  if (dir === DIR && cached) return cached;
  const list = orderMigrations(readdirSync(dir)).map((m): Migration => {
    let sql: string | null = null;
    return { ...m, get sql() { return (sql ??= readFileSync(join(dir, m.name), 'utf8')); } };
  });
  if (dir === DIR) cached = list;
  return list;
}

/** Brings the DB's schema up to the last migration; refuses a DB from a newer syncd. */
export function migrate(db: Database.Database, migrations: readonly Migration[] = shippedMigrations()): void {
  const version = db.pragma('user_version', { simple: true }) as number;
  if (version > migrations.length) {
    throw new SyncdError('state_db_too_new', `the state DB was written by a newer syncd (schema ${version}); upgrade syncd`);
  }
  for (const m of migrations.slice(version)) {
    db.transaction(() => {
      db.exec(m.sql);
      db.pragma(`user_version = ${m.version}`);
    })();
  }
}
