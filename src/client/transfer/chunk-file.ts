// One read of an open file gives its whole-file SHA-256, its content-defined
// chunk boundaries (core/chunker.ts) and each chunk's SHA-256. Reads are
// 1 MiB (4 MiB for a file hashed on the worker) at a time and awaited, so the
// event loop gets a turn between buffers: the chunker and hashing of one
// buffer take a few milliseconds.

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CHUNK_PARAMS, Chunker, type ChunkParams } from '../../core/chunker.js';
import type { FsHandle } from '../disk/fsys.js';
import type { Throttle } from './throttle.js';
import { fileHasher, OFF_THREAD_MIN } from './file-hasher.js';

const READ_BYTES = 1024 * 1024;
/** reads of a file hashed on the worker: fewer, larger messages */
const BIG_READ_BYTES = 4 * 1024 * 1024;

export interface FileChunk {
  hash: string;
  offset: number;
  size: number;
}

/** What says a file is still the one we saw: size, mtime and inode. */
export interface FileIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

export function sameIdentity(a: FileIdentity, b: FileIdentity): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino;
}

export interface ChunkedFile {
  hash: string;
  size: number;
  chunks: FileChunk[];
}

/**
 * One read of the file: the chunker runs here, the whole-file and chunk
 * hashes in `fileHasher` (on a worker for a large file, so both cores work).
 * `size` is what the caller expects the file to be (it picks the hasher);
 * the bytes actually read are what counts.
 */
export async function chunkHandle(fh: FsHandle, size: number, params: ChunkParams = CHUNK_PARAMS): Promise<ChunkedFile> {
  const hasher = fileHasher(size, true);
  const chunker = new Chunker(params);
  const spans: { offset: number; size: number }[] = [];
  let start = 0; // file offset of the current chunk
  let pos = 0;
  const readBytes = size >= OFF_THREAD_MIN ? BIG_READ_BYTES : READ_BYTES;
  try {
    for (;;) {
      const buf = hasher.take(readBytes);
      const { bytesRead } = await fh.read(buf, 0, readBytes, pos);
      if (bytesRead === 0) break;
      const cuts = chunker.push(buf.subarray(0, bytesRead));
      for (const end of cuts) {
        spans.push({ offset: start, size: pos + end - start });
        start = pos + end;
      }
      pos += bytesRead;
      await hasher.update(buf.subarray(0, bytesRead), cuts);
    }
    const tail = chunker.finish() > 0;
    if (tail) spans.push({ offset: start, size: pos - start });
    const { hash, chunkHashes } = await hasher.finish(tail);
    return { hash, size: pos, chunks: spans.map((s, i) => ({ hash: chunkHashes[i]!, offset: s.offset, size: s.size })) };
  } catch (e) {
    hasher.abandon();
    throw e;
  }
}

/** bytes [offset, offset + size) of an open file as a Readable that never closes the handle */
export function readRange(fh: FsHandle, offset: number, size: number, throttle?: Throttle): Readable {
  let pos = offset;
  const end = offset + size;
  return new Readable({
    highWaterMark: READ_BYTES,
    read() {
      const want = Math.min(READ_BYTES, end - pos);
      if (want <= 0) {
        this.push(null);
        return;
      }
      fh.read(Buffer.allocUnsafe(want), 0, want, pos).then(
        async ({ bytesRead, buffer }) => {
          if (bytesRead === 0) {
            // shrank under us: the Content-Length check and the caller's re-stat report it
            this.push(null);
            return;
          }
          pos += bytesRead;
          await throttle?.(bytesRead);
          this.push(buffer.subarray(0, bytesRead));
        },
        (e: unknown) => this.destroy(e as Error),
      );
    },
  });
}

/**
 * A chunk's SHA-256 (at most 4 MiB: a few milliseconds of the event loop).
 * Not on the thread pool: the engine simulation's scheduler cannot see work
 * there, and a chunk is small enough not to need it.
 */
export function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** `buf.length` bytes from `pos` into `buf`, or null when the file ends first. */
export async function readExactly(fh: FsHandle, buf: Buffer, pos: number): Promise<Buffer | null> {
  const size = buf.length;
  let off = 0;
  while (off < size) {
    const { bytesRead } = await fh.read(buf, off, size - off, pos + off);
    if (bytesRead === 0) return null;
    off += bytesRead;
  }
  return buf;
}
