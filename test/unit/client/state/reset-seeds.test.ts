// A reset keeps the plan base (issue #17): the listing swapped in, and the
// orphans pruned after it, seed exactly the ids whose Remote rows they add,
// drop or change, in SQL. Over the real state DB, on randomized runs: a
// synced base, changes on the server (some with a directory the paged
// listing missed, so its children are orphans), local edits, then the
// reset; Remote must then be the listing row for row, and the selection
// around the stored seeds must plan exactly what the three trees loaded
// whole plan.
// Replay: SYNCD_SEED=<seed> SYNCD_RESET_RUNS=1 npx vitest run test/unit/client/state/reset-seeds.test.ts

import { describe, expect, it } from 'vitest';
import type { LocalTree } from '../../../../src/core/local.js';
import { plan } from '../../../../src/core/plan/index.js';
import { narrowPlanInput } from '../../../../src/core/plan/scope.js';
import { selectAround } from '../../../../src/core/plan/select.js';
import { Trees } from '../../../../src/client/state/trees.js';
import { syncedModel } from '../../../helpers/plan-model.js';
import { localStep, randomBase, remoteStep } from '../../../helpers/plan-random.js';
import { baseSeed, pick, shuffle } from '../../../helpers/rng.js';
import { randomRunsOverStateDb } from './helpers.js';

const RUNS = Number(process.env.SYNCD_RESET_RUNS ?? 300);
const NOW = Date.UTC(2026, 11, 6, 10, 0, 0);

/** Local rows as the scan would write them: changed and new entries put, gone ones deleted. */
function writeLocal(t: Trees, before: LocalTree, after: LocalTree): void {
  for (const p of before.keys()) if (!after.has(p)) t.deleteLocalSubtree(p);
  for (const [p, e] of after) if (JSON.stringify(before.get(p)) !== JSON.stringify(e)) t.putLocal(e);
}

describe('a reset over the state DB', () => {
  const seed0 = baseSeed(17);
  it(`keeps the plan base, and the selection around its seeds plans what the whole trees plan (${RUNS} randomized runs, seed ${seed0})`, () => {
    randomRunsOverStateDb(RUNS, seed0, { runsVar: 'SYNCD_RESET_RUNS', file: 'test/unit/client/state/reset-seeds.test.ts' }, (r, store) => {
      const t = new Trees(store);
      const m = syncedModel(randomBase(r));
      for (let i = 0; i < Math.floor(r() * 3); i++) (r() < 0.5 ? remoteStep : localStep)(r, m);
      store.db.transaction(() => {
        for (const n of shuffle(r, [...m.remote.values()])) t.upsertRemote(n, 1);
        for (const n of m.synced.values()) t.putSynced(n);
        for (const e of m.local.values()) t.putLocal(e);
      })();
      const whole = () => narrowPlanInput({ remote: t.loadRemote(), synced: t.loadSynced(), local: t.loadLocal(), device: 'dev', now: NOW });
      t.setPlanBase('key', whole().unsettled);
      // while the agent was away: the server moves on, the user edits
      const localBefore = new Map(m.local);
      for (let i = 0; i < 1 + Math.floor(r() * 5); i++) remoteStep(r, m);
      for (let i = 0; i < Math.floor(r() * 3); i++) localStep(r, m);
      store.db.transaction(() => writeLocal(t, localBefore, m.local))();
      // the reset: a listing in the server's order, sometimes missing a directory (its children are orphans)
      let listed = shuffle(r, [...m.remote.values()]);
      const dirs = listed.filter((n) => n.kind === 'dir');
      if (dirs.length > 0 && r() < 0.3) {
        const gone = pick(r, dirs).id;
        listed = listed.filter((n) => n.id !== gone);
      }
      t.startListing();
      t.stageListing(listed);
      store.db.transaction(() => t.swapInListing())();
      // the swap writes in place what differs: Remote is then the listing, row for row
      t.dropCaches();
      const byId = (nodes: Iterable<{ id: string }>) => [...nodes].map((n) => JSON.stringify(n)).sort();
      expect(byId(t.loadRemote().values())).toEqual(byId(listed));
      t.pruneRemoteOrphans();
      t.dropCaches();
      const base = t.planBase();
      expect(base?.memo).toBe('key');
      const w = whole();
      const sel = selectAround(t.planSeeds(), t.index);
      const part = narrowPlanInput({ ...w, ...sel, device: 'dev', now: NOW });
      expect(plan(part)).toEqual(plan(w));
    });
  });
});
