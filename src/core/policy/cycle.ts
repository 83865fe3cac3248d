// The agent's cycle rules (DESIGN.md "The loop"): what a round does with its
// plan besides executing it, when a cycle ends, and what the watch loop does
// after one. The engine orders the steps; these decide them. Pure.

import type { SyncedTree } from '../associate.js';
import { isRemoteOp, type Plan, type PlanOp } from '../ops.js';

/** Rounds in one cycle before it stops (the loop runs another cycle). */
export const MAX_ROUNDS = 200;

/**
 * The rounds a cycle may take: MAX_ROUNDS, and one more for each batch of a
 * first plan begun in it (a batch takes a round of its own: 1,000,000
 * files in batches of 5,000 are 200 batches, and `syncd sync` is one cycle).
 */
export function roundLimit(batchesBegun: number): number {
  return MAX_ROUNDS + batchesBegun;
}
/** Rounds in a row that achieve nothing before the cycle gives up and the loop backs off. */
export const MAX_FRUITLESS_ROUNDS = 3;
/** How often a paused agent looks again (a resume, the folder back). */
export const PAUSED_RECHECK_MS = 2000;
/** A refused token is not retried sooner than this (unless something wakes the loop). */
export const UNAUTHORIZED_WAIT_MS = 60_000;

/** Ops the plan still has, held-back ones included: a plan that only defers is not in agreement. */
export function pendingOf(p: Plan): number {
  return p.ops.length + p.deferred;
}

/**
 * A plan with no ops ends the cycle. The folder is in agreement (and the
 * empty plan is remembered for these trees) only when nothing is held back.
 */
export function endOfCycle(p: Plan): { converged: boolean; remember: boolean } | null {
  if (p.ops.length > 0) return null;
  return { converged: p.deferred === 0, remember: p.deferred === 0 };
}

/**
 * Watcher hints arrive over time: a big directory rename is thousands of
 * events spread over hundreds of ms, and a cycle that saw only the "gone"
 * half would plan deletes (and later re-creates) instead of one move.
 * Server deletes planned from hints are confirmed by a full scan first
 * (before the guards, which would otherwise cry mass delete).
 */
export function rescanBeforeDeleting(partialView: boolean, ops: readonly PlanOp[]): boolean {
  return partialView && ops.some((op) => op.type === 'delete');
}

/** A resume's one-time pass for deletions is used up by the first round that deletes. */
export function usesDeleteAllowance(allowDeletes: boolean, ops: readonly PlanOp[]): boolean {
  return allowDeletes && ops.some((op) => op.type === 'delete' || (op.type === 'local_delete' && !op.excluded));
}

/**
 * A directory delete on the server takes its whole subtree, including
 * anything another device added since our last pull: pull right before
 * sending one (and plan again if anything arrived).
 */
export function pullBeforeSending(ops: readonly PlanOp[], synced: SyncedTree): boolean {
  return ops.some((op) => op.type === 'delete' && synced.get(op.id)?.kind === 'dir');
}

/** Files and bytes a round moves (for progress). */
export function transferTotals(ops: readonly PlanOp[]): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const op of ops) {
    if (op.type === 'download') {
      files++;
      bytes += op.node.size ?? 0;
    }
    if ((op.type === 'create' || op.type === 'update') && op.local.kind === 'file') {
      files++;
      bytes += op.local.size ?? 0;
    }
  }
  return { files, bytes };
}

/** What the next round needs to look at after `ops` ran. */
export function afterRound(ops: readonly PlanOp[], needPull: boolean): { fullScan: boolean; pull: boolean } {
  return {
    // a directory we moved took its subtree to new paths, and hints still on
    // their way name the old ones: only a full scan sees what changed inside
    fullScan: ops.some((op) => (op.type === 'local_move' || op.type === 'conflict_rename') && op.expect.kind === 'dir'),
    // our own commits come back as journal echoes (no-ops by rev): pull them
    // so the cursor covers what this round wrote
    pull: needPull || ops.some(isRemoteOp),
  };
}

/** Fruitless rounds in a row after one that achieved `done` ops; the cycle gives up at MAX_FRUITLESS_ROUNDS. */
export function fruitlessAfter(before: number, done: number): number {
  return done === 0 ? before + 1 : 0;
}

export type NextWait =
  /** paused: look again after PAUSED_RECHECK_MS or when woken */
  | 'paused'
  /** work is left that did not move: wait longer each time, unless woken */
  | 'stuck'
  /** in agreement: sleep until woken or the safety-net pull */
  | 'idle'
  /** hints or a pull came in meanwhile: cycle again now */
  | 'again';

/** What the watch loop does after a cycle; `news`: hints or a pull request arrived meanwhile. */
export function nextWait(r: { paused: unknown; converged: boolean; pending: number }, news: boolean): NextWait {
  if (r.paused) return 'paused';
  if (!r.converged && r.pending > 0) return 'stuck';
  return news ? 'again' : 'idle';
}

/**
 * How the watch loop meets a failed cycle: the state status shows, and
 * how long to wait (null: the usual jittered backoff).
 */
export function afterFailure(code: string | undefined, network: boolean): { state: 'offline' | 'error'; waitMs: number | null } {
  return { state: network ? 'offline' : 'error', waitMs: code === 'unauthorized' ? UNAUTHORIZED_WAIT_MS : null };
}

/** Seeds beyond this many, loading the whole trees costs less time than selecting around each seed. */
export const MAX_SELECT_SEEDS = 20_000;

/**
 * Seeds up to this share of the Remote nodes still plan from a selection
 * (beyond it, as without a base: in batches in a big folder). Measured
 * against the whole trees, which cost memory in proportion to the folder, a
 * selection in proportion to the seeds (a reset after 25,000 new server files in a
 * 100,000-file folder: 381 MiB over the whole trees, 275–331 MiB around the
 * seeds, in 0.97–1.19× the time; docs/performance.md, session 11).
 */
export const SELECT_SEEDS_SHARE = 0.25;

/**
 * Whether a round plans over the nodes around what changed
 * (core/plan/select.ts) instead of the whole trees: only while the plan
 * base was taken with the planner's other inputs as they are now (rules,
 * version, device: the memo key) and its seeds are few enough: at most
 * MAX_SELECT_SEEDS, or at most SELECT_SEEDS_SHARE of `remoteNodes()` (asked
 * only past MAX_SELECT_SEEDS).
 */
export function plansFromSelection(base: { memo: string; seeds: number } | null, memoKey: string, remoteNodes: () => number): boolean {
  if (base === null || base.memo !== memoKey) return false;
  return base.seeds <= MAX_SELECT_SEEDS || base.seeds <= remoteNodes() * SELECT_SEEDS_SHARE;
}

/** Nodes a batch of the first plan holds at most (core/plan/batches.ts). */
export const FIRST_PLAN_BATCH_NODES = 5_000;

/**
 * Remote nodes up to which a new device's first plan still goes over the
 * whole trees: batches bound the memory of a big first mirror, but their
 * extra rounds cost time a small one does not need to spend (at 10,000
 * files, batches of 5,000 made `mirror_small` 2.2× slower; a 20,000-file
 * first mirror over the whole trees peaked at 194 MiB, session 4's
 * quick `scale_mirror`).
 */
export const FIRST_PLAN_WHOLE_MAX = 20_000;

/**
 * Whether a round without a usable plan base plans in batches of top-level
 * names instead of over the whole trees: when Remote or Synced is bigger
 * than `wholeMax` (and than one batch). That is a new device's first plan,
 * and a folder whose plan base no longer holds (new ignore rules, another
 * syncd version, a changed exclusion list, a reset that changed too much):
 * there the names a node or an inode spans share a batch
 * (client/state/tree-index.ts `topLinks`), and a tree the batches cannot
 * cut (a node that reaches no top-level name) is planned whole. Selective-sync
 * exclusions do not matter: each batch is planned with the paths they have
 * on the whole Remote (client/state/exclusions.ts `exclusionsToPlan`).
 */
export function plansInBatches(rows: { remote: number; synced: number }, batchNodes: number, wholeMax = FIRST_PLAN_WHOLE_MAX): boolean {
  return Math.max(rows.remote, rows.synced) > Math.max(batchNodes, wholeMax);
}

/**
 * The planner's inputs besides the trees, as one key: a plan that came out
 * empty is remembered under it (the plan memo, the plan base), and a base
 * is only used with the key it was taken with (the agent and `syncd status`).
 */
export function planMemoKey(k: { version: string; ignoreVersion: unknown; extraIgnore: readonly string[]; device: string; mode: string; request: string | null; exclusions: string }): string {
  return JSON.stringify([k.version, k.ignoreVersion, k.extraIgnore, k.device, k.mode, k.request, k.exclusions]);
}
