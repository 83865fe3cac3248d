// The agent's state DB (DESIGN.md "Client: the state DB"): Remote, Local and
// Synced trees, meta, outbox, problems, conflicts. One SQLite file per
// folder, outside the folder. WAL; synchronous=FULL, so a transaction that
// moves the cursor or Synced is on disk when it returns.

import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { SyncedNode, SyncedTree } from '../../core/associate.js';
import type { LocalEntry, LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import type { Tree, TreeNode } from '../../core/tree.js';
import { SyncdError } from '../../protocol/errors.js';
import type { NodeKind } from '../../protocol/types.js';

type DB = Database.Database;

const MIGRATIONS: string[] = [
  // 1: the three trees, meta, outbox, problems, conflicts
  `
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
  `,
  // 2: the plan memo. A row says "the three trees as they are now planned to
  // nothing, with these rules"; every write to a tree deletes it first. A
  // syncd that predates it would not, so it must not open this DB: the
  // schema version fences it off.
  `
  CREATE TABLE plan_memo (
    one INTEGER PRIMARY KEY CHECK (one = 1), memo TEXT NOT NULL
  ) STRICT;
  `,
];

/** Who reported a problem: each scope is replaced as a whole by its next report. */
export type ProblemScope = 'plan' | 'exec' | 'pull' | 'scan';

export interface Meta {
  server: string;
  token: string;
  namespace: string;
  device: string;
  deviceLabel: string;
  folder: string;
  epoch: string;
  cursor: string | null;
  cursorSeq: number;
}

interface RemoteRow {
  id: string; parent: string; name: string; kind: string; rev: number; size: number | null;
  hash: string | null; mtime: number; exec: number; target: string | null;
}

// Synced nodes are built as literals, not as `{ ...node, ino }`: V8 gives
// each object made by that spread in a loop its own hidden class (measured:
// 100,000 Synced nodes took 73 MiB instead of 34).
function toSynced(r: RemoteRow & { ino: number | null }): SyncedNode {
  return { id: r.id, parent: r.parent, name: r.name, kind: r.kind as NodeKind, rev: r.rev, size: r.size, hash: r.hash, mtime: r.mtime, exec: r.exec === 1, target: r.target, ino: r.ino };
}

/** A Synced node as a DB round trip would give it back. */
function normalizedSynced(n: SyncedNode): SyncedNode {
  return { id: n.id, parent: n.parent, name: n.name, kind: n.kind, rev: n.rev, size: n.size, hash: n.hash, mtime: Math.trunc(n.mtime), exec: n.exec, target: n.target, ino: n.ino };
}

/** A node as a DB round trip would give it back. */
function normalized(n: TreeNode): TreeNode {
  return { id: n.id, parent: n.parent, name: n.name, kind: n.kind, rev: n.rev, size: n.size, hash: n.hash, mtime: Math.trunc(n.mtime), exec: n.exec, target: n.target };
}

function nodeParams(n: TreeNode): Record<string, unknown> {
  return { id: n.id, parent: n.parent, name: n.name, kind: n.kind, rev: n.rev, size: n.size, hash: n.hash, mtime: Math.trunc(n.mtime), exec: n.exec ? 1 : 0, target: n.target };
}

export class StateDB {
  readonly db: DB;
  readonly #stmts = new Map<string, Database.Statement>();
  // The loaders iterate rows instead of taking `.all()`: a 100,000-row
  // `.all()` grows the process's malloc heap by ~30 MiB that is never given
  // back (measured; iterating adds ~2 MiB), and an idle agent drops and
  // reloads its trees.
  // In-memory copies of the three trees, kept in step by the methods that
  // write their rows, so a plan round does not reload them. Anything that
  // is awkward to mirror (subtree operations) drops the copy, and so does a
  // failed transaction: the next load reads the DB again.
  #remote: Tree | null = null;
  #synced: SyncedTree | null = null;
  #local: LocalTree | null = null;
  /** whether a plan memo row may exist (unknown after a failed transaction) */
  #memo: 'unknown' | 'absent' | 'present' = 'unknown';

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    if (!opts.readonly) mkdirSync(dirname(file), { recursive: true });
    try {
      this.db = new Database(file, { readonly: opts.readonly ?? false, fileMustExist: opts.readonly ?? false, timeout: 5000 });
    } catch (err) {
      throw new SyncdError('state_db', `cannot open the state DB ${file}: ${(err as Error).message}`, {}, { cause: err });
    }
    if (!opts.readonly) {
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('synchronous = FULL');
      this.migrate();
    }
  }

  migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > MIGRATIONS.length) {
      throw new SyncdError('state_db_too_new', `the state DB was written by a newer syncd (schema ${version}); upgrade syncd`);
    }
    for (let v = version; v < MIGRATIONS.length; v++) {
      this.db.transaction(() => {
        this.db.exec(MIGRATIONS[v]!);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  stmt(sql: string): Database.Statement {
    let s = this.#stmts.get(sql);
    if (!s) this.#stmts.set(sql, (s = this.db.prepare(sql)));
    return s;
  }

  tx<T>(fn: () => T): T {
    try {
      return this.db.transaction(fn)();
    } catch (err) {
      this.dropCaches();
      throw err;
    }
  }

  /**
   * A transaction for what only describes the agent (state, pending counts,
   * problems, the plan memo): committed without waiting for the disk
   * (synchronous = NORMAL), as a power cut may lose it and nothing else.
   * The WAL keeps commit order, so a later FULL commit makes it durable too.
   * Inside another transaction it is part of that one.
   */
  lightTx<T>(fn: () => T): T {
    if (this.db.inTransaction) return fn();
    this.db.pragma('synchronous = NORMAL');
    try {
      return this.tx(fn);
    } finally {
      this.db.pragma('synchronous = FULL');
    }
  }

  dropCaches(): void {
    this.#remote = null;
    this.#synced = null;
    this.#local = null;
    this.#memo = 'unknown'; // a rolled-back transaction may have restored it
  }

  // ---- the plan memo -------------------------------------------------------

  /**
   * What setPlanMemo stored, if no tree changed since. The engine stores a
   * key of the planner's other inputs (rules, version) when a plan over the
   * trees came out empty, and skips loading and planning while it holds.
   */
  planMemo(): string | null {
    const row = this.stmt('SELECT memo FROM plan_memo WHERE one = 1').get() as { memo: string } | undefined;
    this.#memo = row ? 'present' : 'absent';
    return row?.memo ?? null;
  }

  setPlanMemo(memo: string): void {
    this.stmt('INSERT INTO plan_memo (one, memo) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET memo = excluded.memo').run(memo);
    this.#memo = 'present';
  }

  /** Every write to a tree calls this first: the memo no longer describes the trees. */
  #treesChange(): void {
    if (this.#memo === 'absent') return;
    this.stmt('DELETE FROM plan_memo').run();
    this.#memo = 'absent';
  }

  close(): void {
    this.db.close();
  }

  // ---- meta --------------------------------------------------------------

  get(key: string): string | null {
    const row = this.stmt('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  set(key: string, value: string | number | null): void {
    if (value === null) this.stmt('DELETE FROM meta WHERE key = ?').run(key);
    else this.stmt('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, String(value));
  }

  meta(): Meta {
    const server = this.get('server');
    if (!server) throw new SyncdError('not_linked', 'this folder is not linked to a server; run `syncd init DIR --server URL --token T`');
    return {
      server,
      token: this.get('token') ?? '',
      namespace: this.get('namespace') ?? '',
      device: this.get('device') ?? '',
      deviceLabel: this.get('device_label') ?? 'device',
      folder: this.get('folder') ?? '',
      epoch: this.get('epoch') ?? '',
      cursor: this.get('cursor'),
      cursorSeq: Number(this.get('cursor_seq') ?? '0'),
    };
  }

  // ---- Remote ------------------------------------------------------------

  /** The Remote tree (a shared, read-only view: do not mutate it). */
  loadRemote(): Tree {
    if (this.#remote) return this.#remote;
    const t: Tree = new Map();
    // rows as arrays: half the time of row objects for a big tree
    for (const r of this.#rawRows('SELECT id, parent, name, kind, rev, size, hash, mtime, exec, target FROM remote')) {
      const id = r[0] as string;
      t.set(id, { id, parent: r[1] as string, name: r[2] as string, kind: r[3] as NodeKind, rev: r[4] as number, size: r[5] as number | null, hash: r[6] as string | null, mtime: r[7] as number, exec: r[8] === 1, target: r[9] as string | null });
    }
    return (this.#remote = t);
  }

  #rawRows(sql: string): IterableIterator<unknown[]> {
    // iterated, not .all(): an .all() of a big tree left ~30 MiB in native memory for good
    return this.stmt(sql).raw(true).iterate() as IterableIterator<unknown[]>;
  }

  remoteRev(id: string): number | null {
    const r = this.stmt('SELECT rev FROM remote WHERE id = ?').get(id) as { rev: number } | undefined;
    return r?.rev ?? null;
  }

  upsertRemote(n: TreeNode, seq: number): void {
    this.#treesChange();
    this.stmt(`INSERT INTO remote (id, parent, name, kind, rev, size, hash, mtime, exec, target, seq)
      VALUES (@id, @parent, @name, @kind, @rev, @size, @hash, @mtime, @exec, @target, @seq)
      ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, name = excluded.name, kind = excluded.kind, rev = excluded.rev,
        size = excluded.size, hash = excluded.hash, mtime = excluded.mtime, exec = excluded.exec, target = excluded.target, seq = excluded.seq
      WHERE excluded.rev > remote.rev`).run({ ...nodeParams(n), seq });
    const had = this.#remote?.get(n.id);
    if (this.#remote && (!had || n.rev > had.rev)) this.#remote.set(n.id, normalized(n));
  }

  /** Removes a node and its whole subtree from Remote (a directory delete is one entry). */
  deleteRemoteSubtree(id: string): void {
    this.#treesChange();
    this.stmt(`WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT r.id FROM remote r JOIN sub ON r.parent = sub.id)
      DELETE FROM remote WHERE id IN (SELECT id FROM sub)`).run(id);
    this.#remote = null;
  }

  /**
   * Drops Remote nodes whose parent chain does not reach the root. A listing
   * is paged, not a snapshot: a directory deleted during the walk can leave
   * a child that the delete's single entry cannot reach. Run once the pull
   * after a listing has caught up with the head.
   */
  pruneRemoteOrphans(): number {
    this.#treesChange();
    const pruned = this.stmt(`WITH RECURSIVE live(id) AS (SELECT id FROM remote WHERE parent = 'root'
        UNION SELECT r.id FROM remote r JOIN live ON r.parent = live.id)
      DELETE FROM remote WHERE id NOT IN (SELECT id FROM live)`).run().changes;
    this.#remote = null;
    return pruned;
  }

  replaceRemote(nodes: Iterable<TreeNode>): void {
    this.#treesChange();
    this.stmt('DELETE FROM remote').run();
    this.#remote = new Map();
    for (const n of nodes) this.upsertRemote(n, 0);
  }

  // ---- Synced ------------------------------------------------------------

  /** The Synced tree (a shared, read-only view: do not mutate it). */
  loadSynced(): SyncedTree {
    if (this.#synced) return this.#synced;
    const t: SyncedTree = new Map();
    for (const r of this.#rawRows('SELECT id, parent, name, kind, rev, size, hash, mtime, exec, target, ino FROM synced')) {
      const id = r[0] as string;
      t.set(id, { id, parent: r[1] as string, name: r[2] as string, kind: r[3] as NodeKind, rev: r[4] as number, size: r[5] as number | null, hash: r[6] as string | null, mtime: r[7] as number, exec: r[8] === 1, target: r[9] as string | null, ino: r[10] as number | null });
    }
    return (this.#synced = t);
  }

  putSynced(n: SyncedNode): void {
    this.#treesChange();
    this.stmt(`INSERT INTO synced (id, parent, name, kind, rev, size, hash, mtime, exec, target, ino)
      VALUES (@id, @parent, @name, @kind, @rev, @size, @hash, @mtime, @exec, @target, @ino)
      ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, name = excluded.name, kind = excluded.kind, rev = excluded.rev,
        size = excluded.size, hash = excluded.hash, mtime = excluded.mtime, exec = excluded.exec, target = excluded.target, ino = excluded.ino`)
      .run({ ...nodeParams(n), ino: n.ino });
    this.#synced?.set(n.id, normalizedSynced(n));
  }

  getSynced(id: string): SyncedNode | null {
    const r = this.stmt('SELECT * FROM synced WHERE id = ?').get(id) as (RemoteRow & { ino: number | null }) | undefined;
    return r ? toSynced(r) : null;
  }

  deleteSynced(id: string): void {
    this.#treesChange();
    this.stmt('DELETE FROM synced WHERE id = ?').run(id);
    this.#synced?.delete(id);
  }

  deleteSyncedSubtree(id: string): void {
    this.#treesChange();
    this.stmt(`WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT s.id FROM synced s JOIN sub ON s.parent = sub.id)
      DELETE FROM synced WHERE id IN (SELECT id FROM sub)`).run(id);
    this.#synced = null;
  }

  /** Forgets the merge base entirely (after the server's history changed under us). */
  clearSynced(): void {
    this.#treesChange();
    this.stmt('DELETE FROM synced').run();
    this.#synced = null;
  }

  reparentSynced(from: string, to: string): void {
    this.#treesChange();
    this.stmt('UPDATE synced SET parent = ? WHERE parent = ?').run(to, from);
    this.#synced = null;
  }

  syncedCount(): number {
    return (this.stmt("SELECT count(*) AS n FROM synced WHERE kind != 'dir'").get() as { n: number }).n;
  }

  // ---- Local -------------------------------------------------------------

  /** The Local tree (a shared, read-only view: do not mutate it). */
  loadLocal(): LocalTree {
    if (this.#local) return this.#local;
    const t: LocalTree = new Map();
    for (const r of this.#rawRows('SELECT disk_path, path, kind, size, mtime_ms, ino, hash, exec, target FROM local')) {
      const diskPath = r[0] as string;
      t.set(diskPath, { path: r[1] as string, diskPath, kind: r[2] as NodeKind, size: r[3] as number | null, mtimeMs: r[4] as number, ino: r[5] as number, hash: r[6] as string | null, exec: r[7] === 1, target: r[8] as string | null });
    }
    return (this.#local = t);
  }

  putLocal(e: LocalEntry): void {
    this.#treesChange();
    this.stmt(`INSERT INTO local (disk_path, path, kind, size, mtime_ms, ino, hash, exec, target)
      VALUES (@diskPath, @path, @kind, @size, @mtimeMs, @ino, @hash, @exec, @target)
      ON CONFLICT(disk_path) DO UPDATE SET path = excluded.path, kind = excluded.kind, size = excluded.size,
        mtime_ms = excluded.mtime_ms, ino = excluded.ino, hash = excluded.hash, exec = excluded.exec, target = excluded.target`)
      .run({ diskPath: e.diskPath, path: e.path, kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, hash: e.hash, exec: e.exec ? 1 : 0, target: e.target });
    this.#local?.set(e.diskPath, { ...e });
  }

  /** Removes an entry and everything below it. */
  deleteLocalSubtree(diskPath: string): void {
    this.#treesChange();
    this.stmt("DELETE FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").run(diskPath, diskPath + '/', diskPath + '0');
    if (this.#local) {
      const below = diskPath + '/';
      for (const k of this.#local.keys()) if (k === diskPath || k.startsWith(below)) this.#local.delete(k);
    }
  }

  /** Renames an entry and everything below it (a directory move). */
  moveLocalSubtree(from: string, to: string, toNfc: string): void {
    this.#treesChange();
    const rows = this.stmt("SELECT disk_path, path FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").all(from, from + '/', from + '0') as { disk_path: string; path: string }[];
    const fromNfc = rows.find((r) => r.disk_path === from)?.path ?? from.normalize('NFC');
    const upd = this.stmt('UPDATE local SET disk_path = ?, path = ? WHERE disk_path = ?');
    this.stmt("DELETE FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").run(to, to + '/', to + '0');
    for (const r of rows) upd.run(to + r.disk_path.slice(from.length), toNfc + r.path.slice(fromNfc.length), r.disk_path);
    this.#local = null;
  }

  localCount(): number {
    return (this.stmt("SELECT count(*) AS n FROM local WHERE kind != 'dir'").get() as { n: number }).n;
  }

  // ---- outbox (op_id per intent, so a retried op is never applied twice) -----

  opIdFor(intent: string, make: () => string): string {
    const row = this.stmt('SELECT op_id FROM outbox WHERE intent = ?').get(intent) as { op_id: string } | undefined;
    if (row) return row.op_id;
    const opId = make();
    this.stmt('INSERT INTO outbox (intent, op_id, created_at) VALUES (?, ?, ?)').run(intent, opId, Date.now());
    return opId;
  }

  clearIntent(intent: string): void {
    this.stmt('DELETE FROM outbox WHERE intent = ?').run(intent);
  }

  /** Nothing is in flight (the plan is empty): every intent's outcome is known. */
  clearAllIntents(): void {
    this.stmt('DELETE FROM outbox').run();
  }

  outboxCount(): number {
    return (this.stmt('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
  }

  // ---- problems and conflicts ------------------------------------------

  setProblems(problems: PlanProblem[], scope: ProblemScope): void {
    this.tx(() => {
      this.stmt("DELETE FROM problems WHERE code LIKE ?").run(`${scope}:%`);
      for (const p of problems) {
        this.stmt('INSERT OR REPLACE INTO problems (path, code, message, at) VALUES (?, ?, ?, ?)').run(p.path, `${scope}:${p.code}`, p.message, Date.now());
      }
    });
  }

  /** One scope's problems, in the order they were reported. */
  problemsOf(scope: ProblemScope): PlanProblem[] {
    return (this.stmt('SELECT path, code, message FROM problems WHERE code LIKE ? ORDER BY rowid').all(`${scope}:%`) as PlanProblem[])
      .map((p) => ({ ...p, code: p.code.slice(scope.length + 1) }));
  }

  addProblem(p: PlanProblem, scope: ProblemScope = 'exec'): void {
    this.stmt('INSERT OR REPLACE INTO problems (path, code, message, at) VALUES (?, ?, ?, ?)').run(p.path, `${scope}:${p.code}`, p.message, Date.now());
  }

  problems(): (PlanProblem & { at: number })[] {
    return (this.stmt('SELECT path, code, message, at FROM problems ORDER BY at DESC').all() as (PlanProblem & { at: number })[]).map((p) => ({ ...p, code: p.code.replace(/^(plan|exec|pull|scan):/, '') }));
  }

  addConflict(path: string, original: string, reason: string): void {
    this.stmt('INSERT OR REPLACE INTO conflicts (path, original, reason, at) VALUES (?, ?, ?, ?)').run(path, original, reason, Date.now());
  }

  conflicts(): { path: string; original: string; reason: string; at: number }[] {
    return this.stmt('SELECT path, original, reason, at FROM conflicts ORDER BY at').all() as { path: string; original: string; reason: string; at: number }[];
  }

  removeConflict(path: string): void {
    this.stmt('DELETE FROM conflicts WHERE path = ?').run(path);
  }
}
