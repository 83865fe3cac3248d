// Numbered schema migrations of the PostgreSQL store, the same tables as the
// SQLite store (../sqlite/migrations.ts) in PostgreSQL types. Kept as ordered
// strings so `tsc` carries them into dist/. Append only: never edit a
// migration that has shipped. Applied under an advisory lock, so several
// `syncd serve` processes starting at once migrate exactly once.
//
// Ids and name keys are `COLLATE "C"`: bytewise, like SQLite's BINARY, so
// keyset pages walk nodes in the same order on both stores.

import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { SyncdError } from '../../../protocol/errors.js';
import { transaction } from './pool.js';
import { SQL } from './sql.js';

export const MIGRATIONS: readonly string[] = [
  // 1: the journal store
  `
  CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );

  CREATE TABLE namespaces (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       TEXT COLLATE "C" NOT NULL UNIQUE,
    epoch      TEXT NOT NULL,
    head       BIGINT NOT NULL DEFAULT 0,
    floor      BIGINT NOT NULL DEFAULT 1,
    created_at BIGINT NOT NULL
  );

  -- deleted: 0 while live, else the seq that removed the node (a directory
  -- delete tombstones its subtree with the directory's seq).
  CREATE TABLE nodes (
    ns       BIGINT NOT NULL REFERENCES namespaces(id),
    id       TEXT COLLATE "C" NOT NULL,
    parent   TEXT COLLATE "C" NOT NULL,
    name     TEXT NOT NULL,
    name_key TEXT COLLATE "C" NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('file', 'dir', 'symlink')),
    rev      BIGINT NOT NULL,
    size     BIGINT,
    hash     TEXT,
    target   TEXT,
    mtime    BIGINT NOT NULL,
    exec     BOOLEAN NOT NULL,
    seq      BIGINT NOT NULL,
    deleted  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (ns, id)
  );
  CREATE UNIQUE INDEX nodes_live_name ON nodes (ns, parent, name_key) WHERE deleted = 0;
  CREATE INDEX nodes_live_parent ON nodes (ns, parent) WHERE deleted = 0;
  CREATE INDEX nodes_deleted ON nodes (ns, deleted) WHERE deleted <> 0;

  -- entry: the exact JSON of the wire entry, served without re-encoding
  CREATE TABLE journal (
    ns    BIGINT NOT NULL,
    seq   BIGINT NOT NULL,
    at    BIGINT NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (ns, seq)
  );

  CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    ns         BIGINT NOT NULL REFERENCES namespaces(id),
    label      TEXT NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    cursor_seq BIGINT,
    last_seen  BIGINT,
    revoked    BOOLEAN NOT NULL DEFAULT false
  );
  CREATE INDEX devices_ns ON devices (ns);

  -- only successful results: a failed op wrote nothing and is judged afresh.
  -- The primary key is what makes a retried op_id racing on two processes
  -- land once: the loser's insert fails and its retry replays the winner.
  CREATE TABLE op_results (
    ns     BIGINT NOT NULL,
    op_id  TEXT NOT NULL,
    seq    BIGINT NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (ns, op_id)
  );
  CREATE INDEX op_results_seq ON op_results (ns, seq);

  CREATE TABLE blob_refs (
    ns    BIGINT NOT NULL,
    hash  TEXT NOT NULL,
    size  BIGINT NOT NULL,
    at    BIGINT NOT NULL,
    PRIMARY KEY (ns, hash)
  );
  `,
  // 2: version history (docs/history.md), as in the SQLite store: each
  // journal row names its node and hash and carries its pre-image.
  `
  ALTER TABLE journal ADD COLUMN node TEXT COLLATE "C", ADD COLUMN hash TEXT, ADD COLUMN prev TEXT, ADD COLUMN prev_at BIGINT;
  UPDATE journal SET node = entry::json->'node'->>'id', hash = entry::json->'node'->>'hash';
  CREATE INDEX journal_node ON journal (ns, node, seq);
  CREATE INDEX journal_at ON journal (ns, at);
  `,
  // 3: the content layer. A file above the single-chunk size is stored as
  // an ordered list of chunks (file_chunks, server-wide: the list is a fact
  // about content, not about a namespace); who may read a chunk is still
  // blob_refs, per namespace. content_orphans remembers since when a stored
  // blob or chunk has been unreferenced, so the collector deletes it only
  // after a grace period (see src/server/gc.ts).
  `
  CREATE TABLE files (
    hash   TEXT PRIMARY KEY,
    size   BIGINT NOT NULL,
    chunks BIGINT NOT NULL
  );

  CREATE TABLE file_chunks (
    file  TEXT NOT NULL,
    idx   BIGINT NOT NULL,
    chunk TEXT NOT NULL,
    size  BIGINT NOT NULL,
    PRIMARY KEY (file, idx)
  );
  CREATE INDEX file_chunks_chunk ON file_chunks (chunk);
  -- "does any namespace still reference this hash" (the collector)
  CREATE INDEX blob_refs_hash ON blob_refs (hash);

  CREATE TABLE content_orphans (
    hash  TEXT PRIMARY KEY,
    since BIGINT NOT NULL
  );
  `,
  // 4: a big namespace (docs/server.md, "Indexes"). The PostgreSQL store
  // needed no new index: its subtree walks now look children up per parent
  // (sql.ts, CHILDREN) instead of joining with the whole namespace. What an
  // upgraded database needs is statistics for the planner to weigh those
  // plans with now, not at autovacuum's next visit; SQLite's migration 4
  // is the same fix for a planner that never gathers them.
  `
  ANALYZE nodes, journal, op_results, blob_refs;
  `,
];

/** Arbitrary but fixed: the advisory lock that serialises migrations of one database. */
const MIGRATION_LOCK = 0x73796e63; // "sync"

/** Brings the database to the newest schema under the advisory lock (refusing one newer than this code); makes sure it has a cursor key. */
export async function migrate(pool: pg.Pool): Promise<void> {
  await transaction(pool, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await c.query('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
    const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > MIGRATIONS.length) {
      throw new SyncdError('store_too_new', `the database schema (v${current}) is newer than this syncd (v${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      await c.query(MIGRATIONS[v]!);
      await c.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v + 1, Date.now()]);
    }
    await c.query(SQL.metaInit, ['cursor_key', randomBytes(32).toString('hex')]);
  });
}
