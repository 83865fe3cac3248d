// The content collector: one pass deletes stored blobs and chunks that no
// namespace needs any more. What "needed" means is the store's
// (ContentStore.sweepRefs: live nodes, tombstones, retained journal
// entries, their chunk lists, and uploads younger than `uploadGraceMs`);
// this module orders the steps and owns the grace periods:
//
// 1. refs: drop each namespace's refs that nothing needs (under the commit lock);
// 2. blobs: walk the blob folder; a hash no ref and no chunk list names is
//    recorded as an orphan the first time it is seen, and deleted only when
//    it has been an orphan for `orphanGraceMs` AND its file is that old.
//
// Why the second grace: the documented backup copies the database first and
// the blob folder after. Content the copied database still needs can only
// become an orphan after the copy was taken, so it stays on disk for at
// least `orphanGraceMs` after that: a backup that finishes within the grace
// period (default a day) is complete. Deletion itself goes through the
// blob store's move-aside-and-re-check (BlobStore.remove), so an upload
// racing the pass is never lost, and a crash mid-pass is recovered by the
// next pass (recoverTrash) before anything else.

import { join } from 'node:path';
import type { BlobStore } from './blobs.js';
import { EMPTY_SHA256 } from './store/decide.js';
import type { JournalStore } from './store/types.js';

export interface GcOptions {
  /** refs made by uploads not yet committed are kept this long, ms (default a day) */
  uploadGraceMs: number;
  /** an unneeded blob is deleted after it has been unneeded this long, ms (default a day) */
  orphanGraceMs: number;
}

export const DEFAULT_GC: GcOptions = { uploadGraceMs: 86_400_000, orphanGraceMs: 86_400_000 };

export interface GcReport {
  droppedRefs: number;
  droppedFiles: number;
  scanned: number;
  /** unneeded blobs still in their grace period */
  orphans: number;
  deleted: number;
  deletedBytes: number;
}

export function gcTrashDir(dataDir: string): string {
  return join(dataDir, 'gc-trash');
}

/**
 * What a crashed pass left in `trash` judged again (put back if needed,
 * else deleted): the first step of every pass, and all a server does at
 * start (its first full pass comes later).
 */
export async function recoverGcTrash(store: JournalStore, blobs: BlobStore, trash: string): Promise<void> {
  await blobs.recoverTrash(trash, unneededIn(store));
}

/** Whether no namespace needs `hash` (asked again at the moment of deletion). */
function unneededIn(store: JournalStore): (hash: string) => Promise<boolean> {
  return async (hash) => !(await store.content.needed(hash));
}

export async function collectGarbage(store: JournalStore, blobs: BlobStore, trash: string, now: number, opts: GcOptions = DEFAULT_GC): Promise<GcReport> {
  const unneeded = unneededIn(store);
  await recoverGcTrash(store, blobs, trash);
  const sweep = await store.content.sweepRefs(now - opts.uploadGraceMs);
  const report: GcReport = { ...sweep, scanned: 0, orphans: 0, deleted: 0, deletedBytes: 0 };
  for await (const hash of blobs.hashes()) {
    report.scanned++;
    if (hash === EMPTY_SHA256) continue; // every store keeps it (BlobStore.open)
    if (await store.content.needed(hash)) {
      await store.content.clearOrphan(hash);
      continue;
    }
    const since = await store.content.markOrphan(hash, now);
    const mtime = await blobs.mtimeMs(hash);
    if (mtime === null) continue;
    if (now - since < opts.orphanGraceMs || now - mtime < opts.orphanGraceMs) {
      report.orphans++;
      continue;
    }
    const freed = await blobs.remove(hash, trash, () => unneeded(hash));
    if (freed > 0 || !(await blobs.exists(hash))) {
      report.deleted++;
      report.deletedBytes += freed;
      await store.content.clearOrphan(hash);
    }
  }
  return report;
}
