// What an op achieved, as edits of the trees. The executor records these in
// the state DB and the planner's test model applies them to its maps, so
// both follow one definition of how Remote, Synced and Local change when an
// op succeeds (STYLE.md: the merge base follows what the transition
// achieved, not the plan). Pure: the caller supplies what the disk and the
// server reported (the placed file's identity, the returned node).

import type { SyncedNode } from './associate.js';
import type { LocalEntry } from './local.js';
import type { LocalOp, RemoteOp, StateOp } from './ops.js';
import { isSwapName } from './syncd-names.js';
import type { TreeNode } from './tree.js';

export type TreeEdit =
  /** Remote takes the node the server returned (only if it is newer than what Remote has) */
  | { tree: 'remote'; edit: 'upsert'; node: TreeNode; seq: number }
  | { tree: 'remote'; edit: 'delete_subtree'; id: string }
  | { tree: 'synced'; edit: 'put'; node: SyncedNode }
  /**
   * The Synced node moved: its location, rev and inode change, its content
   * stays. When Synced does not have it, `orInsert` (if given) is recorded
   * with that location instead; otherwise nothing happens.
   */
  | { tree: 'synced'; edit: 'relocate'; id: string; parent: string; name: string; rev: number; ino: number | null; orInsert: TreeNode | null }
  | { tree: 'synced'; edit: 'delete'; id: string }
  | { tree: 'synced'; edit: 'delete_subtree'; id: string }
  /** the children of `from` now hang under `to` (a node replaced by a new one) */
  | { tree: 'synced'; edit: 'reparent'; from: string; to: string }
  /** Local takes the entry; a file or symlink replaces whatever Local held below its path */
  | { tree: 'local'; edit: 'put'; entry: LocalEntry }
  /** an entry and everything below it moved from disk path `from` to `to` (NFC: `toNfc`) */
  | { tree: 'local'; edit: 'move_subtree'; from: string; to: string; toNfc: string }
  | { tree: 'local'; edit: 'delete_subtree'; diskPath: string }
  /** a conflicted copy was made: `conflicts` lists it */
  | { tree: 'conflicts'; edit: 'add'; path: string; original: string; reason: string };

/** The identity of an object on disk, as lstat reports it. */
export interface DiskIdentity {
  ino: number;
  size: number;
  mtimeMs: number;
}

export type MoveOp = Extract<LocalOp, { type: 'local_move' | 'conflict_rename' }>;
export type PlaceOp = Extract<LocalOp, { type: 'mkdir' | 'download' | 'symlink' | 'chmod' }>;
export type LocalDeleteOp = Extract<LocalOp, { type: 'local_delete' }>;

/** The Local entry of `node` placed at disk path `diskPath` with identity `st`: what WE put there. */
export function placedEntry(diskPath: string, st: DiskIdentity, node: TreeNode): LocalEntry {
  const kind = node.kind;
  return {
    path: diskPath.normalize('NFC'), diskPath, kind, size: kind === 'file' ? st.size : null, mtimeMs: st.mtimeMs, ino: st.ino,
    hash: kind === 'file' ? node.hash : null, exec: kind === 'file' && node.exec, target: kind === 'symlink' ? node.target : null,
  };
}

/** A state op needs no disk or server: it always achieves what it says. */
export function stateEdits(op: StateOp): TreeEdit[] {
  if (op.type === 'adopt') return [{ tree: 'synced', edit: 'put', node: { ...op.node, ino: op.local?.ino ?? null } }];
  return [{ tree: 'synced', edit: 'delete', id: op.id }];
}

/** A local move or conflict rename went through; `ino` is the moved object's inode. */
export function movedEdits(op: MoveOp, ino: number): TreeEdit[] {
  const from = op.type === 'local_move' ? op.from : op.path;
  const edits: TreeEdit[] = [{ tree: 'local', edit: 'move_subtree', from, to: op.to, toNfc: op.to.normalize('NFC') }];
  if (op.type === 'local_move') {
    edits.push({ tree: 'synced', edit: 'relocate', id: op.id, parent: op.node.parent, name: op.node.name, rev: op.node.rev, ino, orInsert: null });
  } else if (!isSwapName(op.to)) {
    // a temporary swap name is no conflict
    edits.push({ tree: 'conflicts', edit: 'add', path: op.to, original: op.path, reason: op.reason });
  }
  return edits;
}

/** A symlink made again at its new name by a move (client/exec/no-replace.ts): Local's entry there takes the new link's identity. */
export function relinkedEdits(entry: LocalEntry | undefined, st: DiskIdentity): TreeEdit[] {
  return entry ? [{ tree: 'local', edit: 'put', entry: { ...entry, ino: st.ino, mtimeMs: st.mtimeMs } }] : [];
}

/** The node now sits at the op's path with identity `st`: Local and Synced take it. */
export function placedEdits(op: PlaceOp, st: DiskIdentity): TreeEdit[] {
  return [
    { tree: 'local', edit: 'put', entry: placedEntry(op.path, st, op.node) },
    { tree: 'synced', edit: 'put', node: { ...op.node, ino: st.ino } },
  ];
}

/**
 * A local delete ran. `removed` false: a directory held something we do
 * not sync (or something new) and was kept; forgetting its node makes the
 * next round upload it as new.
 */
export function localDeleteEdits(op: LocalDeleteOp, removed: boolean): TreeEdit[] {
  if (!removed) return [{ tree: 'synced', edit: 'delete', id: op.id }];
  return [
    { tree: 'local', edit: 'delete_subtree', diskPath: op.path },
    { tree: 'synced', edit: 'delete', id: op.id },
  ];
}

/**
 * The server applied a remote op and returned `node` at journal position
 * `seq`; `cursorSeq` is how far our pull has come.
 */
export function committedEdits(op: RemoteOp, node: TreeNode, seq: number, cursorSeq: number): TreeEdit[] {
  if (op.type === 'delete') {
    return [
      { tree: 'remote', edit: 'delete_subtree', id: op.id },
      { tree: 'synced', edit: 'delete_subtree', id: op.id },
    ];
  }
  const edits: TreeEdit[] = [];
  // a retried op gets its first result back, which the pull may already
  // have passed (and seen the node change or go since): Remote keeps the journal's word
  if (seq > cursorSeq) edits.push({ tree: 'remote', edit: 'upsert', node, seq });
  if (op.type === 'move') {
    edits.push({ tree: 'synced', edit: 'relocate', id: op.id, parent: node.parent, name: node.name, rev: node.rev, ino: op.local.ino, orInsert: node });
  } else {
    edits.push({ tree: 'synced', edit: 'put', node: { ...node, ino: op.local.ino } });
  }
  if (op.type === 'create' && op.replaces) {
    edits.push({ tree: 'synced', edit: 'delete', id: op.replaces });
    edits.push({ tree: 'synced', edit: 'reparent', from: op.replaces, to: node.id });
  }
  return edits;
}

/** Applies a relocate edit to the Synced node it names (`current`, if Synced has it). */
export function relocated(e: Extract<TreeEdit, { edit: 'relocate' }>, current: SyncedNode | null | undefined): SyncedNode | null {
  const base = current ?? (e.orInsert ? { ...e.orInsert, ino: null } : null);
  return base && { ...base, parent: e.parent, name: e.name, rev: e.rev, ino: e.ino };
}
