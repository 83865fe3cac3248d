// The hot statements of both stores use an index: no request reads a whole
// namespace (issue #17: a change costs the same in a 1,000,000-file folder
// as in a 100-file one). No timings: the planners' own plans are checked, so
// a statement or index change that brings back a namespace walk fails here.
//
// SQLite: EXPLAIN QUERY PLAN on a freshly migrated file. The store never
// runs ANALYZE, so these are the plans a server of any size runs (migration 4
// gives the planner fixed statistics). A namespace walk shows as `SCAN nodes`
// or as a SEARCH bounded by `ns=?` alone.
// PostgreSQL: EXPLAIN with enable_seqscan=off over an analyzed namespace of
// 20,000 nodes (its planner weighs real statistics); a walk shows as a Seq
// Scan or an index scan whose condition is only `ns = …`.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/server/store/sqlite/store.js';
import { prepare } from '../../src/server/store/sqlite/statements.js';
import { PostgresStore } from '../../src/server/store/postgres/store.js';
import { SQL } from '../../src/server/store/postgres/sql.js';
import { createTestDatabase, describePg, type TestDatabase } from '../helpers/pg.js';

/** the tables that grow with a namespace */
const BIG = ['nodes', 'journal', 'op_results', 'blob_refs'];

/** each hot statement, with the request that runs it and sample arguments */
const SQLITE_HOT: Array<{ name: string; why: string; args: unknown[] }> = [
  { name: 'listNodes', why: 'list page (keyset on id)', args: [1, 'n_a', 1000] },
  { name: 'changes', why: 'changes page', args: [1, 10, 1000] },
  { name: 'nsById', why: 'status, every read', args: [1] },
  { name: 'devicesOf', why: 'status', args: [1] },
  { name: 'opResultGet', why: 'commit: replay check', args: [1, 'op'] },
  { name: 'nodeGet', why: 'commit: node and parent', args: [1, 'n_a'] },
  { name: 'sibling', why: 'commit: name taken in a big directory', args: [1, 'n_p', 'k'] },
  { name: 'ancestry', why: 'commit: parent chain', args: [{ ns: 1, id: 'n_p', cap: 64 }] },
  { name: 'subtreeReach', why: 'commit: move of a directory', args: [{ ns: 1, id: 'n_d', cap: 64 }] },
  { name: 'subtreeSeq', why: 'commit: conditional directory delete', args: [{ ns: 1, id: 'n_d' }] },
  { name: 'cascade', why: 'commit: directory delete', args: [{ ns: 1, id: 'n_d', seq: 9 }] },
  { name: 'nodeUpdate', why: 'commit: write', args: [{ ns: 1, id: 'n_a', parent: 'n_p', name: 'a', name_key: 'a', kind: 'file', rev: 2, size: 1, hash: 'h', target: null, mtime: 1, exec: 0, seq: 9, deleted: 0 }] },
  { name: 'journalAtSeq', why: 'commit: pre-image', args: [1, 5] },
  { name: 'blobGet', why: 'commit: content readable', args: [1, 'h'] },
  { name: 'bumpHead', why: 'commit: next seq', args: [1] },
  { name: 'firstRecent', why: 'trim: age floor', args: [1, 5, 1000] },
  { name: 'minSeq', why: 'trim: lowest kept seq (min of the primary key)', args: [1] },
  { name: 'journalPurge', why: 'trim', args: [1, 0, 100] },
  { name: 'opResultsPurge', why: 'trim', args: [1, 0, 100] },
  { name: 'tombstonePurge', why: 'trim', args: [1, 0, 100] },
  { name: 'nodeHistory', why: 'history of one node', args: [1, 'n_a', 1_000_000, 1000] },
];

/** the plan lines that read a big table by nothing narrower than its namespace */
function sqliteWalks(plan: string[]): string[] {
  return plan.filter((line) => {
    const m = /^(SCAN|SEARCH) (\w+)(?: AS \w+)?\b(.*)$/.exec(line);
    if (!m) return false;
    const table = m[2]!;
    const isBig = BIG.includes(table) || table === 'n'; // n: the recursive walks' alias of nodes
    if (!isBig) return false;
    return m[1] === 'SCAN' || /\((ns=\?)\)$/.test(m[3]!);
  });
}

describe('SQLite query plans', () => {
  let dir: string;
  let db: Database.Database;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncd-plans-'));
    await new SqliteStore(join(dir, 'syncd.db')).close();
    db = new Database(join(dir, 'syncd.db'));
  });
  afterAll(async () => {
    db?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it.each(SQLITE_HOT)('$name ($why) uses an index, never a namespace walk', ({ name, args }) => {
    const stmt = (prepare(db) as unknown as Record<string, Database.Statement>)[name]!;
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${stmt.source}`).all(...args) as Array<{ detail: string }>).map((r) => r.detail);
    const walks = name === 'minSeq' ? plan.filter((l) => l.startsWith('SCAN')) : sqliteWalks(plan);
    expect(walks, plan.join('\n')).toEqual([]);
    expect(plan.length).toBeGreaterThan(0);
  });

  it('the walk detector itself flags a namespace walk', () => {
    expect(sqliteWalks(['SEARCH nodes USING PRIMARY KEY (ns=?)', 'SCAN journal', 'SEARCH n USING PRIMARY KEY (ns=?)'])).toHaveLength(3);
    expect(sqliteWalks(['SEARCH nodes USING INDEX nodes_live_name (ns=? AND parent=?)', 'SCAN sub'])).toEqual([]);
  });
});

const PG_HOT: Array<{ name: keyof typeof SQL; why: string; args: unknown[] }> = [
  { name: 'listNodes', why: 'list page (keyset on id)', args: [1, 'f_00100', 1000] },
  { name: 'changes', why: 'changes page', args: [1, 19_000, 1000] },
  { name: 'nsById', why: 'status', args: [1] },
  { name: 'devicesOf', why: 'status', args: [1] },
  { name: 'facts', why: 'commit: every fact of an op (move of a directory)', args: [1, 'op', 'd_007', 'd_003', 'k', 'h', true, false, 64, true] },
  { name: 'facts', why: 'commit: every fact of an op (conditional directory delete)', args: [1, 'op', 'd_007', 'root', 'k', 'h', false, true, 64, false] },
  { name: 'writeChange', why: 'commit: write, with a directory delete', args: [1, 'd_007', 'root', 'd', 'd', 'dir', 2, null, null, null, 1, false, 30_000, 30_000, 1, '{}', 'op', '{}', true, null, null] },
  { name: 'blobGet', why: 'commit: content readable', args: [1, 'h'] },
  { name: 'firstRecent', why: 'trim: age floor', args: [1, 19_000, 19_500] },
  { name: 'minSeq', why: 'trim: lowest kept seq', args: [1] },
  { name: 'journalPurge', why: 'trim', args: [1, 0, 100] },
  { name: 'opResultsPurge', why: 'trim', args: [1, 0, 100] },
  { name: 'tombstonePurge', why: 'trim', args: [1, 0, 100] },
  { name: 'nodeHistory', why: 'history of one node', args: [1, 'f_00100', 1_000_000, 1000] },
];

/** the scans of a big table by nothing narrower than its namespace */
function pgWalks(plan: string[]): string[] {
  const out: string[] = [];
  plan.forEach((line, i) => {
    const scan = /(Seq Scan|Index Scan|Index Only Scan|Bitmap Heap Scan|Bitmap Index Scan)(?: Backward)?(?: using (\w+))? on (\w+)/.exec(line);
    if (!scan) return;
    // a Bitmap Index Scan names its index after "on"; the others name the table
    const target = scan[3]!;
    const index = scan[2] ?? target;
    const big = BIG.includes(target) || BIG.some((t) => index.startsWith(`${t}_`));
    if (!big) return;
    if (scan[1] === 'Seq Scan') return void out.push(line);
    if (scan[1] === 'Bitmap Heap Scan') return; // its Bitmap Index Scan child is judged
    const cond = plan.slice(i + 1).find((l) => /^\s*(Index Cond|->)/.test(l)) ?? '';
    if (!cond.includes('Index Cond') || /Index Cond: \(ns = [^)]*\)\s*$/.test(cond)) out.push(`${line.trim()} / ${cond.trim()}`);
  });
  return out;
}

describePg('PostgreSQL query plans', () => {
  let tdb: TestDatabase;
  let c: pg.Client;
  beforeAll(async () => {
    tdb = await createTestDatabase();
    await (await PostgresStore.open(tdb.url, { max: 2 })).close();
    c = new pg.Client({ connectionString: tdb.url });
    await c.connect();
    // one namespace of 20,100 nodes: 100 directories of 200 files, a journal entry and an op result each
    await c.query(`INSERT INTO namespaces (name, epoch, head, created_at) VALUES ('big', 'e', 20100, 0)`);
    await c.query(`INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, mtime, exec, seq)
      SELECT 1, 'd_' || lpad(i::text, 3, '0'), 'root', 'd' || i, 'd' || i, 'dir', 1, 0, false, i FROM generate_series(1, 100) i`);
    await c.query(`INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, mtime, exec, seq)
      SELECT 1, 'f_' || lpad(i::text, 5, '0'), 'd_' || lpad((i % 100 + 1)::text, 3, '0'), 'f' || i, 'f' || i, 'file', 1, 1, md5(i::text), 0, false, 100 + i
      FROM generate_series(1, 20000) i`);
    await c.query(`INSERT INTO journal (ns, seq, at, entry, node, hash) SELECT 1, seq, seq, '{}', id, hash FROM nodes`);
    await c.query(`INSERT INTO op_results (ns, op_id, seq, result) SELECT 1, 'op' || seq, seq, '{}' FROM nodes`);
    await c.query(`INSERT INTO blob_refs (ns, hash, size, at) SELECT 1, hash, 1, 0 FROM nodes WHERE hash IS NOT NULL`);
    await c.query('ANALYZE');
    await c.query('SET enable_seqscan = off');
  });
  afterAll(async () => {
    await c?.end();
    await tdb?.drop();
  });

  it.each(PG_HOT)('$name ($why) uses an index, never a namespace walk', async ({ name, args }) => {
    const r = await c.query(`EXPLAIN ${SQL[name]}`, args);
    const plan = r.rows.map((x: Record<string, string>) => x['QUERY PLAN']!);
    if (process.env.SHOW_PLANS) console.log(name, plan.join('\n'));
    expect(pgWalks(plan), plan.join('\n')).toEqual([]);
  });

  it('the walk detector itself flags a namespace walk', () => {
    expect(pgWalks(['Seq Scan on nodes  (cost=1)'])).toHaveLength(1);
    expect(pgWalks(['->  Bitmap Index Scan on nodes_pkey  (cost=1)', "      Index Cond: (ns = '1'::bigint)"])).toHaveLength(1);
    expect(pgWalks(['->  Index Scan using nodes_live_parent on nodes c  (cost=1)', '      Index Cond: (ns = \'1\'::bigint)'])).toHaveLength(1);
    expect(pgWalks(['->  Index Scan using nodes_pkey on nodes  (cost=1)', "      Index Cond: ((ns = '1'::bigint) AND (id = 'x'::text))"])).toEqual([]);
  });
});
