-- Work that follows the change (issue #17): a cycle loads only the nodes
-- around what changed, through these indexes, instead of all three trees.
-- Local entries by directory: rtrim(p, replace(p, '/', '')) is p up to and
-- with its last "/" ('' at the top); queries spell the same expression.
CREATE INDEX local_dir ON local(rtrim(disk_path, replace(disk_path, '/', '')));
-- holders of an inode (hard links, moves, inode reuse) in Synced and Local
CREATE INDEX synced_ino ON synced(ino);
CREATE INDEX local_ino ON local(ino);
-- The plan base: the planner's inputs besides the trees (the memo's key)
-- as of the last empty plan. Unlike plan_memo it survives tree writes:
-- while it stands, plan_seeds holds every node id and local disk path
-- written since, plus what was unsettled then, and a plan over the nodes
-- around those equals a plan over the whole trees.
CREATE TABLE plan_base (
  one INTEGER PRIMARY KEY CHECK (one = 1), memo TEXT NOT NULL
) STRICT;
CREATE TABLE plan_seeds (
  tree TEXT NOT NULL CHECK (tree IN ('id', 'path')), key TEXT NOT NULL,
  PRIMARY KEY (tree, key)
) WITHOUT ROWID, STRICT;
-- A listing's pages land here as they arrive; the last one swaps it into
-- remote in one transaction (so a listing is never held in memory whole).
CREATE TABLE remote_listing (
  id TEXT PRIMARY KEY, parent TEXT NOT NULL, name TEXT NOT NULL, kind TEXT NOT NULL,
  rev INTEGER NOT NULL, size INTEGER, hash TEXT, mtime INTEGER NOT NULL,
  exec INTEGER NOT NULL, target TEXT
) STRICT;
