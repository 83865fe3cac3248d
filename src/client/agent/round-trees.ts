// The trees a plan round works on: a selection around what changed since
// the plan base (core/plan/select.ts, through the state DB's indexes), or
// the whole trees when there is no usable base (first sync, a reset, new
// ignore rules, too much changed). core/policy/cycle.ts decides which.

import type { SyncedTree } from '../../core/associate.js';
import type { LocalTree } from '../../core/local.js';
import { selectAround } from '../../core/plan/select.js';
import { plansFromSelection } from '../../core/policy/cycle.js';
import type { Tree } from '../../core/tree.js';
import type { StateDB } from '../state/db.js';

export interface RoundTrees {
  remote: Tree;
  synced: SyncedTree;
  local: LocalTree;
  /** files in the whole Local tree (the guards ask only when one trips) */
  localFiles: () => number;
  /** files in the whole Synced tree, when `synced` is a selection */
  syncedFiles: (() => number) | undefined;
}

export function roundTrees(db: StateDB, memoKey: string): RoundTrees {
  if (plansFromSelection(db.planBase(), memoKey)) {
    const sel = selectAround(db.planSeeds(), db.treeIndex);
    return { ...sel, localFiles: () => db.localCount(), syncedFiles: () => db.syncedCount() };
  }
  const local = db.loadLocal();
  const localFiles = () => {
    let n = 0;
    for (const e of local.values()) if (e.kind !== 'dir') n++;
    return n;
  };
  return { remote: db.loadRemote(), synced: db.loadSynced(), local, localFiles, syncedFiles: undefined };
}
