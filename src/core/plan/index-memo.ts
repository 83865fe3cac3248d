// A TreeIndex that remembers what it handed out, for one selection
// (select.ts): a batch of a first plan (batches.ts) asks for every node of
// its subtrees by id and by path right after reading them as children, and
// each of those asks would be a query of its own. Rows read as children
// answer the lookups by id and by path, and each listing reads ahead, in a
// few `IN (…)` queries instead of one query per row:
// - the children of its non-directories (normally none: a file's subtree is
//   asked for all the same),
// - the holders of its inodes (a synced listing's, and everything below a
//   local directory: select.ts asks for each),
// and the entries below a local directory answer every later ask below it
// (its subdirectories, its files, its own listing, an entry by path). Every answer is what
// the index itself would give for the same rows, in the same order per key
// (its index order: by rowid for a parent or an inode); the selection does
// not depend on the order of entries below a directory. Pure; the memo lives
// as long as the selection.

import type { SyncedNode } from '../associate.js';
import type { LocalEntry } from '../local.js';
import type { TreeNode } from '../tree.js';
import type { Placed, TreeIndex } from './select.js';

const byAt = <T>(a: Placed<T>, b: Placed<T>): number => a.at - b.at;
const byPath = (a: Placed<LocalEntry>, b: Placed<LocalEntry>): number => (a.v.diskPath < b.v.diskPath ? -1 : a.v.diskPath > b.v.diskPath ? 1 : 0);

/** the first index in `sorted` (by disk path) whose path is not below `key` */
function lowerBound(sorted: readonly Placed<LocalEntry>[], key: string): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]!.v.diskPath < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** the entries of `sorted` (by disk path) below `dir` */
function slice(sorted: readonly Placed<LocalEntry>[], dir: string): Placed<LocalEntry>[] {
  const out: Placed<LocalEntry>[] = [];
  const head = `${dir}/`;
  for (let i = lowerBound(sorted, head); i < sorted.length && sorted[i]!.v.diskPath.startsWith(head); i++) out.push(sorted[i]!);
  return out;
}

/** rows grouped under each key (every key gets a list, empty when no row has it), each list in rowid order */
function groupBy<T, K>(keys: readonly K[], rows: readonly Placed<T>[], keyOf: (v: T) => K): Map<K, Placed<T>[]> {
  const out = new Map<K, Placed<T>[]>(keys.map((k) => [k, []]));
  for (const r of rows) out.get(keyOf(r.v))?.push(r);
  for (const list of out.values()) list.sort(byAt);
  return out;
}

export function memoIndex(ix: TreeIndex): TreeIndex {
  const remote = new Map<string, Placed<TreeNode> | undefined>();
  const synced = new Map<string, Placed<SyncedNode> | undefined>();
  const local = new Map<string, Placed<LocalEntry> | undefined>();
  const remoteKids = new Map<string, Placed<TreeNode>[]>();
  const syncedKids = new Map<string, Placed<SyncedNode>[]>();
  const syncedIno = new Map<number, Placed<SyncedNode>[]>();
  const localIno = new Map<number, Placed<LocalEntry>[]>();
  /** entries below a local directory that was read whole, sorted by disk path */
  const below = new Map<string, Placed<LocalEntry>[]>();

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
  const nodeId = (n: TreeNode): string => n.id;
  const diskPath = (e: LocalEntry): string => e.diskPath;

  /** the children of a listing's non-directories in one tree, in one go */
  const kidsIn = <T extends TreeNode>(rows: readonly Placed<TreeNode>[], kids: Map<string, Placed<T>[]>, memo: Map<string, Placed<T> | undefined>, read: (ids: readonly string[]) => Placed<T>[]): void => {
    const ids = rows.filter((r) => r.v.kind !== 'dir' && !kids.has(r.v.id)).map((r) => r.v.id);
    if (ids.length === 0) return;
    for (const [id, list] of groupBy(ids, note(memo, nodeId, read(ids)), (n) => n.parent)) kids.set(id, list);
  };
  /** ... in both trees: a node listed in one is asked for in the other too (a first plan's remote files have no synced rows yet) */
  const kidsAhead = (rows: readonly Placed<TreeNode>[]): void => {
    kidsIn(rows, remoteKids, remote, (ids) => ix.remoteChildrenOf(ids));
    kidsIn(rows, syncedKids, synced, (ids) => ix.syncedChildrenOf(ids));
  };
  /** the holders of these inodes in Synced and in Local, in one go */
  const inosAhead = (inos: readonly (number | null)[]): void => {
    const todo = [...new Set(inos.filter((n): n is number => n !== null && !syncedIno.has(n)))];
    if (todo.length === 0) return;
    for (const [n, list] of groupBy(todo, note(synced, nodeId, ix.syncedByInos(todo)), (s) => s.ino as number)) syncedIno.set(n, list);
    for (const [n, list] of groupBy(todo, note(local, diskPath, ix.localByInos(todo)), (e) => e.ino)) localIno.set(n, list);
  };
  /** entries below `dir`, from a directory above it that was read whole; undefined when none was */
  const belowFromAbove = (dir: string): { all: Placed<LocalEntry>[]; from: number } | undefined => {
    for (let a = dir.lastIndexOf('/'); a > 0; a = dir.lastIndexOf('/', a - 1)) {
      const all = below.get(dir.slice(0, a));
      if (all) return { all, from: lowerBound(all, dir) };
    }
    return undefined;
  };

  return {
    remote: (id) => once(remote, id, () => ix.remote(id)),
    synced: (id) => once(synced, id, () => ix.synced(id)),
    local: (p) =>
      once(local, p, () => {
        const above = belowFromAbove(p);
        if (!above) return ix.local(p);
        const e = above.all[above.from];
        return e?.v.diskPath === p ? e : undefined;
      }),
    remoteChildren: (parent) => {
      let rows = remoteKids.get(parent);
      if (!rows) {
        remoteKids.set(parent, (rows = note(remote, nodeId, ix.remoteChildren(parent))));
        kidsAhead(rows);
      }
      return rows;
    },
    syncedChildren: (parent) => {
      let rows = syncedKids.get(parent);
      if (!rows) {
        syncedKids.set(parent, (rows = note(synced, nodeId, ix.syncedChildren(parent))));
        kidsAhead(rows);
        inosAhead(rows.map((r) => r.v.ino));
      }
      return rows;
    },
    localChildren: (dir) => {
      const all = dir === '' ? undefined : (below.get(dir) ?? belowFromAbove(dir)?.all);
      if (!all) return note(local, diskPath, ix.localChildren(dir));
      // the index's order: by rowid within the directory
      return slice(all, dir).filter((e) => !e.v.diskPath.includes('/', dir.length + 1)).sort(byAt);
    },
    localBelow: (dir) => {
      const have = below.get(dir);
      if (have) return have;
      const above = belowFromAbove(dir);
      if (above) return slice(above.all, dir);
      const rows = note(local, diskPath, ix.localBelow(dir));
      below.set(dir, [...rows].sort(byPath));
      inosAhead(rows.map((r) => r.v.ino));
      return rows;
    },
    syncedByIno: (n) => syncedIno.get(n) ?? note(synced, nodeId, ix.syncedByIno(n)),
    localByIno: (n) => localIno.get(n) ?? note(local, diskPath, ix.localByIno(n)),
    remoteChildrenOf: (parents) => note(remote, nodeId, ix.remoteChildrenOf(parents)),
    syncedChildrenOf: (parents) => note(synced, nodeId, ix.syncedChildrenOf(parents)),
    syncedByInos: (inos) => note(synced, nodeId, ix.syncedByInos(inos)),
    localByInos: (inos) => note(local, diskPath, ix.localByInos(inos)),
  };
}
