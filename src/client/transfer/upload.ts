// Files up: hashing a file, and uploading it whole (a blob) or, above the
// single-chunk size, as the content-defined chunks the server lacks, then
// assembled there. The file is re-checked against what the scan saw, so a
// file changed mid-upload is never committed under a stale identity.

import { createHash } from 'node:crypto';
import { SyncdError } from '../../protocol/errors.js';
import { nodeFsys, runLimited, type Fsys, type FsHandle } from '../disk/fsys.js';
import { requestSlots, type Slots, type Throttle } from './throttle.js';
import { SINGLE_CHUNK_MAX } from '../../core/chunker.js';
import { chunkHandle, readRange, sameIdentity, type ChunkedFile, type FileChunk, type FileIdentity } from './chunk-file.js';
import { RemoteError } from '../remote/errors.js';
import { diskCode } from '../disk/errno.js';
import { rememberChunks, takeChunks } from './chunk-memo.js';
import type { BlobRemote, ChunkRemote } from './temp-files.js';

const HASH_CHUNK = 1024 * 1024;

async function hashHandle(fh: FsHandle): Promise<{ hash: string; size: number }> {
  const h = createHash('sha256');
  const buf = Buffer.allocUnsafe(HASH_CHUNK);
  let size = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, HASH_CHUNK, size);
    if (bytesRead === 0) break;
    h.update(buf.subarray(0, bytesRead));
    size += bytesRead;
  }
  return { hash: h.digest('hex'), size };
}

/**
 * Streaming SHA-256 of a regular file (a symlink is not followed: ELOOP).
 * A file above the single-chunk size is chunked in the same read and its
 * chunk list remembered (chunk-memo.ts) when the file did not change
 * during the read, so its upload need not read it again.
 */
export async function hashFile(absPath: string, fs: Fsys = nodeFsys): Promise<{ hash: string; size: number }> {
  const fh = await fs.openRead(absPath);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SyncdError('not_a_file', `${absPath} is not a regular file`, { path: absPath });
    if (st.size <= SINGLE_CHUNK_MAX) return await hashHandle(fh);
    const file = await chunkHandle(fh, st.size);
    if (file.size === st.size) rememberChunks(fs, absPath, st, file);
    return { hash: file.hash, size: file.size };
  } finally {
    await fh.close();
  }
}

function changed(absPath: string, detail: string, cause?: unknown): SyncdError {
  return new SyncdError('changed_during_upload', `${absPath} changed while it was being uploaded (${detail}); it will be uploaded again once it settles`, { path: absPath }, cause === undefined ? undefined : { cause });
}

/**
 * Hashes `absPath` and uploads it, both by streaming from one open handle.
 * Throws SyncdError `changed_during_upload` when the file is not the one the
 * scanner saw (`expect`), or changed, moved or vanished before the upload
 * finished; the engine retries later. Remote failures are RemoteErrors.
 * A file sent as chunks comes back with its chunk list. Each request (the
 * whole blob, or each chunk) takes one of `slots` (the agent's `concurrency`
 * budget, shared with other transfers; default: 4 for this file alone).
 */
export async function uploadFile(remote: BlobRemote, absPath: string, expect: FileIdentity, throttle?: Throttle, fs: Fsys = nodeFsys, slots: Slots = requestSlots(4)): Promise<{ hash: string; size: number; chunks?: FileChunk[] }> {
  let fh: FsHandle;
  try {
    fh = await fs.openRead(absPath);
  } catch (e) {
    const code = diskCode(e);
    if (code === 'path_missing' || code === 'path_is_symlink' || code === 'path_not_dir') throw changed(absPath, code === 'path_missing' ? 'it is gone' : 'it is no longer a regular file', e);
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw changed(absPath, 'it is no longer a regular file');
    if (!sameIdentity(st, expect)) throw changed(absPath, 'it differs from what the scan saw');
    const chunkRemote = expect.size > SINGLE_CHUNK_MAX && remote.missingChunks && remote.putChunk && remote.assembleFile ? (remote as ChunkRemote) : null;
    // a large file the scan just hashed is not read again: its chunk list was remembered with this identity
    const { hash, size, chunks } = chunkRemote ? (takeChunks(fs, absPath, expect) ?? (await chunkHandle(fh, expect.size))) : { ...(await hashHandle(fh)), chunks: null };
    if (size !== expect.size) throw changed(absPath, `read ${size} bytes, expected ${expect.size}`);
    let putError: unknown;
    try {
      const whole = (): Promise<unknown> => slots(() => remote.putBlob(hash, size, () => readRange(fh, 0, size, throttle)));
      if (chunkRemote && chunks) await uploadChunks(chunkRemote, fh, { hash, size, chunks }, whole, slots, throttle);
      else await whole();
    } catch (e) {
      putError = e;
    }
    const [after, byPath] = await Promise.all([fh.stat(), fs.lstat(absPath).catch(() => undefined)]);
    if (!sameIdentity(after, expect)) throw changed(absPath, 'its size or mtime changed', putError);
    if (byPath === undefined || !byPath.isFile() || !sameIdentity(byPath, expect)) throw changed(absPath, 'it was replaced or removed', putError);
    if (putError !== undefined) {
      // the server hashed other bytes than we did: the content changed in place without touching size/mtime
      if (putError instanceof RemoteError && putError.code === 'hash_mismatch') throw changed(absPath, 'its content changed in place', putError);
      throw putError;
    }
    // the chunk list of a file sent as chunks: the executor records it in the chunk index
    return chunks ? { hash, size, chunks } : { hash, size };
  } finally {
    await fh.close();
  }
}

/** chunk uploads of one file queued at once; the slots decide how many are sent at a time */
const CHUNK_JOBS = 16;

/**
 * A large file as chunks: ask which ones the server lacks, send only those
 * (so an upload killed halfway resumes where it stopped: the chunks that
 * made it are not missing any more), then let the server assemble and
 * verify the file. A server without the content layer (404) gets the whole
 * blob instead; chunks collected between the question and the assembly
 * (`chunks_missing`) are asked about and sent once more.
 */
async function uploadChunks(remote: ChunkRemote, fh: FsHandle, file: ChunkedFile, whole: () => Promise<unknown>, slots: Slots, throttle?: Throttle): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    let missing: Set<string>;
    try {
      missing = new Set(await askMissing(remote, [...new Set(file.chunks.map((c) => c.hash))]));
    } catch (e) {
      if (e instanceof RemoteError && e.code === 'not_found') {
        await whole();
        return;
      }
      throw e;
    }
    const jobs = file.chunks
      .filter((c) => missing.delete(c.hash)) // each distinct chunk once
      .map((c) => async () => void (await slots(() => remote.putChunk(c.hash, c.size, () => readRange(fh, c.offset, c.size, throttle)))));
    await runLimited(jobs, CHUNK_JOBS);
    try {
      await remote.assembleFile(file.hash, file.size, file.chunks);
      return;
    } catch (e) {
      if (attempt === 0 && e instanceof RemoteError && e.serverCode === 'chunks_missing') continue;
      throw e;
    }
  }
}

async function askMissing(remote: ChunkRemote, hashes: string[]): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < hashes.length; i += 10_000) out.push(...(await remote.missingChunks(hashes.slice(i, i + 10_000))));
  return out;
}
