// The three-way planner: plan(Remote, Synced, Local) → ops. Pure: no disk,
// network, DB or clock (the time for conflicted-copy names is an input).
//
// It plans in rounds. Each call emits only ops that are valid against the
// trees it was given (a child waits until its parent exists on the side it
// is created on, a move waits until its target is free, ops under a
// directory that moves this round wait), and the engine executes them,
// records what actually happened, and plans again until nothing is left.
//
// The modules beside this one:
//   state.ts     the round's bookkeeping (indexes, emitted ops, promises)
//   fates.ts     whether a node deleted on one side may go on the other
//   rules.ts     one function per case of (Synced, Remote, Local) presence
//   moves.ts     following and sending moves, and their cycle checks
//   schedule.ts  which ops run together this round, in what order
//   untangle.ts  the one op that breaks a round stalled in a circle
//   scope.ts     narrowing the input to what can change the plan
//   excluded.ts  selective sync: excluded subtrees leave the disk, never the server

import type { Plan, PlanOp } from '../ops.js';
import { computeLeavable, excludedLocalCreated, excludedNode, exclusionOfNew } from './excluded.js';
import { computeLocalFates, computeRemoteFates } from './fates.js';
import { sortByDepth } from './order.js';
import { bothAlive, goneBoth, localCreated, localGone, remoteCreated, remoteGone } from './rules.js';
import { schedule } from './schedule.js';
import { PlanState, type PlanInput } from './state.js';
import { untangle } from './untangle.js';

export type { PlanInput } from './state.js';
export { narrowPlanInput } from './scope.js';

export function plan(input: PlanInput): Plan {
  const st = new PlanState(input);
  const { synced, remote } = input;
  computeLocalFates(st);
  computeRemoteFates(st);
  computeLeavable(st);

  // NFC/NFD twins on disk: one name on the server, so the others go aside.
  for (const t of st.assoc.twins) {
    if (st.ignored(t.path, t.kind === 'dir')) continue;
    st.renameAside(t, 'another local name differs from it only in Unicode normalization');
  }

  const ids = new Set<string>();
  for (const id of synced.keys()) ids.add(id);
  for (const id of remote.keys()) if (st.rp.pathOf.has(id)) ids.add(id);
  // remote-created nodes parents first, so a new subtree lands in one round
  const order = sortByDepth([...ids], (id) => st.rp.pathOf.get(id) ?? st.sp.pathOf.get(id) ?? '', 1, true);

  for (const id of order) {
    const r = st.remoteNode(id);
    if (remote.has(id) && !r) continue; // unplaceable remote node: reported, left alone
    let s = synced.get(id);
    if (s && !st.sp.pathOf.has(id)) {
      // its ancestry in Synced is gone: forget it and decide afresh, as for
      // a node never synced (adopt, download or upload: nothing is lost)
      st.state.push({ type: 'forget', id, path: `synced:${id}` });
      s = undefined;
    }
    const spath = s ? st.sp.pathOf.get(id) : undefined;
    const rpath = r ? st.rp.pathOf.get(id) : undefined;
    if (spath !== undefined && st.ignored(spath, s!.kind === 'dir')) continue;
    if (rpath !== undefined && st.ignored(rpath, r!.kind === 'dir')) continue;
    const view = s ? st.assoc.localOf.get(id) : undefined;
    const where = r ? rpath : spath; // an exclusion follows the server's location
    if (where !== undefined && st.excludedRoot(where) !== undefined) {
      excludedNode(st, id, s, r, view, spath);
      continue;
    }
    if (s && r && view) bothAlive(st, id, s, r, view);
    else if (s && r) localGone(st, id, s, r);
    else if (s && view) remoteGone(st, id, view);
    else if (s) goneBoth(st, id, spath!);
    else if (r) remoteCreated(st, r, rpath!);
  }

  // New local entries, parents first.
  const fresh = sortByDepth(
    [...st.assoc.byPath.values()].filter((e) => !st.assoc.claimedAt.has(e.path) && !st.handledLocal.has(e.path) && !st.renamedAside.has(e.path)),
    (e) => e.path, 1, true);
  for (const e of fresh) {
    if (st.ignored(e.path, e.kind === 'dir')) continue;
    const root = exclusionOfNew(st, e);
    if (root !== undefined) excludedLocalCreated(st, e, root);
    else localCreated(st, e);
  }

  let ops: PlanOp[] = schedule(st);
  if (ops.length === 0 && st.deferred > 0) {
    const breaker = untangle(st);
    if (breaker) ops = [breaker];
  }
  return { ops, problems: st.problems, deferred: st.deferred };
}
