// narrowPlanInput: plan() over the narrowed trees must equal plan() over the
// whole trees, on every state a randomized run passes through (settled
// subtrees beside changed ones, case and Unicode twins, inode reuse, hard
// links, NFD spellings on disk), and the narrowed trees must actually be
// small when little changed.
// Replay: SYNCD_SEED=<seed> SYNCD_SCOPE_RUNS=1 npx vitest run test/unit/core/plan/scope.test.ts

import { describe, expect, it } from 'vitest';
import type { LocalEntry } from '../../../../src/core/local.js';
import { plan, type PlanInput } from '../../../../src/core/plan/index.js';
import { narrowPlanInput } from '../../../../src/core/plan/scope.js';
import { baseName } from '../../../../src/core/tree.js';
import { applyOp, localEdit, remoteEdit, remotePathIndex, ServerRefusal, syncedModel, type Model, type TreeSpec } from '../../../helpers/plan-model.js';
import { localStep, nextRound, randomBase, remoteStep, replayable } from '../../../helpers/plan-random.js';
import { baseSeed, pick, rng } from '../../../helpers/rng.js';

const RUNS = Number(process.env.SYNCD_SCOPE_RUNS ?? 1000);

function inputOf(m: Model, isIgnored?: PlanInput['isIgnored'], excluded?: string[]): PlanInput {
  return { remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: Date.UTC(2026, 10, 21, 10, 0, 0), isIgnored, excluded };
}

/** Both plans, and the narrowed sizes. */
function compare(m: Model, isIgnored?: PlanInput['isIgnored'], excluded?: string[]) {
  const input = inputOf(m, isIgnored, excluded);
  const narrow = narrowPlanInput(input);
  return { full: plan(input), narrowed: plan(narrow), narrow };
}

describe('narrowPlanInput', () => {
  const seed0 = baseSeed(7);
  it(`plans exactly what the whole trees plan, on every round of ${RUNS} randomized runs (seed ${seed0})`, () => {
    let narrowed = 0;
    let total = 0;
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      const m = syncedModel(randomBase(r));
      const ignore = r() < 0.2 ? (p: string) => baseName(p) === 'b' : undefined;
      // selective sync: an excluded path of the base, in some runs
      const excluded = r() < 0.1 ? [pick(r, [...remotePathIndex(m).keys()])] : undefined;
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) remoteStep(r, m);
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) localStep(r, m);
      try {
        for (let round = 0; round < 30; round++) {
          const { full, narrowed: part, narrow } = compare(m, ignore, excluded);
          expect(part).toEqual(full);
          narrowed += narrow.synced.size + narrow.remote.size + narrow.local.size;
          total += m.synced.size + m.remote.size + m.local.size;
          if (!nextRound(r, m, full.ops, round)) break;
        }
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_SCOPE_RUNS', 'test/unit/core/plan/scope.test.ts');
      }
    }
    // the narrowing did narrow: most of the settled subtrees stay out
    expect(narrowed / total).toBeLessThan(0.8);
  });

  it('a settled folder narrows to nothing; one new file keeps its directory and siblings only', () => {
    const spec: TreeSpec = {};
    for (let d = 0; d < 20; d++) {
      spec[`d${d}/`] = null;
      for (let f = 0; f < 50; f++) spec[`d${d}/f${f}`] = `c${d}.${f}`;
    }
    const m = syncedModel(spec);
    expect(compare(m).narrow.synced.size).toBe(0);
    localEdit.create(m, 'd3/new.txt', 'N');
    const { full, narrowed: part, narrow } = compare(m);
    expect(part).toEqual(full);
    expect(full.ops.map((o) => o.type)).toEqual(['create']);
    // d3 and its 50 files, and the 20 top-level directories beside d3
    expect(narrow.local.size).toBe(20 + 50 + 1);
    expect(narrow.synced.size).toBe(20 + 50);
  });

  const twins: { name: string; base: TreeSpec; change: (m: Model) => void }[] = [
    {
      name: 'case twins: a new file in one directory, the same name in its twin',
      base: { 'Docs/': null, 'Docs/a.txt': 'A', 'Docs/deep/': null, 'Docs/deep/x': 'X', 'docs/': null },
      change: (m) => { remoteEdit.create(m, 'docs/a.txt', 'B'); remoteEdit.create(m, 'docs/deep', null); },
    },
    {
      name: 'a conflicted copy is named around a settled sibling that already has the first choice',
      base: { 'd/': null, 'd/x.txt': 'X', 'd/x (conflicted copy dev 2026-11-21 100000).txt': 'old copy', 'd/y': 'Y' },
      change: (m) => { remoteEdit.edit(m, 'd/x.txt', 'R'); localEdit.edit(m, 'd/x.txt', 'L'); },
    },
    {
      name: 'an NFD spelling on disk beside the NFC one',
      base: { 'é/': null, 'é/x': 'X', 'f': 'F' },
      change: (m) => { m.local.set('e\u0301', { ...m.local.get('é')!, diskPath: 'e\u0301', ino: 9999 }); },
    },
    {
      name: 'a hard link to a settled file',
      base: { 'd/': null, 'd/a': 'A', 'd/b': 'B', 'e/': null, 'e/c': 'C' },
      change: (m) => { m.local.set('e/link', { ...m.local.get('d/a')!, path: 'e/link', diskPath: 'e/link' }); },
    },
    {
      name: 'an inode reused by a new file elsewhere',
      base: { 'd/': null, 'd/a': 'A', 'e/': null, 'e/c': 'C' },
      change: (m) => {
        const a = m.local.get('d/a')!;
        m.local.delete('d/a');
        m.local.set('e/new', { ...a, path: 'e/new', diskPath: 'e/new', hash: 'N' } as LocalEntry);
      },
    },
    {
      name: 'a synced node at the path of a settled one',
      base: { 'd/': null, 'd/a': 'A', 'd/b': 'B' },
      change: (m) => {
        const a = [...m.synced.values()].find((n) => n.name === 'a')!;
        m.synced.set('ghost', { ...a, id: 'ghost', ino: 4242, rev: 7 });
      },
    },
    {
      name: 'a remote orphan and a remote node at a settled path',
      base: { 'd/': null, 'd/a': 'A' },
      change: (m) => {
        const d = [...m.remote.values()].find((n) => n.name === 'd')!;
        m.remote.set('orphan', { ...d, id: 'orphan', parent: 'missing', name: 'o', kind: 'file', hash: 'O', size: 1 });
        m.remote.set('twin', { ...d, id: 'twin', parent: d.id, name: 'a', kind: 'file', hash: 'T', size: 1 });
      },
    },
  ];
  for (const c of twins) {
    it(c.name, () => {
      const m = syncedModel(c.base);
      c.change(m);
      for (let round = 0; round < 10; round++) {
        const { full, narrowed: part } = compare(m);
        expect(part).toEqual(full);
        if (full.ops.length === 0) return;
        for (const op of full.ops) {
          try {
            applyOp(m, op);
          } catch (err) {
            if (!(err instanceof ServerRefusal)) return;
          }
        }
      }
    });
  }
});

