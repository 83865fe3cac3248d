// What one round of the executor works with (ExecContext) and reports
// (ExecResult): shared by the executor and its phase modules.

import type { PlanProblem, RemoteOp } from '../../core/ops.js';
import type { Op } from '../../protocol/types.js';
import type { Fsys } from '../disk/fsys.js';
import type { TrashBin } from '../disk/trash.js';
import type { RemoteClient } from '../remote/remote.js';
import type { StateDB } from '../state/db.js';
import type { Partials } from '../transfer/partials.js';
import type { Throttle } from '../transfer/throttle.js';

export interface ExecContext {
  root: string;
  db: StateDB;
  remote: RemoteClient;
  /** transfers in parallel */
  concurrency: number;
  onTransfer?: (files: number, bytes: number) => void;
  signal?: AbortSignal;
  /** the agent's bandwidth budget */
  throttle?: Throttle;
  /** the file system of `root` (default: the real disk) */
  fs?: Fsys;
  /** retries of a failed download within the round (default 5; the next round retries anyway) */
  downloadRetries?: number;
  /** files per part of the downloads: one part is placed while the next arrives (default exec/downloads.ts PART_FILES) */
  downloadPartFiles?: number;
  /** the local trash: what a remote change takes off the disk goes there (none: it is unlinked) */
  trash?: TrashBin;
  /** why this round takes files off the disk when it is not the server's doing: a `syncd revert` */
  trashCause?: 'revert';
  /** large downloads cut short (`.syncd-part-*`): resumed from, left behind, dropped when the disk is full */
  partials?: Partials;
  /** commits whose outcome is unknown (the reply was lost) are parked here for `confirm` */
  unconfirmed?: Unconfirmed[];
  /** told how many ops were done when the round ends, also when it fails part-way (the engine's backoff asks whether a failed cycle got anywhere) */
  countDone?: (ops: number) => void;
}

/** One op sent in a commit whose reply never came: the server may have applied it. */
export interface Unconfirmed {
  op: RemoteOp;
  wire: Op;
  intent: string;
}

export interface ExecResult {
  done: number;
  failed: number;
  /** the server refused something because it moved on: pull before the next round */
  needPull: boolean;
  /** disk paths to re-stat before the next round */
  dirty: Set<string>;
  problems: PlanProblem[];
}
