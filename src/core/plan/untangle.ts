// Untangling: when a round would emit nothing yet ops are waiting, the
// waits form a circle (a swap, a name waiting on its own occupant). One
// party is moved to a temporary visible name so the next rounds can finish.
// Pure.

import { expectOf } from '../local.js';
import type { PlanOp, RemoteOp } from '../ops.js';
import { swapName } from '../syncd-names.js';
import { baseName, joinPath, parentPath } from '../tree.js';
import type { PlanState } from './state.js';

/**
 * A server node some op waits on to leave its name, while that node's own
 * move waits in turn, moved to a temporary visible name on the server: the
 * name is free, and the next rounds finish both. Two waits lead here:
 * - a new local entry waits for the node (e.g. a link moved into a new
 *   directory made at the link's old name: the directory cannot be created
 *   before the link leaves, the link cannot move before the directory exists);
 * - a folder move waits for it, and its own move waits for its new parent,
 *   still below it on the server (the folder swapped a directory and its
 *   subdirectory and renamed them).
 */
function stepAside(st: PlanState, holders: Iterable<string>): RemoteOp | null {
  for (const id of holders) {
    const r = st.input.remote.get(id);
    const view = st.assoc.localOf.get(id);
    if (!r || !view || !st.input.synced.has(id)) continue;
    return { type: 'move', id, baseRev: r.rev, parentId: r.parent, name: swapName(r.name, id.slice(-6)), path: view.entry.diskPath, local: view.entry };
  }
  return null;
}

/**
 * The single op that breaks a stalled round, or null when nothing is
 * blocked in a circle. Called only when the scheduled round is empty and
 * something was deferred.
 */
export function untangle(st: PlanState): PlanOp | null {
  // A swap (a→b while b→a) blocks every move of the cycle: break it by
  // moving one party to a temporary visible name; the next rounds finish.
  const lBlocked = new Set(st.blockedLocalMoves.map((b) => b.id));
  const rBlocked = new Set(st.blockedRemoteMoves.map((b) => b.id));
  const lm = st.blockedLocalMoves.find((b) => b.blocker !== undefined && lBlocked.has(b.blocker));
  const rm = st.blockedRemoteMoves.find((b) => rBlocked.has(b.blocker));
  if (lm) {
    const tmp = joinPath(parentPath(lm.from), swapName(baseName(lm.from), lm.id.slice(-6)));
    return { type: 'local_move', id: lm.id, from: lm.from, to: tmp, node: { ...lm.node, name: baseName(tmp) }, expect: expectOf(lm.entry) };
  }
  if (rm) {
    return { type: 'move', id: rm.id, baseRev: rm.baseRev, parentId: rm.parentId, name: swapName(rm.name, rm.id.slice(-6)), path: rm.entry.diskPath, local: rm.entry };
  }
  const aside = stepAside(st, st.leaving) ?? stepAside(st, st.blockedRemoteMoves.map((b) => b.blocker));
  if (aside) return aside;
  if (st.blockers[0]) {
    // something waits for a path whose occupant waits in turn: move the
    // occupant aside (locally only); the next round puts it where it belongs
    const b = st.blockers[0];
    const to = joinPath(parentPath(b.diskPath), swapName(baseName(b.diskPath), String(b.ino)));
    return { type: 'conflict_rename', path: b.diskPath, to, expect: expectOf(b), reason: 'moved aside to untangle two changes that wait on each other' };
  }
  return null;
}
