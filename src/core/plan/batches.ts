// A plan without a plan base, in batches (issue #17: memory that does not
// grow with the folder). After a new device's first listing Synced is
// empty, and after new ignore rules (or another version, mode or exclusion
// list) the base no longer holds: there is nothing to select around, so a
// round would load and plan the three trees whole (1,000 MiB at 300,000
// files). Instead the top-level
// names are cut into batches of at most `maxNodes` nodes; a batch's
// selection is the subtrees of its names in the three trees and the rest
// of the top level shallow (`selectBatch`), and of that selection's plan
// only the ops and problems under the batch's names count (the other
// top-level names come along without their subtrees, and are planned in
// their own batch).
// With Synced empty nothing links two top-level subtrees (no moves, no
// inode associations); with Synced, the names a node or an inode spans
// (`links`: a node under one name in Remote and another in Synced, an
// inode held under two names) share a batch. Either way the batches' plans
// together are the whole trees' plan (test/unit/core/plan/batches.test.ts).
// Pure.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import type { SyncedNode } from '../associate.js';
import type { LocalEntry } from '../local.js';
import type { Plan, PlanOp } from '../ops.js';
import type { Tree, TreeNode } from '../tree.js';
import type { Placed, Seeds, Selection, TreeIndex } from './select.js';

/** A top-level node of Remote or Synced (by id; each id once) or a top-level Local entry (by disk path), and its subtree's size. */
export interface TopEntry {
  name: string;
  size: number;
  id?: string;
  diskPath?: string;
}

interface Batch {
  /** name keys of the top-level names it plans */
  keys: Set<string>;
  /** what select.ts selects around */
  seeds: Seeds;
  /** nodes and entries in it */
  size: number;
}

/**
 * Top-level names in name-key order, packed into batches of at most
 * `maxNodes` (a bigger group is a batch of its own). Entries sharing a name
 * key (case twins, NFC/NFD spellings, a name in several trees) always share
 * a batch, and so do the names of each of `links` (top-level names that one
 * node or inode spans: a node the server moved from one to another, a file
 * moved by hand across them; client/state/tree-index.ts `topLinks`).
 */
export function batchesOf(tops: readonly TopEntry[], maxNodes: number, links: readonly (readonly string[])[] = []): Batch[] {
  // union-find over name keys: a group's root is its smallest key
  const up = new Map<string, string>();
  const find = (k: string): string => {
    let r = k;
    for (let u = up.get(r); u !== undefined && u !== r; u = up.get(r)) r = u;
    for (let c = k; c !== r; ) {
      const u = up.get(c)!;
      up.set(c, r);
      c = u;
    }
    return r;
  };
  for (const t of tops) up.set(nameKey(t.name), nameKey(t.name));
  // a linked name may have no entry of its own (a Synced top-level node the server renamed: its id
  // is listed once, under its Remote name), and is still one of the batch's names
  for (const names of links) for (const k of names.map(nameKey)) if (!up.has(k)) up.set(k, k);
  for (const names of links) {
    const keys = names.map(nameKey);
    for (const k of keys.slice(1)) {
      const a = find(keys[0]!);
      const b = find(k);
      if (a !== b) up.set(a < b ? b : a, a < b ? a : b);
    }
  }
  const groups = new Map<string, { tops: TopEntry[]; keys: string[] }>();
  for (const k of up.keys()) {
    const root = find(k);
    const g = groups.get(root) ?? { tops: [], keys: [] };
    g.keys.push(k);
    groups.set(root, g);
  }
  for (const t of tops) groups.get(find(nameKey(t.name)))!.tops.push(t);
  const out: Batch[] = [];
  let cur: Batch | null = null;
  for (const k of [...groups.keys()].sort()) {
    const g = groups.get(k)!;
    if (g.tops.length === 0) continue; // names only links know of, with nothing at the top level
    const size = g.tops.reduce((n, t) => n + t.size, 0);
    if (!cur || (cur.size > 0 && cur.size + size > maxNodes)) out.push((cur = { keys: new Set(), seeds: { ids: [], paths: [] }, size: 0 }));
    cur.size += size;
    for (const key of g.keys) cur.keys.add(key);
    for (const t of g.tops) {
      if (t.id !== undefined) cur.seeds.ids.push(t.id);
      if (t.diskPath !== undefined) cur.seeds.paths.push(t.diskPath);
    }
  }
  return out;
}

/** What a batch's selection reads: whole subtrees in one go (client/state/tree-index.ts, in SQL), and the top level. */
export interface BatchIndex extends Pick<TreeIndex, 'remoteChildren' | 'syncedChildren' | 'localChildren'> {
  /** the Remote nodes at and below these ids */
  remoteSubtrees(ids: readonly string[]): Placed<TreeNode>[];
  /** the Synced nodes at and below these ids */
  syncedSubtrees(ids: readonly string[]): Placed<SyncedNode>[];
  /** the Local entries at and below these disk paths */
  localSubtrees(paths: readonly string[]): Placed<LocalEntry>[];
}

/**
 * A batch's trees: the subtrees of its names in the three trees, and the
 * rest of the top level shallow (names beside it decide collisions). The
 * names are looked up now, not when the batch was cut: a round's own ops
 * give a name new nodes (a folder uploaded, a file downloaded into an empty
 * folder), and a node cut with the batch that has left the top level since
 * keeps its subtree in (its seed id). That is select.ts's selection around
 * the batch's names once the batch holds every name its nodes and inodes
 * span (batchesOf's `links`): each node's other rows and each inode's
 * holders are then in these subtrees already. Read subtree by subtree, not
 * node by node.
 */
export function selectBatch(b: Pick<Batch, 'keys' | 'seeds'>, ix: BatchIndex): Selection {
  const place = <T>(key: (v: T) => string, ...lists: Placed<T>[][]): Map<string, T> => {
    const all = new Map<string, Placed<T>>();
    for (const list of lists) for (const p of list) all.set(key(p.v), p);
    return new Map([...all.values()].sort((x, y) => x.at - y.at).map((p) => [key(p.v), p.v]));
  };
  const topR = ix.remoteChildren(ROOT_ID);
  const topS = ix.syncedChildren(ROOT_ID);
  const topL = ix.localChildren('');
  const ids = new Set(b.seeds.ids);
  for (const n of [...topR, ...topS]) if (b.keys.has(nameKey(n.v.name))) ids.add(n.v.id);
  const paths = new Set(b.seeds.paths);
  for (const e of topL) if (b.keys.has(nameKey(e.v.path))) paths.add(e.v.diskPath);
  return {
    remote: place((n) => n.id, topR, ix.remoteSubtrees([...ids])),
    synced: place((n) => n.id, topS, ix.syncedSubtrees([...ids])),
    local: place((e) => e.diskPath, topL, ix.localSubtrees([...paths])),
  };
}

/**
 * The name key of a path's top-level name; a problem or state op about a
 * node with no path ("remote:ID", "synced:ID") goes by its top-level
 * ancestor's name in that tree.
 */
function topKey(path: string, trees: { remote: Tree; synced: Tree }): string | undefined {
  const m = /^(remote|synced):(.*)$/s.exec(path);
  if (m) {
    const tree = m[1] === 'remote' ? trees.remote : trees.synced;
    const seen = new Set<string>();
    let n = tree.get(m[2]!);
    while (n && n.parent !== ROOT_ID && !seen.has(n.id)) {
      seen.add(n.id);
      n = tree.get(n.parent);
    }
    return n?.parent === ROOT_ID ? nameKey(n.name) : undefined;
  }
  const cut = path.indexOf('/');
  return nameKey(cut < 0 ? path : path.slice(0, cut));
}

function opPath(op: PlanOp): string {
  return op.type === 'local_move' ? op.from : op.path;
}

/**
 * The top-level names a batch's ops move local entries to (a conflicted
 * copy beside a top-level entry, a local move): the batch takes them on
 * (the caller adds them to its keys), so its next round still sees the
 * entries it moved, with the inodes they hold.
 */
export function namesMoved(ops: readonly PlanOp[]): string[] {
  const out: string[] = [];
  for (const op of ops) {
    if (op.type !== 'conflict_rename' && op.type !== 'local_move') continue;
    const cut = op.to.indexOf('/');
    out.push(nameKey(cut < 0 ? op.to : op.to.slice(0, cut)));
  }
  return out;
}

/** What a batch's plan (over `trees`, its selection) holds under the batch's own top-level names. */
export function batchPart<P extends Plan>(p: P, keys: ReadonlySet<string>, trees: { remote: Tree; synced: Tree }): P {
  const mine = (path: string): boolean => {
    const k = topKey(path, trees);
    return k !== undefined && keys.has(k);
  };
  return { ...p, ops: p.ops.filter((op) => mine(opPath(op))), problems: p.problems.filter((x) => mine(x.path)) };
}

/**
 * What a batch's narrowing found unsettled under the batch's own names (the
 * seeds its part of the next plan base needs): the other top-level names
 * came along shallow and may be unsettled only until their own batch ran.
 */
export function batchUnsettled(u: Seeds, keys: ReadonlySet<string>, trees: { remote: Tree; synced: Tree }): Seeds {
  // a node that reaches no top-level name (an orphan) stays a seed: one too many costs a lookup, one too few a missed plan
  const mine = (path: string): boolean => {
    const k = topKey(path, trees);
    return k === undefined || keys.has(k);
  };
  return { ids: u.ids.filter((id) => (trees.remote.has(id) ? mine(`remote:${id}`) : mine(`synced:${id}`))), paths: u.paths.filter(mine) };
}

/** What the state DB counts for batchSettled (client/state/tree-index.ts batchRows). */
export interface BatchRows {
  /** the top level of each tree */
  tops: { remote: { id: string; name: string }[]; synced: { id: string; name: string }[]; local: { diskPath: string; path: string }[] };
  /** Synced nodes in the subtrees of the batch's top-level ids */
  nodes: number;
  /** of those, the ones that are not settled (scope.ts), with names checked as plain printable ASCII */
  bad: number;
  /** Remote nodes in the subtrees of the batch's top-level ids */
  remoteBelow: number;
  /** Local entries at or below the names of the batch's top-level Synced nodes */
  localBelow: number;
}

/**
 * True when everything under the batch's names is settled, so a plan of its
 * selection holds nothing under its names (no op, no problem, nothing
 * unsettled) and the round that would confirm it can be left out: every
 * Synced node below its top-level ids is settled, the Remote subtrees are
 * the same nodes (as many, each with its Synced row), every Local entry
 * under their names is the one a node owns (as many), and no other node or
 * entry at the top level shares a name key with the batch. False sends the
 * batch through its plan (test/unit/client/state/batch-settled.test.ts
 * checks that a true never hides an op).
 */
export function batchSettled(b: Pick<Batch, 'keys' | 'seeds'>, rows: BatchRows): boolean {
  if (rows.bad !== 0 || rows.remoteBelow !== rows.nodes || rows.localBelow !== rows.nodes) return false;
  const ids = new Set(b.seeds.ids);
  const names = new Set<string>();
  for (const t of rows.tops.synced) {
    if (ids.has(t.id)) names.add(t.name);
    else if (b.keys.has(nameKey(t.name))) return false;
  }
  for (const t of rows.tops.remote) if (!ids.has(t.id) && b.keys.has(nameKey(t.name))) return false;
  for (const e of rows.tops.local) if (b.keys.has(nameKey(e.path)) && !(e.diskPath === e.path && names.has(e.path))) return false;
  return true;
}
