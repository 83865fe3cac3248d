-- The local trash's index (docs/folder-modes.md "Local trash"): one row per
-- file a remote change (or a revert) took off the disk and moved into the
-- folder's `.syncd-trash/`. `stored` is where it lies now, relative to the
-- folder; `path` where it was.
CREATE TABLE trash (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL,
  stored TEXT NOT NULL UNIQUE,
  deleted_at INTEGER NOT NULL,
  size INTEGER NOT NULL,
  hash TEXT,
  kind TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX trash_path ON trash(path);
