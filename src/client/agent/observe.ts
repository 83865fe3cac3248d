// One look at the folder before a plan round: re-stat the dirty paths (or
// scan everything), write what changed into Local, and clear the stale temp
// files and renamed-aside leftovers a crash or a user's move left behind
// (a large download's temp file is kept as a partial to resume from).

import { join } from 'node:path';
import { onlyDirMtimeMoved, type LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import { removeLeftovers } from '../exec/detach.js';
import type { Fsys } from '../disk/fsys.js';
import { localDiff, scanAll, scanPaths } from '../disk/scan.js';
import type { IgnoreMatcher } from '../disk/syncignore.js';
import type { StateDB } from '../state/db.js';
import type { Partials } from '../transfer/partials.js';
import type { Log } from './log.js';
import type { TrashKeeper } from './trash-keeper.js';

export interface Look {
  db: StateDB;
  folder: string;
  fs: Fsys;
  log: Log;
  ignore: IgnoreMatcher;
  trash: TrashKeeper;
  /** the partials of downloads cut short: those the scan meets are offered to the next downloads */
  partials: Partials;
  /** scan everything, or only `dirty` */
  full: boolean;
  dirty: readonly string[];
}

/** Brings Local up to date with the disk; returns what the scan could not read. */
export async function observe(l: Look): Promise<PlanProblem[]> {
  const { db, full, dirty } = l;
  // hints are compared with the entries around them only, not the whole tree
  const prev = full ? db.loadLocal() : db.localAround([...dirty]);
  const res = full ? await scanAll(l.folder, prev, l.ignore, l.fs) : await scanPaths(l.folder, prev, [...dirty], l.ignore, l.fs);
  // leftovers are judged by Local as it was: the transaction below drops the
  // files a crash left renamed aside from the cached tree `prev` is; after
  // a partial scan, an interrupted delete's file is known by its inode, anywhere
  const before = res.temps.length ? (full ? new Map(prev) : db.loadLocal()) : prev;
  write(db, prev, res.tree);
  await l.partials.met(res.partials.map((p) => ({ ...p, path: join(l.folder, p.path) })), full);
  // no transfer runs while the folder is observed, so every temp file met
  // is stale (a crash's, or one whose directory the user moved mid-download)
  if (res.temps.length) {
    const trash = l.trash.round();
    const restored = await removeLeftovers(l.fs, l.folder, res.temps, before, l.log, (p) => trash.dispose(p, 'remote_delete'), (abs) => l.partials.keep(abs));
    trash.record();
    if (restored.length) {
      // what an undone delete put back is new to Local: looked at now, or no
      // round would see it before the next full scan
      const around = db.localAround(restored);
      const again = await scanPaths(l.folder, around, restored, l.ignore, l.fs);
      write(db, around, again.tree);
      res.problems.push(...again.problems);
    }
  }
  return res.problems;
}

/** Writes the difference between what Local held and what the scan found. */
function write(db: StateDB, prev: LocalTree, tree: LocalTree): void {
  const { put, del } = localDiff(prev, tree);
  if (put.length || del.length) {
    db.tx(() => {
      for (const k of del) db.deleteLocalSubtree(k);
      // a directory whose entries changed since its row was written (a
      // round's downloads land in it after its mkdir) changes no plan: the
      // first restart after a mirror would otherwise plan all over again
      for (const e of put) {
        if (onlyDirMtimeMoved(prev.get(e.diskPath), e)) db.setLocalDirMtime(e.diskPath, e.mtimeMs);
        else db.putLocal(e);
      }
    });
  }
}
