// memoIndex answers every lookup exactly as the index it wraps would, on
// random trees (moves leave inodes shared between paths, local-only and
// remote-only subtrees, files where the other side has directories) and
// random sequences of lookups: the read-ahead (children of files, holders of
// inodes, entries below a directory read whole) must never change an answer.
// Replay: SYNCD_SEED=<seed> SYNCD_MEMO_RUNS=1 npx vitest run test/unit/core/plan/index-memo.test.ts

import { describe, expect, it } from 'vitest';
import { memoIndex } from '../../../../src/core/plan/index-memo.js';
import type { Placed, TreeIndex } from '../../../../src/core/plan/select.js';
import { indexOf } from '../../../helpers/model-index.js';
import { syncedModel, type Model } from '../../../helpers/plan-model.js';
import { localStep, randomBase, remoteStep, replayable } from '../../../helpers/plan-random.js';
import { baseSeed, pick, rng, type Rng } from '../../../helpers/rng.js';

const RUNS = Number(process.env.SYNCD_MEMO_RUNS ?? 500);

/** rows as comparable keys: per key in rowid order (sorted by `at` when the index gives no order) */
const ats = (rows: Placed<unknown>[] | Placed<unknown> | undefined, sort = false): number[] | number | null => {
  if (rows === undefined) return null;
  if (!Array.isArray(rows)) return rows.at;
  const a = rows.map((r) => r.at);
  return sort ? a.sort((x, y) => x - y) : a;
};

function randomCall(r: Rng, m: Model): [string, (ix: TreeIndex) => ReturnType<typeof ats>] {
  // the file above an injected node and that file's directory come up often
  const hot = [m.remote, m.synced].flatMap((t) => [...t.values()].filter((n) => n.id.startsWith('below-')).flatMap((n) => [n.parent, t.get(n.parent)?.parent ?? 'root']));
  const ids = [...m.remote.keys(), ...m.synced.keys(), 'root', 'no-such-id', ...hot, ...hot, ...hot];
  // directories, so lookups below a listed directory happen often, and names missing inside them
  const dirs = [...m.local.values()].filter((e) => e.kind === 'dir').map((e) => e.diskPath);
  const paths = [...m.local.keys(), 'no/such/path', '', ...dirs.map((d) => `${d}/missing`), ...dirs.map((d) => `${d}/a`)];
  const inos = [...[...m.local.values()].map((e) => e.ino), ...[...m.synced.values()].map((s) => s.ino ?? -1), 424242];
  const id = pick(r, ids);
  const path = r() < 0.5 && dirs.length ? pick(r, dirs) : pick(r, paths);
  const ino = pick(r, inos);
  const parents = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, ids));
  const someInos = Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, inos));
  const calls: [string, (ix: TreeIndex) => ReturnType<typeof ats>][] = [
    [`remote ${id}`, (ix) => ats(ix.remote(id))],
    [`synced ${id}`, (ix) => ats(ix.synced(id))],
    [`remoteChildren ${id}`, (ix) => ats(ix.remoteChildren(id))],
    [`syncedChildren ${id}`, (ix) => ats(ix.syncedChildren(id))],
    [`local ${path}`, (ix) => ats(ix.local(path))],
    [`localChildren ${path}`, (ix) => ats(ix.localChildren(path), true)],
    [`localBelow ${path}`, (ix) => ats(ix.localBelow(path), true)],
    [`syncedByIno ${ino}`, (ix) => ats(ix.syncedByIno(ino))],
    [`localByIno ${ino}`, (ix) => ats(ix.localByIno(ino))],
    [`remoteChildrenOf ${parents}`, (ix) => ats(ix.remoteChildrenOf(parents), true)],
    [`syncedChildrenOf ${parents}`, (ix) => ats(ix.syncedChildrenOf(parents), true)],
    [`syncedByInos ${someInos}`, (ix) => ats(ix.syncedByInos(someInos), true)],
    [`localByInos ${someInos}`, (ix) => ats(ix.localByInos(someInos), true)],
  ];
  return pick(r, calls);
}

describe('memoIndex', () => {
  const seed0 = baseSeed(23);
  it(`answers every lookup as the index does, over ${RUNS} random trees and lookup sequences (seed ${seed0})`, () => {
    let fromMemo = 0;
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      const m = syncedModel(randomBase(r));
      for (let i = 0; i < Math.floor(r() * 6); i++) (r() < 0.5 ? remoteStep : localStep)(r, m);
      // a tree no server should send: a node below a file (the read-ahead of a file's children must find it)
      for (const tree of [m.remote, m.synced] as Map<string, { id: string; parent: string; kind: string }>[]) {
        const files = [...tree.values()].filter((n) => n.kind === 'file');
        if (files.length > 1 && r() < 0.3) {
          const [a, b] = [pick(r, files), pick(r, files)];
          if (a !== b) tree.set(`below-${a.id}`, { ...a, id: `below-${a.id}`, parent: b.id });
        }
      }
      const direct = indexOf(m);
      const counted = indexOf(m);
      const memo = memoIndex(counted);
      try {
        for (let i = 0; i < 60; i++) {
          const [what, call] = randomCall(r, m);
          const before = counted.rows + counted.calls;
          expect(call(memo), what).toEqual(call(direct));
          if (counted.rows + counted.calls === before) fromMemo++;
        }
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_MEMO_RUNS', 'test/unit/core/plan/index-memo.test.ts');
      }
    }
    // the memo did answer lookups on its own (else this test would check nothing)
    expect(fromMemo).toBeGreaterThan(RUNS * 5);
  });

  it('a directory read whole answers the lookups below it, and a listing reads the children of its files and the holders of its inodes ahead', () => {
    const spec: Record<string, string | null> = { 'd/': null, 'd/e/': null };
    for (let i = 0; i < 20; i++) spec[`d/f${i}`] = `c${i}`;
    for (let i = 0; i < 20; i++) spec[`d/e/g${i}`] = `x${i}`;
    const m = syncedModel(spec);
    const ix = indexOf(m);
    const memo = memoIndex(ix);
    memo.localBelow('d');
    const calls = ix.calls;
    for (let i = 0; i < 20; i++) {
      expect(memo.localBelow(`d/f${i}`)).toEqual([]);
      expect(memo.local(`d/f${i}`)?.v.diskPath).toBe(`d/f${i}`);
      expect(memo.localByIno(m.local.get(`d/e/g${i}`)!.ino)).toHaveLength(1);
    }
    expect(memo.localBelow('d/e')).toHaveLength(20);
    expect(memo.local('d/nothing')).toBeUndefined();
    expect(ix.calls).toBe(calls);
    const dId = [...m.synced.values()].find((s) => s.name === 'd')!.id;
    memo.syncedChildren(dId);
    const after = ix.calls;
    for (const s of m.synced.values()) {
      if (s.parent !== dId) continue;
      if (s.kind !== 'dir') expect(memo.syncedChildren(s.id)).toEqual([]);
      expect(memo.syncedByIno(s.ino!)).toHaveLength(1);
    }
    expect(ix.calls).toBe(after);
  });
});
