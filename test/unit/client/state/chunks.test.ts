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

describe('chunk index rows follow Local', () => {
  const file = (diskPath: string) => ({ path: diskPath, diskPath, kind: 'file' as const, size: 300, mtimeMs: 1, ino: 2, hash: H('f'), exec: false, target: null });
  const dir = (diskPath: string) => ({ ...file(diskPath), kind: 'dir' as const, size: null, hash: null });
  const record = (path: string) => db.recordChunks(path, H('f'), idA, [{ hash: H('1'), offset: 0, size: 100 }, { hash: H('2'), offset: 100, size: 200 }]);
  const paths = () => (db.db.prepare('SELECT DISTINCT disk_path FROM chunk_spans ORDER BY disk_path').all() as { disk_path: string }[]).map((r) => r.disk_path);
  const files = () => (db.db.prepare('SELECT disk_path FROM chunk_files ORDER BY disk_path').all() as { disk_path: string }[]).map((r) => r.disk_path);

  it('a Local entry deleted takes its rows, a directory those of every path below it (and no sibling that shares its prefix)', () => {
    for (const p of ['a.bin', 'd/x.bin', 'd/e/y.bin', 'd0.bin', 'dx/z.bin']) record(p);
    db.tx(() => {
      for (const p of ['a.bin', 'd', 'd/x.bin', 'd/e', 'd/e/y.bin', 'd0.bin', 'dx', 'dx/z.bin']) db.putLocal(p.endsWith('.bin') ? file(p) : dir(p));
    });
    db.tx(() => db.deleteLocalSubtree('a.bin'));
    expect(db.chunkedIdentity('a.bin')).toBeNull();
    db.tx(() => db.deleteLocalSubtree('d'));
    expect(paths()).toEqual(['d0.bin', 'dx/z.bin']);
    expect(files()).toEqual(['d0.bin', 'dx/z.bin']);
    expect(db.chunkPlaces([H('1')]).get(H('1'))?.map((p) => p.path).sort()).toEqual(['d0.bin', 'dx/z.bin']);
  });

  it('a file put where Local held a directory takes the rows of every path below it, and keeps its own', () => {
    for (const p of ['d', 'd/x.bin', 'd/e/y.bin', 'd0.bin']) record(p);
    db.tx(() => {
      for (const p of ['d', 'd/x.bin', 'd/e', 'd/e/y.bin', 'd0.bin']) db.putLocal(p.endsWith('.bin') ? file(p) : dir(p));
    });
    db.tx(() => db.putLocal(file('d')));
    expect(paths()).toEqual(['d', 'd0.bin']);
    expect(files()).toEqual(['d', 'd0.bin']);
    expect(db.loadLocal().has('d/x.bin')).toBe(false);
  });

  it('a Local entry moved carries its rows along (a rename keeps the identity they were recorded with); rows at the target go', () => {
    for (const p of ['d/x.bin', 'd/e/y.bin', 'n/old.bin', 'dz.bin']) record(p);
    db.tx(() => db.moveLocalSubtree('d', 'n', 'n'));
    expect(paths()).toEqual(['dz.bin', 'n/e/y.bin', 'n/x.bin']);
    expect(files()).toEqual(['dz.bin', 'n/e/y.bin', 'n/x.bin']);
    expect(db.chunkedIdentity('n/x.bin')).toEqual(idA);
    db.tx(() => db.moveLocalSubtree('n/x.bin', 'm.bin', 'm.bin'));
    expect(db.chunkPlaces([H('2')]).get(H('2'))?.map((p) => p.path).sort()).toEqual(['dz.bin', 'm.bin', 'n/e/y.bin']);
  });

  it('the start-up prune drops the rows of every path without a file in Local, and returns how many', () => {
    for (const p of ['kept.bin', 'gone.bin', 'now-a-dir', 'd/gone.bin']) record(p);
    db.tx(() => {
      db.putLocal(file('kept.bin'));
      db.putLocal(dir('now-a-dir'));
    });
    expect(db.pruneChunkOrphans()).toBe(3);
    expect(paths()).toEqual(['kept.bin']);
    expect(files()).toEqual(['kept.bin']);
    expect(db.pruneChunkOrphans()).toBe(0);
  });

  it('the prune reads chunk_files once and reaches Local and chunk_spans through their primary keys', () => {
    const plan = (sql: string) => (db.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all() as { detail: string }[]).map((r) => r.detail).join(' | ');
    const orphan = "NOT EXISTS (SELECT 1 FROM local l WHERE l.disk_path = f.disk_path AND l.kind = 'file')";
    const spans = plan(`DELETE FROM chunk_spans WHERE disk_path IN (SELECT f.disk_path FROM chunk_files f WHERE ${orphan})`);
    expect(spans).toMatch(/SEARCH chunk_spans USING (COVERING )?(PRIMARY KEY|INDEX sqlite_autoindex_chunk_spans_1)/);
    expect(spans).toMatch(/SEARCH l USING INDEX sqlite_autoindex_local_1/);
    expect(plan(`DELETE FROM chunk_files AS f WHERE ${orphan}`)).toMatch(/SEARCH l USING INDEX sqlite_autoindex_local_1/);
  });
});
