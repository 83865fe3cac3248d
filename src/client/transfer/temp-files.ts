// What the download modules share: the remote they need, the items and
// results of a download, temp-file names (`.syncd-tmp-*`, created next to
// their targets) and the errors a wrong blob gives.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../core/syncd-names.js';
import { piecesBytes } from '../../protocol/frames.js';
import type { FsDir, Fsys, FsStat } from '../disk/fsys.js';
import { UnsafePathError } from '../disk/safe-fs.js';
import { isDiskError } from '../disk/errno.js';
import type { BackoffOptions } from '../agent/backoff.js';
import type { RemoteClient } from '../remote/remote.js';
import { RemoteError } from '../remote/errors.js';
import type { Slots, Throttle } from './throttle.js';
import type { ChunkFetchRemote, KnownChunks } from './chunked-download.js';
import type { FileChunk } from './chunk-file.js';
import type { PartialSource } from './partials.js';

/** The SHA-256 of no bytes. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What transfer needs from the remote; RemoteClient has it, tests may fake it. */
export type BlobRemote = Pick<RemoteClient, 'getBlob' | 'fetchBlobBuffers' | 'putBlob'> & Partial<ChunkRemote> & Partial<ChunkFetchRemote>;
/** The content layer's upload calls: a remote without them uploads whole blobs. */
export type ChunkRemote = Pick<RemoteClient, 'missingChunks' | 'putChunk' | 'assembleFile'>;

export interface DownloadItem {
  hash: string;
  size: number;
  /** the directory the file will be renamed into; the temp file is created here */
  dirAbs: string;
  /**
   * that directory's identity as the executor checked it (inside the folder, no symlink on the way):
   * the temp file is created through the directory held open, and only if it is still that one
   */
  dirId?: { dev: number; ino: number };
  /** permission bits the temp file gets (default 0600; the umask applies) */
  mode?: number;
  /** mtime the temp file gets, ms since the epoch (default: when it was written) */
  mtimeMs?: number;
  /** local files that may share chunks with this content (the previous version): a large file copies those instead of fetching them */
  reuse?: readonly string[];
}

export interface DownloadOptions {
  /** fsync each temp file before returning it (default true). Pass false to fsync a whole batch later. */
  fsync?: boolean;
  /** retries after transient failures without progress (default 5); an attempt that made progress resets the count */
  retries?: number;
  /** delay policy between retries (default: 250 ms base, 5 s cap, full jitter); each download gets its own Backoff */
  backoff?: BackoffOptions;
  signal?: AbortSignal;
  /** takes bytes from the agent's bandwidth budget (config `bandwidthLimit`) */
  throttle?: Throttle;
  /** the file system the temp files go to (default: the real disk) */
  fs?: Fsys;
  /** the chunk index: a large file copies the chunks any known local file holds instead of fetching them */
  known?: KnownChunks;
  /** the request budget (config `concurrency`) shared with other transfers; default: `concurrency` slots for this call */
  slots?: Slots;
  /** downloads cut short (`.syncd-part-*`): a large file resumes from one beside it, and leaves its own when cut short */
  partials?: PartialSource;
  /** the directories held open for creating temp files (downloadManyToTemp makes one for its items) */
  dirs?: TempDirs;
}

/**
 * A verified temp file and its stat once written (mode and mtime set): the
 * identity it keeps when renamed or linked; a file built from chunks comes
 * with its chunk list.
 */
export type DownloadResult = ({ ok: true } & Written) | { ok: false; error: Error };
export type Written = { path: string; stat: FsStat; chunks?: FileChunk[] };

// One random draw per process plus a counter: unique enough with 'wx'
// (which refuses to reuse a name), and far cheaper than a draw per file.
const TEMP_SESSION = randomBytes(6).toString('hex');
let tempCounter = 0;

export function tempName(): string {
  tempCounter = (tempCounter + 1) % Number.MAX_SAFE_INTEGER;
  return `${TEMP_PREFIX}${TEMP_SESSION}-${tempCounter.toString(36)}`;
}

export function mismatch(remote: unknown, hash: string, detail: string): RemoteError {
  const server = (remote as { server?: unknown }).server;
  const s = typeof server === 'string' ? server : 'the server';
  return new RemoteError('hash_mismatch', `blob ${hash} from ${s} does not match: ${detail}; it was discarded`, { server: s });
}

export function serverOf(remote: unknown): string {
  const server = (remote as { server?: unknown }).server;
  return typeof server === 'string' ? server : 'the server';
}

/**
 * From this size on, a temp file is flushed (fsync, on the thread pool) as
 * soon as it is written, even when the caller makes the batch durable at
 * its end (`fsync: false`): the disk writes the big files while the rest
 * still arrive, and the batch's final flush has only the small ones left
 * (a mirror of 300 MiB otherwise waits for all 300 MiB at the end).
 * Durability is the same: every file's data is durable before it is placed.
 */
const EARLY_SYNC_MIN = 1024 * 1024;

/** Whether a temp file of `size` bytes is flushed when written: asked for, or big (EARLY_SYNC_MIN). */
export function syncWhenWritten(fsync: boolean, size: number): boolean {
  return fsync || size >= EARLY_SYNC_MIN;
}

/**
 * Creates a temp file for `item` holding exactly the bytes of `data`, in
 * order. Nothing is left on failure. `many`: one of many written at once
 * (Fsys.writeNew may write it on a worker thread).
 */
export async function writeTemp(fs: Fsys, item: DownloadItem, data: readonly Buffer[], fsync: boolean, dirs?: TempDirs, many = false): Promise<{ path: string; stat: FsStat }> {
  const name = tempName();
  const stat = await createIn(fs, dirs, item, name, (at) => fs.writeNew(at, data, { fsync: syncWhenWritten(fsync, piecesBytes(data)), mode: item.mode, mtimeMs: item.mtimeMs, many }));
  return { path: join(item.dirAbs, name), stat };
}

/**
 * Runs `create` with the path a new name in `item`'s directory is made at:
 * through the directory held open when its identity is known (TempDirs),
 * else its plain path. The file is known by its plain path afterwards.
 */
export function createIn<T>(fs: Fsys, dirs: TempDirs | undefined, item: DownloadItem, name: string, create: (at: string) => Promise<T>): Promise<T> {
  if (item.dirId === undefined) return create(join(item.dirAbs, name));
  return (dirs ?? new TempDirs(fs, 0)).use(item.dirAbs, item.dirId, (at) => create(join(at, name)));
}

/**
 * The directories a download's temp files are created in, each opened once
 * (Fsys.openDir) and used only while it is the directory the executor
 * checked (same dev and ino). A user who swaps a parent for a symlink to
 * somewhere else after that check cannot carry the write out of the folder:
 * the name is created in the directory itself, wherever it went. A handle
 * is closed only when no creation uses it; at most `keep` idle ones stay open.
 */
export class TempDirs {
  readonly #fs: Fsys;
  readonly #keep: number;
  readonly #held = new Map<string, { dir: FsDir; users: number }>();

  constructor(fs: Fsys, keep = 64) {
    this.#fs = fs;
    this.#keep = keep;
  }

  async use<T>(dirAbs: string, id: { dev: number; ino: number }, fn: (at: string) => Promise<T>): Promise<T> {
    let h = this.#held.get(dirAbs);
    if (h === undefined) {
      let dir: FsDir;
      try {
        dir = await this.#fs.openDir(dirAbs);
      } catch (e) {
        // a symlink (ELOOP, or ENOTDIR with O_DIRECTORY) or a file where the directory was
        if (isDiskError(e, 'path_not_dir') || (e as NodeJS.ErrnoException).code === 'ELOOP') throw swapped(dirAbs, 'is no longer a directory');
        throw e;
      }
      if (dir.dev !== id.dev || dir.ino !== id.ino) {
        await dir.close();
        throw swapped(dirAbs, 'was replaced');
      }
      // another creation may have opened it meanwhile: one handle per directory
      h = this.#held.get(dirAbs);
      if (h === undefined) this.#held.set(dirAbs, (h = { dir, users: 0 }));
      else await dir.close();
    }
    h.users++;
    try {
      return await fn(h.dir.at);
    } finally {
      h.users--;
      if (this.#held.size > this.#keep) await this.#trim();
    }
  }

  /** Closes every idle handle past `keep`, oldest first. */
  async #trim(): Promise<void> {
    for (const [path, h] of this.#held) {
      if (this.#held.size <= this.#keep) return;
      if (h.users > 0) continue;
      this.#held.delete(path);
      await h.dir.close();
    }
  }

  async closeAll(): Promise<void> {
    const held = [...this.#held.values()];
    this.#held.clear();
    for (const h of held) await h.dir.close().catch(() => undefined);
  }
}

function swapped(dirAbs: string, how: string): UnsafePathError {
  return new UnsafePathError(dirAbs, `this directory ${how} after it was checked, before a downloaded file was written in it`);
}

export interface Group {
  hash: string;
  size: number;
  /** indexes into items: every one gets its own temp file */
  idx: number[];
  /** why the group's content could not be had (set on the group, reported for each of its items) */
  error?: Error;
}

export function asError(e: unknown): Error {
  return e instanceof Error ? e : new Error(String(e));
}
