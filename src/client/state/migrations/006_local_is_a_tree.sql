-- Local is a tree: a file or symlink holds nothing below it (StateDB.putLocal
-- keeps it so). Before this schema a file or symlink placed where Local still
-- held a directory the disk had lost left that directory's entries below it,
-- and no scan walks below a non-directory, so they stayed for ever and the
-- planner kept trying to place them ("unsafe_path" problems, no convergence).
-- Those rows go (the disk cannot hold them: nothing lies below a file, and
-- syncd never follows a symlink); the chunk index drops its rows of paths
-- Local lacks at the next start; the plan memo and plan base go only if any
-- row went, so that the next plan covers the whole trees.
CREATE TEMP TABLE local_kept (disk_path TEXT PRIMARY KEY) WITHOUT ROWID;
WITH RECURSIVE reached(disk_path, kind) AS (
  SELECT disk_path, kind FROM local WHERE instr(disk_path, '/') = 0
  UNION ALL
  SELECT l.disk_path, l.kind FROM reached AS r
    JOIN local AS l ON rtrim(l.disk_path, replace(l.disk_path, '/', '')) = r.disk_path || '/'
    WHERE r.kind = 'dir'
)
INSERT INTO local_kept SELECT disk_path FROM reached;
CREATE TEMP TABLE local_gone AS SELECT disk_path FROM local WHERE disk_path NOT IN (SELECT disk_path FROM local_kept);
DELETE FROM local WHERE disk_path IN (SELECT disk_path FROM local_gone);
DELETE FROM plan_memo WHERE EXISTS (SELECT 1 FROM local_gone);
DELETE FROM plan_base WHERE EXISTS (SELECT 1 FROM local_gone);
DELETE FROM plan_seeds WHERE EXISTS (SELECT 1 FROM local_gone);
DROP TABLE local_kept;
DROP TABLE local_gone;
