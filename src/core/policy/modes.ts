// Folder modes (issue #18 part B): which of a round's ops a folder's mode
// lets run, and what the held-back ones mean to the user. Pure.
//
// - two-way: everything runs.
// - receive-only: nothing goes to the server. A local change stays a
//   "local difference" (listed by status, not pending work) until
//   `syncd revert` puts the server's version back. Remote changes apply as
//   usual; one that meets a local edit sends the local file aside as a
//   conflicted copy (a local op), which stays a local difference.
// - send-only: nothing the server changed is applied to the folder; it
//   stays a "remote difference" (Remote is still pulled, so status lists
//   it) until `syncd override` pushes the folder's state over the server's.
//   A local edit meeting a remote edit is held whole (neither applied) and
//   listed as a conflict; override makes the local one win.
// The planner is not told the mode: the ops it plans are filtered here, so
// a mode only ever removes work, never invents it.

import { isRemoteOp, isStateOp, type Plan, type PlanOp } from '../ops.js';
import { plan, type PlanInput } from '../plan/index.js';
import { overridePlan, revertPlan } from '../plan/prefer.js';
import type { FolderMode } from './mode-names.js';

/** A one-time user request that changes what a round plans. */
export type ModeRequest = 'revert' | 'override';

/** Which mode each request belongs to. */
const REQUEST_MODE: Record<ModeRequest, FolderMode> = { revert: 'receive-only', override: 'send-only' };

/** Why `request` cannot run in `mode`, or null when it can. */
export function requestRefusal(request: ModeRequest, mode: FolderMode): string | null {
  const wants = REQUEST_MODE[request];
  if (mode === wants) return null;
  return `\`syncd ${request}\` is for ${wants} folders and this folder is ${mode} (\`syncd config set DIR mode ${wants}\` first)`;
}

/** May `op` run in a folder of mode `mode`? State ops (both sides already agree) always may. */
export function allowedIn(mode: FolderMode, op: PlanOp): boolean {
  if (mode === 'receive-only') return !isRemoteOp(op);
  if (mode === 'send-only') return isRemoteOp(op) || isStateOp(op);
  return true;
}

export interface ModePlan extends Plan {
  /** ops the mode holds back: the differences it keeps */
  held: PlanOp[];
}

/**
 * The part of `p` that `mode` lets run. Held-back work is not pending: ops
 * deferred only because a held op never lands are not counted either (with
 * nothing allowed left to run, nothing deferred can move).
 */
export function holdBack(p: Plan, mode: FolderMode): ModePlan {
  const ops: PlanOp[] = [];
  const held: PlanOp[] = [];
  for (const op of p.ops) (allowedIn(mode, op) ? ops : held).push(op);
  const deferred = ops.length === 0 && held.length > 0 ? 0 : p.deferred;
  return { ops, problems: p.problems, deferred, held };
}

/** One round's plan for a folder in `mode`, with a pending `request` applied. */
export function planInMode(input: PlanInput, mode: FolderMode, request: ModeRequest | null): ModePlan {
  const planner = request === null || requestRefusal(request, mode) !== null ? plan : request === 'revert' ? revertPlan : overridePlan;
  return holdBack(planner(input), mode);
}

export type DifferenceChange = 'created' | 'changed' | 'moved' | 'deleted' | 'conflict';

/** A difference a mode keeps: `local` (the folder changed it, receive-only) or `remote` (the server did, send-only). */
export interface Difference {
  path: string;
  side: 'local' | 'remote';
  change: DifferenceChange;
}

function differenceOf(op: PlanOp): Difference | null {
  switch (op.type) {
    case 'create': return { path: op.path, side: 'local', change: 'created' };
    case 'update': return { path: op.path, side: 'local', change: 'changed' };
    case 'move': return { path: op.path, side: 'local', change: 'moved' };
    case 'delete': return { path: op.path, side: 'local', change: 'deleted' };
    case 'mkdir': return { path: op.path, side: 'remote', change: 'created' };
    case 'download':
    case 'symlink': return { path: op.path, side: 'remote', change: op.expect === null ? 'created' : 'changed' };
    case 'chmod': return { path: op.path, side: 'remote', change: 'changed' };
    case 'local_move': return { path: op.from, side: 'remote', change: 'moved' };
    case 'local_delete': return { path: op.path, side: 'remote', change: 'deleted' };
    case 'conflict_rename': return { path: op.path, side: 'remote', change: 'conflict' };
    default: return null;
  }
}

/** The held-back ops as the user sees them: one line per path, a conflict over the rest, sorted by path. */
export function differences(held: readonly PlanOp[]): Difference[] {
  const byPath = new Map<string, Difference>();
  for (const op of held) {
    const d = differenceOf(op);
    if (!d) continue;
    const had = byPath.get(d.path);
    if (!had || d.change === 'conflict') byPath.set(d.path, d);
  }
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
