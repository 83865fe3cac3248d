// One read of an open file gives its whole-file SHA-256, its content-defined
// chunk boundaries (core/chunker.ts) and each chunk's SHA-256. Reads are
// 1 MiB at a time and awaited, so the event loop gets a turn between buffers:
// the chunker and hashing of one buffer take about a millisecond.

import { createHash, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';
import { CHUNK_PARAMS, Chunker, type ChunkParams } from '../../core/chunker.js';
import type { FsHandle } from '../disk/fsys.js';
import type { Throttle } from './throttle.js';

const READ_BYTES = 1024 * 1024;

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

export async function chunkHandle(fh: FsHandle, params: ChunkParams = CHUNK_PARAMS): Promise<ChunkedFile> {
  const whole = createHash('sha256');
  const chunker = new Chunker(params);
  const chunks: FileChunk[] = [];
  let part: Hash = createHash('sha256');
  let start = 0; // file offset of the current chunk
  let pos = 0;
  const buf = Buffer.allocUnsafe(READ_BYTES);
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, READ_BYTES, pos);
    if (bytesRead === 0) break;
    const data = buf.subarray(0, bytesRead);
    whole.update(data);
    let prev = 0;
    for (const end of chunker.push(data)) {
      part.update(data.subarray(prev, end));
      chunks.push({ hash: part.digest('hex'), offset: start, size: pos + end - start });
      start = pos + end;
      part = createHash('sha256');
      prev = end;
    }
    part.update(data.subarray(prev));
    pos += bytesRead;
  }
  if (chunker.finish() > 0) chunks.push({ hash: part.digest('hex'), offset: start, size: pos - start });
  return { hash: whole.digest('hex'), size: pos, chunks };
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
