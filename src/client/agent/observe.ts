// One look at the folder before a plan round: re-stat the dirty paths (or
// scan everything), write what changed into Local, and clear the stale temp
// files and renamed-aside leftovers a crash or a user's move left behind
// (a large download's temp file is kept as a partial to resume from).

import { join } from 'node:path';
import { onlyDirMtimeMoved, type LocalEntry, type LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import { removeLeftovers } from '../exec/detach.js';
import type { Fsys } from '../disk/fsys.js';
import { localDiff, scanFolder, scanPaths, type LocalSource, type ScanFindings, type ScanSink } from '../disk/scan.js';
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
  let res: ScanFindings;
  if (full) {
    // compared with Local a directory at a time, written as it goes: no whole tree in memory
    const out = localWriter(db);
    res = await scanFolder(l.folder, localRows(db), out, l.ignore, l.fs);
    out.end();
  } else {
    // hints are compared with the entries around them only, not the whole tree
    const prev = db.localAround([...dirty]);
    const found = await scanPaths(l.folder, prev, [...dirty], l.ignore, l.fs, localRows(db).byIno);
    write(db, prev, found.tree);
    res = found;
  }
  await l.partials.met(res.partials.map((p) => ({ ...p, path: join(l.folder, p.path) })), full);
  // no transfer runs while the folder is observed, so every temp file met
  // is stale (a crash's, or one whose directory the user moved mid-download);
  // a delete interrupted after its rename aside is judged by what Local knew
  // of the file before this scan (`known`, by the inode in its name)
  if (res.temps.length) {
    const trash = l.trash.round();
    const restored = await removeLeftovers(l.fs, l.folder, res.temps, res.known, l.log, (p) => trash.dispose(p, 'remote_delete'), (abs) => l.partials.keep(abs));
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

/** Local in the state DB, read through its indexes a directory (or an inode) at a time. */
function localRows(db: StateDB): LocalSource {
  const rows = db.treeRows;
  return {
    children: (dir) => rows.localChildren(dir).map((r) => r.v),
    byIno: (ino) => rows.localByIno(ino).map((r) => r.v),
  };
}

/** Entries written per transaction while a full scan goes on. */
const FLUSH = 4096;

/**
 * Writes what a full scan reports: new and changed entries in transactions
 * of FLUSH between directories, deletions at the end (until then a file
 * moved elsewhere in the folder is still found by its inode, and keeps its hash).
 */
function localWriter(db: StateDB): ScanSink & { end(): void } {
  let puts: { e: LocalEntry; before: LocalEntry | undefined }[] = [];
  const dels: string[] = [];
  const flush = (): void => {
    const batch = puts;
    puts = [];
    if (batch.length) db.tx(() => { for (const p of batch) putOne(db, p.e, p.before); });
  };
  return {
    put: (e, before) => void puts.push({ e, before }),
    del: (diskPath) => void dels.push(diskPath),
    dirDone: () => { if (puts.length >= FLUSH) flush(); },
    end: () => {
      if (!dels.length) return flush();
      const batch = puts;
      puts = [];
      db.tx(() => {
        for (const k of dels) db.deleteLocalSubtree(k);
        for (const p of batch) putOne(db, p.e, p.before);
      });
    },
  };
}

/**
 * One new or changed entry. A directory whose entries changed since its
 * row was written (a round's downloads land in it after its mkdir) changes
 * no plan: the first restart after a mirror would otherwise plan all over again.
 */
function putOne(db: StateDB, e: LocalEntry, before: LocalEntry | undefined): void {
  // (a directory that is no longer one takes its subtree with it: putLocal)
  if (onlyDirMtimeMoved(before, e)) db.setLocalDirMtime(e.diskPath, e.mtimeMs);
  else db.putLocal(e);
}

/** Writes the difference between what Local held and what the scan found. */
function write(db: StateDB, prev: LocalTree, tree: LocalTree): void {
  const { put, del } = localDiff(prev, tree);
  if (put.length || del.length) {
    db.tx(() => {
      for (const k of del) db.deleteLocalSubtree(k);
      for (const e of put) putOne(db, e, prev.get(e.diskPath));
    });
  }
}
