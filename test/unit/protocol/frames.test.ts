// The batch download frames: what encodeFrameHeader writes, FrameDecoder
// reads back, however the reply is cut; and every malformed reply is
// refused through the caller's `malformed`, never read past or guessed at.

import { createHash } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { encodeFrameHeader, FRAME_MISSING, FrameDecoder, MAX_FRAME_HEADER, MAX_PIECES, PieceList } from '../../../src/protocol/frames.js';
import { A, BIG, frames, MISSING, pieces, SET, type Blob } from '../../helpers/blob-frames.js';

class Malformed extends Error {}
const malformed = (detail: string): Error => new Malformed(detail);

const HASHES = SET.map((b) => b.hash);

/** A reply as the server writes it. */
function encode(blobs: Blob[]): Buffer {
  return Buffer.concat(blobs.flatMap((b) => (b.content === null ? [encodeFrameHeader(b.hash, FRAME_MISSING)] : [encodeFrameHeader(b.hash, b.content.length), b.content])));
}

type Read = 'whole' | 'pieces' | 'skip';

/** Decodes a reply; per frame: its hash, its size and its body (null for a missing blob or a skipped one). */
async function decode(source: AsyncIterable<Buffer>, hashes: string[], read: Read = 'whole'): Promise<Array<[string, number, Buffer | null]>> {
  const d = new FrameDecoder(source, hashes, malformed);
  const seen: Array<[string, number, Buffer | null]> = [];
  for (let h = await d.next(); h !== null; h = await d.next()) {
    expect(h.hash).toBe(hashes[h.index]);
    if (h.size === FRAME_MISSING || read === 'skip') {
      seen.push([h.hash, h.size, null]);
      continue;
    }
    if (read === 'whole') {
      seen.push([h.hash, h.size, Buffer.concat(await d.pieces())]);
      continue;
    }
    const parts: Buffer[] = [];
    for (let p = await d.piece(); p !== null; p = await d.piece()) parts.push(Buffer.from(p));
    seen.push([h.hash, h.size, Buffer.concat(parts)]);
  }
  return seen;
}

const EXPECTED = SET.map((b): [string, number, Buffer | null] => [b.hash, b.content === null ? FRAME_MISSING : b.content.length, b.content]);
const WIRE = encode(SET);

describe('encodeFrameHeader', () => {
  test.each([
    { name: 'a blob', size: 5, want: `${A.hash} 5\n` },
    { name: 'an empty blob', size: 0, want: `${A.hash} 0\n` },
    { name: 'a missing blob', size: FRAME_MISSING, want: `${A.hash} -1\n` },
    { name: 'the largest size', size: Number.MAX_SAFE_INTEGER, want: `${A.hash} ${Number.MAX_SAFE_INTEGER}\n` },
  ])('$name: "<hash> <size>\\n" in latin1', ({ size, want }) => {
    const h = encodeFrameHeader(A.hash, size);
    expect(h.toString('latin1')).toBe(want);
    expect(h.length).toBeLessThanOrEqual(MAX_FRAME_HEADER);
  });

  test('a whole reply encoded with it is the reply written by hand', () => {
    expect(encode(SET).equals(frames(SET))).toBe(true);
  });
});

describe('FrameDecoder round trip', () => {
  test.each<{ name: string; read: Read }>([
    { name: 'whole bodies', read: 'whole' },
    { name: 'bodies piece by piece', read: 'pieces' },
  ])('$name: one chunk, split in two at every byte boundary, one byte per chunk', async ({ read }) => {
    expect(await decode(pieces(WIRE, []), HASHES, read)).toEqual(EXPECTED);
    for (let cut = 0; cut <= WIRE.length; cut++) {
      expect(await decode(pieces(WIRE, [cut]), HASHES, read), `cut at ${cut}`).toEqual(EXPECTED);
    }
    const bytes = Array.from({ length: WIRE.length }, (_, i) => i);
    expect(await decode(pieces(WIRE, bytes), HASHES, read)).toEqual(EXPECTED);
  });

  test('bodies left unread are skipped, and the next header still lines up, at every cut', async () => {
    const skipped = EXPECTED.map(([h, s]): [string, number, null] => [h, s, null]);
    for (let cut = 0; cut <= WIRE.length; cut++) {
      expect(await decode(pieces(WIRE, [cut]), HASHES, 'skip'), `cut at ${cut}`).toEqual(skipped);
    }
  });

  test('empty chunks anywhere are harmless', async () => {
    async function* withEmpties(): AsyncGenerator<Buffer> {
      for (let at = 0; at < WIRE.length; at += 7) yield* [Buffer.alloc(0), WIRE.subarray(at, at + 7), Buffer.alloc(0)];
    }
    expect(await decode(withEmpties(), HASHES)).toEqual(EXPECTED);
  });

  test('a body inside one chunk is a slice of it, not a copy', async () => {
    const d = new FrameDecoder(pieces(WIRE, []), HASHES, malformed);
    await d.next();
    const body = await d.pieces();
    expect(body).toHaveLength(1);
    expect(body[0]!.buffer).toBe(WIRE.buffer);
  });

  test('a body cut across chunks comes as slices of each chunk, never copied', async () => {
    const wire = pieces(WIRE, [70, 71, 90]);
    const chunks: Buffer[] = [];
    async function* keep(): AsyncGenerator<Buffer> {
      for await (const c of wire) {
        chunks.push(c);
        yield c;
      }
    }
    const d = new FrameDecoder(keep(), HASHES, malformed);
    const h = await d.next();
    const body = await d.pieces();
    expect(Buffer.concat(body).length).toBe(h!.size);
    expect(body.length).toBeGreaterThan(1);
    for (const b of body) expect(chunks.some((c) => c.buffer === b.buffer && b.byteOffset >= c.byteOffset && b.byteOffset + b.length <= c.byteOffset + c.length)).toBe(true);
  });
});

describe('PieceList: pieces kept as they came, tiny ones joined', () => {
  test('up to MAX_PIECES pieces are kept as they are (no copy)', () => {
    const src = Buffer.alloc(MAX_PIECES * 3, 7);
    const l = new PieceList();
    for (let i = 0; i < MAX_PIECES - 1; i++) l.push(src.subarray(i * 3, i * 3 + 3));
    expect(l.parts).toHaveLength(MAX_PIECES - 1);
    expect(l.parts.every((p) => p.buffer === src.buffer)).toBe(true);
  });

  test('a body trickled a byte at a time costs one object per MAX_PIECES bytes, and keeps its bytes in order', () => {
    const body = Buffer.from(Array.from({ length: 5 * MAX_PIECES + 17 }, (_, i) => (i * 31) % 256));
    const l = new PieceList();
    for (let i = 0; i < body.length; i++) l.push(body.subarray(i, i + 1));
    expect(l.parts.length).toBeLessThanOrEqual(5 + MAX_PIECES);
    expect(l.bytes).toBe(body.length);
    expect(Buffer.concat(l.parts).equals(body)).toBe(true);
  });

  test('a frame sent a byte per chunk comes out whole and in few pieces', async () => {
    const big = Buffer.from(Array.from({ length: 3 * MAX_PIECES }, (_, i) => i % 256));
    const hash = createHash('sha256').update(big).digest('hex');
    const wire = Buffer.concat([encodeFrameHeader(hash, big.length), big]);
    const d = new FrameDecoder(pieces(wire, Array.from({ length: wire.length - 1 }, (_, i) => i + 1)), [hash], malformed);
    await d.next();
    const got = await d.pieces();
    expect(got.length).toBeLessThanOrEqual(3 + MAX_PIECES);
    expect(Buffer.concat(got).equals(big)).toBe(true);
  });
});

describe('FrameDecoder refuses a malformed reply', () => {
  const header = (hash: string, size: string): string => `${hash} ${size}\n`;
  test.each([
    { name: 'an empty reply', wire: '', want: /ended after 0 of 1 blobs/ },
    { name: 'truncated inside the header', wire: A.hash.slice(0, 20), want: /ended after 0 of 1 blobs/ },
    { name: 'truncated inside the body', wire: `${header(A.hash, '5')}hel`, want: /ended inside the blob of frame 0/ },
    { name: 'truncated before the second frame', wire: `${header(A.hash, '5')}hello`, hashes: [A.hash, BIG.hash], want: /ended after 1 of 2 blobs/ },
    { name: 'a frame for another hash', wire: header(MISSING.hash, '-1'), want: /frame 0 is for .* but .* was requested there/ },
    { name: 'an uppercase hash', wire: `${header(A.hash.toUpperCase(), '5')}hello`, want: /is not "<hash> <size>"/ },
    { name: 'a short hash', wire: `${header(A.hash.slice(1), '5')}hello`, want: /is not "<hash> <size>"/ },
    { name: 'a size with a leading zero', wire: `${header(A.hash, '05')}hello`, want: /is not "<hash> <size>"/ },
    { name: 'a negative size other than -1', wire: header(A.hash, '-2'), want: /is not "<hash> <size>"/ },
    { name: 'a size with a plus sign', wire: `${header(A.hash, '+5')}hello`, want: /is not "<hash> <size>"/ },
    { name: 'two spaces', wire: `${A.hash}  5\nhello`, want: /is not "<hash> <size>"/ },
    { name: 'CRLF line end', wire: `${A.hash} 5\r\nhello`, want: /is not "<hash> <size>"/ },
    { name: 'a size past 2^53', wire: header(A.hash, '9999999999999999'), want: /size 9999999999999999 is out of range/ },
    { name: 'a 17-digit size', wire: header(A.hash, '12345678901234567'), want: /is not "<hash> <size>"|no header line/ },
    { name: 'no newline within the header limit', wire: 'x'.repeat(500), want: /frame 0 has no header line within 83 bytes/ },
    { name: 'a header line longer than the limit', wire: `${A.hash} 5${' '.repeat(40)}\nhello`, want: /frame 0 has no header line/ },
    { name: 'bytes after the last frame', wire: `${header(A.hash, '5')}hellojunk`, want: /[1-4]\+ bytes follow the last frame/ },
  ])('$name', async ({ wire, hashes, want }) => {
    const bytes = Buffer.from(wire, 'latin1');
    // whole, and cut at every byte: the verdict does not depend on the chunking
    for (let cut = 0; cut <= bytes.length; cut++) {
      const p = decode(pieces(bytes, cut === 0 ? [] : [cut]), hashes ?? [A.hash]);
      await expect(p, `cut at ${cut}`).rejects.toThrow(Malformed);
      await expect(decode(pieces(bytes, cut === 0 ? [] : [cut]), hashes ?? [A.hash]), `cut at ${cut}`).rejects.toThrow(want);
    }
  });

  test('truncated at every position of a valid reply: a malformed error, never a wrong or short body', async () => {
    for (let end = 0; end < WIRE.length; end++) {
      const seen: Array<[string, number, Buffer | null]> = [];
      const d = new FrameDecoder(pieces(WIRE.subarray(0, end), [Math.floor(end / 2)]), HASHES, malformed);
      const run = async (): Promise<void> => {
        for (let h = await d.next(); h !== null; h = await d.next()) seen.push([h.hash, h.size, h.size < 0 ? null : Buffer.concat(await d.pieces())]);
      };
      await expect(run(), `end ${end}`).rejects.toThrow(/ended/);
      expect(seen, `end ${end}`).toEqual(EXPECTED.slice(0, seen.length));
    }
  });

  test('an error of the source is rethrown as it is, by that call and every later one', async () => {
    const boom = new Error('socket hang up');
    async function* failing(): AsyncGenerator<Buffer> {
      yield WIRE.subarray(0, 70);
      throw boom;
    }
    const d = new FrameDecoder(failing(), HASHES, malformed);
    expect(await d.next()).toMatchObject({ index: 0, hash: A.hash, size: 5 });
    expect((await d.piece())?.toString()).toBe('hel');
    await expect(d.piece()).rejects.toBe(boom);
    await expect(d.next()).rejects.toBe(boom);
  });
});
