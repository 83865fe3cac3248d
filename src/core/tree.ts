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

/** The longest relative path a node may have on a client (the server's default limit, Linux PATH_MAX). */
export const MAX_PATH_BYTES = 4096;

export interface PathProblem {
  id: string;
  code: 'orphan' | 'cycle' | 'invalid_name' | 'parent_not_dir' | 'path_too_long';
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

  // Iterative, not recursive: a server may send a chain of any depth, and
  // a recursive walk would overflow the stack (12,000 levels did, in every
  // client of the namespace, `status` included). Climb from a node to the
  // first ancestor whose fate is known, then place the chain top-down.
  const visit = (start: string): void => {
    const chain: string[] = []; // unresolved nodes, child first
    let cur = start;
    let base: string | null = null; // path of the first settled ancestor ('' = the root); null = it failed
    let missingParent = false;
    for (;;) {
      if (cur === ROOT_ID) {
        base = '';
        break;
      }
      const known = pathOf.get(cur);
      if (known !== undefined) {
        base = known;
        break;
      }
      const st = state.get(cur);
      if (st === 'bad') break;
      const node = tree.get(cur);
      if (!node) {
        missingParent = true;
        break;
      }
      if (st === 'busy') {
        problems.push({ id: cur, code: 'cycle', message: `node ${cur} ("${node.name}") is its own ancestor` });
        state.set(cur, 'bad');
        break;
      }
      const nameOk = checkName(node.name);
      if (!nameOk.ok || nameOk.name !== node.name) {
        problems.push({ id: cur, code: 'invalid_name', message: `node ${cur} has an invalid name: ${nameOk.ok ? 'not NFC' : nameOk.reason}` });
        state.set(cur, 'bad');
        break;
      }
      state.set(cur, 'busy');
      chain.push(cur);
      cur = node.parent;
    }
    let p = base;
    for (let i = chain.length - 1; i >= 0; i--) {
      const id = chain[i]!;
      const node = tree.get(id)!;
      if (state.get(id) === 'bad') {
        p = null;
        continue;
      }
      state.delete(id);
      if (p === null) {
        if (i === chain.length - 1 && missingParent) problems.push({ id, code: 'orphan', message: `node ${id} ("${node.name}") has no parent ${node.parent}` });
        state.set(id, 'bad');
        continue;
      }
      if (node.parent !== ROOT_ID) {
        const parent = tree.get(node.parent)!;
        if (parent.kind !== 'dir') {
          problems.push({ id, code: 'parent_not_dir', message: `node ${id} ("${node.name}") sits under a ${parent.kind}` });
          state.set(id, 'bad');
          p = null;
          continue;
        }
      }
      const path = node.parent === ROOT_ID ? node.name : `${p}/${node.name}`;
      // no disk takes a longer path (Linux PATH_MAX), and keeping every
      // prefix of a deeper chain would cost memory quadratic in its depth
      if (Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) {
        problems.push({ id, code: 'path_too_long', message: `node ${id} ("${node.name}") would be at a path longer than ${MAX_PATH_BYTES} bytes; it and everything below it are left out` });
        state.set(id, 'bad');
        p = null;
        continue;
      }
      pathOf.set(id, path);
      p = path;
    }
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
