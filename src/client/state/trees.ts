// The three trees of the state DB (DESIGN.md "Client: the state DB"):
// Remote (the server's tree as of our cursor), Synced (the merge base) and
// Local (the folder at the last scan), plus the plan memo, which describes
// the three together and so is dropped by every write to any of them.

import type { SyncedNode, SyncedTree } from '../../core/associate.js';
import type { LocalEntry, LocalTree } from '../../core/local.js';
import type { Seeds, TreeIndex } from '../../core/plan/select.js';
import type { Tree, TreeNode } from '../../core/tree.js';
import type { NodeKind } from '../../protocol/types.js';
import type { StateStore } from './store.js';
import { TreeRows } from './tree-index.js';

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

/** A Remote row's columns besides its id: what the planner reads. */
const NODE_COLUMNS = ['parent', 'name', 'kind', 'rev', 'size', 'hash', 'mtime', 'exec', 'target'];

/** SQL true when any planner column differs between rows `a` and `b`. */
function differs(a: string, b: string): string {
  return NODE_COLUMNS.map((c) => `${a}.${c} IS NOT ${b}.${c}`).join(' OR ');
}

function nodeParams(n: TreeNode): Record<string, unknown> {
  return { id: n.id, parent: n.parent, name: n.name, kind: n.kind, rev: n.rev, size: n.size, hash: n.hash, mtime: Math.trunc(n.mtime), exec: n.exec ? 1 : 0, target: n.target };
}

export class Trees {
  readonly #s: StateStore;
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
  /** whether a plan base row exists, so that writes record their seeds (unknown after a failed transaction) */
  #base: 'unknown' | 'absent' | 'present' = 'unknown';
  /** tree rows read so far (whole loads and index lookups): tests check a cycle reads what changed, not the folder */
  rowsRead = 0;
  readonly #index: TreeRows;

  constructor(store: StateStore) {
    this.#s = store;
    this.#index = new TreeRows(store, (n) => { this.rowsRead += n; });
    store.onRollback(() => this.dropCaches());
  }

  dropCaches(): void {
    this.#remote = null;
    this.#synced = null;
    this.#local = null;
    this.#memo = 'unknown'; // a rolled-back transaction may have restored it
    this.#base = 'unknown';
  }

  /** The trees read row by row through their indexes (for core/plan/select.ts). */
  get index(): TreeIndex {
    return this.#index;
  }

  /** the rows behind `index`, with the first plan's counts (tree-index.ts) */
  get rows(): TreeRows {
    return this.#index;
  }

  /**
   * What setPlanMemo stored, if no tree changed since. The engine stores a
   * key of the planner's other inputs (rules, version) when a plan over the
   * trees came out empty, and skips loading and planning while it holds.
   */
  planMemo(): string | null {
    const row = this.#s.stmt('SELECT memo FROM plan_memo WHERE one = 1').get() as { memo: string } | undefined;
    this.#memo = row ? 'present' : 'absent';
    return row?.memo ?? null;
  }

  setPlanMemo(memo: string): void {
    this.#s.stmt('INSERT INTO plan_memo (one, memo) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET memo = excluded.memo').run(memo);
    this.#memo = 'present';
  }

  /**
   * The plan base (migration 005): the memo key of the last empty plan,
   * kept across tree writes, and how many seeds (written ids and paths,
   * and what was unsettled then) have gathered since.
   */
  planBase(): { memo: string; seeds: number } | null {
    const row = this.#s.stmt('SELECT memo FROM plan_base WHERE one = 1').get() as { memo: string } | undefined;
    this.#base = row ? 'present' : 'absent';
    if (!row) return null;
    return { memo: row.memo, seeds: (this.#s.stmt('SELECT count(*) AS n FROM plan_seeds').get() as { n: number }).n };
  }

  /** A new base: the trees as they are now, with what in them is unsettled. */
  setPlanBase(memo: string, unsettled: Seeds): void {
    this.#s.stmt('INSERT INTO plan_base (one, memo) VALUES (1, ?) ON CONFLICT(one) DO UPDATE SET memo = excluded.memo').run(memo);
    this.#s.stmt('DELETE FROM plan_seeds').run();
    this.#base = 'present';
    for (const id of unsettled.ids) this.#seed('id', id);
    for (const p of unsettled.paths) this.#seed('path', p);
  }

  planSeeds(): Seeds {
    const ids: string[] = [];
    const paths: string[] = [];
    for (const r of this.#rawRows('SELECT tree, key FROM plan_seeds')) (r[0] === 'id' ? ids : paths).push(r[1] as string);
    return { ids, paths };
  }

  #seed(tree: 'id' | 'path', key: string): void {
    this.#s.stmt('INSERT OR IGNORE INTO plan_seeds (tree, key) VALUES (?, ?)').run(tree, key);
  }

  /**
   * Every write to a tree calls this first: the memo no longer describes
   * the trees, and the node it writes is a seed of the next selection
   * (written before the row, so a crash between leaves a seed too many,
   * never one too few). A write no seed can describe drops the base.
   */
  #treesChange(seed: ['id' | 'path', string] | 'whole'): void {
    if (!this.#memoGone()) return;
    if (seed === 'whole') {
      this.#s.stmt('DELETE FROM plan_base').run();
      this.#s.stmt('DELETE FROM plan_seeds').run();
      this.#base = 'absent';
      return;
    }
    this.#seed(seed[0], seed[1]);
  }

  /**
   * A write of many rows at once that seeds still describe: `select` names
   * the ids it changes (`SELECT 'id', …`), and they become seeds inside
   * SQLite, never through JS (a reset of a 1,000,000-node folder seeds what
   * differs, not the folder).
   */
  #treesChangeBySql(select: string): void {
    if (this.#memoGone()) this.#s.stmt(`INSERT OR IGNORE INTO plan_seeds (tree, key) ${select}`).run();
  }

  /** Rows `fill` (an INSERT into temp.`table`) finds, for `use`; the table is empty again after. */
  #scratch<T>(table: string, columns: string, fill: string, use: () => T): T {
    this.#s.db.exec(`CREATE TEMP TABLE IF NOT EXISTS ${table} (${columns})`);
    this.#s.stmt(fill).run();
    try {
      return use();
    } finally {
      this.#s.stmt(`DELETE FROM temp.${table}`).run();
    }
  }

  /** The memo goes (it no longer describes the trees); true when there is a plan base to seed. */
  #memoGone(): boolean {
    if (this.#memo !== 'absent') {
      this.#s.stmt('DELETE FROM plan_memo').run();
      this.#memo = 'absent';
    }
    if (this.#base === 'unknown') this.#base = this.#s.stmt('SELECT 1 FROM plan_base').get() ? 'present' : 'absent';
    return this.#base === 'present';
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

  *#rawRows(sql: string): IterableIterator<unknown[]> {
    // iterated, not .all(): an .all() of a big tree left ~30 MiB in native memory for good
    for (const r of this.#s.stmt(sql).raw(true).iterate() as IterableIterator<unknown[]>) {
      this.rowsRead++;
      yield r;
    }
  }

  remoteRev(id: string): number | null {
    const r = this.#s.stmt('SELECT rev FROM remote WHERE id = ?').get(id) as { rev: number } | undefined;
    return r?.rev ?? null;
  }

  upsertRemote(n: TreeNode, seq: number): void {
    this.#treesChange(['id', n.id]);
    this.#s.stmt(`INSERT INTO remote (id, parent, name, kind, rev, size, hash, mtime, exec, target, seq)
      VALUES (@id, @parent, @name, @kind, @rev, @size, @hash, @mtime, @exec, @target, @seq)
      ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, name = excluded.name, kind = excluded.kind, rev = excluded.rev,
        size = excluded.size, hash = excluded.hash, mtime = excluded.mtime, exec = excluded.exec, target = excluded.target, seq = excluded.seq
      WHERE excluded.rev > remote.rev`).run({ ...nodeParams(n), seq });
    const had = this.#remote?.get(n.id);
    if (this.#remote && (!had || n.rev > had.rev)) this.#remote.set(n.id, normalized(n));
  }

  /** Removes a node and its whole subtree from Remote (a directory delete is one entry). */
  deleteRemoteSubtree(id: string): void {
    this.#treesChange(['id', id]);
    this.#s.stmt(`WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT r.id FROM remote r JOIN sub ON r.parent = sub.id)
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
    // found once (a walk of the whole tree), then seeded and deleted by id
    const fill = `WITH RECURSIVE live(id) AS (SELECT id FROM remote WHERE parent = 'root'
        UNION SELECT r.id FROM remote r JOIN live ON r.parent = live.id)
      INSERT INTO temp.remote_orphans SELECT id FROM remote WHERE id NOT IN (SELECT id FROM live)`;
    return this.#scratch('remote_orphans', 'id TEXT PRIMARY KEY', fill, () => {
      this.#treesChangeBySql("SELECT 'id', id FROM temp.remote_orphans");
      const pruned = this.#s.stmt('DELETE FROM remote WHERE id IN (SELECT id FROM temp.remote_orphans)').run().changes;
      if (pruned > 0) this.#remote = null;
      return pruned;
    });
  }

  replaceRemote(nodes: Iterable<TreeNode>): void {
    this.#treesChange('whole');
    this.#s.stmt('DELETE FROM remote').run();
    this.#remote = new Map();
    for (const n of nodes) this.upsertRemote(n, 0);
  }

  /** A listing starts: whatever an interrupted one staged goes. */
  startListing(): void {
    this.#s.stmt('DELETE FROM remote_listing').run();
  }

  /** One listing page, staged as it arrives (a node listed twice keeps its newer rev). */
  stageListing(nodes: Iterable<TreeNode>): void {
    const put = this.#s.stmt(`INSERT INTO remote_listing (id, parent, name, kind, rev, size, hash, mtime, exec, target)
      VALUES (@id, @parent, @name, @kind, @rev, @size, @hash, @mtime, @exec, @target)
      ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, name = excluded.name, kind = excluded.kind, rev = excluded.rev,
        size = excluded.size, hash = excluded.hash, mtime = excluded.mtime, exec = excluded.exec, target = excluded.target
      WHERE excluded.rev > remote_listing.rev`);
    for (const n of nodes) put.run(nodeParams(n));
  }

  /**
   * The staged listing becomes the Remote tree (inside the caller's
   * transaction, with the listing's cursor), in place: rows it drops are
   * deleted, rows it changes or adds (re)inserted, and the rest (after a
   * reset, nearly all of them) are not written at all. New rows go
   * in by parent: the server lists by id, which scatters a directory's
   * children over the whole table, and a selection reads a directory's
   * children together (one page read per child otherwise: ~10 µs a row
   * instead of ~2 at 30,000 files). A plan base survives it: every id whose
   * row the listing adds, drops or changes (in any column the planner reads)
   * is a seed, so the plan after a reset follows what changed, not the
   * folder (issue #17).
   */
  swapInListing(): void {
    const cols = ['id', ...NODE_COLUMNS].join(', ');
    if (this.#s.stmt('SELECT 1 FROM remote LIMIT 1').get() === undefined) {
      // a first listing (the big one): nothing to compare with, every listed id is new
      this.#treesChangeBySql("SELECT 'id', id FROM remote_listing");
      this.#s.stmt(`INSERT INTO remote (${cols}, seq) SELECT ${cols}, 0 FROM remote_listing ORDER BY parent, rowid`).run();
    } else {
      // what differs, found once: ids the listing adds or changes (gone = 0) or drops (gone = 1)
      const fill = `INSERT INTO temp.listing_diff SELECT l.id, 0 FROM remote_listing l LEFT JOIN remote r ON r.id = l.id WHERE r.id IS NULL OR ${differs('r', 'l')}
        UNION ALL SELECT r.id, 1 FROM remote r WHERE NOT EXISTS (SELECT 1 FROM remote_listing l WHERE l.id = r.id)`;
      this.#scratch('listing_diff', 'id TEXT PRIMARY KEY, gone INTEGER NOT NULL', fill, () => {
        this.#treesChangeBySql("SELECT 'id', id FROM temp.listing_diff");
        this.#s.stmt('DELETE FROM remote WHERE id IN (SELECT id FROM temp.listing_diff)').run();
        this.#s.stmt(`INSERT INTO remote (${cols}, seq) SELECT ${cols}, 0 FROM remote_listing
          WHERE id IN (SELECT id FROM temp.listing_diff WHERE gone = 0) ORDER BY parent, rowid`).run();
      });
    }
    this.#s.stmt('DELETE FROM remote_listing').run();
    this.#remote = null;
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
    this.#treesChange(['id', n.id]);
    this.#s.stmt(`INSERT INTO synced (id, parent, name, kind, rev, size, hash, mtime, exec, target, ino)
      VALUES (@id, @parent, @name, @kind, @rev, @size, @hash, @mtime, @exec, @target, @ino)
      ON CONFLICT(id) DO UPDATE SET parent = excluded.parent, name = excluded.name, kind = excluded.kind, rev = excluded.rev,
        size = excluded.size, hash = excluded.hash, mtime = excluded.mtime, exec = excluded.exec, target = excluded.target, ino = excluded.ino`)
      .run({ ...nodeParams(n), ino: n.ino });
    this.#synced?.set(n.id, normalizedSynced(n));
  }

  getSynced(id: string): SyncedNode | null {
    const r = this.#s.stmt('SELECT * FROM synced WHERE id = ?').get(id) as (RemoteRow & { ino: number | null }) | undefined;
    return r ? toSynced(r) : null;
  }

  deleteSynced(id: string): void {
    this.#treesChange(['id', id]);
    this.#s.stmt('DELETE FROM synced WHERE id = ?').run(id);
    this.#synced?.delete(id);
  }

  deleteSyncedSubtree(id: string): void {
    this.#treesChange(['id', id]);
    this.#s.stmt(`WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT s.id FROM synced s JOIN sub ON s.parent = sub.id)
      DELETE FROM synced WHERE id IN (SELECT id FROM sub)`).run(id);
    this.#synced = null;
  }

  /** Forgets the merge base entirely (after the server's history changed under us). */
  clearSynced(): void {
    this.#treesChange('whole');
    this.#s.stmt('DELETE FROM synced').run();
    this.#synced = null;
  }

  reparentSynced(from: string, to: string): void {
    this.#treesChange(['id', from]);
    this.#treesChange(['id', to]);
    this.#s.stmt('UPDATE synced SET parent = ? WHERE parent = ?').run(to, from);
    this.#synced = null;
  }

  syncedCount(): number {
    return (this.#s.stmt("SELECT count(*) AS n FROM synced WHERE kind != 'dir'").get() as { n: number }).n;
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

  /**
   * Writes an entry. Local stays a tree: a file or symlink takes the place of
   * whatever Local still held below its path (a directory the disk lost
   * before a scan saw it). Returns whether anything below went.
   */
  putLocal(e: LocalEntry): boolean {
    this.#treesChange(['path', e.diskPath]);
    this.#s.stmt(`INSERT INTO local (disk_path, path, kind, size, mtime_ms, ino, hash, exec, target)
      VALUES (@diskPath, @path, @kind, @size, @mtimeMs, @ino, @hash, @exec, @target)
      ON CONFLICT(disk_path) DO UPDATE SET path = excluded.path, kind = excluded.kind, size = excluded.size,
        mtime_ms = excluded.mtime_ms, ino = excluded.ino, hash = excluded.hash, exec = excluded.exec, target = excluded.target`)
      .run({ diskPath: e.diskPath, path: e.path, kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, hash: e.hash, exec: e.exec ? 1 : 0, target: e.target });
    this.#local?.set(e.diskPath, { ...e });
    if (e.kind === 'dir') return false;
    const below = e.diskPath + '/';
    if (this.#s.stmt('DELETE FROM local WHERE disk_path >= ? AND disk_path < ?').run(below, e.diskPath + '0').changes === 0) return false;
    if (this.#local) for (const k of this.#local.keys()) if (k.startsWith(below)) this.#local.delete(k);
    return true;
  }

  /**
   * A directory's new mtime, and nothing else about it (core/local.ts
   * `onlyDirMtimeMoved` says when): no plan reads it, so unlike every other
   * tree write this one leaves the plan memo and the plan base standing.
   */
  setLocalDirMtime(diskPath: string, mtimeMs: number): void {
    this.#s.stmt("UPDATE local SET mtime_ms = ? WHERE disk_path = ? AND kind = 'dir'").run(mtimeMs, diskPath);
    const e = this.#local?.get(diskPath);
    if (e?.kind === 'dir') this.#local!.set(diskPath, { ...e, mtimeMs });
  }

  /** Removes an entry and everything below it. */
  deleteLocalSubtree(diskPath: string): void {
    this.#treesChange(['path', diskPath]);
    this.#s.stmt("DELETE FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").run(diskPath, diskPath + '/', diskPath + '0');
    if (this.#local) {
      const below = diskPath + '/';
      for (const k of this.#local.keys()) if (k === diskPath || k.startsWith(below)) this.#local.delete(k);
    }
  }

  /** Renames an entry and everything below it (a directory move). */
  moveLocalSubtree(from: string, to: string, toNfc: string): void {
    this.#treesChange(['path', from]);
    this.#treesChange(['path', to]);
    const rows = this.#s.stmt("SELECT disk_path, path FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").all(from, from + '/', from + '0') as { disk_path: string; path: string }[];
    const fromNfc = rows.find((r) => r.disk_path === from)?.path ?? from.normalize('NFC');
    const upd = this.#s.stmt('UPDATE local SET disk_path = ?, path = ? WHERE disk_path = ?');
    this.#s.stmt("DELETE FROM local WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)").run(to, to + '/', to + '0');
    for (const r of rows) upd.run(to + r.disk_path.slice(from.length), toNfc + r.path.slice(fromNfc.length), r.disk_path);
    this.#local = null;
  }

  /**
   * The Local entries at these disk paths, below them and at every parent
   * of them: what a re-stat of watcher hints compares with, without the
   * rest of the tree.
   */
  localAround(paths: Iterable<string>): LocalTree {
    const t: LocalTree = new Map();
    const add = (e: LocalEntry | undefined) => { if (e) t.set(e.diskPath, e); };
    for (const p of paths) {
      for (let q = p; q !== ''; q = q.includes('/') ? q.slice(0, q.lastIndexOf('/')) : '') {
        if (t.has(q)) continue;
        add(this.#index.local(q)?.v);
      }
      for (const e of this.#index.localBelow(p)) add(e.v);
    }
    return t;
  }

  localCount(): number {
    return (this.#s.stmt("SELECT count(*) AS n FROM local WHERE kind != 'dir'").get() as { n: number }).n;
  }
}
