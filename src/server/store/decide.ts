// The commit rules, as a pure function of the op and the facts a store read
// inside the op's transaction. Every store implementation gathers the same
// facts and obeys the same decision, so SQLite and PostgreSQL cannot drift.
// Order of checks (first failure wins):
//   update/move/delete: not_found → conflict (base_rev; a directory delete's
//     subtree_seq) → (move) invalid_name →
//     parent_not_found → not_a_directory → cycle → too_deep → path_too_long →
//     name_taken; (update) blob_missing
//   create: invalid_name → parent_not_found → not_a_directory → too_deep →
//     path_too_long → name_taken → blob_missing

import { checkNewName, nameKey } from '../../protocol/names.js';
import { DEFAULT_TREE_LIMITS, type TreeLimits } from './limits.js';
import { type Op, type OpErrorCode, type OpKind, type OpResult, type WireNode } from '../../protocol/types.js';

/** A node row as stores keep it. `deleted` is the seq that removed it, 0 while live. */
export interface StoredNode extends WireNode {
  deleted: number;
}

export interface OpFacts {
  /** the row of op.id (update/move/delete), live or tombstoned; null if unknown */
  node: StoredNode | null;
  /** the row of op.parent (create/move); ROOT for the root; null if unknown */
  parent: StoredNode | typeof ROOT | null;
  /** a live node under op.parent whose name_key equals the op's name key */
  sibling: { id: string } | null;
  /** create/move: ids from op.parent up to, not including, the root (its length is the parent's depth; cut past the depth limit) */
  parentChain: string[];
  /** create/move: UTF-8 bytes of op.parent's path ("a/b" is 3; the root's is 0) */
  parentPathBytes: number;
  /** move of a directory: the deepest live node below it, in levels (0 when empty) */
  subtreeHeight: number;
  /** move of a directory: the longest live path below it, in bytes, with its leading "/" */
  subtreePathBytes: number;
  /** the namespace's reference to the op's hash, if any */
  blob: { size: number } | null;
  /** directory delete with `subtree_seq`: the highest seq of a live node below it (0 when none) */
  subtreeSeq: number;
}

export const ROOT = Symbol('root');

export type Decision =
  | { kind: 'reject'; result: OpResult }
  | { kind: 'write'; op: OpKind; node: Omit<WireNode, 'seq'>; nameKey: string; cascade: boolean };

/** The name and key a create/move would store, or null if the name is invalid. */
export function opName(op: Op): { name: string; key: string } | null {
  if (op.op !== 'create' && op.op !== 'move') return null;
  const c = checkNewName(op.name);
  return c.ok ? { name: c.name, key: nameKey(c.name) } : null;
}

/** The hash whose blob reference the op needs, if any. */
export function opHash(op: Op): string | undefined {
  if (op.op === 'create' && op.kind === 'file') return op.hash;
  if (op.op === 'update') return op.hash;
  return undefined;
}

function fail(error: OpErrorCode, message: string): Decision {
  return { kind: 'reject', result: { status: 'error', error, message } };
}

/** The wire form of a stored node, fields in a fixed order. */
/** The columns both stores keep for a node (SQLite gives exec as 0/1, PostgreSQL as a boolean). */
export interface NodeColumns {
  id: string;
  parent: string;
  name: string;
  kind: string;
  rev: number;
  size: number | null;
  hash: string | null;
  target: string | null;
  mtime: number;
  exec: number | boolean;
  seq: number;
  deleted: number;
}

/** A stored node from a database row, the same for every store. */
export function storedNodeFromRow(r: NodeColumns): StoredNode {
  const n = wireNode({
    id: r.id,
    parent: r.parent,
    name: r.name,
    kind: r.kind as WireNode['kind'],
    rev: r.rev,
    size: r.size ?? undefined,
    hash: r.hash ?? undefined,
    target: r.target ?? undefined,
    mtime: r.mtime,
    exec: r.exec === true || r.exec === 1,
    seq: r.seq,
  });
  return { ...n, deleted: r.deleted };
}

/** The wire form of a database row (a listing), without the stored node in between. */
export function wireNodeFromRow(r: NodeColumns): WireNode {
  // the same fields, in the same order, as wireNode(storedNodeFromRow(r))
  const w = { id: r.id, parent: r.parent, name: r.name, kind: r.kind as WireNode['kind'], rev: r.rev } as WireNode;
  if (r.kind === 'file') {
    w.size = r.size ?? undefined;
    w.hash = r.hash ?? undefined;
  }
  if (r.kind === 'symlink') w.target = r.target ?? undefined;
  w.mtime = r.mtime;
  w.exec = r.exec === true || r.exec === 1;
  w.seq = r.seq;
  return w;
}

export function wireNode(n: Omit<WireNode, 'seq'> & { seq: number }): WireNode {
  const w: WireNode = { id: n.id, parent: n.parent, name: n.name, kind: n.kind, rev: n.rev } as WireNode;
  if (n.kind === 'file') {
    w.size = n.size;
    w.hash = n.hash;
  }
  if (n.kind === 'symlink') w.target = n.target;
  w.mtime = n.mtime;
  w.exec = n.exec;
  w.seq = n.seq;
  return w;
}

function strip(n: StoredNode): WireNode {
  return wireNode(n);
}

function checkParent(facts: OpFacts, parentId: string): Decision | null {
  const p = facts.parent;
  if (p === ROOT) return null;
  if (p === null || p.deleted !== 0) return fail('parent_not_found', `parent ${parentId} does not exist`);
  if (p.kind !== 'dir') return fail('not_a_directory', `parent ${parentId} is a ${p.kind}, not a directory`);
  return null;
}

/** SHA-256 of no bytes: every namespace may reference it without uploading. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function checkBlob(facts: OpFacts, hash: string, size: number): Decision | null {
  if (hash === EMPTY_SHA256 && size === 0) return null;
  if (facts.blob === null) return fail('blob_missing', `this namespace has no blob ${hash}; upload it first`);
  if (facts.blob.size !== size) {
    return fail('blob_missing', `blob ${hash} is ${facts.blob.size} bytes, not ${size}`);
  }
  return null;
}

/**
 * A node may not land deeper, or at a longer path, than the limits: deeper
 * than any disk allows, it cannot be materialised by any client, and every
 * client of the namespace would have to walk it.
 */
function checkPlace(facts: OpFacts, name: string, limits: TreeLimits): Decision | null {
  const depth = facts.parentChain.length + 1 + facts.subtreeHeight;
  if (depth > limits.maxDepth) {
    return fail('too_deep', `the node would be ${depth} levels deep; this server allows ${limits.maxDepth}`);
  }
  const sep = facts.parentChain.length > 0 ? 1 : 0;
  const bytes = facts.parentPathBytes + sep + Buffer.byteLength(name, 'utf8') + facts.subtreePathBytes;
  if (bytes > limits.maxPathBytes) {
    return fail('path_too_long', `the path would be ${bytes} bytes long; this server allows ${limits.maxPathBytes}`);
  }
  return null;
}

export function decideOp(op: Op, facts: OpFacts, newNodeId: () => string, limits: TreeLimits = DEFAULT_TREE_LIMITS): Decision {
  if (op.op === 'create') return decideCreate(op, facts, newNodeId, limits);
  const node = facts.node;
  if (node === null || node.deleted !== 0) return fail('not_found', `node ${op.id} does not exist`);
  if (op.base_rev !== node.rev) return { kind: 'reject', result: { status: 'conflict', current: strip(node) } };
  const key = nameKey(node.name);
  switch (op.op) {
    case 'update': {
      const next: Omit<WireNode, 'seq'> = { ...strip(node), rev: node.rev + 1 };
      if (op.mtime !== undefined) next.mtime = op.mtime;
      if (node.kind === 'file') {
        if (op.hash !== undefined && op.size !== undefined) {
          const bad = checkBlob(facts, op.hash, op.size);
          if (bad) return bad;
          next.hash = op.hash;
          next.size = op.size;
        }
        if (op.exec !== undefined) next.exec = op.exec;
      } else if (node.kind === 'symlink') {
        if (op.target !== undefined) next.target = op.target;
      }
      // fields that do not apply to the node's kind are ignored (docs/api.md)
      return { kind: 'write', op: 'update', node: next, nameKey: key, cascade: false };
    }
    case 'move': {
      const n = opName(op);
      if (n === null) return fail('invalid_name', `invalid name: ${nameReason(op.name)}`);
      const bad = checkParent(facts, op.parent);
      if (bad) return bad;
      if (node.kind === 'dir' && (op.parent === node.id || facts.parentChain.includes(node.id))) {
        return fail('cycle', `cannot move directory ${node.id} into itself or a descendant`);
      }
      const far = checkPlace(facts, n.name, limits);
      if (far) return far;
      if (facts.sibling !== null && facts.sibling.id !== node.id) {
        return fail('name_taken', `"${n.name}" is taken in ${op.parent} (names are unique by NFC and case)`);
      }
      const next = { ...strip(node), rev: node.rev + 1, parent: op.parent, name: n.name };
      return { kind: 'write', op: 'move', node: next, nameKey: n.key, cascade: false };
    }
    case 'delete': {
      // a conditional directory delete: something below changed after the
      // client's view, so deleting now would take content it never saw
      if (node.kind === 'dir' && op.subtree_seq !== undefined && facts.subtreeSeq > op.subtree_seq) {
        return { kind: 'reject', result: { status: 'conflict', current: strip(node) } };
      }
      const next = { ...strip(node), rev: node.rev + 1 };
      return { kind: 'write', op: 'delete', node: next, nameKey: key, cascade: node.kind === 'dir' };
    }
  }
}

function decideCreate(op: Extract<Op, { op: 'create' }>, facts: OpFacts, newNodeId: () => string, limits: TreeLimits): Decision {
  const n = opName(op);
  if (n === null) return fail('invalid_name', `invalid name: ${nameReason(op.name)}`);
  const bad = checkParent(facts, op.parent);
  if (bad) return bad;
  const far = checkPlace(facts, n.name, limits);
  if (far) return far;
  if (facts.sibling !== null) return fail('name_taken', `"${n.name}" is taken in ${op.parent} (names are unique by NFC and case)`);
  const node: Omit<WireNode, 'seq'> = {
    id: newNodeId(),
    parent: op.parent,
    name: n.name,
    kind: op.kind,
    rev: 1,
    mtime: op.mtime ?? 0,
    exec: op.kind === 'file' ? (op.exec ?? false) : false,
  };
  if (op.kind === 'file') {
    const blobBad = checkBlob(facts, op.hash!, op.size!);
    if (blobBad) return blobBad;
    node.hash = op.hash;
    node.size = op.size;
  } else if (op.kind === 'symlink') {
    node.target = op.target;
  }
  return { kind: 'write', op: 'create', node, nameKey: n.key, cascade: false };
}

function nameReason(raw: string): string {
  const c = checkNewName(raw);
  return c.ok ? 'ok' : c.reason;
}

