// FastCDC against the paper's properties: deterministic, independent of how
// the stream is split, chunk sizes within [min, max] (the last may be
// shorter), and boundaries that survive an insertion or a deletion so the
// chunks after the edit are shared. Small parameters keep the inputs small;
// the production parameters get one run on a few MiB.
// Replay: SYNCD_SEED=<seed> npx vitest run test/unit/core/chunker.test.ts

import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CHUNK_PARAMS, Chunker, chunkLengths, type ChunkParams } from '../../../src/core/chunker.js';
import { baseSeed, rng, type Rng } from '../../helpers/rng.js';

const SMALL: ChunkParams = { min: 512, avg: 2048, max: 8192 };

function bytes(r: Rng, n: number): Buffer {
  const b = Buffer.allocUnsafe(n + 3);
  for (let i = 0; i < n; i += 4) b.writeUInt32LE(Math.floor(r() * 2 ** 32), i);
  return b.subarray(0, n);
}

function chunkHashes(data: Buffer, p: ChunkParams): string[] {
  const out: string[] = [];
  let off = 0;
  for (const len of chunkLengths(data, p)) {
    out.push(createHash('sha256').update(data.subarray(off, off + len)).digest('hex'));
    off += len;
  }
  return out;
}

/** share of `after`'s bytes that lie in chunks also present in `before` */
function sharedBytes(before: Buffer, after: Buffer, p: ChunkParams): number {
  const known = new Set(chunkHashes(before, p));
  let off = 0;
  let shared = 0;
  for (const len of chunkLengths(after, p)) {
    const h = createHash('sha256').update(after.subarray(off, off + len)).digest('hex');
    if (known.has(h)) shared += len;
    off += len;
  }
  return shared;
}

const seed = baseSeed(14);
const runs = Number(process.env.SYNCD_CHUNK_RUNS ?? 60);
console.log(`chunker property seed=${seed} (replay: SYNCD_SEED=${seed})`);

describe('chunk parameters', () => {
  it.each([
    ['min not below avg', { min: 2048, avg: 2048, max: 8192 }],
    ['avg not below max', { min: 512, avg: 8192, max: 8192 }],
    ['min too small to be a chunk', { min: 16, avg: 2048, max: 8192 }],
    ['fractional sizes', { min: 512.5, avg: 2048, max: 8192 }],
  ])('rejects %s', (_d, p) => {
    expect(() => new Chunker(p)).toThrow(RangeError);
  });
});

describe('chunkLengths: fixed cases', () => {
  const r = rng(seed);
  const random = bytes(r, 100_000);
  it.each([
    ['empty input: no chunks', Buffer.alloc(0), []],
    ['shorter than min: one chunk', random.subarray(0, 300), [300]],
    ['exactly min: one chunk', random.subarray(0, 512), [512]],
    ['zeros never match a mask: cut at max', Buffer.alloc(20_000), [8192, 8192, 3616]],
  ])('%s', (_d, data, want) => {
    expect(chunkLengths(data, SMALL)).toEqual(want);
  });

  it('random data: every chunk but the last within [min, max], lengths sum to the input', () => {
    const lens = chunkLengths(random, SMALL);
    expect(lens.reduce((a, b) => a + b, 0)).toBe(random.length);
    for (const l of lens.slice(0, -1)) {
      expect(l).toBeGreaterThanOrEqual(SMALL.min);
      expect(l).toBeLessThanOrEqual(SMALL.max);
    }
    // normalized chunking centres the sizes near avg: far from min and max on average
    const mean = random.length / lens.length;
    expect(mean).toBeGreaterThan(SMALL.avg * 0.75);
    expect(mean).toBeLessThan(SMALL.avg * 2);
  });
});

describe('chunker properties (seeded)', () => {
  const data = fc.integer({ min: 0, max: 2 ** 31 - 1 }).map((s) => ({ s, buf: bytes(rng(s), 1000 + (s % 60_000)) }));

  it('the same bytes give the same boundaries however the stream is split', () => {
    fc.assert(
      fc.property(data, fc.array(fc.integer({ min: 1, max: 20_000 }), { minLength: 1, maxLength: 20 }), ({ buf }, cuts) => {
        const whole = chunkLengths(buf, SMALL);
        const c = new Chunker(SMALL);
        const lens: number[] = [];
        let start = 0; // offset in buf of the current chunk
        let off = 0;
        let k = 0;
        while (off < buf.length) {
          const piece = buf.subarray(off, Math.min(buf.length, off + cuts[k++ % cuts.length]!));
          for (const end of c.push(piece)) {
            lens.push(off + end - start);
            start = off + end;
          }
          off += piece.length;
        }
        const rest = c.finish();
        if (rest > 0) lens.push(rest);
        expect(lens).toEqual(whole);
      }),
      { seed, numRuns: runs },
    );
  });

  it.each([
    ['an insertion', (b: Buffer, at: number, edit: Buffer) => Buffer.concat([b.subarray(0, at), edit, b.subarray(at)])],
    ['a deletion', (b: Buffer, at: number, edit: Buffer) => Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + edit.length))])],
    ['an overwrite', (b: Buffer, at: number, edit: Buffer) => Buffer.concat([b.subarray(0, at), edit, b.subarray(Math.min(b.length, at + edit.length))])],
  ])('after %s, all but a few chunks around the edit are shared', (_d, apply) => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 4096 }), (s, where, editLen) => {
        const r = rng(s);
        const before = bytes(r, 200_000);
        const at = Math.floor(where * before.length);
        const after = apply(before, at, bytes(r, editLen));
        // the chunks that can differ: the one(s) holding the edit and the
        // next one or two while the boundaries resynchronise (a chunk is at
        // most max, so 3 × max + the edit bounds the unshared bytes)
        const unshared = after.length - sharedBytes(before, after, SMALL);
        expect(unshared).toBeLessThanOrEqual(3 * SMALL.max + editLen);
      }),
      { seed, numRuns: runs },
    );
  });
});

describe('the WebAssembly loop (gear-wasm.ts)', () => {
  /** every cut of `buf` fed in pieces of the given sizes */
  const cuts = (c: Chunker, buf: Buffer, sizes: number[]): number[] => {
    const out: number[] = [];
    let k = 0;
    for (let off = 0; off < buf.length; ) {
      const piece = buf.subarray(off, Math.min(buf.length, off + sizes[k++ % sizes.length]!));
      for (const end of c.push(piece)) out.push(off + end);
      off += piece.length;
    }
    out.push(-c.finish());
    return out;
  };

  it('cuts where the JavaScript loop cuts, for any parameters and pieces (ranges longer than its 256 KiB window too)', () => {
    let withCuts = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 - 1 }),
        fc.constantFrom<ChunkParams>(SMALL, { min: 64, avg: 256, max: 300 }, { min: 1000, avg: 300_000, max: 900_000 }, CHUNK_PARAMS),
        fc.array(fc.integer({ min: 1, max: 700_000 }), { minLength: 1, maxLength: 5 }),
        (s, p, sizes) => {
          const r = rng(s);
          // random bytes, or long runs of one byte (a gear hash that never meets the mask: cuts at max only)
          const buf = r() < 0.3 ? Buffer.alloc(1_500_000, Math.floor(r() * 256)) : bytes(r, 200_000 + Math.floor(r() * 1_800_000));
          const wasm = cuts(new Chunker(p), buf, sizes);
          expect(wasm).toEqual(cuts(new Chunker(p, { js: true }), buf, sizes));
          if (wasm.length > 1) withCuts++;
        },
      ),
      { seed, numRuns: Math.max(10, Math.floor(runs / 3)) },
    );
    // most inputs are cut somewhere (else the comparison would be of empty lists)
    expect(withCuts).toBeGreaterThan(Math.max(10, Math.floor(runs / 3)) / 2);
  });
});

describe('production parameters', () => {
  it('a 4 KiB insertion at the start of 24 MiB keeps all but the first chunks', () => {
    const r = rng(seed);
    const before = bytes(r, 24 * 1024 * 1024);
    const after = Buffer.concat([bytes(r, 4096), before]);
    const lens = chunkLengths(before);
    for (const l of lens.slice(0, -1)) {
      expect(l).toBeGreaterThanOrEqual(CHUNK_PARAMS.min);
      expect(l).toBeLessThanOrEqual(CHUNK_PARAMS.max);
    }
    expect(after.length - sharedBytes(before, after, CHUNK_PARAMS)).toBeLessThanOrEqual(2 * CHUNK_PARAMS.max + 4096);
  });
});
