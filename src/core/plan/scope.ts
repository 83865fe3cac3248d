// The part of the three trees a plan has to look at. Pure.
//
// In a synced folder most nodes are settled: Remote and Synced hold the same
// node (location, content, rev, mtime), the Local entry at its path has the
// same kind, content and the inode Synced recorded, and so has every
// ancestor. plan() emits nothing for a settled node, and a settled subtree
// sways no other decision unless something unsettled sits beside it. So a
// cycle where a few paths changed plans over those paths, their ancestors,
// the siblings of those (names are unique per directory, by case-folded
// key) and nothing else, and gets the plan it would get over the whole
// trees (test/unit/core/plan/scope.test.ts checks that on random trees).
//
// Kept, besides every unsettled node and entry:
// - every ancestor of one (a plan needs paths and parents),
// - every child of such an ancestor, shallowly (collisions of names and
//   case-folded keys, conflict-copy names, occupants of a target path),
// - the whole subtree of a child whose name key equals a sibling's (a path
//   key can match below case twins),
// and a node whose inode is also claimed by another synced node or local
// entry is not settled (inode association works across the whole tree),
// nor is one under an exclusion (its local copy is to leave).

import { checkName, nameKey } from '../../protocol/names.js';
import { LIMITS, ROOT_ID } from '../../protocol/types.js';
import type { SyncedNode, SyncedTree } from '../associate.js';
import type { LocalEntry, LocalTree } from '../local.js';
import type { Seeds } from './select.js';
import type { PlanInput } from './state.js';
import { coveringExclusion } from '../policy/exclusions.js';
import { parentPath, type Tree, type TreeNode } from '../tree.js';

/** Printable ASCII without "/": valid and already NFC, no need to ask checkName. */
const PLAIN_NAME = /^[\x20-\x2e\x30-\x7e]+$/;

function validName(name: string): boolean {
  if (PLAIN_NAME.test(name) && name.length <= LIMITS.nameMaxBytes) return name !== '.' && name !== '..';
  const c = checkName(name);
  return c.ok && c.name === name;
}

function sameNode(s: TreeNode, r: TreeNode): boolean {
  return s.parent === r.parent && s.name === r.name && s.kind === r.kind && s.rev === r.rev && s.mtime === r.mtime &&
    s.size === r.size && s.hash === r.hash && s.exec === r.exec && s.target === r.target;
}

function sameLocal(s: TreeNode & { ino: number | null }, e: LocalEntry): boolean {
  if (e.kind !== s.kind || s.ino === null || s.ino <= 0 || e.ino !== s.ino) return false;
  if (s.kind === 'file') return e.hash !== null && e.hash === s.hash && e.exec === s.exec;
  if (s.kind === 'symlink') return e.target === s.target;
  return true;
}

/** What settle() found for a node, reused while its objects and its directory's path stay the same. */
interface Seen {
  s: SyncedNode;
  r: TreeNode;
  /** the parent's path ('' at the top) */
  dir: string;
  path: string;
  /** sameNode and validName held */
  own: boolean;
}

// Per Synced tree (the engine keeps one per folder and updates it in place,
// replacing node objects, never mutating them): the last findings by id.
const seenBy = new WeakMap<SyncedTree, Map<string, Seen>>();

/** A narrowed input, and what in it is unsettled (the seeds of a later selection, select.ts). */
export interface Narrowed extends PlanInput {
  unsettled: Seeds;
}

/** The input narrowed to what can change the plan; plan() over it returns what it returns over `input`. */
export function narrowPlanInput(input: PlanInput): Narrowed {
  const { remote, synced, local } = input;
  const excluded = input.excluded ?? [];
  let seen = seenBy.get(synced);
  if (!seen || seen.size > 2 * synced.size + 1000) seenBy.set(synced, (seen = new Map()));

  // an inode held once in Synced and once in Local, nowhere else
  const inoCount = new Map<number, number>();
  for (const s of synced.values()) if (s.ino !== null) inoCount.set(s.ino, (inoCount.get(s.ino) ?? 0) + 1);
  for (const e of local.values()) inoCount.set(e.ino, (inoCount.get(e.ino) ?? 0) + 1);

  // settled ids → their path (the same in all three trees); null: not settled
  const settled = new Map<string, string | null>();
  /** the Local entry of each settled node → its id */
  const ownerOf = new Map<LocalEntry, string>();
  const settle = (id: string): string | null => {
    const known = settled.get(id);
    if (known !== undefined) return known;
    settled.set(id, null); // also what a cycle finds
    const s = synced.get(id);
    const r = remote.get(id);
    if (!s || !r || s.ino === null || inoCount.get(s.ino) !== 2) return null;
    let dir = '';
    if (s.parent !== ROOT_ID) {
      const pp = settle(s.parent);
      if (pp === null || synced.get(s.parent)!.kind !== 'dir') return null;
      dir = pp;
    }
    let was = seen.get(id);
    if (!was || was.s !== s || was.r !== r || was.dir !== dir) {
      const own = sameNode(s, r) && validName(s.name);
      seen.set(id, (was = { s, r, dir, path: dir === '' ? s.name : `${dir}/${s.name}`, own }));
    }
    if (!was.own) return null;
    const path = was.path;
    if (excluded.length > 0 && coveringExclusion(path, excluded) !== undefined) return null; // excluded: plan() decides its way out
    const e = local.get(path);
    if (!e || e.path !== path || !sameLocal(s, e)) return null;
    settled.set(id, path);
    ownerOf.set(e, id);
    return path;
  };
  /** the settled node whose path is `path`, if any */
  const settledAt = (path: string): string | undefined => {
    const e = local.get(path);
    return e && ownerOf.get(e);
  };

  // tainted: settled directories with something unsettled below them
  const tainted = new Set<string>();
  let anyUnsettled = false;
  const taintUp = (id: string): void => {
    for (let p = id; p !== ROOT_ID && !tainted.has(p); p = synced.get(p)!.parent) tainted.add(p);
  };
  /** From an unsettled node, up its parents (in `tree`) to the first settled one. */
  const taintFrom = (tree: Tree | SyncedTree, id: string): void => {
    anyUnsettled = true;
    const seen = new Set<string>();
    for (let p = tree.get(id)?.parent; p !== undefined && p !== ROOT_ID && !seen.has(p); p = tree.get(p)?.parent) {
      if (settle(p) !== null) return taintUp(p);
      seen.add(p);
    }
  };
  for (const id of synced.keys()) if (settle(id) === null) taintFrom(synced, id);
  for (const id of remote.keys()) if (!settled.get(id)) taintFrom(remote, id);
  /** an entry is owned under its own path only (a shared object under another key is not) */
  const ownedBy = (k: string, e: LocalEntry): string | undefined => (k === e.path ? ownerOf.get(e) : undefined);
  const unowned: LocalEntry[] = [];
  for (const [k, e] of local) {
    if (ownedBy(k, e) !== undefined) continue;
    unowned.push(e);
    for (let q = e.path; q !== ''; q = parentPath(q)) {
      const id = settledAt(q);
      if (id !== undefined) {
        taintUp(id);
        break;
      }
    }
  }
  if (!anyUnsettled && unowned.length === 0) return { ...input, remote: new Map(), synced: new Map(), local: new Map(), unsettled: { ids: [], paths: [] } };

  const besideTaint = (parent: string): boolean => parent === ROOT_ID || tainted.has(parent);

  // settled nodes kept: the tainted ones and the children of those (and of the root)
  const kept = new Set<string>(tainted);
  // children of tainted directories (and of the root) whose name keys collide: keep their subtrees whole
  const groups = new Map<string, string>();
  const pinned = new Set<string>();
  const member = (parent: string, name: string, source: string): void => {
    const k = `${parent}\u0000${nameKey(name)}`;
    const first = groups.get(k);
    if (first === undefined) groups.set(k, source);
    else if (first !== source) {
      pinned.add(first);
      pinned.add(source);
    }
  };
  for (const n of synced.values()) {
    if (!besideTaint(n.parent)) continue;
    member(n.parent, n.name, n.id);
    kept.add(n.id);
  }
  for (const n of remote.values()) if (besideTaint(n.parent)) member(n.parent, n.name, n.id);
  // a settled entry's name and parent are its node's, already counted
  for (const e of unowned) {
    const dir = parentPath(e.path);
    const parent = dir === '' ? ROOT_ID : settledAt(dir);
    if (parent !== undefined && besideTaint(parent)) member(parent, e.path.slice(e.path.lastIndexOf('/') + 1), `local:${e.diskPath}`);
  }
  if (pinned.size > 0) {
    for (const [id, path] of settled) {
      if (path === null || kept.has(id)) continue;
      for (let p = id; p !== ROOT_ID; p = synced.get(p)!.parent) {
        if (pinned.has(p)) {
          kept.add(id);
          break;
        }
      }
    }
  }
  /** unsettled, or settled and kept */
  const keep = (id: string): boolean => !settled.get(id) || kept.has(id);

  const r2: Tree = new Map();
  for (const [id, n] of remote) if (keep(id)) r2.set(id, n);
  const s2: SyncedTree = new Map();
  for (const [id, n] of synced) if (keep(id)) s2.set(id, n);
  const l2: LocalTree = new Map();
  for (const [k, e] of local) {
    const id = ownedBy(k, e);
    if (id === undefined || kept.has(id)) l2.set(k, e);
  }
  const ids = new Set<string>();
  for (const id of synced.keys()) if (!settled.get(id)) ids.add(id);
  for (const id of remote.keys()) if (!settled.get(id)) ids.add(id);
  const unsettled = { ids: [...ids], paths: unowned.map((e) => e.diskPath) };
  return { ...input, remote: r2, synced: s2, local: l2, unsettled };
}
