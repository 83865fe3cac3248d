// A TreeIndex that remembers what it handed out, for one selection
// (select.ts): a batch of a first plan (batches.ts) asks for every node of
// its subtrees by id and by path right after reading them as children, and
// each of those asks would be a query of its own. Rows read as children
// answer the lookups by id and by path; the inode lookups go through (their
// holders can be anywhere). Pure; the memo lives as long as the selection.

import type { SyncedNode } from '../associate.js';
import type { LocalEntry } from '../local.js';
import type { TreeNode } from '../tree.js';
import type { Placed, TreeIndex } from './select.js';

export function memoIndex(ix: TreeIndex): TreeIndex {
  const remote = new Map<string, Placed<TreeNode> | undefined>();
  const synced = new Map<string, Placed<SyncedNode> | undefined>();
  const local = new Map<string, Placed<LocalEntry> | undefined>();
  const once = <T>(memo: Map<string, T>, key: string, read: () => T): T => {
    if (memo.has(key)) return memo.get(key)!;
    const v = read();
    memo.set(key, v);
    return v;
  };
  const note = <T>(memo: Map<string, Placed<T> | undefined>, keyOf: (v: T) => string, rows: Placed<T>[]): Placed<T>[] => {
    for (const r of rows) memo.set(keyOf(r.v), r);
    return rows;
  };
  return {
    remote: (id) => once(remote, id, () => ix.remote(id)),
    synced: (id) => once(synced, id, () => ix.synced(id)),
    local: (p) => once(local, p, () => ix.local(p)),
    remoteChildren: (parent) => note(remote, (n) => n.id, ix.remoteChildren(parent)),
    syncedChildren: (parent) => note(synced, (n) => n.id, ix.syncedChildren(parent)),
    localChildren: (dir) => note(local, (e) => e.diskPath, ix.localChildren(dir)),
    localBelow: (dir) => note(local, (e) => e.diskPath, ix.localBelow(dir)),
    syncedByIno: (ino) => note(synced, (n) => n.id, ix.syncedByIno(ino)),
    localByIno: (ino) => note(local, (e) => e.diskPath, ix.localByIno(ino)),
  };
}
