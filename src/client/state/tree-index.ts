// The three trees read through their indexes (migration 005), a few rows
// at a time: what core/plan/select.ts asks for when a cycle plans around
// what changed instead of loading the trees whole. Every row handed out is
// counted (Trees.rowsRead), so tests can check a cycle's reads follow the
// change, not the folder.

import type { SyncedNode } from '../../core/associate.js';
import type { LocalEntry } from '../../core/local.js';
import type { Placed, TreeIndex } from '../../core/plan/select.js';
import type { TreeNode } from '../../core/tree.js';
import type { NodeKind } from '../../protocol/types.js';
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

export class TreeRows implements TreeIndex {
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
}
