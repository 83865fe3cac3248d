// The three trees read through their indexes (migration 005), a few rows
// at a time: what core/plan/select.ts asks for when a cycle plans around
// what changed instead of loading the trees whole. Every row handed out is
// counted (Trees.rowsRead), so tests can check a cycle's reads follow the
// change, not the folder.

import type { SyncedNode } from '../../core/associate.js';
import type { LocalEntry } from '../../core/local.js';
import type { BatchIndex, BatchRows, TopEntry } from '../../core/plan/batches.js';
import type { Placed, TreeIndex } from '../../core/plan/select.js';
import type { TreeNode } from '../../core/tree.js';
import { LIMITS, ROOT_ID, type NodeKind } from '../../protocol/types.js';
import type { StateStore } from './store.js';

const NODE = 'rowid, id, parent, name, kind, rev, size, hash, mtime, exec, target';
const ENTRY = 'rowid, disk_path, path, kind, size, mtime_ms, ino, hash, exec, target';
/** a local row's directory as the local_dir index spells it: up to and with the last "/" */
const LOCAL_DIR = "rtrim(disk_path, replace(disk_path, '/', ''))";

function node(r: unknown[]): Placed<TreeNode> {
  return { at: r[0] as number, v: { id: r[1] as string, parent: r[2] as string, name: r[3] as string, kind: r[4] as NodeKind, rev: r[5] as number, size: r[6] as number | null, hash: r[7] as string | null, mtime: r[8] as number, exec: r[9] === 1, target: r[10] as string | null } };
}

function syncedNode(r: unknown[]): Placed<SyncedNode> {
  return { at: r[0] as number, v: { id: r[1] as string, parent: r[2] as string, name: r[3] as string, kind: r[4] as NodeKind, rev: r[5] as number, size: r[6] as number | null, hash: r[7] as string | null, mtime: r[8] as number, exec: r[9] === 1, target: r[10] as string | null, ino: r[11] as number | null } };
}

function entry(r: unknown[]): Placed<LocalEntry> {
  return { at: r[0] as number, v: { diskPath: r[1] as string, path: r[2] as string, kind: r[3] as NodeKind, size: r[4] as number | null, mtimeMs: r[5] as number, ino: r[6] as number, hash: r[7] as string | null, exec: r[8] === 1, target: r[9] as string | null } };
}

export class TreeRows implements TreeIndex, BatchIndex {
  readonly #s: StateStore;
  readonly #count: (n: number) => void;

  constructor(store: StateStore, count: (n: number) => void) {
    this.#s = store;
    this.#count = count;
  }

  #rows<T>(sql: string, make: (r: unknown[]) => T, ...params: unknown[]): T[] {
    const rows = this.#s.stmt(sql).raw(true).all(...params) as unknown[][];
    this.#count(rows.length);
    return rows.map(make);
  }

  remote(id: string): Placed<TreeNode> | undefined {
    return this.#rows(`SELECT ${NODE} FROM remote WHERE id = ?`, node, id)[0];
  }

  synced(id: string): Placed<SyncedNode> | undefined {
    return this.#rows(`SELECT ${NODE}, ino FROM synced WHERE id = ?`, syncedNode, id)[0];
  }

  remoteChildren(parent: string): Placed<TreeNode>[] {
    return this.#rows(`SELECT ${NODE} FROM remote WHERE parent = ?`, node, parent);
  }

  syncedChildren(parent: string): Placed<SyncedNode>[] {
    return this.#rows(`SELECT ${NODE}, ino FROM synced WHERE parent = ?`, syncedNode, parent);
  }

  local(diskPath: string): Placed<LocalEntry> | undefined {
    return this.#rows(`SELECT ${ENTRY} FROM local WHERE disk_path = ?`, entry, diskPath)[0];
  }

  localChildren(dir: string): Placed<LocalEntry>[] {
    return this.#rows(`SELECT ${ENTRY} FROM local WHERE ${LOCAL_DIR} = ?`, entry, dir === '' ? '' : dir + '/');
  }

  localBelow(dir: string): Placed<LocalEntry>[] {
    // "0" is the character after "/": the range is every path under dir/
    return this.#rows(`SELECT ${ENTRY} FROM local WHERE disk_path > ? AND disk_path < ?`, entry, dir + '/', dir + '0');
  }

  syncedByIno(ino: number): Placed<SyncedNode>[] {
    return this.#rows(`SELECT ${NODE}, ino FROM synced WHERE ino = ?`, syncedNode, ino);
  }

  localByIno(ino: number): Placed<LocalEntry>[] {
    return this.#rows(`SELECT ${ENTRY} FROM local WHERE ino = ?`, entry, ino);
  }

  remoteSubtrees(ids: readonly string[]): Placed<TreeNode>[] {
    return this.#rows(`WITH RECURSIVE t(id) AS (SELECT value FROM json_each(?) UNION SELECT c.id FROM remote c JOIN t ON c.parent = t.id)
      SELECT ${NODE.replace(/(\w+)/g, 'n.$1')} FROM t JOIN remote n ON n.id = t.id`, node, JSON.stringify(ids));
  }

  syncedSubtrees(ids: readonly string[]): Placed<SyncedNode>[] {
    return this.#rows(`WITH RECURSIVE t(id) AS (SELECT value FROM json_each(?) UNION SELECT c.id FROM synced c JOIN t ON c.parent = t.id)
      SELECT ${NODE.replace(/(\w+)/g, 'n.$1')}, n.ino FROM t JOIN synced n ON n.id = t.id`, syncedNode, JSON.stringify(ids));
  }

  localSubtrees(paths: readonly string[]): Placed<LocalEntry>[] {
    // "0" is the character after "/": the range is every path under p/
    return paths.flatMap((p) => this.#rows(`SELECT ${ENTRY} FROM local WHERE disk_path = ? OR (disk_path > ? AND disk_path < ?)`, entry, p, p + '/', p + '0'));
  }

  /**
   * The top level of Remote and Synced (each node with its subtree's size,
   * each id once) and of Local (each entry with the entries below it): what
   * a plan in batches is cut into (core/plan/batches.ts). Counted in SQL,
   * one row per top-level name.
   */
  topEntries(): TopEntry[] {
    const sizes = (t: 'remote' | 'synced'): [string, string, number][] =>
      this.#s.stmt(`WITH RECURSIVE t(id, top) AS (SELECT id, id FROM ${t} WHERE parent = ?
        UNION ALL SELECT r.id, t.top FROM ${t} r JOIN t ON r.parent = t.id)
      SELECT n.id, n.name, c.size FROM ${t} n JOIN (SELECT top, count(*) AS size FROM t GROUP BY top) c ON c.top = n.id`).raw(true).all(ROOT_ID) as [string, string, number][];
    const remote = sizes('remote');
    const ids = new Set(remote.map(([id]) => id));
    // a Synced top-level node the server no longer has there (deleted, moved, renamed)
    const synced = this.#s.stmt('SELECT count(*) FROM synced').pluck(true).get() === 0 ? [] : sizes('synced').filter(([id]) => !ids.has(id));
    const local = this.#s.stmt(`SELECT disk_path, path FROM local WHERE ${LOCAL_DIR} = ''`).raw(true).all() as [string, string][];
    this.#count(remote.length + synced.length + local.length);
    return [
      ...[...remote, ...synced].map(([id, name, size]) => ({ id, name, size })),
      ...local.map(([diskPath, path]) => ({ diskPath, name: path, size: this.#localUnder(diskPath) })),
    ];
  }

  /** The names at the top level of the three trees (a name may come more than once). */
  topNames(): string[] {
    const names = this.#s.stmt(`SELECT name FROM remote WHERE parent = @root UNION ALL SELECT name FROM synced WHERE parent = @root
      UNION ALL SELECT path FROM local WHERE ${LOCAL_DIR} = ''`).pluck(true).all({ root: ROOT_ID }) as string[];
    this.#count(names.length);
    return names;
  }

  /**
   * The top-level names that one node or inode spans (core/plan/batches.ts
   * batchesOf keeps each list in one batch): a node in Remote and Synced
   * under two top-level names (one that moved, or under a moved or renamed
   * ancestor, goes by the nearest such ancestor: only the nodes whose
   * parent, or top-level name, differs between the two trees are walked up),
   * and the Synced nodes and Local entries holding one inode under two. Null
   * when a Remote or Synced node reaches no top-level name (a parent it lacks,
   * a cycle), or a Local entry's directory is not in Local: no batch would
   * hold it, so the caller plans the whole trees.
   */
  topLinks(): string[][] | null {
    for (const t of ['remote', 'synced']) {
      const orphans = this.#s.stmt(`SELECT count(*) FROM ${t} n WHERE n.parent != @root AND NOT EXISTS (SELECT 1 FROM ${t} p WHERE p.id = n.parent)`).pluck(true).get({ root: ROOT_ID }) as number;
      if (orphans > 0) return null;
    }
    // a Local entry whose directory Local lacks (the scan never leaves one): no top-level entry would take it in
    const lost = this.#s.stmt(`SELECT count(*) FROM local l WHERE ${LOCAL_DIR} != ''
      AND NOT EXISTS (SELECT 1 FROM local p WHERE p.disk_path = substr(${LOCAL_DIR.replace(/disk_path/g, 'l.disk_path')}, 1, length(${LOCAL_DIR.replace(/disk_path/g, 'l.disk_path')}) - 1))`).pluck(true).get() as number;
    if (lost > 0) return null;
    const links: string[][] = [];
    const moved = this.#s
      .stmt('SELECT r.id FROM remote r JOIN synced s ON s.id = r.id WHERE r.parent != s.parent OR (r.parent = @root AND r.name != s.name)')
      .pluck(true)
      .all({ root: ROOT_ID }) as string[];
    const topOf = (get: (id: string) => Placed<TreeNode> | undefined, id: string): string | null => {
      const seen = new Set<string>();
      for (let n = get(id)?.v; n; n = get(n.parent)?.v) {
        if (n.parent === ROOT_ID) return n.name;
        if (seen.has(n.id)) return null;
        seen.add(n.id);
      }
      return null;
    };
    for (const id of moved) {
      const r = topOf((x) => this.remote(x), id);
      const s = topOf((x) => this.synced(x), id);
      if (r === null || s === null) return null;
      if (r !== s) links.push([r, s]);
    }
    // every holder of an inode, with its top-level name: Synced by a walk down from the top, Local by its path
    const byIno = this.#s
      .stmt(
        `WITH RECURSIVE t(id, top) AS (SELECT id, name FROM synced WHERE parent = @root
            UNION ALL SELECT s.id, t.top FROM synced s JOIN t ON s.parent = t.id),
          h(ino, top) AS (SELECT s.ino, t.top FROM synced s JOIN t ON t.id = s.id WHERE s.ino IS NOT NULL
            UNION ALL SELECT ino, CASE WHEN instr(path, '/') = 0 THEN path ELSE substr(path, 1, instr(path, '/') - 1) END FROM local)
        SELECT group_concat(top, '/') FROM (SELECT DISTINCT ino, top FROM h) GROUP BY ino HAVING count(*) > 1`,
      )
      .pluck(true)
      .all({ root: ROOT_ID }) as string[];
    // names hold no "/": the list comes back apart
    for (const names of byIno) links.push(names.split('/'));
    this.#count(moved.length + byIno.length);
    return links;
  }

  /** Local entries at `diskPath` and below it */
  #localUnder(diskPath: string): number {
    const at = this.#s.stmt('SELECT count(*) FROM local WHERE disk_path = ?').pluck(true).get(diskPath) as number;
    // "0" is the character after "/": the range is every path under diskPath/
    return at + (this.#s.stmt('SELECT count(*) FROM local WHERE disk_path > ? AND disk_path < ?').pluck(true).get(diskPath + '/', diskPath + '0') as number);
  }

  /**
   * What decides whether a batch of a first plan is settled (core/plan/batches.ts
   * batchSettled), counted in SQL without a row through JS: the top level of
   * the three trees, and over the Synced subtrees of the batch's top-level ids
   * how many nodes there are, how many of them fail scope.ts's test of a settled
   * node (Remote row the same, a plain valid name, the Local entry at its path
   * with its kind, content and inode, each inode held once in Synced and once
   * in Local, the parent a directory), how many Remote nodes are below those
   * ids and how many Local entries are at or below their names.
   */
  batchRows(topIds: readonly string[]): BatchRows {
    const ids = JSON.stringify(topIds);
    const tops = {
      remote: this.#s.stmt('SELECT id, name FROM remote WHERE parent = ?').all(ROOT_ID) as { id: string; name: string }[],
      synced: this.#s.stmt('SELECT id, name FROM synced WHERE parent = ?').all(ROOT_ID) as { id: string; name: string }[],
      local: (this.#s.stmt(`SELECT disk_path, path FROM local WHERE ${LOCAL_DIR} = ''`).raw(true).all() as [string, string][]).map(([diskPath, path]) => ({ diskPath, path })),
    };
    const sub = this.#s
      .stmt(
        `WITH RECURSIVE sub(id, parent, name, kind, rev, size, hash, mtime, exec, target, ino, path, pkind) AS (
          SELECT id, parent, name, kind, rev, size, hash, mtime, exec, target, ino, name, 'dir' FROM synced
            WHERE parent = @root AND id IN (SELECT value FROM json_each(@ids))
          UNION ALL SELECT s.id, s.parent, s.name, s.kind, s.rev, s.size, s.hash, s.mtime, s.exec, s.target, s.ino, sub.path || '/' || s.name, sub.kind
            FROM synced s JOIN sub ON s.parent = sub.id)
        SELECT count(*) AS nodes, coalesce(sum(CASE WHEN
            r.id IS NOT NULL AND s.ino IS NOT NULL AND s.ino > 0 AND s.pkind = 'dir'
            AND r.parent = s.parent AND r.name = s.name AND r.kind = s.kind AND r.rev = s.rev AND r.mtime = s.mtime
            AND r.size IS s.size AND r.hash IS s.hash AND r.exec = s.exec AND r.target IS s.target
            AND s.name != '' AND s.name NOT IN ('.', '..') AND length(s.name) <= @nameMax AND s.name NOT GLOB '*[^ -.0-~]*'
            AND l.path = s.path AND l.kind = s.kind AND l.ino = s.ino
            AND (s.kind != 'file' OR (l.hash IS NOT NULL AND l.hash = s.hash AND l.exec = s.exec))
            AND (s.kind != 'symlink' OR l.target IS s.target)
            AND (SELECT count(*) FROM synced x WHERE x.ino = s.ino) = 1
            AND (SELECT count(*) FROM local y WHERE y.ino = s.ino) = 1
          THEN 0 ELSE 1 END), 0) AS bad
        FROM sub s LEFT JOIN remote r ON r.id = s.id LEFT JOIN local l ON l.disk_path = s.path`,
      )
      .get({ root: ROOT_ID, ids, nameMax: LIMITS.nameMaxBytes }) as { nodes: number; bad: number };
    const remoteBelow = this.#s
      .stmt(
        `WITH RECURSIVE t(id) AS (SELECT id FROM remote WHERE parent = ? AND id IN (SELECT value FROM json_each(?))
          UNION ALL SELECT r.id FROM remote r JOIN t ON r.parent = t.id) SELECT count(*) FROM t`,
      )
      .pluck(true)
      .get(ROOT_ID, ids) as number;
    let localBelow = 0;
    const names = new Set(tops.synced.filter((t) => topIds.includes(t.id)).map((t) => t.name));
    for (const n of names) localBelow += this.#localUnder(n);
    this.#count(tops.remote.length + tops.synced.length + tops.local.length);
    return { tops, nodes: sub.nodes, bad: sub.bad, remoteBelow, localBelow };
  }

  /** rows in Remote and in Synced */
  rows(): { remote: number; synced: number } {
    const n = (t: string): number => this.#s.stmt(`SELECT count(*) AS tree_rows FROM ${t}`).pluck(true).get() as number;
    return { remote: n('remote'), synced: n('synced') };
  }
}
