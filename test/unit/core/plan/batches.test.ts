// A plan in batches (core/plan/batches.ts): the batches' plans, each over
// its subtrees and the top level (selectBatch, as the agent reads them) and
// cut to its names, together make the whole trees' plan: on a new device
// (Synced empty), on random Remote and Local trees (case twins, NFC/NFD
// names, files where the other side has directories), and on a mirrored
// folder after random steps on both sides (moves across top-level names,
// hard links), batches linked by the names a node or an inode spans; cut
// into batches of every size.
// Replay: SYNCD_SEED=<seed> SYNCD_BATCH_RUNS=1 npx vitest run test/unit/core/plan/batches.test.ts

import { describe, expect, it } from 'vitest';
import { batchesOf, batchPart, batchSettled, namesMoved, selectBatch, type BatchRows, type TopEntry } from '../../../../src/core/plan/batches.js';
import { plan, type PlanInput } from '../../../../src/core/plan/index.js';
import { narrowPlanInput } from '../../../../src/core/plan/scope.js';
import type { Plan } from '../../../../src/core/ops.js';
import { nameKey } from '../../../../src/protocol/names.js';
import { isSwapName } from '../../../../src/core/syncd-names.js';
import { ROOT_ID } from '../../../../src/protocol/types.js';
import { indexOf } from '../../../helpers/model-index.js';
import { converge, emptyModel, localSpec, remoteSpec, syncedModel, type Model } from '../../../helpers/plan-model.js';
import { topsAndLinks } from '../../../helpers/top-links.js';
import { localStep, nextRound, randomBase, randomRules, remoteStep, replayable } from '../../../helpers/plan-random.js';
import { baseSeed, rng } from '../../../helpers/rng.js';

const RUNS = Number(process.env.SYNCD_BATCH_RUNS ?? 1000);
const NOW = Date.UTC(2026, 11, 5, 10, 0, 0);

/** A new device: Remote from one random tree, Local from another (some paths in both), Synced empty. */
function firstSync(r: () => number): Model {
  const remote = syncedModel(randomBase(r));
  const spec = randomBase(r);
  // the folder often holds part of what the server has (a copy made by hand)
  for (const [k, v] of Object.entries(remotePaths(remote))) {
    if (r() >= 0.3) continue;
    spec[k] = r() < 0.5 ? v : `${v ?? ''}-edited`;
    // with its parent directories: a folder on disk is a tree
    const parts = k.replace(/\/$/, '').split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = `${parts.slice(0, i).join('/')}/`;
      if (!(dir in spec) && !Object.keys(spec).some((x) => x === dir.slice(0, -1))) spec[dir] = null;
    }
  }
  const local = syncedModel(spec);
  const m = emptyModel();
  m.remote = remote.remote;
  for (const [k, e] of local.local) m.local.set(k, { ...e, ino: e.ino + 10_000 });
  // ids and inodes the model hands out later (rounds applied) must not repeat these
  m.nextId = remote.nextId;
  m.nextIno = local.nextIno + 20_000;
  return m;
}

function remotePaths(m: Model): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const pathOf = (id: string): string => {
    const n = m.remote.get(id)!;
    return n.parent === ROOT_ID ? n.name : `${pathOf(n.parent)}/${n.name}`;
  };
  for (const n of m.remote.values()) out[n.kind === 'dir' ? `${pathOf(n.id)}/` : pathOf(n.id)] = n.kind === 'dir' ? null : n.hash;
  return out;
}

const key = (x: unknown): string => JSON.stringify(x);
const sortedOps = (p: Plan): string[] => p.ops.map(key).sort();

describe('batchesOf', () => {
  it('packs name keys in order up to the limit, twins together, a big subtree alone', () => {
    const tops: TopEntry[] = [
      { name: 'b', id: 'n1', size: 3 },
      { name: 'A', id: 'n2', size: 2 },
      { name: 'a', diskPath: 'a', size: 2 },
      { name: 'big', id: 'n3', size: 50 },
      { name: 'c', diskPath: 'c', size: 1 },
    ];
    const b = batchesOf(tops, 7);
    expect(b.map((x) => [...x.keys])).toEqual([['a', 'b'], ['big'], ['c']]);
    expect(b[0]!.seeds).toEqual({ ids: ['n2', 'n1'], paths: ['a'] });
    expect(b.map((x) => x.size)).toEqual([7, 50, 1]);
  });

  it('makes no batch of nothing', () => {
    expect(batchesOf([], 10)).toEqual([]);
  });
});

describe('the first plan in batches', () => {
  const seed0 = baseSeed(17);
  it(`together plans what the whole trees plan, on ${RUNS} random new devices (seed ${seed0})`, () => {
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      const m = firstSync(r);
      // half the devices exclude a path or two (selective sync before the first mirror): one the
      // server has, one the folder has, or one nobody has yet
      const candidates = [...Object.keys(remotePaths(m)).map((p) => p.replace(/\/$/, '')), ...m.local.keys(), 'nowhere', 'a/new'];
      const excluded = r() < 0.5 ? [] : Array.from({ length: 1 + Math.floor(r() * 2) }, () => candidates[Math.floor(r() * candidates.length)]!);
      const input: PlanInput = { remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: NOW, excluded };
      try {
        const whole = plan(narrowPlanInput(input));
        const { tops, links } = topsAndLinks(m)!;
        const batches = batchesOf(tops, 1 + Math.floor(r() * 12), links);
        const ops: string[] = [];
        const problems: string[] = [];
        for (const b of batches) {
          // as the agent reads a batch: its subtrees whole, the top level shallow
          const sel = selectBatch(b, indexOf(m));
          const part = batchPart(plan(narrowPlanInput({ ...input, ...sel })), b.keys, sel);
          ops.push(...part.ops.map(key));
          problems.push(...part.problems.map(key));
        }
        expect(ops.sort()).toEqual(sortedOps(whole));
        expect(problems.sort()).toEqual(whole.problems.map(key).sort());
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_BATCH_RUNS', 'test/unit/core/plan/batches.test.ts');
      }
    }
  });
});

describe('a whole plan in batches, with Synced (new ignore rules, a big reset)', () => {
  const seed0 = baseSeed(23);
  it(`batches linked by moves and inodes together plan what the whole trees plan, on every round of ${RUNS} random runs (seed ${seed0})`, () => {
    let linked = 0;
    let rounds = 0;
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      const m = syncedModel(randomBase(r));
      const { ignore, excluded } = randomRules(r, m);
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) remoteStep(r, m);
      for (let i = 0; i < 1 + Math.floor(r() * 4); i++) localStep(r, m);
      try {
        for (let round = 0; round < 30; round++) {
          const input: PlanInput = { remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: NOW, isIgnored: ignore, excluded };
          const whole = plan(narrowPlanInput(input));
          const tl = topsAndLinks(m);
          if (tl) {
            rounds++;
            if (tl.links.length > 0) linked++;
            const batches = batchesOf(tl.tops, 1 + Math.floor(r() * 12), process.env.NOLINKS ? [] : tl.links);
            const ops: string[] = [];
            const problems: string[] = [];
            let deferred = 0;
            for (const b of batches) {
              const sel = selectBatch(b, indexOf(m));
              const part = batchPart(plan(narrowPlanInput({ ...input, ...sel })), b.keys, sel);
              ops.push(...part.ops.map(key));
              problems.push(...part.problems.map(key));
              deferred += part.deferred;
            }
            // A stall is judged per plan: a batch whose own changes wait on each other while the
            // whole trees still have other work steps aside (a swap name) a round before the whole
            // trees would. Only that may differ; the rounds still end in the same place (the
            // property below). Everything else, swaps the whole trees make included, must be equal.
            const early = (o: string): boolean => isSwapName(o) && !sortedOps(whole).includes(o);
            expect(ops.filter((o) => !early(o)).sort()).toEqual(sortedOps(whole));
            expect(problems.sort()).toEqual(whole.problems.map(key).sort());
            // a batch's deferred count is its whole selection's (the names beside it come along
            // shallow and may defer): more than the whole trees' is allowed, never none when they defer
            if (whole.deferred > 0) expect(deferred, 'some op deferred').toBeGreaterThan(0);
          }
          if (!nextRound(r, m, whole.ops, round)) break;
        }
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_BATCH_RUNS', 'test/unit/core/plan/batches.test.ts');
      }
    }
    // the runs must reach states that link top-level names, or the links are not tested
    expect(linked).toBeGreaterThan(rounds / 20);
  });
});

/**
 * A planner that goes batch by batch as the agent does (client/agent/round-trees.ts):
 * the batches cut once, each planned over its selection from the trees as they are
 * now, its ops applied, and planned again until it plans nothing; then the next;
 * then batches for top-level names the rounds made (a conflicted copy), with
 * the names they link to now; once every batch plans nothing, the whole trees
 * (which must plan nothing either, or the batches missed something).
 */
function batchByBatch(m: Model, size: number): (input: PlanInput) => Plan {
  let batches: ReturnType<typeof batchesOf> | null = null;
  const covered = new Set<string>();
  let at = 0;
  return (input) => {
    for (;;) {
      if (batches === null) {
        const tl = topsAndLinks(m);
        if (tl === null) return plan(narrowPlanInput(input));
        batches = batchesOf(tl.tops, size, tl.links);
        for (const b of batches) for (const k of b.keys) covered.add(k);
      }
      for (; at < batches.length; at++) {
        const b = batches[at]!;
        const sel = selectBatch(b, indexOf(m));
        const part = batchPart(plan(narrowPlanInput({ ...input, ...sel })), b.keys, sel);
        if (part.ops.length > 0) {
          for (const k of namesMoved(part.ops)) {
            b.keys.add(k);
            covered.add(k);
          }
          return part;
        }
      }
      const tl = topsAndLinks(m);
      if (tl === null) return plan(narrowPlanInput(input));
      const fresh = batchesOf(tl.tops, size, tl.links).filter((b) => [...b.keys].some((k) => !covered.has(k)));
      if (fresh.length === 0) return plan(narrowPlanInput(input));
      for (const b of fresh) for (const k of b.keys) covered.add(k);
      batches = fresh;
      at = 0;
    }
  };
}

describe('a plan in batches, round after round', () => {
  const seed0 = baseSeed(29);
  it(`ends where the whole trees' rounds end, on ${RUNS} random runs (seed ${seed0})`, () => {
    let batched = 0;
    for (let run = 0; run < RUNS; run++) {
      const seed = (seed0 + run) >>> 0;
      const r = rng(seed);
      // a new device, or a mirrored folder edited on both sides
      const m = r() < 0.5 ? firstSync(r) : syncedModel(randomBase(r));
      if (m.synced.size > 0) {
        for (let i = 0; i < 1 + Math.floor(r() * 4); i++) remoteStep(r, m);
        for (let i = 0; i < 1 + Math.floor(r() * 4); i++) localStep(r, m);
      }
      if (topsAndLinks(m) === null) continue;
      batched++;
      const whole = structuredClone(m);
      try {
        try {
          converge(whole);
        } catch {
          continue; // a state the model cannot carry through (a local file below a file): nothing to compare with
        }
        converge(m, { planner: batchByBatch(m, 1 + Math.floor(r() * 12)) });
        // a swap name carries a counter that the order of the rounds moves
        const same = (s: Record<string, string | null>) => JSON.stringify(s).replace(/\.syncd-swap-\d+/g, '.syncd-swap-N');
        expect(same(remoteSpec(m))).toEqual(same(remoteSpec(whole)));
        expect(same(localSpec(m))).toEqual(same(localSpec(whole)));
      } catch (err) {
        throw replayable(err, seed, 'SYNCD_BATCH_RUNS', 'test/unit/core/plan/batches.test.ts');
      }
    }
    expect(batched).toBeGreaterThan(RUNS / 2);
  });
});

describe('batchSettled (the counts of client/state/tree-index.ts batchRows)', () => {
  // a batch of one top-level directory "Docs" (id d) with 3 nodes in all
  const batch = { keys: new Set([nameKey('Docs')]), seeds: { ids: ['d'], paths: ['Docs'] } };
  const rows = (patch: Partial<BatchRows> = {}, tops: Partial<BatchRows['tops']> = {}): BatchRows => ({
    tops: { remote: [{ id: 'd', name: 'Docs' }, { id: 'o', name: 'other' }], synced: [{ id: 'd', name: 'Docs' }], local: [{ diskPath: 'Docs', path: 'Docs' }], ...tops },
    nodes: 3, bad: 0, remoteBelow: 3, localBelow: 3, ...patch,
  });

  it('holds when every node below is settled and nothing else at the top shares its name key', () => {
    expect(batchSettled(batch, rows())).toBe(true);
  });

  it('fails on any unsettled node, a Remote node without its Synced row, or a Local entry no node owns', () => {
    expect(batchSettled(batch, rows({ bad: 1 }))).toBe(false);
    expect(batchSettled(batch, rows({ remoteBelow: 4 }))).toBe(false);
    expect(batchSettled(batch, rows({ localBelow: 4 }))).toBe(false);
  });

  it('fails when another top-level node or entry shares a name key with the batch (a case twin, an NFD spelling)', () => {
    expect(batchSettled(batch, rows({}, { synced: [{ id: 'd', name: 'Docs' }, { id: 'x', name: 'docs' }] }))).toBe(false);
    expect(batchSettled(batch, rows({}, { remote: [{ id: 'd', name: 'Docs' }, { id: 'x', name: 'DOCS' }] }))).toBe(false);
    expect(batchSettled(batch, rows({}, { local: [{ diskPath: 'Docs', path: 'Docs' }, { diskPath: 'docs', path: 'docs' }] }))).toBe(false);
    // the top-level entry spelled on disk other than its name
    expect(batchSettled(batch, rows({}, { local: [{ diskPath: 'Docs\u0301', path: 'Docs' }] }))).toBe(false);
    // a top-level id of the batch gone from Synced: its Local entry is nobody's
    expect(batchSettled(batch, rows({ nodes: 0, remoteBelow: 0, localBelow: 0 }, { synced: [] }))).toBe(false);
  });

  it('holds for names of other batches beside it', () => {
    expect(batchSettled(batch, rows({}, { local: [{ diskPath: 'Docs', path: 'Docs' }, { diskPath: 'other', path: 'other' }] }))).toBe(true);
  });
});
