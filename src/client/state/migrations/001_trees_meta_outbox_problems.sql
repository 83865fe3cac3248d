-- The three trees, meta, outbox, problems, conflicts.
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE remote (
  id TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  rev INTEGER NOT NULL, size INTEGER, hash TEXT, mtime INTEGER NOT NULL,
  exec INTEGER NOT NULL, target TEXT, seq INTEGER NOT NULL
) STRICT;
CREATE INDEX remote_parent ON remote(parent);
CREATE TABLE synced (
  id TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  rev INTEGER NOT NULL, size INTEGER, hash TEXT, mtime INTEGER NOT NULL,
  exec INTEGER NOT NULL, target TEXT, ino INTEGER
) STRICT;
CREATE INDEX synced_parent ON synced(parent);
CREATE TABLE local (
  disk_path TEXT PRIMARY KEY, path TEXT NOT NULL, kind TEXT NOT NULL, size INTEGER,
  mtime_ms REAL NOT NULL, ino INTEGER NOT NULL, hash TEXT, exec INTEGER NOT NULL, target TEXT
) STRICT;
CREATE TABLE outbox (
  intent TEXT PRIMARY KEY, op_id TEXT NOT NULL, created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE problems (
  path TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL, at INTEGER NOT NULL,
  PRIMARY KEY (path, code)
) STRICT;
CREATE TABLE conflicts (
  path TEXT PRIMARY KEY, original TEXT NOT NULL, reason TEXT NOT NULL, at INTEGER NOT NULL
) STRICT;
