// The local trash on disk (docs/folder-modes.md "Local trash"): a file a
// remote change deletes or replaces is moved, not unlinked, into
// `<folder>/.syncd-trash/<batch>/<original path>`, where `<batch>` is the
// UTC time it went (core/policy/trash.ts names it). The trash lives inside
// the folder, not in the state dir, so moving a file there is one rename on
// the same file system: atomic, so a kill -9 leaves the file either in place
// or in the trash. A file on another file system (a mount inside the folder)
// is copied, fsynced and only then unlinked. `.syncd*` names are never
// scanned nor synced. The index of what is there is a table of the state DB
// (state/trash.ts).

import { dirname, join } from 'node:path';
import { restoredName, trashBatchName, trashToPrune, type TrashLimits } from '../../core/policy/trash.js';
import { TRASH_DIR } from '../../core/syncd-names.js';
import { parentPath } from '../../core/tree.js';
import { SyncdError } from '../../protocol/errors.js';
import type { StateDB } from '../state/db.js';
import type { TrashEntry } from '../state/trash.js';
import { isDiskError } from './errno.js';
import type { Fsys, FsStat } from './fsys.js';
import { lstatOrNull, safeJoin } from './safe-fs.js';

/** A file moved into the trash: where it lies now (relative to the folder) and what it was. */
export interface Trashed {
  stored: string;
  size: number;
  kind: 'file' | 'symlink';
}

/** a batch folder takes what goes to the trash within this long of its naming */
const BATCH_MS = 1000;

export class TrashBin {
  /** trash directories known to exist (relative to the folder) */
  readonly #made = new Set<string>();
  /** the batch folder in use and when it was named: one per second at most, so a storm fills a few */
  #batch: { name: string; at: number } | null = null;

  constructor(
    readonly root: string,
    readonly fs: Fsys,
    readonly now: () => number = Date.now,
  ) {}

  /**
   * Moves the file or symlink at `from` (absolute, inside the folder, already
   * checked by the caller) into the trash under its original path `rel`.
   * Never replaces anything already in the trash.
   */
  async put(from: string, rel: string, st: FsStat): Promise<Trashed> {
    const kind = st.isSymbolicLink() ? 'symlink' : 'file';
    const now = this.now();
    if (!this.#batch || now - this.#batch.at >= BATCH_MS || now < this.#batch.at) this.#batch = { name: trashBatchName(now), at: now };
    const batch = this.#batch.name;
    for (let n = 0; ; n++) {
      const stored = `${TRASH_DIR}/${n === 0 ? batch : `${batch}-${n}`}/${rel}`;
      // a file of this batch at a parent's path (`a` went, then `a/x` of a
      // directory that took its name): the next batch name
      const taken = await this.#mkdirs(parentPath(stored));
      if (taken !== null) {
        if (taken === TRASH_DIR || n >= 1000) throw new SyncdError('parent_not_dir', `"${taken}" in the folder is not a directory; the local trash cannot take "${rel}"`);
        continue;
      }
      const to = safeJoin(this.root, stored);
      if ((await lstatOrNull(to, this.fs)) !== null) continue; // this version of `rel` is there already: the next batch name
      try {
        await this.fs.rename(from, to);
      } catch (err) {
        if (isDiskError(err, 'path_missing') && this.#made.size > 0 && (await lstatOrNull(from, this.fs)) !== null) {
          // the trash (or a batch folder) was removed by hand meanwhile: make it again
          this.#made.clear();
          n--;
          continue;
        }
        if (!isDiskError(err, 'cross_device')) throw err;
        await this.#copyAcross(from, to, kind);
      }
      return { stored, size: kind === 'file' ? st.size : 0, kind };
    }
  }

  /** A mount inside the folder: copy, make the copy durable, then unlink the original. */
  async #copyAcross(from: string, to: string, kind: 'file' | 'symlink'): Promise<void> {
    if (kind === 'symlink') await this.fs.symlink(await this.fs.readlink(from), to);
    else {
      await this.fs.copyNew(from, to);
      await this.fs.syncFiles([to]);
    }
    await this.fs.syncDir(dirname(to));
    await this.fs.unlink(from);
  }

  /** Makes the directories of `rel` in the trash; returns the one taken by something else, or null. */
  async #mkdirs(rel: string): Promise<string | null> {
    if (rel === '' || this.#made.has(rel)) return null;
    const above = await this.#mkdirs(parentPath(rel));
    if (above !== null) return above;
    const abs = safeJoin(this.root, rel);
    try {
      await this.fs.mkdir(abs);
    } catch (err) {
      if (!isDiskError(err, 'path_taken')) throw err;
      const st = await this.fs.lstat(abs);
      if (!st.isDirectory()) return rel;
    }
    this.#made.add(rel);
    return null;
  }

  /** Forgets the directories it made (a prune or restore may have removed them). */
  forgetDirs(): void {
    this.#made.clear();
  }
}

/** A trash entry for the index: `t` taken from `path` at `at` for `reason`. */
export function trashEntry(path: string, t: Trashed, at: number, hash: string | null, reason: TrashEntry['reason']): Omit<TrashEntry, 'id'> {
  return { path, stored: t.stored, deletedAt: at, size: t.size, hash: t.kind === 'file' ? hash : null, kind: t.kind, reason };
}

/**
 * Makes the trash and its index agree, then drops what `limits` say is too
 * old or too much (core/policy/trash.ts decides): entries whose file is gone
 * leave the index; files the index lacks (a crash between the move and the
 * transaction that records it) join it; empty batch folders go.
 */
export async function pruneTrash(root: string, fs: Fsys, db: StateDB, limits: TrashLimits, now: number): Promise<{ pruned: number; adopted: number }> {
  const indexed = new Map(db.trashEntries().map((e) => [e.stored, e]));
  const onDisk = await listTrash(root, fs);
  const vanished = [...indexed.values()].filter((e) => !onDisk.has(e.stored)).map((e) => e.id);
  const orphans = [...onDisk].filter(([stored]) => !indexed.has(stored));
  db.tx(() => {
    db.removeTrash(vanished);
    for (const [stored, st] of orphans) {
      const path = stored.split('/').slice(2).join('/');
      db.addTrash({ path, stored, deletedAt: now, size: st.isFile() ? st.size : 0, hash: null, kind: st.isSymbolicLink() ? 'symlink' : 'file', reason: 'recovered' });
    }
  });
  const entries = db.trashEntries();
  const drop = new Set(trashToPrune(entries, now, limits));
  const gone: number[] = [];
  for (const e of entries) {
    if (!drop.has(e.id)) continue;
    try {
      await fs.unlink(safeJoin(root, e.stored));
    } catch (err) {
      if (!isDiskError(err, 'path_missing')) continue; // kept for the next prune
    }
    gone.push(e.id);
  }
  if (gone.length) db.tx(() => db.removeTrash(gone));
  await removeEmptyDirs(fs, safeJoin(root, TRASH_DIR), false);
  return { pruned: gone.length, adopted: orphans.length };
}

/** Every file and symlink in the trash, by its path relative to the folder. */
async function listTrash(root: string, fs: Fsys): Promise<Map<string, FsStat>> {
  const out = new Map<string, FsStat>();
  const walk = async (rel: string): Promise<void> => {
    let list;
    try {
      list = await fs.lstatDir(safeJoin(root, rel));
    } catch (err) {
      if (isDiskError(err, 'path_missing', 'path_not_dir')) return;
      throw err;
    }
    for (const d of list) {
      if (typeof d.name !== 'string' || !d.st) continue;
      const r = `${rel}/${d.name}`;
      if (d.st.isDirectory()) await walk(r);
      else if (rel !== TRASH_DIR) out.set(r, d.st); // a file directly in the trash is no entry
    }
  };
  await walk(TRASH_DIR);
  return out;
}

/** Removes the empty directories under `abs` (and `abs` itself when `self`); true when `abs` is gone. */
async function removeEmptyDirs(fs: Fsys, abs: string, self: boolean): Promise<boolean> {
  let list;
  try {
    list = await fs.lstatDir(abs);
  } catch {
    return false;
  }
  let left = 0;
  for (const d of list) {
    if (typeof d.name === 'string' && d.st?.isDirectory() && (await removeEmptyDirs(fs, join(abs, d.name), true))) continue;
    left++;
  }
  if (!self || left > 0) return false;
  try {
    await fs.rmdir(abs);
    return true;
  } catch {
    return false; // something arrived meanwhile
  }
}

/**
 * Puts trash entry `e` back at its original path, or, when that is taken,
 * at the first free `name (restored N)` beside it; never replaces anything.
 * Missing parent directories are made. Returns where it went (relative).
 */
export async function restoreEntry(root: string, fs: Fsys, db: StateDB, e: TrashEntry): Promise<string> {
  const from = safeJoin(root, e.stored);
  if ((await lstatOrNull(from, fs)) === null) {
    db.tx(() => db.removeTrash([e.id]));
    throw new SyncdError('trash_not_found', `the trashed copy of "${e.path}" (id ${e.id}) is gone from ${TRASH_DIR}/`);
  }
  await makeParents(root, fs, parentPath(e.path));
  const dir = parentPath(e.path);
  const name = e.path.slice(dir === '' ? 0 : dir.length + 1);
  for (let n = 0; n < 1000; n++) {
    const rel = dir === '' ? restoredName(name, n) : `${dir}/${restoredName(name, n)}`;
    const to = safeJoin(root, rel);
    try {
      if (e.kind === 'file') {
        // link() refuses to replace what is there; then the trashed name goes
        await fs.link(from, to);
        await fs.unlink(from);
      } else {
        if ((await lstatOrNull(to, fs)) !== null) continue;
        await fs.rename(from, to);
      }
    } catch (err) {
      if (isDiskError(err, 'path_taken')) continue;
      throw err;
    }
    await fs.syncDir(dirname(to));
    db.tx(() => db.removeTrash([e.id]));
    return rel;
  }
  throw new SyncdError('path_taken', `"${e.path}" and its "(restored N)" names are all taken; move something away and try again`);
}

/** Makes the directories of `rel` that are missing; refuses to pass through a symlink or a file. */
async function makeParents(root: string, fs: Fsys, rel: string): Promise<void> {
  if (rel === '') return;
  await makeParents(root, fs, parentPath(rel));
  const abs = safeJoin(root, rel);
  const st = await lstatOrNull(abs, fs);
  if (st?.isDirectory()) return;
  if (st !== null) throw new SyncdError('parent_not_dir', `cannot restore under "${rel}": it is not a directory`);
  try {
    await fs.mkdir(abs);
  } catch (err) {
    if (!isDiskError(err, 'path_taken')) throw err;
  }
}

