// Round scheduling: which of the planned ops may run together this round,
// and in what order. Ops whose paths would go stale when an accepted move
// lands wait for a later round (counted as deferred). Pure.

import type { PlanOp } from '../ops.js';
import { depth, isWithin } from '../tree.js';
import { byDepthThenPath, cmp, sortByDepth } from './order.js';
import type { PlanState } from './state.js';

/** The path an op fills (creates or moves something into). */
function fillTarget(op: PlanOp): string | null {
  if (op.type === 'download' || op.type === 'symlink' || op.type === 'mkdir') return op.path;
  if (op.type === 'local_move') return op.to;
  return null;
}

/**
 * A conflict rename clears exactly the path that another op of the same
 * round fills: the executor runs renames first, so they do not block each
 * other there (anything below that path still does).
 */
function handsOver(self: PlanOp, p: string, mover: PlanOp, moverPath: string): boolean {
  if (p !== moverPath) return false;
  if (mover.type === 'conflict_rename' && mover.path === p && fillTarget(self) === p) return true;
  if (self.type === 'conflict_rename' && self.path === p && fillTarget(mover) === p) return true;
  return false;
}

/** Local paths an op reads or writes. */
function ownPaths(op: PlanOp): string[] {
  switch (op.type) {
    case 'local_move':
      return [op.from, op.to];
    case 'conflict_rename':
      return [op.path, op.to];
    case 'adopt':
    case 'forget':
      return [];
    default:
      return [op.path];
  }
}

function pathOfOp(op: PlanOp): string {
  if (op.type === 'local_move') return op.from;
  if ('path' in op) return op.path;
  return '';
}

/**
 * The ops of this round in execution order: state ops, conflict renames,
 * local moves, mkdirs (parents first), content, remote ops (parents first),
 * local deletes (children first).
 *
 * Local moves and renames are accepted greedily, shallowest first, each
 * only if it is independent of those already accepted (no path of one
 * lies within a path of the other): a child's paths go stale when its
 * ancestor moves. Checking against accepted moves only (not against all
 * planned ones) means at least one always runs, so moves cannot veto
 * each other in a circle. Everything else waits if it lies under an
 * accepted move (both its source and its target count).
 */
export function schedule(st: PlanState): PlanOp[] {
  const related = (a: PlanOp, b: PlanOp): boolean =>
    ownPaths(a).some((p) => ownPaths(b).some((q) => (isWithin(p, q) || isWithin(q, p)) && !handsOver(a, p, b, q)));
  const accepted: PlanOp[] = [];
  const movers = sortByDepth([...st.renames, ...st.localMoves], (op) => ownPaths(op)[0]!, 1, true)
    .sort((a, b) => (a.type === 'conflict_rename' ? 0 : 1) - (b.type === 'conflict_rename' ? 0 : 1));
  for (const op of movers) {
    if (accepted.some((a) => related(op, a))) st.deferred++;
    else accepted.push(op);
  }
  const moving = accepted.flatMap((op) => ownPaths(op).map((path) => ({ op, path })));
  const underOf = (self: PlanOp): boolean =>
    ownPaths(self).some((p) => moving.some((m) => m.op !== self && isWithin(p, m.path) && !handsOver(self, p, m.op, m.path)));
  const keep = <T extends PlanOp>(ops: T[]): T[] =>
    ops.filter((op) => {
      if (!underOf(op)) return true;
      st.deferred++;
      return false;
    });
  const renames = accepted.filter((op) => op.type === 'conflict_rename');
  const localMoves = accepted.filter((op) => op.type === 'local_move');
  const mkdirs = keep(st.mkdirs);
  const content = keep(st.content);
  const localDeletes = keep(st.localDeletes);
  const remoteOps = keep(st.remoteOps);

  return [
    ...st.state,
    ...renames,
    ...localMoves.sort((a, b) => cmp(pathOfOp(a), pathOfOp(b))),
    ...mkdirs.sort((a, b) => byDepthThenPath(pathOfOp(a), pathOfOp(b))),
    ...content.sort((a, b) => cmp(pathOfOp(a), pathOfOp(b))),
    ...remoteOps.sort((a, b) => byDepthThenPath(a.path, b.path) || cmp(a.type, b.type)),
    ...localDeletes.sort((a, b) => depth(pathOfOp(b)) - depth(pathOfOp(a)) || cmp(pathOfOp(a), pathOfOp(b))),
  ];
}
