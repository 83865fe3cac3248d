// What a plan in batches is cut by, found in SQL over the real state DB
// (client/state/tree-index.ts): the top level of the three trees
// (topEntries: each Remote and Synced top-level id once, each top-level
// Local entry) and the top-level names one node or inode spans (topLinks,
// which walks up only the nodes whose parent or top-level name differs
// between Remote and Synced). On randomized runs, a mirrored folder after
// random steps on both sides (moves across top-level names, hard links,
// inode reuse, twins) must give the same top level and the same groups of
// linked names as the plain computation over the model, which walks every
// node up (test/helpers/top-links.ts), and each batch's subtrees
// (remoteSubtrees, syncedSubtrees, localSubtrees) the model's rows in the
// model's order; a node that reaches no top-level name gives null on both.
// Replay: SYNCD_SEED=<seed> SYNCD_LINKS_RUNS=1 npx vitest run test/unit/client/state/top-links.test.ts

import { describe, expect, it } from 'vitest';
import { TreeRows } from '../../../../src/client/state/tree-index.js';
import { batchesOf, selectBatch } from '../../../../src/core/plan/batches.js';
import { indexOf } from '../../../helpers/model-index.js';
import { Trees } from '../../../../src/client/state/trees.js';
import { ROOT_ID } from '../../../../src/protocol/types.js';
import { syncedModel } from '../../../helpers/plan-model.js';
import { localStep, randomBase, remoteStep } from '../../../helpers/plan-random.js';
import { baseSeed, pick } from '../../../helpers/rng.js';
import { linkedGroups, topsAndLinks } from '../../../helpers/top-links.js';
import { randomRunsOverStateDb } from './helpers.js';

const RUNS = Number(process.env.SYNCD_LINKS_RUNS ?? 1500);

describe('the top level and its links, in SQL', () => {
  const seed0 = baseSeed(31);
  it(`are those of the model, walked node by node (${RUNS} randomized runs, seed ${seed0})`, () => {
    const seen = { linked: 0, orphaned: 0 };
    randomRunsOverStateDb(RUNS, seed0, { runsVar: 'SYNCD_LINKS_RUNS', file: 'test/unit/client/state/top-links.test.ts' }, (r, store) => {
      const t = new Trees(store);
      const rows = new TreeRows(store, () => {});
      const m = syncedModel(randomBase(r));
      for (let i = 0; i < Math.floor(r() * 6); i++) remoteStep(r, m);
      for (let i = 0; i < Math.floor(r() * 6); i++) localStep(r, m);
      if (r() < 0.1) {
        // a node whose parent is gone from its tree (only a broken store holds one)
        const tree = r() < 0.5 ? m.remote : m.synced;
        const nodes = [...tree.values()].filter((n) => n.parent !== ROOT_ID);
        const n = nodes.length ? pick(r, nodes) : undefined;
        if (n) tree.set(n.id, { ...n, parent: 'gone' } as never);
      }
      store.db.transaction(() => {
        for (const n of m.remote.values()) t.upsertRemote(n, 1);
        for (const n of m.synced.values()) t.putSynced(n);
        for (const e of m.local.values()) t.putLocal(e);
      })();
      const want = topsAndLinks(m);
      const links = rows.topLinks();
      if (want === null) {
        seen.orphaned++;
        expect(links).toBeNull();
        return;
      }
      expect(links).not.toBeNull();
      expect(linkedGroups(links!)).toEqual(linkedGroups(want.links));
      if (want.links.length) seen.linked++;
      const top = (x: { id?: string; diskPath?: string; name: string }) => `${x.id ?? ''}|${x.diskPath ?? ''}|${x.name}`;
      const tops = rows.topEntries();
      expect(tops.map(top).sort()).toEqual(want.tops.map(top).sort());
      // and a batch's subtrees, read in SQL, are the model's, in the same order
      for (const b of batchesOf(tops, 1 + Math.floor(r() * 8), links!)) {
        const sql = selectBatch(b, rows);
        const model = selectBatch(b, indexOf(m));
        for (const k of ['remote', 'synced', 'local'] as const) expect([...sql[k]], k).toEqual([...model[k]]);
      }
    });
    // the runs must reach both kinds of state, or a half of the SQL goes untested
    expect(seen.linked).toBeGreaterThan(RUNS / 10);
    expect(seen.orphaned).toBeGreaterThan(RUNS / 50);
  });
});
