// The hashers of a large file's pass: on the worker threads and inline they
// give exactly the hashes of createHash over the same bytes and cut points,
// whatever the buffers (taken from the hasher, slices of Node's pool, views
// into a larger buffer), and a buffer handed over never corrupts another.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fileHasher, OFF_THREAD_MIN, spareBufferBytes, type FileHasher } from '../../../../src/client/transfer/file-hasher.js';
import { baseSeed, rng, type Rng } from '../../../helpers/rng.js';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** feeds `data` in pieces of random sizes with random cut points; returns what the hasher says and what is expected */
async function feed(h: FileHasher, data: Buffer, r: Rng, kind: 'taken' | 'pool' | 'view'): Promise<{ got: { hash: string; chunkHashes: string[] }; want: string[] }> {
  const ends: number[] = [];
  let pos = 0;
  while (pos < data.length) {
    const n = Math.min(data.length - pos, 1 + Math.floor(r() * 3 * 1024 * 1024) * (r() < 0.2 ? 0 : 1));
    const piece = data.subarray(pos, pos + n);
    let buf: Buffer;
    if (kind === 'taken') buf = h.take(n).fill(0);
    else if (kind === 'pool') buf = Buffer.allocUnsafe(n); // small ones come from Node's shared pool
    else buf = Buffer.alloc(n + 64).subarray(32, 32 + n); // a view into a larger buffer
    piece.copy(buf);
    const cuts: number[] = [];
    for (let c = Math.floor(r() * 200_000); c < n; c += 1 + Math.floor(r() * 600_000)) cuts.push(c + 1 > n ? n : c + 1);
    for (const c of cuts) ends.push(pos + c);
    await h.update(buf, cuts);
    pos += n;
  }
  const last = ends.length > 0 ? ends[ends.length - 1]! : 0;
  const tail = last < data.length;
  if (tail) ends.push(data.length);
  const got = await h.finish(tail);
  const want: string[] = [];
  let prev = 0;
  for (const e of ends) {
    want.push(sha(data.subarray(prev, e)));
    prev = e;
  }
  return { got, want };
}

describe('fileHasher', () => {
  const seed = baseSeed(14);
  it.each([
    ['on the worker, buffers it handed out', OFF_THREAD_MIN, 'taken'],
    ['on the worker, pool slices (copied, never moved)', OFF_THREAD_MIN, 'pool'],
    ['on the worker, views into larger buffers', OFF_THREAD_MIN, 'view'],
    ['inline, buffers it handed out', 1024, 'taken'],
    ['inline, views', 1024, 'view'],
  ] as const)('%s: the same whole-file and chunk hashes as createHash (seed %s)', async (_d, sizeHint, kind) => {
    for (let run = 0; run < 4; run++) {
      const r = rng(seed + run);
      const size = [0, 1, 4095, 5 * 1024 * 1024 + 17][run]!;
      const data = randomBytes(size);
      const h = fileHasher(sizeHint, true);
      const { got, want } = await feed(h, data, r, kind);
      expect(got.hash, `seed ${seed + run}`).toBe(sha(data));
      expect(got.chunkHashes, `seed ${seed + run}`).toEqual(want);
    }
  });

  it('without chunk hashes: the whole-file hash only', async () => {
    for (const sizeHint of [OFF_THREAD_MIN, 10]) {
      const data = randomBytes(3 * 1024 * 1024 + 5);
      const h = fileHasher(sizeHint, false);
      await h.update(Buffer.from(data.subarray(0, 1000)));
      await h.update(Buffer.from(data.subarray(1000)), [5, 10]);
      expect(await h.finish(true)).toEqual({ hash: sha(data), chunkHashes: [] });
    }
  });

  it('files hashed at the same time on the worker do not mix', async () => {
    const files = [randomBytes(2 * 1024 * 1024), randomBytes(3 * 1024 * 1024 + 1), randomBytes(7)];
    const results = await Promise.all(
      files.map(async (data, i) => {
        const h = fileHasher(OFF_THREAD_MIN, true);
        const r = rng(seed + 100 + i);
        return feed(h, data, r, 'taken');
      }),
    );
    results.forEach(({ got, want }, i) => {
      expect(got.hash).toBe(sha(files[i]!));
      expect(got.chunkHashes).toEqual(want);
    });
  });

  it('files with and without chunk hashes at the same time (the second worker sees only the first kind) do not mix', async () => {
    const files = [randomBytes(3 * 1024 * 1024 + 11), randomBytes(2 * 1024 * 1024), randomBytes(5 * 1024 * 1024 + 3), randomBytes(99)];
    const results = await Promise.all(
      files.map(async (data, i) => {
        const chunked = i % 2 === 0;
        const h = fileHasher(OFF_THREAD_MIN, chunked);
        const { got, want } = await feed(h, data, rng(seed + 200 + i), 'taken');
        return { got, want: chunked ? want : [] };
      }),
    );
    results.forEach(({ got, want }, i) => {
      expect(got.hash).toBe(sha(files[i]!));
      expect(got.chunkHashes).toEqual(want);
    });
  });

  it('a pool slice handed to the worker is copied: the rest of the pool stays usable', async () => {
    const neighbour = Buffer.from('neighbour');
    const small = Buffer.from('a small piece');
    expect(small.buffer).toBe(neighbour.buffer); // both in Node's pool
    const h = fileHasher(OFF_THREAD_MIN, false);
    await h.update(small);
    expect((await h.finish(false)).hash).toBe(sha(Buffer.from('a small piece')));
    expect(neighbour.toString()).toBe('neighbour');
  });

  it.each([
    ['inline', 1024],
    ['on the worker', OFF_THREAD_MIN],
  ])('%s: buffers taken before the first is given back never share memory', async (_d, sizeHint) => {
    for (const size of [100, 300_000]) {
      const h = fileHasher(sizeHint, false);
      const a = h.take(size).fill(1);
      const b = h.take(size).fill(2);
      expect(a.every((x) => x === 1)).toBe(true);
      await h.update(b);
      const c = h.take(size).fill(3);
      expect(a.every((x) => x === 1)).toBe(true);
      await h.update(a);
      await h.update(c);
      expect((await h.finish(false)).hash).toBe(sha(Buffer.concat([Buffer.alloc(size, 2), Buffer.alloc(size, 1), Buffer.alloc(size, 3)])));
    }
  });

  it.each([
    ['inline', 1024],
    ['on the worker', OFF_THREAD_MIN],
  ])('%s: a finished file leaves its buffers for the next one, and two files taking spares at once never share memory', async (_d, sizeHint) => {
    const size = 3 * 1024 * 1024;
    const first = fileHasher(sizeHint, false);
    const a = first.take(size).fill(1);
    const b = first.take(size).fill(2);
    await first.update(a);
    await first.update(b);
    expect((await first.finish(false)).hash).toBe(sha(Buffer.concat([Buffer.alloc(size, 1), Buffer.alloc(size, 2)])));
    const kept = spareBufferBytes();
    expect(kept).toBeGreaterThanOrEqual(2 * 4 * 1024 * 1024); // both buffers (4 MiB: sizes are powers of two) came back
    const x = fileHasher(sizeHint, false);
    const y = fileHasher(sizeHint, false);
    const bx = x.take(size).fill(3);
    const by = y.take(size).fill(4);
    expect(spareBufferBytes()).toBeLessThan(kept); // taken from the spares, not new
    expect(bx.every((v) => v === 3) && by.every((v) => v === 4)).toBe(true);
    await x.update(bx);
    await y.update(by);
    expect((await x.finish(false)).hash).toBe(sha(Buffer.alloc(size, 3)));
    expect((await y.finish(false)).hash).toBe(sha(Buffer.alloc(size, 4)));
  });

  it('spares are bounded (64 MiB) however many files finish', async () => {
    const hashers = Array.from({ length: 24 }, () => fileHasher(OFF_THREAD_MIN, false));
    const taken = hashers.map((h) => h.take(4 * 1024 * 1024).fill(5));
    await Promise.all(hashers.map((h, i) => h.update(taken[i]!)));
    await Promise.all(hashers.map((h) => h.finish(false)));
    expect(spareBufferBytes()).toBeGreaterThan(0);
    expect(spareBufferBytes()).toBeLessThanOrEqual(64 * 1024 * 1024);
  });

  it('an abandoned job with chunk hashes leaves both workers usable, and one without beside it unharmed', async () => {
    const data = randomBytes(300_000);
    const plain = fileHasher(OFF_THREAD_MIN, false);
    const p = plain.take(data.length);
    data.copy(p);
    const a = fileHasher(OFF_THREAD_MIN, true);
    await a.update(a.take(4096).fill(7), [100]);
    await plain.update(p);
    a.abandon();
    const b = fileHasher(OFF_THREAD_MIN, true);
    const buf = b.take(data.length);
    data.copy(buf);
    await b.update(buf, [1, 200_000]);
    expect(await plain.finish(false)).toEqual({ hash: sha(data), chunkHashes: [] });
    expect(await b.finish(true)).toEqual({ hash: sha(data), chunkHashes: [sha(data.subarray(0, 1)), sha(data.subarray(1, 200_000)), sha(data.subarray(200_000))] });
  });

  it('an abandoned job leaves the worker usable for the next file', async () => {
    const a = fileHasher(OFF_THREAD_MIN, true);
    await a.update(a.take(1024).fill(1), [10]);
    a.abandon();
    const data = randomBytes(100_000);
    const b = fileHasher(OFF_THREAD_MIN, true);
    const buf = b.take(data.length);
    data.copy(buf);
    await b.update(buf, [50_000]);
    expect(await b.finish(true)).toEqual({ hash: sha(data), chunkHashes: [sha(data.subarray(0, 50_000)), sha(data.subarray(50_000))] });
  });
});
