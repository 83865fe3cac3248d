// The chunk index (migration 003): chunk lists of large files, tied to the
// identity each file had when its chunks were recorded.

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { StateDB } from '../../../../src/client/state/db.js';
import { tempDbFile } from './helpers.js';

const H = (c: string) => c.repeat(64);
const idA = { size: 300, mtimeMs: 1_700_000_000_123.25, ino: 2 ** 40 + 7 };

let db: StateDB;
beforeEach(() => {
  db = new StateDB(tempDbFile());
});
afterEach(() => db.close());

describe('chunk index', () => {
  it('finds each recorded place of a chunk, with the identity of its file (an mtime with a fraction round-trips exactly)', () => {
    db.recordChunks('a.bin', H('f'), idA, [{ hash: H('1'), offset: 0, size: 100 }, { hash: H('2'), offset: 100, size: 200 }]);
    db.recordChunks('dir/b.bin', H('e'), { size: 100, mtimeMs: 5, ino: 9 }, [{ hash: H('1'), offset: 0, size: 100 }]);
    const got = db.chunkPlaces([H('1'), H('2'), H('3'), H('1')]);
    expect(got.get(H('1'))?.map((p) => p.path).sort()).toEqual(['a.bin', 'dir/b.bin']);
    expect(got.get(H('2'))).toEqual([{ path: 'a.bin', offset: 100, size: 200, identity: idA }]);
    expect(got.has(H('3'))).toBe(false);
    expect(db.chunkedIdentity('a.bin')).toEqual(idA);
    expect(db.chunkedIdentity('nope.bin')).toBeNull();
  });

  it('recording a file again replaces its old list and identity', () => {
    db.recordChunks('a.bin', H('f'), idA, [{ hash: H('1'), offset: 0, size: 300 }]);
    const idB = { ...idA, mtimeMs: idA.mtimeMs + 1 };
    db.recordChunks('a.bin', H('d'), idB, [{ hash: H('2'), offset: 0, size: 300 }]);
    expect(db.chunkPlaces([H('1')]).size).toBe(0);
    expect(db.chunkPlaces([H('2')]).get(H('2'))).toEqual([{ path: 'a.bin', offset: 0, size: 300, identity: idB }]);
  });

  it('asks in batches: more hashes than one query takes', () => {
    const chunks = Array.from({ length: 1200 }, (_, i) => ({ hash: i.toString(16).padStart(64, '0'), offset: i, size: 1 }));
    db.recordChunks('many.bin', H('f'), { size: 1200, mtimeMs: 1, ino: 1 }, chunks);
    expect(db.chunkPlaces(chunks.map((c) => c.hash)).size).toBe(1200);
  });
});
