// The agent's side of the local trash: the bin a round moves files into,
// and the prune that keeps it within `trashDays` and `trashMaxMB` (at the
// agent's first cycle, then hourly). The decisions are in
// core/policy/trash.ts; the disk work in disk/trash.ts.

import type { TrashLimits } from '../../core/policy/trash.js';
import type { Fsys } from '../disk/fsys.js';
import { pruneTrash, TrashBin } from '../disk/trash.js';
import type { StateDB } from '../state/db.js';
import { RoundTrash } from '../exec/to-trash.js';
import type { Log } from './log.js';

/** how often a running agent prunes its trash */
const PRUNE_EVERY_MS = 3_600_000;

export class TrashKeeper {
  /** undefined: no trash (trashDays 0): a remote change unlinks */
  readonly bin: TrashBin | undefined;
  #lastPrune = -Infinity;

  constructor(
    readonly folder: string,
    readonly fs: Fsys,
    readonly db: StateDB,
    readonly limits: TrashLimits,
    readonly now: () => number,
  ) {
    this.bin = limits.days > 0 ? new TrashBin(folder, fs, now) : undefined;
  }

  /** A round's view of the trash, for what is taken off the disk outside the executor. */
  round(): RoundTrash {
    return new RoundTrash(this.bin, this.db);
  }

  /** Prunes when the last prune is an hour old (or never ran); a failure is logged, never fatal. */
  async maybePrune(log: Log): Promise<void> {
    const now = this.now();
    if (now - this.#lastPrune < PRUNE_EVERY_MS) return;
    this.#lastPrune = now;
    try {
      const r = await pruneTrash(this.folder, this.fs, this.db, this.limits, now);
      this.bin?.forgetDirs();
      if (r.pruned || r.adopted) log.info('pruned the local trash', { pruned: r.pruned, adopted: r.adopted });
    } catch (err) {
      log.warn(`cannot prune the local trash: ${(err as Error).message}`);
    }
  }
}
