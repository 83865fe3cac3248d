// What the engine is given (EngineOptions) and what one cycle reports
// (CycleResult).

import type { GuardTrip } from '../../core/guards.js';
import type { PlanProblem } from '../../core/ops.js';
import type { TrashLimits } from '../../core/policy/trash.js';
import type { FolderMode } from '../../core/policy/mode-names.js';
import type { Fsys } from '../disk/fsys.js';
import type { RemoteClient } from '../remote/remote.js';
import type { StateDB } from '../state/db.js';
import type { Log } from './log.js';

export interface EngineOptions {
  folder: string;
  db: StateDB;
  remote: RemoteClient;
  concurrency?: number;
  maxDeleteShare?: number;
  minDeleteCount?: number;
  longpollTimeoutS?: number;
  /** `stream` (default): Subscribe, falling back to the longpoll; `longpoll`: the longpoll only */
  notifyChannel?: 'stream' | 'longpoll';
  /** a Subscribe stream silent this long is stalled (the server beats every 15 s), ms (default 50 000) */
  streamIdleMs?: number;
  /** a listing with more nodes is a protocol error (pull.ts) */
  maxListEntries?: number;
  safetyPullIntervalS?: number;
  extraIgnore?: string[];
  /** bytes per second across all transfers; 0 = unlimited */
  bandwidthLimit?: number;
  /**
   * `watch`: after this long without a cycle, let go of the in-memory trees
   * (they reload from the state DB on the next cycle); 0 = keep them
   */
  releaseIdleMs?: number;
  log?: Log;
  now?: () => number;
  /** the jitter of retry delays after failures, uniform [0, 1) (default Math.random; tests pass a fixed one) */
  random?: () => number;
  /** transfers done so far in this cycle */
  onTransfer?: (files: number, bytes: number) => void;
  /** planned transfer totals of a round */
  onPlan?: (files: number, bytes: number) => void;
  /** the folder's file system (default: the real disk; the simulation passes its own) */
  fs?: Fsys;
  /** retries of a failed download within a round (default 5) */
  downloadRetries?: number;
  /** files per part of a round's downloads (default: exec/downloads.ts PART_FILES; the simulation makes them small) */
  downloadPartFiles?: number;
  /** the local trash's limits (default 30 days, 1024 MiB); days 0: no trash */
  trash?: TrashLimits;
  /** the folder's mode, asked at every cycle so a changed config takes effect (default: two-way) */
  mode?: () => FolderMode;
  /** nodes per batch of a plan without a plan base: a new device's first plan, one after new rules (default FIRST_PLAN_BATCH_NODES, core/policy/cycle.ts) */
  firstPlanBatchNodes?: number;
  /** Remote or Synced nodes up to which a plan without a plan base goes over the whole trees (default FIRST_PLAN_WHOLE_MAX, core/policy/cycle.ts) */
  firstPlanWholeMax?: number;
}

export interface CycleResult {
  converged: boolean;
  rounds: number;
  /** ops the last plan still had, held-back ones included */
  pending: number;
  problems: PlanProblem[];
  paused: GuardTrip | null;
}
