// Numbered schema migrations of the SQLite store. Kept as ordered strings in
// TypeScript (not .sql files) so `tsc` carries them into dist/. Append only:
// never edit a migration that has shipped.

import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { SyncdError } from '../../../protocol/errors.js';

export const MIGRATIONS: readonly string[] = [
  // 1: the journal store
  `
  CREATE TABLE server_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
  ) STRICT;

  CREATE TABLE namespaces (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    epoch      TEXT NOT NULL,
    head       INTEGER NOT NULL DEFAULT 0,
    floor      INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
  ) STRICT;

  -- deleted: 0 while live, else the seq that removed the node (a directory
  -- delete tombstones its subtree with the directory's seq).
  CREATE TABLE nodes (
    ns       INTEGER NOT NULL REFERENCES namespaces(id),
    id       TEXT NOT NULL,
    parent   TEXT NOT NULL,
    name     TEXT NOT NULL,
    name_key TEXT NOT NULL,
    kind     TEXT NOT NULL CHECK (kind IN ('file', 'dir', 'symlink')),
    rev      INTEGER NOT NULL,
    size     INTEGER,
    hash     TEXT,
    target   TEXT,
    mtime    INTEGER NOT NULL,
    exec     INTEGER NOT NULL,
    seq      INTEGER NOT NULL,
    deleted  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (ns, id)
  ) STRICT, WITHOUT ROWID;
  CREATE UNIQUE INDEX nodes_live_name ON nodes (ns, parent, name_key) WHERE deleted = 0;
  CREATE INDEX nodes_deleted ON nodes (ns, deleted) WHERE deleted <> 0;

  -- entry: the exact JSON of the wire entry, served without re-encoding
  CREATE TABLE journal (
    ns    INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    entry TEXT NOT NULL,
    PRIMARY KEY (ns, seq)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE devices (
    id         TEXT PRIMARY KEY,
    ns         INTEGER NOT NULL REFERENCES namespaces(id),
    label      TEXT NOT NULL,
    token_hash BLOB NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    cursor_seq INTEGER,
    last_seen  INTEGER,
    revoked    INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX devices_ns ON devices (ns);

  -- only successful results: a failed op wrote nothing and is judged afresh
  CREATE TABLE op_results (
    ns     INTEGER NOT NULL,
    op_id  TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    result TEXT NOT NULL,
    PRIMARY KEY (ns, op_id)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX op_results_seq ON op_results (ns, seq);

  CREATE TABLE blob_refs (
    ns    INTEGER NOT NULL,
    hash  TEXT NOT NULL,
    size  INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    PRIMARY KEY (ns, hash)
  ) STRICT, WITHOUT ROWID;
  `,
  // 2: version history (docs/history.md). Every journal row names its node
  // and hash (for a node's history and the blob GC's retained set) and
  // carries its pre-image: the entry that made the node's previous state
  // (prev, prev_at), so a past tree can be rebuilt from the rows after it
  // even once older rows are trimmed.
  `
  ALTER TABLE journal ADD COLUMN node TEXT;
  ALTER TABLE journal ADD COLUMN hash TEXT;
  ALTER TABLE journal ADD COLUMN prev TEXT;
  ALTER TABLE journal ADD COLUMN prev_at INTEGER;
  UPDATE journal SET node = json_extract(entry, '$.node.id'), hash = json_extract(entry, '$.node.hash');
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
    size   INTEGER NOT NULL,
    chunks INTEGER NOT NULL
  ) STRICT;

  CREATE TABLE file_chunks (
    file  TEXT NOT NULL,
    idx   INTEGER NOT NULL,
    chunk TEXT NOT NULL,
    size  INTEGER NOT NULL,
    PRIMARY KEY (file, idx)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX file_chunks_chunk ON file_chunks (chunk);
  -- "does any namespace still reference this hash" (the collector)
  CREATE INDEX blob_refs_hash ON blob_refs (hash);

  CREATE TABLE content_orphans (
    hash  TEXT PRIMARY KEY,
    since INTEGER NOT NULL
  ) STRICT;
  `,
  // 4: planner statistics for a big namespace (docs/server.md, "Indexes").
  // Without sqlite_stat1 SQLite guesses that `ns = ?` on a primary key is
  // selective and prefers it to a secondary index: a directory's children,
  // a node's history and the subtree walks of a directory delete or move
  // then read the whole namespace (per level). These fixed figures describe
  // one namespace of a million rows (ns selects them all; parent, node,
  // seq and hash are selective), so every hot statement takes its index
  // whatever the data. A later ANALYZE replaces them with measured ones.
  // `ANALYZE sqlite_schema` creates the table when missing, and reloads it.
  `
  ANALYZE sqlite_schema;
  DELETE FROM sqlite_stat1 WHERE tbl IN ('nodes', 'journal', 'op_results', 'blob_refs');
  INSERT INTO sqlite_stat1 (tbl, idx, stat) VALUES
    ('nodes', 'nodes', '1000000 1000000 1'),
    ('nodes', 'nodes_live_name', '1000000 1000000 20 1'),
    ('nodes', 'nodes_deleted', '100000 100000 10'),
    ('journal', 'journal', '1000000 1000000 1'),
    ('journal', 'journal_node', '1000000 1000000 4 1'),
    ('journal', 'journal_at', '1000000 1000000 2'),
    ('op_results', 'op_results', '1000000 1000000 1'),
    ('op_results', 'op_results_seq', '1000000 1000000 1'),
    ('blob_refs', 'blob_refs', '1000000 1000000 1'),
    ('blob_refs', 'blob_refs_hash', '1000000 1');
  ANALYZE sqlite_schema;
  `,
];

/** Brings a database to the newest schema (refusing one newer than this code) and makes sure it has a cursor key. */
export function migrate(db: Database.Database): void {
  const current = (): number => db.pragma('user_version', { simple: true }) as number;
  if (current() > MIGRATIONS.length) {
    throw new SyncdError('store_too_new', `the database schema (v${current()}) is newer than this syncd (v${MIGRATIONS.length})`);
  }
  db.transaction(() => {
    // re-read inside the write lock: another process may have migrated meanwhile
    for (let v = current(); v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
    db.prepare("INSERT INTO server_meta (key, value) VALUES ('cursor_key', ?) ON CONFLICT (key) DO NOTHING").run(
      randomBytes(32).toString('hex'),
    );
  }).immediate();
}
