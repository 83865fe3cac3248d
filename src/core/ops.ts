// The operations a plan is made of. Each carries the state it expects to
// replace, so the executor can refuse to act on a disk that moved on.

import type { LocalEntry, LocalExpect } from './local.js';
import type { TreeNode } from './tree.js';

/** Remote → disk */
export type LocalOp =
  | { type: 'mkdir'; id: string; path: string; node: TreeNode }
  /** place the node's content at path; `expect` is what is there now (null: nothing) */
  | { type: 'download'; id: string; path: string; node: TreeNode; expect: LocalExpect | null }
  | { type: 'symlink'; id: string; path: string; node: TreeNode; expect: LocalExpect | null }
  /** only the execute bit differs */
  | { type: 'chmod'; id: string; path: string; node: TreeNode; expect: LocalExpect }
  | { type: 'local_move'; id: string; from: string; to: string; node: TreeNode; expect: LocalExpect }
  /** `excluded`: the local copy of an excluded path leaves (selective sync): not a deletion of the user's data */
  | { type: 'local_delete'; id: string; path: string; expect: LocalExpect; excluded?: true }
  /** move a local entry aside under a conflicted-copy name; it is uploaded as new later */
  | { type: 'conflict_rename'; path: string; to: string; expect: LocalExpect; reason: string };

/** Disk → remote */
export type RemoteOp =
  | { type: 'create'; path: string; parentId: string; name: string; local: LocalEntry; replaces: string | null }
  | { type: 'update'; id: string; baseRev: number; path: string; local: LocalEntry }
  | { type: 'move'; id: string; baseRev: number; parentId: string; name: string; path: string; local: LocalEntry }
  | { type: 'delete'; id: string; baseRev: number; path: string };

/** State only: both sides already agree */
export type StateOp =
  | { type: 'adopt'; id: string; node: TreeNode; path: string; local: LocalEntry | null }
  | { type: 'forget'; id: string; path: string };

export type PlanOp = LocalOp | RemoteOp | StateOp;

export interface PlanProblem {
  path: string;
  code: string;
  message: string;
}

export interface Plan {
  ops: PlanOp[];
  problems: PlanProblem[];
  /** ops held back until an earlier op of this round has landed */
  deferred: number;
}

export function isRemoteOp(op: PlanOp): op is RemoteOp {
  return op.type === 'create' || op.type === 'update' || op.type === 'move' || op.type === 'delete';
}

export function isStateOp(op: PlanOp): op is StateOp {
  return op.type === 'adopt' || op.type === 'forget';
}
