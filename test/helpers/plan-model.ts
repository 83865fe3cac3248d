// A model of one agent and its server for planner tests: applies plan ops to
// Remote/Synced/Local as if the executor and server had carried them out,
// and checks the model's own preconditions so a bad plan fails loudly.

import type { SyncedTree } from '../../src/core/associate.js';
import type { LocalEntry, LocalTree } from '../../src/core/local.js';
import { committedEdits, localDeleteEdits, movedEdits, placedEdits, relocated, stateEdits, type DiskIdentity, type TreeEdit } from '../../src/core/apply.js';
import type { Plan, PlanOp, RemoteOp } from '../../src/core/ops.js';
import { plan, type PlanInput } from '../../src/core/plan/index.js';
import { baseName, isWithin, joinPath, parentPath, resolvePaths, type Tree, type TreeNode } from '../../src/core/tree.js';
import { nameKey } from '../../src/protocol/names.js';
import { ROOT_ID } from '../../src/protocol/types.js';

export interface Model {
  remote: Tree;
  synced: SyncedTree;
  local: LocalTree;
  nextIno: number;
  nextId: number;
}

/** Spec of a tree: path → file content, `/` suffix on the key for a directory, `-> target` for a symlink. */
export type TreeSpec = Record<string, string | null>;

export function emptyModel(): Model {
  return { remote: new Map(), synced: new Map(), local: new Map(), nextIno: 100, nextId: 1 };
}

function fileEntry(path: string, hash: string, ino: number, exec = false): LocalEntry {
  return { path, diskPath: path, kind: 'file', size: hash.length, mtimeMs: 1, ino, hash, exec, target: null };
}

/** A model where both sides and Synced agree on `spec`. */
export function syncedModel(spec: TreeSpec): Model {
  const m = emptyModel();
  const idAt = new Map<string, string>([['', ROOT_ID]]);
  for (const raw of Object.keys(spec).sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1))) {
    const isDir = raw.endsWith('/');
    const path = isDir ? raw.slice(0, -1) : raw;
    const content = spec[raw] ?? '';
    const isLink = !isDir && content.startsWith('-> ');
    const id = `n${m.nextId++}`;
    const ino = m.nextIno++;
    idAt.set(path, id);
    const node: TreeNode = {
      id, parent: idAt.get(parentPath(path))!, name: baseName(path),
      kind: isDir ? 'dir' : isLink ? 'symlink' : 'file', rev: 1,
      size: isDir || isLink ? null : content.length, hash: isDir || isLink ? null : content,
      mtime: 0, exec: false, target: isLink ? content.slice(3) : null,
    };
    m.remote.set(id, node);
    m.synced.set(id, { ...node, ino });
    m.local.set(path, isDir
      ? { path, diskPath: path, kind: 'dir', size: null, mtimeMs: 1, ino, hash: null, exec: false, target: null }
      : isLink ? { path, diskPath: path, kind: 'symlink', size: null, mtimeMs: 1, ino, hash: null, exec: false, target: node.target }
      : fileEntry(path, content, ino));
  }
  return m;
}

// ---- mutations a user or another device makes ------------------------

export function remotePathIndex(m: Model): Map<string, string> {
  return resolvePaths(m.remote).idAt;
}

export const remoteEdit = {
  create(m: Model, path: string, content: string | null /* null = dir */): string {
    const pid = parentPath(path) === '' ? ROOT_ID : remotePathIndex(m).get(parentPath(path))!;
    if (pid === undefined) throw new Error(`no remote parent for ${path}`);
    const id = `n${m.nextId++}`;
    m.remote.set(id, { id, parent: pid, name: baseName(path), kind: content === null ? 'dir' : 'file', rev: 1, size: content?.length ?? null, hash: content, mtime: 0, exec: false, target: null });
    return id;
  },
  edit(m: Model, path: string, content: string): void {
    const id = remotePathIndex(m).get(path)!;
    const n = m.remote.get(id)!;
    m.remote.set(id, { ...n, hash: content, size: content.length, rev: n.rev + 1 });
  },
  move(m: Model, from: string, to: string): void {
    const idx = remotePathIndex(m);
    const id = idx.get(from)!;
    const pid = parentPath(to) === '' ? ROOT_ID : idx.get(parentPath(to))!;
    const n = m.remote.get(id)!;
    m.remote.set(id, { ...n, parent: pid, name: baseName(to), rev: n.rev + 1 });
  },
  delete(m: Model, path: string): void {
    const idx = remotePathIndex(m);
    for (const [p, id] of idx) if (isWithin(p, path)) m.remote.delete(id);
  },
};

function moveLocalPrefix(local: LocalTree, from: string, to: string): void {
  const moved: LocalEntry[] = [];
  for (const [k, e] of [...local]) {
    if (isWithin(e.path, from)) {
      local.delete(k);
      const p = to + e.path.slice(from.length);
      moved.push({ ...e, path: p, diskPath: p });
    }
  }
  for (const e of moved) local.set(e.path, e);
}

export const localEdit = {
  create(m: Model, path: string, content: string | null): void {
    if (m.local.has(path)) throw new Error(`local ${path} exists`);
    const ino = m.nextIno++;
    m.local.set(path, content === null
      ? { path, diskPath: path, kind: 'dir', size: null, mtimeMs: 1, ino, hash: null, exec: false, target: null }
      : fileEntry(path, content, ino));
  },
  /** in-place edit: same inode */
  edit(m: Model, path: string, content: string): void {
    const e = m.local.get(path)!;
    m.local.set(path, { ...e, hash: content, size: content.length, mtimeMs: e.mtimeMs + 1 });
  },
  /** save-by-rename: new inode */
  replace(m: Model, path: string, content: string): void {
    const e = m.local.get(path)!;
    m.local.set(path, { ...e, hash: content, size: content.length, ino: m.nextIno++ });
  },
  move(m: Model, from: string, to: string): void {
    moveLocalPrefix(m.local, from, to);
  },
  delete(m: Model, path: string): void {
    for (const k of [...m.local.keys()]) if (isWithin(k, path)) m.local.delete(k);
  },
};

// ---- applying a plan -----------------------------------------------------

/** What the real server answers with an op error (nothing changes; the engine pulls and re-plans). */
export class ServerRefusal extends Error {}

function remoteClash(m: Model, parent: string, name: string, self: string | null): void {
  for (const n of m.remote.values()) {
    if (n.parent === parent && n.id !== self && nameKey(n.name) === nameKey(name)) throw new ServerRefusal(`name_taken: ${name} under ${parent}`);
  }
}

function dropSubtree(tree: Map<string, TreeNode>, id: string): void {
  const kids = new Map<string, string[]>();
  for (const n of tree.values()) kids.set(n.parent, [...(kids.get(n.parent) ?? []), n.id]);
  const stack = [id];
  while (stack.length) {
    const x = stack.pop()!;
    tree.delete(x);
    stack.push(...(kids.get(x) ?? []));
  }
}

/**
 * Applies what an op achieved to the model's trees, as the executor records
 * it in the state DB (src/client/exec/record.ts): Local keyed by disk path,
 * Remote taking only newer revs. The model keeps no conflict log.
 */
function applyEdits(m: Model, edits: readonly TreeEdit[]): void {
  for (const e of edits) {
    switch (e.edit) {
      case 'upsert': {
        const had = m.remote.get(e.node.id);
        if (!had || e.node.rev > had.rev) m.remote.set(e.node.id, e.node);
        break;
      }
      case 'put':
        if (e.tree === 'synced') m.synced.set(e.node.id, e.node);
        else {
          // a file or symlink replaces what Local held below its path (StateDB.putLocal)
          if (e.entry.kind !== 'dir') for (const k of [...m.local.keys()]) if (k.startsWith(`${e.entry.diskPath}/`)) m.local.delete(k);
          m.local.set(e.entry.diskPath, e.entry);
        }
        break;
      case 'relocate': {
        const n = relocated(e, m.synced.get(e.id));
        if (n) m.synced.set(n.id, n);
        break;
      }
      case 'delete':
        m.synced.delete(e.id);
        break;
      case 'delete_subtree':
        if (e.tree === 'remote') dropSubtree(m.remote, e.id);
        else if (e.tree === 'synced') dropSubtree(m.synced as Map<string, TreeNode>, e.id);
        else for (const k of [...m.local.keys()]) if (isWithin(k, e.diskPath)) m.local.delete(k);
        break;
      case 'reparent':
        for (const [cid, c] of m.synced) if (c.parent === e.from) m.synced.set(cid, { ...c, parent: e.to });
        break;
      case 'move_subtree':
        moveLocalPrefix(m.local, e.from, e.to);
        break;
      case 'add':
        break;
    }
  }
}

/** The identity a new object gets on the model's disk. */
function newObject(m: Model, size: number | null): DiskIdentity {
  return { ino: m.nextIno++, size: size ?? 0, mtimeMs: 1 };
}

export function applyOp(m: Model, op: PlanOp): void {
  const needLocal = (p: string): LocalEntry => {
    const e = m.local.get(p);
    if (!e) throw new Error(`${op.type}: nothing at ${p}`);
    return e;
  };
  const needFree = (p: string): void => {
    for (const k of m.local.keys()) if (nameKey(k) === nameKey(p)) throw new Error(`${op.type}: ${p} is occupied by ${k}`);
    if (parentPath(p) !== '' && m.local.get(parentPath(p))?.kind !== 'dir') throw new Error(`${op.type}: no parent dir for ${p}`);
  };
  // the server's side: the checks it makes, and the node it returns (the
  // model has no journal: no pull ever passed a reply, so seq 1 > cursor 0)
  const committed = (node: TreeNode): void => applyEdits(m, committedEdits(op as RemoteOp, node, 1, 0));
  switch (op.type) {
    case 'adopt':
    case 'forget':
      return applyEdits(m, stateEdits(op));
    case 'mkdir':
      needFree(op.path);
      return applyEdits(m, placedEdits(op, newObject(m, null)));
    case 'download':
    case 'symlink':
      if (op.expect) needLocal(op.path);
      else needFree(op.path);
      return applyEdits(m, placedEdits(op, newObject(m, op.node.size)));
    case 'chmod': {
      const e = needLocal(op.path);
      return applyEdits(m, placedEdits(op, { ino: e.ino, size: e.size ?? 0, mtimeMs: e.mtimeMs }));
    }
    case 'local_move': {
      const e = needLocal(op.from);
      if (nameKey(op.from) !== nameKey(op.to)) needFree(op.to);
      return applyEdits(m, movedEdits(op, e.ino));
    }
    case 'conflict_rename': {
      const e = needLocal(op.path);
      needFree(op.to);
      return applyEdits(m, movedEdits(op, e.ino));
    }
    case 'local_delete':
      needLocal(op.path);
      for (const k of m.local.keys()) if (k !== op.path && isWithin(k, op.path)) throw new Error(`local_delete: ${op.path} is not empty (${k})`);
      return applyEdits(m, localDeleteEdits(op, true));
    case 'create': {
      const e = needLocal(op.path);
      if (op.parentId !== ROOT_ID && !m.remote.has(op.parentId)) throw new ServerRefusal(`create: parent_not_found ${op.parentId}`);
      remoteClash(m, op.parentId, op.name, null);
      const id = `n${m.nextId++}`;
      return committed({ id, parent: op.parentId, name: op.name, kind: e.kind, rev: 1, size: e.kind === 'file' ? e.size : null, hash: e.kind === 'file' ? e.hash : null, mtime: 0, exec: e.kind === 'file' && e.exec, target: e.target });
    }
    case 'update': {
      const e = needLocal(op.path);
      const n = m.remote.get(op.id)!;
      if (n.rev !== op.baseRev) throw new Error('update: conflict');
      return committed({ ...n, rev: n.rev + 1, hash: e.hash, size: e.size, exec: e.exec, target: e.target });
    }
    case 'move': {
      const n = m.remote.get(op.id)!;
      if (n.rev !== op.baseRev) throw new Error('move: conflict');
      if (op.parentId !== ROOT_ID && !m.remote.has(op.parentId)) throw new ServerRefusal('move: parent_not_found');
      remoteClash(m, op.parentId, op.name, op.id);
      for (let p = op.parentId; p !== ROOT_ID; p = m.remote.get(p)!.parent) if (p === op.id) throw new ServerRefusal('move: cycle');
      return committed({ ...n, parent: op.parentId, name: op.name, rev: n.rev + 1 });
    }
    case 'delete': {
      const n = m.remote.get(op.id)!;
      if (n.rev !== op.baseRev) throw new Error('delete: conflict');
      return committed({ ...n, rev: n.rev + 1 });
    }
  }
}

export interface ConvergeResult {
  rounds: number;
  ops: PlanOp[];
  problems: string[];
}

export function converge(m: Model, opts: Partial<PlanInput> & { maxRounds?: number; shuffle?: (ops: PlanOp[]) => PlanOp[]; planner?: (input: PlanInput) => Plan } = {}): ConvergeResult {
  const all: PlanOp[] = [];
  const problems = new Set<string>();
  for (let round = 1; round <= (opts.maxRounds ?? 60); round++) {
    const { planner = plan, ...given } = opts;
    const p = planner({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: Date.UTC(2026, 10, 21, 10, 0, 0), ...given });
    for (const pr of p.problems) problems.add(`${pr.code}:${pr.path}`);
    if (process.env.SYNCD_PLAN_DEBUG) console.log(`round ${round}: remote=${JSON.stringify(remoteSpec(m))} local=${JSON.stringify(localSpec(m))}\n ops=${JSON.stringify(p.ops.map((o) => ({ ...o, node: undefined, local: undefined })))} deferred=${p.deferred} problems=${JSON.stringify(p.problems)}${process.env.SYNCD_PLAN_DEBUG === '2' ? `\n synced=${JSON.stringify([...m.synced.values()])}\n remoteT=${JSON.stringify([...m.remote.values()])}\n localT=${JSON.stringify([...m.local.values()])}` : ''}`);
    if (p.ops.length === 0) {
      // ops held back with nothing left to run are never run: a stall, not convergence
      if (p.deferred > 0) throw new Error(`stalled: no op to run, ${p.deferred} deferred (round ${round})`);
      return { rounds: round, ops: all, problems: [...problems] };
    }
    for (const op of opts.shuffle ? opts.shuffle(p.ops) : p.ops) {
      try {
        applyOp(m, op);
      } catch (err) {
        // the server refuses these and the engine re-plans; anything else is a bad plan
        if (!(err instanceof ServerRefusal)) throw err;
      }
    }
    all.push(...p.ops);
  }
  throw new Error(`no convergence after ${opts.maxRounds ?? 60} rounds`);
}

/** The remote tree as a spec (path → content), for comparisons. */
export function remoteSpec(m: Model): TreeSpec {
  const { pathOf } = resolvePaths(m.remote);
  const out: TreeSpec = {};
  for (const [id, p] of pathOf) {
    const n = m.remote.get(id)!;
    if (n.kind === 'dir') out[p + '/'] = null;
    else out[p] = n.kind === 'symlink' ? `-> ${n.target}` : n.hash;
  }
  return sortSpec(out);
}

export function localSpec(m: Model): TreeSpec {
  const out: TreeSpec = {};
  for (const e of m.local.values()) {
    if (e.kind === 'dir') out[e.path + '/'] = null;
    else out[e.path] = e.kind === 'symlink' ? `-> ${e.target}` : e.hash;
  }
  return sortSpec(out);
}

export function sortSpec(s: TreeSpec): TreeSpec {
  return Object.fromEntries(Object.entries(s).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export { joinPath };
