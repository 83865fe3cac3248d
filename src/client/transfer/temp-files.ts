// What the download modules share: the remote they need, the items and
// results of a download, temp-file names (`.syncd-tmp-*`, created next to
// their targets) and the errors a wrong blob gives.

import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { TEMP_PREFIX } from '../../core/syncd-names.js';
import { piecesBytes } from '../../protocol/frames.js';
import type { Fsys, FsStat } from '../disk/fsys.js';
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

/** Creates a temp file for `item` holding exactly the bytes of `data`, in order. Nothing is left on failure. */
export async function writeTemp(fs: Fsys, item: DownloadItem, data: readonly Buffer[], fsync: boolean): Promise<{ path: string; stat: FsStat }> {
  const path = join(item.dirAbs, tempName());
  const stat = await fs.writeNew(path, data, { fsync: syncWhenWritten(fsync, piecesBytes(data)), mode: item.mode, mtimeMs: item.mtimeMs });
  return { path, stat };
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
