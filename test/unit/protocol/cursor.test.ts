import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { CursorCodec } from '../../../src/protocol/cursor.js';

const key = Buffer.alloc(32, 7);
const codec = new CursorCodec(key);
const pos = { namespace: 'team-a', epoch: 'e_abc', seq: 4211 };

function flip(s: string, i: number): string {
  const c = s[i]!;
  return s.slice(0, i) + (c === 'A' ? 'B' : 'A') + s.slice(i + 1);
}

describe('CursorCodec cursors', () => {
  it('round-trips and is deterministic', () => {
    const c = codec.encodeCursor(pos);
    expect(codec.decodeCursor(c)).toEqual(pos);
    expect(codec.encodeCursor(pos)).toBe(c);
  });

  it('round-trips seq 0 and the largest safe seq', () => {
    for (const seq of [0, Number.MAX_SAFE_INTEGER]) {
      expect(codec.decodeCursor(codec.encodeCursor({ ...pos, seq }))).toEqual({ ...pos, seq });
    }
  });

  it('rejects every single-character edit', () => {
    const c = codec.encodeCursor(pos);
    for (let i = 0; i < c.length; i++) {
      expect(codec.decodeCursor(flip(c, i)), `edit at ${i}`).toBeNull();
    }
  });

  it('rejects a cursor signed with another key', () => {
    const other = new CursorCodec(randomBytes(32));
    expect(codec.decodeCursor(other.encodeCursor(pos))).toBeNull();
  });

  it('rejects a re-signed payload with a forged seq', () => {
    const c = codec.encodeCursor(pos);
    const [kind, , tag] = c.split('.');
    const forged = Buffer.from('team-a\ne_abc\n9999').toString('base64url');
    expect(codec.decodeCursor(`${kind}.${forged}.${tag}`)).toBeNull();
  });

  it.each([
    ['not a string', 42],
    ['empty', ''],
    ['garbage', 'hello'],
    ['too many parts', 'c1.a.b.c'],
    ['a page token', codec.encodePageToken({ ...pos, afterId: 'n_x' })],
    ['overlong', 'c1.' + 'A'.repeat(3000) + '.x'],
  ])('rejects %s', (_d, v) => {
    expect(codec.decodeCursor(v)).toBeNull();
  });

  it('refuses a short key', () => {
    expect(() => new CursorCodec(Buffer.alloc(8))).toThrow();
  });
});

describe('CursorCodec page tokens', () => {
  it('round-trips and rejects tampering and cursors', () => {
    const p = { ...pos, afterId: 'n_AbC-_9' };
    const t = codec.encodePageToken(p);
    expect(codec.decodePageToken(t)).toEqual(p);
    expect(codec.decodePageToken(flip(t, t.length - 3))).toBeNull();
    expect(codec.decodePageToken(codec.encodeCursor(pos))).toBeNull();
  });
});
