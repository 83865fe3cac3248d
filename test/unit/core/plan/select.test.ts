// selectAround: the nodes chosen from the seeds (what changed since a base,
// plus what was unsettled at the base) must plan exactly what the whole
// trees plan, on every state a randomized run passes through (with a
// selective-sync exclusion in some runs), and must be
// few when little changed in a big settled tree.
// Replay: SYNCD_SEED=<seed> SYNCD_SELECT_RUNS=1 npx vitest run test/unit/core/plan/select.test.ts

import { describe, expect, it } from 'vitest';
import type { SyncedTree } from '../../../../src/core/associate.js';
import type { LocalTree } from '../../../../src/core/local.js';
import { plan, type PlanInput } from '../../../../src/core/plan/index.js';
import { narrowPlanInput } from '../../../../src/core/plan/scope.js';
import { selectAround, type Seeds } from '../../../../src/core/plan/select.js';
import { ROOT_ID } from '../../../../src/protocol/types.js';
import type { Tree } from '../../../../src/core/tree.js';
import { indexOf } from '../../../helpers/model-index.js';
import { localEdit, remoteEdit, syncedModel, type Model, type TreeSpec } from '../../../helpers/plan-model.js';
import { localStep, nextRound, randomBase, randomRules, remoteStep, replayable } from '../../../helpers/plan-random.js';
import { baseSeed, rng } from '../../../helpers/rng.js';

const RUNS = Number(process.env.SYNCD_SELECT_RUNS ?? 1000);
const NOW = Date.UTC(2026, 10, 21, 10, 0, 0);

interface Snapshot {
  remote: Tree;
  synced: SyncedTree;
  local: LocalTree;
}

const snapshot = (m: Model): Snapshot => ({ remote: new Map(m.remote), synced: new Map(m.synced), local: new Map(m.local) });

/** What the state DB records as written since the base: ids of Remote and Synced, disk paths of Local. */
function writtenSince(base: Snapshot, m: Model): Seeds {
  const ids = new Set<string>();
  const paths = new Set<string>();
  const differ = <T>(a: Map<string, T>, b: Map<string, T>, out: Set<string>) => {
    for (const [k, v] of a) if (JSON.stringify(b.get(k)) !== JSON.stringify(v)) out.add(k);
    for (const k of b.keys()) if (!a.has(k)) out.add(k);
  };
  differ(base.remote, m.remote, ids);
  differ(base.synced, m.synced, ids);
  differ(base.local, m.local, paths);
  return { ids: [...ids], paths: [...paths] };
}

function inputOf(m: Model, isIgnored?: PlanInput['isIgnored'], excluded?: string[]): PlanInput {
  return { remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: NOW, isIgnored, excluded };
}

function compare(m: Model, base: Seeds, since: Snapshot, isIgnored?: PlanInput['isIgnored'], excluded?: string[]) {
  const input = inputOf(m, isIgnored, excluded);
  const written = writtenSince(since, m);
  const ix = indexOf(m);
  const seeds = { ids: [...base.ids, ...written.ids], paths: [...base.paths, ...written.paths] };
  const sel = selectAround(seeds, ix);
  const rows = ix.rows;
  const whole = narrowPlanInput(input);
  const part = narrowPlanInput({ ...input, ...sel });
  return { whole, part, full: plan(whole), selected: plan(part), rows, sel };
}

describe('selectAround', () => {
  const seed0 = baseSeed(11);
  it(`plans exactly what the whole trees plan, on every round of ${RUNS} randomized runs (seed ${seed0})`, () => {
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      const m = syncedModel(randomBase(r));
      const { ignore, excluded } = randomRules(r, m);
      // some changes before the base: unsettled there, so seeds of the base
      for (let i = 0; i < Math.floor(r() * 3); i++) (r() < 0.5 ? remoteStep : localStep)(r, m);
      let since = snapshot(m);
      let base = narrowPlanInput(inputOf(m, ignore, excluded)).unsettled;
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) remoteStep(r, m);
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) localStep(r, m);
      try {
        for (let round = 0; round < 30; round++) {
          const { full, selected, whole, part } = compare(m, base, since, ignore, excluded);
          expect(selected).toEqual(full);
          expect([...part.synced.keys()]).toEqual([...whole.synced.keys()]);
          expect([...part.remote.keys()]).toEqual([...whole.remote.keys()]);
          expect([...part.local.keys()]).toEqual([...whole.local.keys()]);
          if (r() < 0.3) {
            // a new base, from the selection's own narrowing (as the agent takes it)
            since = snapshot(m);
            base = part.unsettled;
          }
          if (!nextRound(r, m, full.ops, round)) break;
        }
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_SELECT_RUNS', 'test/unit/core/plan/select.test.ts');
      }
    }
  });

  it('one new remote file in a settled tree of 2,000 files selects its directory, its siblings and the top level', () => {
    const spec: TreeSpec = {};
    for (let d = 0; d < 40; d++) {
      spec[`d${d}/`] = null;
      for (let f = 0; f < 50; f++) spec[`d${d}/f${f}`] = `c${d}.${f}`;
    }
    const m = syncedModel(spec);
    const since = snapshot(m);
    remoteEdit.create(m, 'd7/new.txt', 'N');
    const { full, selected, part, rows } = compare(m, { ids: [], paths: [] }, since);
    expect(selected).toEqual(full);
    expect(full.ops.map((o) => o.type)).toEqual(['download']);
    // d7's 50 files and the 40 top-level directories, in the three trees
    expect(part.synced.size).toBe(40 + 50);
    expect(part.remote.size).toBe(40 + 51);
    expect(rows).toBeLessThan(1000);
  });

  it('a local edit and a local delete of a directory select the directory whole', () => {
    const spec: TreeSpec = { 'a/': null, 'a/b/': null, 'a/b/x': 'X', 'a/b/y': 'Y', 'c/': null, 'c/z': 'Z' };
    const m = syncedModel(spec);
    const since = snapshot(m);
    localEdit.delete(m, 'a/b');
    localEdit.edit(m, 'c/z', 'Z2');
    const { full, selected } = compare(m, { ids: [], paths: [] }, since);
    expect(selected).toEqual(full);
    expect(full.ops.map((o) => o.type).sort()).toEqual(['delete', 'update']);
  });

  it('a Remote orphan named like a settled top-level file selects the top level, as the whole trees keep it (seed 1940973932)', () => {
    const m = syncedModel({ 'b': 'B', 'é': 'E' });
    const since = snapshot(m);
    // a node whose parent the Remote lacks, named like the settled "é"
    m.remote.set('orphan', { ...m.remote.get([...m.remote.keys()].find((id) => m.remote.get(id)!.name === 'é')!)!, id: 'orphan', parent: 'gone-parent', rev: 1 });
    const { full, selected, whole, part } = compare(m, { ids: ['orphan'], paths: [] }, since);
    expect(selected).toEqual(full);
    expect([...part.synced.keys()]).toEqual([...whole.synced.keys()]);
    expect([...part.remote.keys()]).toEqual([...whole.remote.keys()]);
    expect([...part.local.keys()]).toEqual([...whole.local.keys()]);
    expect(part.synced.size).toBe(2);
  });

  it('a seed whose node is gone everywhere selects only the top level', () => {
    const m = syncedModel({ 'a': 'A' });
    const ix = indexOf(m);
    const sel = selectAround({ ids: ['gone'], paths: ['nowhere/x'] }, ix);
    // 'a' in the three trees: the top level is where "nowhere" would be
    expect([sel.synced.size, sel.remote.size, sel.local.size]).toEqual([1, 1, 1]);
    expect([...sel.synced.values()].every((n) => n.parent === ROOT_ID)).toBe(true);
  });
});
