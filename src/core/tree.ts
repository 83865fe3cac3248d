// The tree model shared by the planner and the state DB: nodes keyed by id
// (Remote, Synced) and paths derived from parent links. Pure.

import { checkName } from '../protocol/names.js';
import { ROOT_ID, type NodeKind, type WireNode } from '../protocol/types.js';

/** A node of the Remote or Synced tree. */
export interface TreeNode {
  id: string;
  parent: string;
  name: string;
  kind: NodeKind;
  rev: number;
  size: number | null;
  hash: string | null;
  mtime: number;
  exec: boolean;
  target: string | null;
}

export type Tree = Map<string, TreeNode>;

export function fromWire(n: WireNode): TreeNode {
  return {
    id: n.id,
    parent: n.parent,
    name: n.name,
    kind: n.kind,
    rev: n.rev,
    size: n.kind === 'file' ? (n.size ?? 0) : null,
    hash: n.kind === 'file' ? (n.hash ?? null) : null,
    mtime: n.mtime ?? 0,
    exec: n.kind === 'file' ? Boolean(n.exec) : false,
    target: n.kind === 'symlink' ? (n.target ?? null) : null,
  };
}

/** True when two nodes have the same content (ignores location, rev and mtime). */
export function sameContent(a: { kind: NodeKind; hash: string | null; exec: boolean; target: string | null }, b: typeof a): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind === 'file') return a.hash === b.hash && a.exec === b.exec;
  if (a.kind === 'symlink') return a.target === b.target;
  return true;
}

export interface PathProblem {
  id: string;
  code: 'orphan' | 'cycle' | 'invalid_name' | 'parent_not_dir';
  message: string;
}

export interface ResolvedPaths {
  /** id → relative POSIX path ("a/b.txt"); the root is not included */
  pathOf: Map<string, string>;
  /** path → id */
  idAt: Map<string, string>;
  /** nodes that cannot be placed: orphaned, cyclic, badly named, or under one of those */
  problems: PathProblem[];
}

/**
 * Computes every node's path. Nodes whose ancestry does not reach the root
 * (orphans, cycles) or that carry a name the rules refuse are reported and
 * left out, together with their descendants; never looped on.
 */
export function resolvePaths(tree: Tree, rank: (id: string) => number = () => 0): ResolvedPaths {
  const pathOf = new Map<string, string>();
  const idAt = new Map<string, string>();
  const problems: PathProblem[] = [];
  const state = new Map<string, 'busy' | 'bad'>();

  const visit = (id: string): string | null => {
    const known = pathOf.get(id);
    if (known !== undefined) return known;
    const st = state.get(id);
    if (st === 'bad') return null;
    const node = tree.get(id);
    if (!node) return null;
    if (st === 'busy') {
      problems.push({ id, code: 'cycle', message: `node ${id} ("${node.name}") is its own ancestor` });
      state.set(id, 'bad');
      return null;
    }
    const nameOk = checkName(node.name);
    if (!nameOk.ok || nameOk.name !== node.name) {
      problems.push({ id, code: 'invalid_name', message: `node ${id} has an invalid name: ${nameOk.ok ? 'not NFC' : nameOk.reason}` });
      state.set(id, 'bad');
      return null;
    }
    let parentPath: string;
    if (node.parent === ROOT_ID) {
      parentPath = '';
    } else {
      state.set(id, 'busy');
      const parent = tree.get(node.parent);
      const p = parent ? visit(node.parent) : null;
      if (state.get(id) === 'bad') return null;
      state.delete(id);
      if (p === null) {
        if (!parent) problems.push({ id, code: 'orphan', message: `node ${id} ("${node.name}") has no parent ${node.parent}` });
        state.set(id, 'bad');
        return null;
      }
      if (parent!.kind !== 'dir') {
        problems.push({ id, code: 'parent_not_dir', message: `node ${id} ("${node.name}") sits under a ${parent!.kind}` });
        state.set(id, 'bad');
        return null;
      }
      parentPath = p + '/';
    }
    const path = parentPath + node.name;
    pathOf.set(id, path);
    return path;
  };

  for (const id of tree.keys()) visit(id);
  // Two nodes can collide on a path only if the server broke its own rules
  // (or, in Synced, when a round recorded one node before it could retire
  // the other); the lower rank keeps the path, then the lower id.
  const order = [...pathOf.entries()].map(([id, path]) => ({ id, path, rank: rank(id) }));
  order.sort((a, b) => a.rank - b.rank || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  for (const { id, path } of order) {
    if (idAt.has(path)) {
      problems.push({ id, code: 'invalid_name', message: `node ${id} collides with ${idAt.get(path)} at "${path}"` });
      pathOf.delete(id);
    } else {
      idAt.set(path, id);
    }
  }
  // Drop descendants of dropped collisions (until nothing changes).
  for (let changed = true; changed; ) {
    changed = false;
    for (const [id, path] of pathOf) {
      const parent = tree.get(id)!.parent;
      if (parent !== ROOT_ID && !pathOf.has(parent)) {
        pathOf.delete(id);
        if (idAt.get(path) === id) idAt.delete(path);
        changed = true;
      }
    }
  }
  return { pathOf, idAt, problems };
}

export function parentPath(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? '' : path.slice(0, i);
}

export function baseName(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1);
}

export function joinPath(parent: string, name: string): string {
  return parent === '' ? name : `${parent}/${name}`;
}

/** True when `path` is `ancestor` or lies below it. */
export function isWithin(path: string, ancestor: string): boolean {
  return ancestor === '' || path === ancestor || path.startsWith(ancestor + '/');
}

/** Depth of a relative path (number of segments). */
export function depth(path: string): number {
  let n = 1;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) n++;
  return n;
}
