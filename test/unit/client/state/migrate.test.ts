import Database from 'better-sqlite3';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { migrate, orderMigrations, shippedMigrations } from '../../../../src/client/state/migrate.js';
import { StateDB } from '../../../../src/client/state/db.js';
import { fixtureCopy, tempDbFile } from './helpers.js';

describe('orderMigrations', () => {
  it.each([
    { desc: 'sorted by number, whatever the listing order', names: ['002_b.sql', '001_a.sql', '003_c.sql'], want: [1, 2, 3] },
    { desc: 'names that are not migrations are ignored', names: ['README.md', '001_a.sql', '1_short.sql', '002_b.sql.bak', '002_b.sql'], want: [1, 2] },
    { desc: 'no migrations at all', names: [], want: [] },
  ])('$desc', ({ names, want }) => {
    expect(orderMigrations(names).map((m) => m.version)).toEqual(want);
  });

  it.each([
    { desc: 'a gap (a missing file would skip schema)', names: ['001_a.sql', '003_c.sql'], bad: '003_c.sql' },
    { desc: 'not starting at 1', names: ['002_b.sql'], bad: '002_b.sql' },
    { desc: 'a number used twice', names: ['001_a.sql', '001_again.sql', '002_b.sql'], bad: '001_again.sql' },
  ])('refuses $desc', ({ names, bad }) => {
    expect(() => orderMigrations(names)).toThrow(new RegExp(`found ${bad}`));
  });
});

describe('migrate', () => {
  const raw = (file: string) => new Database(file);

  it('the shipped migrations are the .sql files beside the module, numbered from 1', () => {
    const ms = shippedMigrations();
    expect(ms.map((m) => m.version)).toEqual(ms.map((_, i) => i + 1));
    expect(ms[0]!.name).toBe('001_trees_meta_outbox_problems.sql');
    expect(ms.every((m) => /\b(CREATE|DELETE)\b/.test(m.sql))).toBe(true);
  });

  it('the build copies them into dist/ beside the compiled module', () => {
    const src = readdirSync(join(__dirname, '..', '..', '..', '..', 'src', 'client', 'state', 'migrations')).sort();
    const dist = readdirSync(join(__dirname, '..', '..', '..', '..', 'dist', 'client', 'state', 'migrations')).sort();
    expect(dist).toEqual(src);
  });

  it('a new DB gets every migration, and its version is the last one', () => {
    const file = tempDbFile();
    new StateDB(file).close();
    const db = raw(file);
    expect(db.pragma('user_version', { simple: true })).toBe(shippedMigrations().length);
    expect(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all().map((r) => (r as { name: string }).name))
      .toEqual(['chunk_files', 'chunk_spans', 'conflicts', 'local', 'meta', 'outbox', 'plan_base', 'plan_memo', 'plan_seeds', 'problems', 'remote', 'remote_listing', 'synced', 'trash']);
    db.close();
  });

  it('applies only what the DB lacks, one version at a time', () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncd-migrations-'));
    writeFileSync(join(dir, '001_a.sql'), 'CREATE TABLE a (x INTEGER) STRICT;');
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (x INTEGER) STRICT;');
    const db = new Database(':memory:');
    db.exec('CREATE TABLE a (x INTEGER) STRICT; PRAGMA user_version = 1;'); // 001 already applied
    migrate(db, shippedMigrations(dir));
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 1 });
    db.close();
  });

  it('reads the SQL only of what the DB lacks (a start with a current schema reads none)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncd-migrations-'));
    mkdirSync(join(dir, '001_a.sql')); // reading it would fail (EISDIR)
    writeFileSync(join(dir, '002_b.sql'), 'CREATE TABLE b (x INTEGER) STRICT;');
    const db = new Database(':memory:');
    db.exec('CREATE TABLE a (x INTEGER) STRICT; PRAGMA user_version = 1;'); // 001 already applied
    migrate(db, shippedMigrations(dir));
    expect(db.pragma('user_version', { simple: true })).toBe(2);
    expect(() => migrate(db, shippedMigrations(dir))).not.toThrow();
    db.close();
  });

  it('a failing migration leaves the DB at the version before it', () => {
    const db = new Database(':memory:');
    const ms = [{ version: 1, name: '001_a.sql', sql: 'CREATE TABLE a (x INTEGER) STRICT;' }, { version: 2, name: '002_bad.sql', sql: 'CREATE TABLE b (x INTEGER) STRICT; NOT SQL;' }];
    expect(() => migrate(db, ms)).toThrow();
    expect(db.pragma('user_version', { simple: true })).toBe(1);
    expect(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'b'").get()).toEqual({ n: 0 });
    db.close();
  });

  it('schema 6 drops the Local rows below a file or symlink (an older syncd could leave them, and no scan reaches them), and with them the plan memo and base', () => {
    const file = tempDbFile();
    const db = raw(file);
    migrate(db, shippedMigrations().slice(0, 5));
    const put = db.prepare('INSERT INTO local (disk_path, path, kind, size, mtime_ms, ino, hash, exec, target) VALUES (?, ?, ?, NULL, 1, ?, NULL, 0, NULL)');
    const rows: [string, string][] = [['a', 'symlink'], ['a/x', 'file'], ['a/d', 'dir'], ['a/d/y', 'file'], ['b', 'dir'], ['b/c', 'file'], ['b/e', 'dir'], ['b/e/g', 'file'], ['f', 'file'], ['f/z', 'file'], ['b0', 'file']];
    rows.forEach(([p, kind], i) => put.run(p, p, kind, i + 1));
    db.exec(`INSERT INTO plan_memo VALUES (1, 'm'); INSERT INTO plan_base VALUES (1, 'm'); INSERT INTO plan_seeds VALUES ('path', 'b/c')`);
    migrate(db);
    expect(db.prepare('SELECT disk_path FROM local ORDER BY disk_path').all().map((r) => (r as { disk_path: string }).disk_path)).toEqual(['a', 'b', 'b/c', 'b/e', 'b/e/g', 'b0', 'f']);
    expect(db.prepare('SELECT (SELECT count(*) FROM plan_memo) + (SELECT count(*) FROM plan_base) + (SELECT count(*) FROM plan_seeds) AS n').get()).toEqual({ n: 0 });
    db.close();
  });

  it('schema 6 keeps the plan memo of a Local that was a tree already', () => {
    const file = tempDbFile();
    const db = raw(file);
    migrate(db, shippedMigrations().slice(0, 5));
    db.exec(`INSERT INTO local VALUES ('d', 'd', 'dir', NULL, 1, 1, NULL, 0, NULL), ('d/f', 'd/f', 'file', 1, 1, 2, 'h', 0, NULL); INSERT INTO plan_memo VALUES (1, 'm')`);
    migrate(db);
    expect(db.prepare('SELECT count(*) AS n FROM local').get()).toEqual({ n: 2 });
    expect(db.prepare('SELECT memo FROM plan_memo').get()).toEqual({ memo: 'm' });
    db.close();
  });

  it('refuses a DB written by a newer syncd', () => {
    const file = tempDbFile();
    const db = raw(file);
    db.pragma(`user_version = ${shippedMigrations().length + 1}`);
    db.close();
    expect(() => new StateDB(file)).toThrow(expect.objectContaining({ code: 'state_db_too_new' }));
  });
});

// The fixtures were written by the StateDB before it was split (fixtures/state-db/README.md).
describe.each([
  { desc: 'schema 1 (before the plan memo)', fixture: 'schema-1.db', memo: null },
  { desc: 'schema 2', fixture: 'schema-2.db', memo: '["0.1.0",1,[],"laptop"]' },
])('an existing state DB at $desc opens with its data intact', ({ fixture, memo }) => {
  const open = () => new StateDB(fixtureCopy(fixture));

  it('is upgraded to the current schema', () => {
    const db = open();
    expect(db.db.pragma('user_version', { simple: true })).toBe(shippedMigrations().length);
    expect(db.planMemo()).toBe(memo);
    db.close();
  });

  it('keeps its meta, read through the typed keys', () => {
    const db = open();
    expect(db.meta.link()).toEqual({ server: 'http://127.0.0.1:7420', token: 'fixture-token', namespace: 'home', device: 'd_fixture', deviceLabel: 'laptop', folder: '/home/user/Sync', epoch: '3', cursor: 'c1.fixture', cursorSeq: 42 });
    const m = db.meta;
    expect([m.get('head_seq'), m.get('head_seen_at'), m.get('caught_up_at'), m.get('last_sync_at'), m.get('last_reset_at')]).toEqual([45, 1763700000000, 1763699000000, 1763700001000, 1763600000000]);
    expect([m.get('state'), m.get('pending'), m.get('paused'), m.get('pause_code'), m.get('allow_deletes'), m.get('distrust_synced')]).toEqual(['paused', 3, true, 'mass_delete', true, true]);
    expect([m.get('pause_reason'), m.get('pending_reset_reason'), m.get('last_reset_reason'), m.get('watch_warning')]).toEqual(['a pass would delete 80% of the files', 'reset: epoch', 'reset: expired', 'the OS refused more watches (inotify limit)']);
    expect(m.get('last_error')).toEqual({ code: 'network', message: 'connection refused', at: 1763700002000 });
    db.close();
  });

  it('keeps its three trees', () => {
    const db = open();
    expect(db.loadRemote()).toEqual(new Map([
      ['n_dir', { id: 'n_dir', parent: 'root', name: 'Docs', kind: 'dir', rev: 1, size: null, hash: null, mtime: 1763000000000, exec: false, target: null }],
      ['n_file', { id: 'n_file', parent: 'n_dir', name: 'Report é.pdf', kind: 'file', rev: 3, size: 1048576, hash: 'a'.repeat(64), mtime: 1763000000123, exec: true, target: null }],
      ['n_link', { id: 'n_link', parent: 'root', name: 'bin', kind: 'symlink', rev: 2, size: null, hash: null, mtime: 1763000000456, exec: false, target: 'tools/bin' }],
    ]));
    expect(db.remoteRev('n_link')).toBe(2);
    expect([...db.loadSynced().values()].map((n) => [n.id, n.rev, n.hash?.[0] ?? null, n.ino])).toEqual([['n_dir', 1, null, 1001], ['n_file', 2, 'b', 1002], ['n_link', 2, null, null]]);
    expect([...db.loadLocal().values()].map((e) => [e.diskPath, e.path, e.kind, e.size, e.mtimeMs, e.ino, e.exec, e.target])).toEqual([
      ['Docs', 'Docs', 'dir', null, 1763000000000.5, 1001, false, null],
      ['Docs/Report e\u0301.pdf', 'Docs/Report é.pdf', 'file', 2048, 1763000000999.25, 1002, true, null],
      ['bin', 'bin', 'symlink', null, 1763000000456, 1003, false, 'tools/bin'],
    ]);
    db.close();
  });

  it('keeps its outbox, problems and conflicts', () => {
    const db = open();
    expect(db.opIdFor('update:n_file:3', () => 'a new id')).toBe('5d0c4f0e-0000-4000-8000-000000000001');
    expect(db.outboxCount()).toBe(1);
    expect(db.problemsOf('plan')).toEqual([{ path: 'a/b', code: 'invalid_name', message: 'the name is not valid on the server' }]);
    expect(db.problemsOf('exec')).toEqual([{ path: 'Docs/x', code: 'changed_on_disk', message: 'changed while downloading' }]);
    expect(db.problemsOf('pull')).toEqual([{ path: '(server)', code: 'remote_orphan', message: 'orphans left out' }]);
    expect(db.conflicts().map(({ path, original, reason }) => ({ path, original, reason }))).toEqual([
      { path: 'Docs/Report (conflicted copy laptop 2025-11-21 100000).pdf', original: 'Docs/Report é.pdf', reason: 'both changed' },
    ]);
    db.close();
  });
});
