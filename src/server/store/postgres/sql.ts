// Every SQL statement of the PostgreSQL store. Parameters are positional;
// each statement's comment lists them.

import { ROOT_ID } from '../../../protocol/types.js';

export const NODE_COLS = 'id, parent, name, kind, rev, size, hash, target, mtime, exec, seq, deleted';
const NS_COLS = 'id, name, epoch, head, floor';

/**
 * The live children of `parentExpr` in namespace $1, for the recursive step
 * of a subtree walk. OFFSET 0 keeps the subquery from being merged into a
 * join: the planner would otherwise hash the whole namespace against the
 * walk's work table, reading every node per level (docs/server.md).
 */
const CHILDREN = (parentExpr: string, cols: string): string =>
  `SELECT ${cols} FROM nodes WHERE ns = $1 AND parent = ${parentExpr} AND deleted = 0 OFFSET 0`;

export const SQL = {
  metaGet: 'SELECT value FROM server_meta WHERE key = $1',
  /** $1 key, $2 value */
  metaSet: 'INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value RETURNING value',
  metaInit: 'INSERT INTO server_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',

  nsById: `SELECT ${NS_COLS} FROM namespaces WHERE id = $1`,
  nsAll: `SELECT ${NS_COLS} FROM namespaces ORDER BY name`,
  /** $1 name, $2 epoch, $3 created_at: the id, or no row when another process created it first */
  nsInsert: 'INSERT INTO namespaces (name, epoch, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING RETURNING id',
  nsByName: 'SELECT id FROM namespaces WHERE name = $1',
  nsLockAll: 'SELECT id, name FROM namespaces ORDER BY id FOR UPDATE',
  setEpoch: 'UPDATE namespaces SET epoch = $2 WHERE id = $1',
  /** the namespace's row lock and its next seq; every commit of the namespace, in any process, queues here */
  bumpHead: 'UPDATE namespaces SET head = head + 1 WHERE id = $1 RETURNING head',
  /** a slice's head, written once under the lock it took (commit.ts) */
  setHead: 'UPDATE namespaces SET head = $2 WHERE id = $1',
  nsLock: `SELECT ${NS_COLS} FROM namespaces WHERE id = $1 FOR UPDATE`,
  setFloor: 'UPDATE namespaces SET floor = $2 WHERE id = $1 AND floor < $2',
  /** $1 names[] */
  headsOf: 'SELECT name, head FROM namespaces WHERE name = ANY($1::text[])',

  deviceInsert: 'INSERT INTO devices (id, ns, label, token_hash, created_at) VALUES ($1, $2, $3, $4, $5)',
  blobsReferenced: `SELECT b.hash, b.size::float8 AS size, array_agg(n.name ORDER BY n.name) AS namespaces
                    FROM blob_refs b JOIN namespaces n ON n.id = b.ns GROUP BY b.hash, b.size ORDER BY b.hash COLLATE "C"`,
  deviceRevoke: 'UPDATE devices SET revoked = true WHERE id = $1 AND NOT revoked',
  /** $1 ids[]: those still live */
  devicesLive: 'SELECT id FROM devices WHERE id = ANY($1::text[]) AND NOT revoked',
  /** $1 ns: a new epoch renumbers history, positions recorded under the old one mean nothing */
  clearCursors: 'UPDATE devices SET cursor_seq = NULL WHERE ns = $1',
  auth: `SELECT d.id, d.label, d.token_hash, d.revoked, n.id AS ns, n.name
         FROM devices d JOIN namespaces n ON n.id = d.ns WHERE d.token_hash = $1`,
  devicesOf: `SELECT d.id, d.label, n.name AS namespace, d.created_at, d.cursor_seq, d.last_seen, d.revoked
              FROM devices d JOIN namespaces n ON n.id = d.ns WHERE d.ns = $1 ORDER BY d.created_at, d.id COLLATE "C"`,
  devicesAll: `SELECT d.id, d.label, n.name AS namespace, d.created_at, d.cursor_seq, d.last_seen, d.revoked
               FROM devices d JOIN namespaces n ON n.id = d.ns ORDER BY n.name, d.created_at, d.id COLLATE "C"`,
  /** $1 ids[], $2 last_seen[], $3 cursor_seq[] (null = keep) */
  activity: `UPDATE devices d SET last_seen = GREATEST(COALESCE(d.last_seen, 0), v.last_seen),
                                  cursor_seq = GREATEST(d.cursor_seq, v.cursor_seq)
             FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS v(id, last_seen, cursor_seq)
             WHERE d.id = v.id`,

  /**
   * The namespace state and one page of live nodes in ONE statement, hence one
   * snapshot: the page and the head it is pinned to agree.
   * $1 ns, $2 after id, $3 limit
   */
  listNodes: `SELECT s.id AS ns_id, s.name AS ns_name, s.epoch, s.head, s.floor, n.*
              FROM namespaces s
              LEFT JOIN LATERAL (
                SELECT ${NODE_COLS} FROM nodes
                WHERE nodes.ns = s.id AND deleted = 0 AND id > $2 ORDER BY id LIMIT $3
              ) n ON true
              WHERE s.id = $1 ORDER BY n.id`,
  /** the state and one page of entries in one snapshot. $1 ns, $2 after seq, $3 limit */
  changes: `SELECT s.id AS ns_id, s.name AS ns_name, s.epoch, s.head, s.floor, j.seq, j.entry
            FROM namespaces s
            LEFT JOIN LATERAL (
              SELECT seq, entry FROM journal WHERE journal.ns = s.id AND seq > $2 ORDER BY seq LIMIT $3
            ) j ON true
            WHERE s.id = $1 ORDER BY j.seq`,

  /**
   * Every fact an op needs (decide.ts), read in one statement AFTER the
   * namespace row lock was taken, so it sees every commit that came before.
   * $1 ns, $2 op_id, $3 node id, $4 parent id, $5 name key, $6 hash, $7 want the parent chain,
   * $8 want the highest seq below node $3 (a conditional directory delete),
   * $9 the depth past which chains are cut, $10 want the reach of node $3's subtree (a move)
   */
  facts: `WITH RECURSIVE up(id, b, d) AS (
            SELECT $4::text COLLATE "C", 0, 0 WHERE $7::boolean AND $4::text <> '${ROOT_ID}'
            UNION
            SELECT n.parent, octet_length(n.name), up.d + 1 FROM nodes n JOIN up ON n.ns = $1 AND n.id = up.id
            WHERE up.id <> '${ROOT_ID}' AND up.d < $9::int
          ),
          sub(id, seq) AS (
            SELECT id, seq FROM nodes WHERE $8::boolean AND ns = $1 AND parent = $3::text AND deleted = 0
            UNION ALL
            SELECT n.id, n.seq FROM sub CROSS JOIN LATERAL (${CHILDREN('sub.id', 'id, seq')}) n
          ),
          reach(id, d, b) AS (
            SELECT id, 1, 1 + octet_length(name) FROM nodes WHERE $10::boolean AND ns = $1 AND parent = $3::text AND deleted = 0
            UNION ALL
            SELECT n.id, reach.d + 1, reach.b + 1 + octet_length(n.name) FROM reach CROSS JOIN LATERAL (${CHILDREN('reach.id', 'id, name')}) n
            WHERE reach.d < $9::int
          )
          SELECT
            (SELECT result FROM op_results WHERE ns = $1 AND op_id = $2) AS prior,
            (SELECT row_to_json(x) FROM (SELECT ${NODE_COLS} FROM nodes WHERE ns = $1 AND id = $3::text) x) AS node,
            (SELECT row_to_json(x) FROM (SELECT ${NODE_COLS} FROM nodes WHERE ns = $1 AND id = $4::text) x) AS parent,
            (SELECT id FROM nodes WHERE ns = $1 AND parent = $4::text AND name_key = $5::text AND deleted = 0) AS sibling,
            (SELECT size FROM blob_refs WHERE ns = $1 AND hash = $6::text) AS blob_size,
            (SELECT array_agg(id ORDER BY d) FROM up WHERE id <> '${ROOT_ID}') AS chain,
            (SELECT coalesce(sum(b), 0)::float8 FROM up) AS chain_bytes,
            (SELECT coalesce(max(d), 0)::float8 FROM reach) AS reach_height,
            (SELECT coalesce(max(b), 0)::float8 FROM reach) AS reach_bytes,
            (SELECT coalesce(max(seq), 0)::float8 FROM sub) AS subtree_seq,
            (SELECT row_to_json(x) FROM (SELECT j.at, j.entry FROM journal j JOIN nodes n ON j.ns = n.ns AND j.seq = n.seq
                                         WHERE n.ns = $1 AND n.id = $3::text) x) AS prev_row`,

  /**
   * The write of a successful op, in one statement: the node (inserted or
   * updated), a directory delete's subtree tombstones, the journal entry and
   * the op result.
   * $1 ns, $2 id, $3 parent, $4 name, $5 name_key, $6 kind, $7 rev, $8 size, $9 hash, $10 target,
   * $11 mtime, $12 exec, $13 seq, $14 deleted, $15 at, $16 entry, $17 op_id, $18 result,
   * (writeChange only) $19 cascade, $20 prev (the pre-image entry), $21 prev_at.
   * Returns the seq once, or no row if the node was not updated. The subtree
   * is tombstoned by primary key (= ANY of its ids): a join with the walk
   * would let the planner hash the whole namespace.
   */
  writeCreate: `WITH
      n AS (INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, target, mtime, exec, seq, deleted)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)),
      j AS (INSERT INTO journal (ns, seq, at, entry, node, hash) VALUES ($1, $13, $15, $16, $2, $9))
    INSERT INTO op_results (ns, op_id, seq, result) VALUES ($1, $17, $13, $18) RETURNING seq`,
  writeChange: `WITH RECURSIVE
      n AS (UPDATE nodes SET parent = $3, name = $4, name_key = $5, rev = $7, size = $8, hash = $9, target = $10,
                             mtime = $11, exec = $12, seq = $13, deleted = $14
            WHERE ns = $1 AND id = $2 AND kind = $6 RETURNING 1),
      sub(id) AS (
        SELECT id FROM nodes WHERE $19::boolean AND ns = $1 AND parent = $2 AND deleted = 0
        UNION SELECT c.id FROM sub CROSS JOIN LATERAL (${CHILDREN('sub.id', 'id')}) c),
      t AS (UPDATE nodes SET deleted = $13 WHERE ns = $1 AND id = ANY (ARRAY(SELECT id FROM sub))),
      j AS (INSERT INTO journal (ns, seq, at, entry, node, hash, prev, prev_at) VALUES ($1, $13, $15, $16, $2, $9, $20::text, $21::bigint))
    INSERT INTO op_results (ns, op_id, seq, result) SELECT $1, $17, $13, $18 FROM n RETURNING seq`,

  blobGet: 'SELECT size FROM blob_refs WHERE ns = $1 AND hash = $2',
  blobInsert: 'INSERT INTO blob_refs (ns, hash, size, at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING',

  // in seq order from the floor (the primary key), `at` only filtered: as on SQLite (statements.ts)
  firstRecent: 'SELECT seq FROM journal WHERE ns = $1 AND seq >= $2 AND at + 0 >= $3 ORDER BY seq LIMIT 1',
  // the first entry of the version period, through journal_at: as on SQLite (statements.ts `firstSince`)
  firstSince: 'SELECT min(seq) AS seq FROM journal WHERE ns = $1 AND at >= $2',
  minSeq: 'SELECT min(seq) AS lo FROM journal WHERE ns = $1',
  journalPurge: 'DELETE FROM journal WHERE ns = $1 AND seq >= $2 AND seq < $3',
  opResultsPurge: 'DELETE FROM op_results WHERE ns = $1 AND seq >= $2 AND seq < $3',
  /** $1 ns, $2 node id */
  nodeHistory: 'SELECT seq, at, entry, prev, prev_at AS "prevAt" FROM journal WHERE ns = $1 AND node = $2 AND seq < $3 ORDER BY seq DESC LIMIT $4',
  /** $1 ns, $2 after seq, $3 limit */
  historyAfter: 'SELECT seq, at, entry, prev, prev_at AS "prevAt" FROM journal WHERE ns = $1 AND seq > $2 ORDER BY seq LIMIT $3',
  /** $1 ns, $2 before seq, $3 limit */
  historyBefore: 'SELECT seq, at, entry, prev, prev_at AS "prevAt" FROM journal WHERE ns = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3',
  allNodes: `SELECT ${NODE_COLS} FROM nodes WHERE ns = $1`,
  /** $1 ns, $2 time */
  seqAt: 'SELECT max(seq) AS seq FROM journal WHERE ns = $1 AND at <= $2',
  historyStart: 'SELECT coalesce((SELECT min(seq) FROM journal WHERE ns = $1), (SELECT head + 1 FROM namespaces WHERE id = $1)) AS lo',
  retainedHashes: `SELECT hash FROM nodes WHERE hash IS NOT NULL
                   UNION SELECT hash FROM journal WHERE hash IS NOT NULL
                   UNION SELECT prev::json->'node'->>'hash' FROM journal WHERE prev IS NOT NULL AND prev::json->'node'->>'hash' IS NOT NULL`,
  tombstonePurge: 'DELETE FROM nodes WHERE ns = $1 AND deleted >= $2 AND deleted < $3 AND deleted <> 0',
} as const;
