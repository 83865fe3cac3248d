// Named blobs and batch download replies built by hand (independent of
// src/protocol/frames.ts, so tests of the decoder and the encoder have an
// oracle), plus a source that cuts a reply into chunks where told.

import { createHash } from 'node:crypto';

export const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

export interface Blob {
  hash: string;
  content: Buffer | null; // null: the server sends -1
}

export const A: Blob = { hash: sha('hello'), content: Buffer.from('hello') };
export const MISSING: Blob = { hash: sha('nope'), content: null };
export const EMPTY: Blob = { hash: sha(''), content: Buffer.alloc(0) };
export const NEWLINES: Blob = { hash: sha('\n\n12 3\n'), content: Buffer.from('\n\n12 3\n') };
export const D = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 7) % 256));
export const BIG: Blob = { hash: sha(D), content: D };
/** A missing blob, an empty one, one full of newlines and digits, and one larger than a header. */
export const SET = [A, MISSING, EMPTY, NEWLINES, BIG];

/** The batch reply for `blobs`: `<hash> <size>\n` + bytes, or `<hash> -1\n`. */
export function frames(blobs: Blob[]): Buffer {
  return Buffer.concat(
    blobs.map((b) => (b.content === null ? Buffer.from(`${b.hash} -1\n`) : Buffer.concat([Buffer.from(`${b.hash} ${b.content.length}\n`), b.content]))),
  );
}

/** `buf` in chunks cut at the increasing offsets `cuts` (empty chunks left out); then `fail` is thrown, if given. */
export async function* pieces(buf: Buffer, cuts: number[], fail?: Error): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts, buf.length]) {
    if (c > at) yield buf.subarray(at, c);
    at = c;
  }
  if (fail) throw fail;
}
