// Which nodes a cycle plans over, chosen from the change instead of the
// whole trees (issue #17: a change costs the same in a 1,000,000-file
// folder as in a 100-file one). Pure: the trees are read through a
// synchronous TreeIndex (the state DB's indexes in the agent, Maps in the
// tests), never loaded whole.
//
// Seeds are the node ids and local disk paths written since the plan base,
// plus what narrowPlanInput found unsettled at the base (scope.ts). Every
// node that is unsettled now is a seed, below a seed, or shares an inode
// with one, so the selection holds what narrowPlanInput keeps over the
// whole trees and what decides it:
// - each seed in all three trees, its subtree (by id in Remote and Synced,
//   by disk path in Local) and the holders of its inodes,
// - the ancestors of each (by id, and by path for local seeds) with all
//   their children in the three trees (siblings decide names and
//   case-folded collisions),
// - the whole subtree of a child whose name key collides with a sibling's.
// narrowPlanInput over the selection keeps the same nodes as over the whole
// trees, in the same order (`at`): test/unit/core/plan/select.test.ts.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import type { SyncedNode, SyncedTree } from '../associate.js';
import type { LocalEntry, LocalTree } from '../local.js';
import { joinPath, type Tree, type TreeNode } from '../tree.js';

/** A row with its place in its tree's order (the state DB's rowid), so a selection iterates like the whole tree. */
export interface Placed<T> {
  at: number;
  v: T;
}

/** Lookups a selection needs; each returns rows as they are stored. */
export interface TreeIndex {
  remote(id: string): Placed<TreeNode> | undefined;
  synced(id: string): Placed<SyncedNode> | undefined;
  remoteChildren(parent: string): Placed<TreeNode>[];
  syncedChildren(parent: string): Placed<SyncedNode>[];
  local(diskPath: string): Placed<LocalEntry> | undefined;
  /** entries directly inside the directory at this disk path ('' is the root) */
  localChildren(dir: string): Placed<LocalEntry>[];
  /** entries anywhere below the directory at this disk path */
  localBelow(dir: string): Placed<LocalEntry>[];
  syncedByIno(ino: number): Placed<SyncedNode>[];
  localByIno(ino: number): Placed<LocalEntry>[];
}

/** What a cycle must look at: node ids (Remote and Synced) and local disk paths. */
export interface Seeds {
  ids: string[];
  paths: string[];
}

export interface Selection {
  remote: Tree;
  synced: SyncedTree;
  local: LocalTree;
}

function ordered<T>(m: Map<string, Placed<T>>): Map<string, T> {
  const out = new Map<string, T>();
  for (const [k, p] of [...m].sort((a, b) => a[1].at - b[1].at)) out.set(k, p.v);
  return out;
}

/** The three trees around the seeds (see the head of this file). */
export function selectAround(seeds: Seeds, ix: TreeIndex): Selection {
  const R = new Map<string, Placed<TreeNode>>();
  const S = new Map<string, Placed<SyncedNode>>();
  const L = new Map<string, Placed<LocalEntry>>();
  const expanded = new Set<string>();
  const localDirs = new Map<string, Placed<LocalEntry>[]>();
  const idsDone = new Set<string>();
  const pathsDone = new Set<string>();
  const inosDone = new Set<number>();
  const subtreesDone = new Set<string>();
  const localSubtreesDone = new Set<string>();

  // a node comes with its parent chain in its own tree (paths need it)
  const addR = (p: Placed<TreeNode> | undefined): void => {
    for (let q = p; q && !R.has(q.v.id); q = q.v.parent === ROOT_ID || R.has(q.v.parent) ? undefined : ix.remote(q.v.parent)) R.set(q.v.id, q);
  };
  const addS = (p: Placed<SyncedNode> | undefined): void => {
    for (let q = p; q && !S.has(q.v.id); q = q.v.parent === ROOT_ID || S.has(q.v.parent) ? undefined : ix.synced(q.v.parent)) S.set(q.v.id, q);
  };
  const addL = (p: Placed<LocalEntry> | undefined): void => {
    if (p && !L.has(p.v.diskPath)) L.set(p.v.diskPath, p);
  };

  /** The path of a node through its loaded parents; undefined if it does not reach the root. */
  const pathIn = (tree: Map<string, Placed<TreeNode>>, id: string): string | undefined => {
    const names: string[] = [];
    const seen = new Set<string>();
    for (let q = id; q !== ROOT_ID; ) {
      const n = tree.get(q)?.v;
      if (!n || seen.has(q)) return undefined;
      seen.add(q);
      names.push(n.name);
      q = n.parent;
    }
    return names.reverse().join('/');
  };

  /** A directory's entries in Local (read once). */
  const localDir = (dir: string): Placed<LocalEntry>[] => {
    let list = localDirs.get(dir);
    if (!list) {
      localDirs.set(dir, (list = ix.localChildren(dir)));
      for (const e of list) addL(e);
    }
    return list;
  };

  /** A directory's children in the three trees; name-key twins among them come whole. */
  const kids = new Map<string, { s: Placed<SyncedNode>[]; r: Placed<TreeNode>[] }>();
  /** A directory's children in Synced and Remote (read once). */
  const childrenOf = (id: string): { s: Placed<SyncedNode>[]; r: Placed<TreeNode>[] } => {
    let k = kids.get(id);
    if (!k) kids.set(id, (k = { s: ix.syncedChildren(id), r: ix.remoteChildren(id) }));
    return k;
  };

  /** The first child of that name in a listing: a name index per listing, built once (seedPath asks for each file of a batch) */
  const named = new Map<readonly Placed<TreeNode>[], Map<string, string>>();
  const childNamed = (list: readonly Placed<TreeNode>[], name: string): string | undefined => {
    let m = named.get(list);
    if (!m) {
      named.set(list, (m = new Map()));
      for (const c of list) if (!m.has(c.v.name)) m.set(c.v.name, c.v.id);
    }
    return m.get(name);
  };

  const expand = (id: string, dir: string | undefined): void => {
    const key = `${id}\u0000${dir ?? ''}`;
    if (expanded.has(key)) return;
    expanded.add(key);
    const { s: sKids, r: rKids } = childrenOf(id);
    const groups = new Map<string, Set<string>>();
    const join = (name: string, member: string): void => {
      const k = nameKey(name);
      const g = groups.get(k);
      if (g) g.add(member);
      else groups.set(k, new Set([member]));
    };
    const names = new Set<string>();
    for (const c of sKids) {
      addS(c);
      join(c.v.name, `id:${c.v.id}`);
      names.add(c.v.name);
    }
    for (const c of rKids) {
      addR(c);
      join(c.v.name, `id:${c.v.id}`);
    }
    if (dir !== undefined) {
      for (const e of localDir(dir)) {
        const name = e.v.path.slice(e.v.path.lastIndexOf('/') + 1);
        // an entry at a synced child's own name is that child (counted once)
        if (!names.has(name) || e.v.diskPath !== e.v.path) join(name, `local:${e.v.diskPath}`);
      }
    }
    for (const g of groups.values()) {
      if (g.size < 2) continue;
      for (const m of g) {
        if (m.startsWith('id:')) seedId(m.slice(3));
        else seedPath(m.slice(6));
      }
    }
  };

  /** Remote and Synced below `id`, and Local below the paths it has in either tree. */
  const subtree = (id: string): void => {
    if (subtreesDone.has(id)) return;
    subtreesDone.add(id);
    const { s: sKids, r: rKids } = childrenOf(id);
    for (const c of sKids) {
      addS(c);
      if (c.v.ino !== null) ino(c.v.ino);
      subtree(c.v.id);
    }
    for (const c of rKids) {
      addR(c);
      subtree(c.v.id);
    }
  };
  const localSubtree = (dir: string): void => {
    if (localSubtreesDone.has(dir)) return;
    localSubtreesDone.add(dir);
    addL(ix.local(dir));
    for (const e of ix.localBelow(dir)) {
      addL(e);
      ino(e.v.ino);
    }
  };

  const ino = (n: number): void => {
    if (inosDone.has(n)) return;
    inosDone.add(n);
    for (const s of ix.syncedByIno(n)) seedId(s.v.id);
    for (const e of ix.localByIno(n)) seedPath(e.v.diskPath);
  };

  /** Expands every directory on the way from the root to `id` in one tree. */
  const chainOf = (tree: Map<string, Placed<TreeNode>>, id: string): void => {
    const up: string[] = [];
    const seen = new Set<string>();
    for (let q = tree.get(id)?.v.parent; q !== undefined && q !== ROOT_ID && !seen.has(q); q = tree.get(q)?.v.parent) {
      seen.add(q);
      up.push(q);
      addS(ix.synced(q));
      addR(ix.remote(q));
    }
    // the top level always: the whole trees' narrowing keeps the root's children
    // whenever anything is unsettled (scope.ts), an orphan included
    expand(ROOT_ID, '');
    if (tree.get(up[up.length - 1] ?? id)?.v.parent !== ROOT_ID) {
      for (const a of up) expand(a, undefined); // an orphan: its siblings, no paths
      return;
    }
    for (const a of up.reverse()) expand(a, pathIn(tree, a));
  };

  function seedId(id: string): void {
    if (idsDone.has(id)) return;
    idsDone.add(id);
    const s = ix.synced(id);
    const r = ix.remote(id);
    addS(s);
    addR(r);
    if (s?.v.ino != null) ino(s.v.ino);
    for (const tree of [S, R] as Map<string, Placed<TreeNode>>[]) {
      if (!tree.has(id)) continue;
      chainOf(tree, id);
      const path = pathIn(tree, id);
      if (path !== undefined) {
        localSubtree(path);
        addL(ix.local(path));
      }
    }
    subtree(id);
  }

  function seedPath(diskPath: string): void {
    if (pathsDone.has(diskPath)) return;
    pathsDone.add(diskPath);
    const e = ix.local(diskPath);
    addL(e);
    if (e) ino(e.v.ino);
    localSubtree(diskPath);
    // down from the root by name, in Synced and Remote, expanding each directory
    const segs = diskPath.split('/');
    let s: string | undefined = ROOT_ID;
    let r: string | undefined = ROOT_ID;
    let dir = '';
    for (let i = 0; i < segs.length; i++) {
      if (s !== undefined) expand(s, dir);
      if (r !== undefined && r !== s) expand(r, dir);
      localDir(dir);
      const name = segs[i]!.normalize('NFC');
      s = s === undefined ? undefined : childNamed(childrenOf(s).s, name);
      r = r === undefined ? undefined : childNamed(childrenOf(r).r, name);
      dir = joinPath(dir, segs[i]!);
    }
    if (s !== undefined) seedId(s);
    if (r !== undefined) seedId(r);
  }

  for (const id of seeds.ids) seedId(id);
  for (const p of seeds.paths) seedPath(p);
  return { remote: ordered(R), synced: ordered(S), local: ordered(L) };
}
