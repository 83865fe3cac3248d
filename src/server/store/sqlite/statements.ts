// Every SQL statement of the SQLite store, prepared once per connection.

import type Database from 'better-sqlite3';
import { ROOT_ID } from '../../../protocol/types.js';

export const NODE_COLS = 'id, parent, name, kind, rev, size, hash, target, mtime, exec, seq, deleted';

export type Statements = ReturnType<typeof prepare>;

/** a row of `nodes` as NODE_COLS reads it */
export interface NodeRow {
  id: string;
  parent: string;
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  rev: number;
  size: number | null;
  hash: string | null;
  target: string | null;
  mtime: number;
  exec: number;
  seq: number;
  deleted: number;
}

export function prepare(db: Database.Database) {
  return {
    metaGet: db.prepare('SELECT value FROM server_meta WHERE key = ?'),
    metaSet: db.prepare('INSERT INTO server_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
    nsByName: db.prepare('SELECT id FROM namespaces WHERE name = ?'),
    nsById: db.prepare('SELECT id, name, epoch, head, floor FROM namespaces WHERE id = ?'),
    nsAll: db.prepare('SELECT id, name, epoch, head, floor FROM namespaces ORDER BY name'),
    nsInsert: db.prepare('INSERT INTO namespaces (name, epoch, created_at) VALUES (?, ?, ?) RETURNING id'),
    setEpoch: db.prepare('UPDATE namespaces SET epoch = ? WHERE id = ?'),
    /** a new epoch renumbers history: positions recorded under the old one mean nothing */
    clearCursors: db.prepare('UPDATE devices SET cursor_seq = NULL WHERE ns = ?'),
    bumpHead: db.prepare('UPDATE namespaces SET head = head + 1 WHERE id = ? RETURNING head'),
    setFloor: db.prepare('UPDATE namespaces SET floor = @floor WHERE id = @id AND floor < @floor'),
    deviceInsert: db.prepare('INSERT INTO devices (id, ns, label, token_hash, created_at) VALUES (?, ?, ?, ?, ?)'),
    deviceRevoke: db.prepare('UPDATE devices SET revoked = 1 WHERE id = ? AND revoked = 0'),
    deviceRevoked: db.prepare('SELECT revoked FROM devices WHERE id = ?'),
    auth: db.prepare(
      'SELECT d.id, d.label, d.token_hash, d.revoked, n.id AS ns, n.name FROM devices d JOIN namespaces n ON n.id = d.ns WHERE d.token_hash = ?',
    ),
    devicesOf: db.prepare(
      'SELECT d.id, d.label, n.name AS namespace, d.created_at, d.cursor_seq, d.last_seen, d.revoked FROM devices d JOIN namespaces n ON n.id = d.ns WHERE d.ns = ? ORDER BY d.created_at, d.id',
    ),
    devicesAll: db.prepare(
      'SELECT d.id, d.label, n.name AS namespace, d.created_at, d.cursor_seq, d.last_seen, d.revoked FROM devices d JOIN namespaces n ON n.id = d.ns ORDER BY n.name, d.created_at, d.id',
    ),
    activity: db.prepare(
      'UPDATE devices SET last_seen = max(coalesce(last_seen, 0), @lastSeen), cursor_seq = CASE WHEN @cursorSeq IS NULL THEN cursor_seq WHEN cursor_seq IS NULL THEN @cursorSeq ELSE max(cursor_seq, @cursorSeq) END WHERE id = @id',
    ),
    nodeGet: db.prepare(`SELECT ${NODE_COLS} FROM nodes WHERE ns = ? AND id = ?`),
    sibling: db.prepare('SELECT id FROM nodes WHERE ns = ? AND parent = ? AND name_key = ? AND deleted = 0'),
    /** op.parent and its ancestors (id, name bytes), parent first; cut after @cap rows so a hostile chain costs little */
    ancestry: db.prepare(
      `WITH RECURSIVE up(id, parent, b, d) AS (
         SELECT id, parent, length(CAST(name AS BLOB)), 1 FROM nodes WHERE ns = @ns AND id = @id
         UNION ALL
         SELECT n.id, n.parent, length(CAST(n.name AS BLOB)), up.d + 1 FROM nodes n JOIN up ON n.ns = @ns AND n.id = up.parent
         WHERE up.parent <> '${ROOT_ID}' AND up.d < @cap)
       SELECT id, b FROM up ORDER BY d`,
    ),
    /** the height of a directory's live subtree and its longest relative path ("/x/y" bytes), cut at @cap levels */
    subtreeReach: db.prepare(
      `WITH RECURSIVE sub(id, d, b) AS (
         SELECT id, 1, 1 + length(CAST(name AS BLOB)) FROM nodes WHERE ns = @ns AND parent = @id AND deleted = 0
         UNION ALL
         SELECT n.id, sub.d + 1, sub.b + 1 + length(CAST(n.name AS BLOB)) FROM nodes n JOIN sub ON n.ns = @ns AND n.parent = sub.id AND n.deleted = 0
         WHERE sub.d < @cap)
       SELECT coalesce(max(d), 0) AS h, coalesce(max(b), 0) AS b FROM sub`,
    ),
    nodeInsert: db.prepare(
      `INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, target, mtime, exec, seq, deleted)
       VALUES (@ns, @id, @parent, @name, @name_key, @kind, @rev, @size, @hash, @target, @mtime, @exec, @seq, @deleted)`,
    ),
    nodeUpdate: db.prepare(
      `UPDATE nodes SET parent = @parent, name = @name, name_key = @name_key, rev = @rev, size = @size, hash = @hash,
       target = @target, mtime = @mtime, exec = @exec, seq = @seq, deleted = @deleted WHERE ns = @ns AND id = @id AND kind = @kind`,
    ),
    subtreeSeq: db.prepare(
      `WITH RECURSIVE sub(id, seq) AS (
         SELECT id, seq FROM nodes WHERE ns = @ns AND parent = @id AND deleted = 0
         UNION ALL SELECT n.id, n.seq FROM nodes n JOIN sub ON n.ns = @ns AND n.parent = sub.id AND n.deleted = 0)
       SELECT coalesce(max(seq), 0) AS m FROM sub`,
    ),
    cascade: db.prepare(
      `WITH RECURSIVE sub(id) AS (
         SELECT id FROM nodes WHERE ns = @ns AND parent = @id AND deleted = 0
         UNION SELECT n.id FROM nodes n JOIN sub ON n.ns = @ns AND n.parent = sub.id AND n.deleted = 0)
       UPDATE nodes SET deleted = @seq WHERE ns = @ns AND id IN (SELECT id FROM sub)`,
    ),
    listNodes: db.prepare(`SELECT ${NODE_COLS} FROM nodes WHERE ns = ? AND deleted = 0 AND id > ? ORDER BY id LIMIT ?`),
    changes: db.prepare('SELECT seq, entry FROM journal WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?'),
    journalInsert: db.prepare(
      'INSERT INTO journal (ns, seq, at, entry, node, hash, prev, prev_at) VALUES (@ns, @seq, @at, @entry, @node, @hash, @prev, @prevAt)',
    ),
    journalAtSeq: db.prepare('SELECT at, entry FROM journal WHERE ns = ? AND seq = ?'),
    // a negative LIMIT is none
    nodeHistory: db.prepare('SELECT seq, at, entry, prev, prev_at AS prevAt FROM journal WHERE ns = ? AND node = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
    historyAfter: db.prepare('SELECT seq, at, entry, prev, prev_at AS prevAt FROM journal WHERE ns = ? AND seq > ? ORDER BY seq LIMIT ?'),
    historyBefore: db.prepare('SELECT seq, at, entry, prev, prev_at AS prevAt FROM journal WHERE ns = ? AND seq < ? ORDER BY seq DESC LIMIT ?'),
    seqAt: db.prepare('SELECT max(seq) AS seq FROM journal WHERE ns = ? AND at <= ?'),
    retainedHashes: db.prepare(
      `SELECT hash FROM nodes WHERE hash IS NOT NULL
       UNION SELECT hash FROM journal WHERE hash IS NOT NULL
       UNION SELECT json_extract(prev, '$.node.hash') FROM journal WHERE prev IS NOT NULL AND json_extract(prev, '$.node.hash') IS NOT NULL`,
    ),
    opResultGet: db.prepare('SELECT result FROM op_results WHERE ns = ? AND op_id = ?'),
    opResultInsert: db.prepare('INSERT INTO op_results (ns, op_id, seq, result) VALUES (?, ?, ?, ?)'),
    blobsReferenced: db.prepare(
      'SELECT b.hash, b.size, group_concat(n.name) AS namespaces FROM blob_refs b JOIN namespaces n ON n.id = b.ns GROUP BY b.hash, b.size ORDER BY b.hash',
    ),
    blobGet: db.prepare('SELECT size FROM blob_refs WHERE ns = ? AND hash = ?'),
    blobInsert: db.prepare('INSERT INTO blob_refs (ns, hash, size, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    // the first entry from `floor` at or after a time: in seq order on the primary key, `at` only filtered
    // (`at + 0` keeps journal_at out). A trim keeps the floor near the age cutoff, so the first rows it reads
    // match; through journal_at it fetched and sorted every later entry (~0.5 s at 1,000,000 entries).
    firstRecent: db.prepare('SELECT seq FROM journal WHERE ns = ? AND seq >= ? AND at + 0 >= ? ORDER BY seq LIMIT 1'),
    // the first entry of the version period: through journal_at, the entries since the cutoff only (the rows
    // before it, back to the lowest kept one, can be months of history)
    firstSince: db.prepare('SELECT min(seq) AS seq FROM journal WHERE ns = ? AND at >= ?'),
    minSeq: db.prepare('SELECT min(seq) AS lo FROM journal WHERE ns = ?'),
    journalPurge: db.prepare('DELETE FROM journal WHERE ns = ? AND seq >= ? AND seq < ?'),
    opResultsPurge: db.prepare('DELETE FROM op_results WHERE ns = ? AND seq >= ? AND seq < ?'),
    tombstonePurge: db.prepare('DELETE FROM nodes WHERE ns = ? AND deleted >= ? AND deleted < ? AND deleted <> 0'),
  };
}
