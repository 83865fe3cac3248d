// A round's side of the local trash: a file the round takes off the disk
// because of a remote change (a delete, a replace) goes into the trash
// instead of being unlinked, once detach.ts has checked it is what the plan
// expected. The index learns of it when the round ends; a crash before that
// leaves an unindexed file in the trash, which the next prune adopts
// (disk/trash.ts).

import type { TrashReason } from '../../core/policy/trash.js';
import type { FsStat } from '../disk/fsys.js';
import { trashEntry, type TrashBin } from '../disk/trash.js';
import type { StateDB } from '../state/db.js';
import type { TrashEntry } from '../state/trash.js';

/** What becomes of a checked file renamed aside at `aside`: the trash takes it. */
export type Dispose = (aside: string, st: FsStat) => Promise<void>;

export class RoundTrash {
  readonly #pending: Omit<TrashEntry, 'id'>[] = [];

  constructor(
    readonly bin: TrashBin | undefined,
    readonly db: StateDB,
    /** the round's own cause (a revert), shown instead of the remote change it was carried out as */
    readonly cause?: TrashReason,
  ) {}

  /** How the file at `rel` leaves the disk: into the trash; undefined when there is no trash (unlinked). */
  dispose(rel: string, reason: TrashReason): Dispose | undefined {
    const { bin } = this;
    if (!bin) return undefined;
    return async (aside, st) => {
      // one indexed row, not the whole Local tree (a storm in a big folder)
      const hash = this.db.treeIndex.local(rel)?.v.hash ?? null;
      const t = await bin.put(aside, rel, st);
      this.#pending.push(trashEntry(rel, t, bin.now(), hash, reason === 'excluded' ? reason : (this.cause ?? reason)));
    };
  }

  /** Writes what went to the trash into the index (one transaction). */
  record(): void {
    if (this.#pending.length === 0) return;
    const list = this.#pending.splice(0);
    this.db.tx(() => {
      for (const e of list) this.db.addTrash(e);
    });
  }
}
