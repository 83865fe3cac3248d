// A batch of a first plan whose rows say it is settled (core/plan/batches.ts
// batchSettled over TreeRows.batchRows, counted in SQL) skips the round that
// would confirm it (client/agent/round-trees.ts). That is only right when
// the confirming plan would hold nothing under the batch's names. Over the
// real state DB, on randomized runs: a mirrored folder (twins, NFD names,
// symlinks) after random steps on both sides, some nodes not yet done (rows
// missing, as while a batch runs), and rows tampered with one thing at a
// time (a column, two inodes swapped, a node moved below a file); cut
// into batches of several sizes; whenever batchSettled says yes, the
// batch's plan over its selection (as the round planner reads it) has
// no op, no problem and nothing unsettled under its names. And the check
// must say yes often enough to matter.
// Replay: SYNCD_SEED=<seed> SYNCD_SETTLED_RUNS=1 npx vitest run test/unit/client/state/batch-settled.test.ts

import { describe, expect, it } from 'vitest';
import { batchesOf, batchPart, batchSettled, batchUnsettled, selectBatch } from '../../../../src/core/plan/batches.js';
import { plan } from '../../../../src/core/plan/index.js';
import { narrowPlanInput } from '../../../../src/core/plan/scope.js';
import type { SyncedNode } from '../../../../src/core/associate.js';
import type { LocalEntry } from '../../../../src/core/local.js';
import { TreeRows } from '../../../../src/client/state/tree-index.js';
import { Trees } from '../../../../src/client/state/trees.js';
import { ROOT_ID } from '../../../../src/protocol/types.js';
import { syncedModel, type Model } from '../../../helpers/plan-model.js';
import { localStep, randomBase, remoteStep } from '../../../helpers/plan-random.js';
import { baseSeed, pick, type Rng } from '../../../helpers/rng.js';
import { randomRunsOverStateDb } from './helpers.js';

const RUNS = Number(process.env.SYNCD_SETTLED_RUNS ?? 1500);
const NOW = Date.UTC(2026, 11, 6, 10, 0, 0);

/** The path of a Synced node through its parents. */
function pathOf(m: Model, id: string): string {
  const names: string[] = [];
  for (let q = m.synced.get(id); q; q = q.parent === ROOT_ID ? undefined : m.synced.get(q.parent)) names.unshift(q.name);
  return names.join('/');
}

/** A settled file: its three rows, found by its inode. */
function settledFile(r: Rng, m: Model): { s: SyncedNode; e: LocalEntry } | undefined {
  const files = [...m.synced.values()].filter((n) => n.kind === 'file' && m.remote.has(n.id));
  const s = files.length ? pick(r, files) : undefined;
  const e = s && m.local.get(pathOf(m, s.id));
  return s && e && e.ino === s.ino ? { s, e } : undefined;
}

/** One thing in the rows changed: each is a way a node is not settled, or a shape the check must not mistake for one. */
function tamper(r: Rng, m: Model): void {
  const synced = [...m.synced.values()];
  const local = [...m.local.values()];
  if (synced.length === 0 || local.length === 0) return;
  const s = pick(r, synced);
  const e = pick(r, local);
  const setS = (patch: Partial<SyncedNode>): void => void m.synced.set(s.id, { ...s, ...patch });
  const setR = (patch: Partial<SyncedNode>): void => {
    const n = m.remote.get(s.id);
    if (n) m.remote.set(s.id, { ...n, ...patch });
  };
  const setL = (patch: Partial<LocalEntry>): void => void m.local.set(e.diskPath, { ...e, ...patch });
  switch (Math.floor(r() * 19)) {
    case 0: return setS({ ino: null });
    case 1: return setS({ exec: !s.exec });
    case 2: return setR({ target: 'elsewhere' });
    case 3: return setR({ size: (s.size ?? 0) + 1 });
    case 4: return setR({ mtime: s.mtime + 1 });
    case 5: return setS({ hash: s.kind === 'file' ? 'other' : s.hash });
    case 6: return setL({ kind: e.kind === 'dir' ? 'file' : 'dir' });
    case 7: return setL({ exec: !e.exec });
    case 8: return setL({ hash: null });
    case 9: {
      // a settled symlink, sometimes pointing elsewhere on disk than on the server
      const f = settledFile(r, m);
      if (!f) return;
      const link = { kind: 'symlink' as const, size: null, hash: null, target: 't' };
      m.synced.set(f.s.id, { ...f.s, ...link });
      m.remote.set(f.s.id, { ...m.remote.get(f.s.id)!, ...link });
      m.local.set(f.e.diskPath, { ...f.e, ...link, target: r() < 0.5 ? 't' : 'u' });
      return;
    }
    case 10: return setL({ path: `${e.path}x` });
    case 11: return setL({ ino: e.ino + 100_000 });
    // an inode held twice in Synced, or twice in Local
    case 12: return setS({ ino: pick(r, synced).ino });
    case 13: return setL({ ino: pick(r, local).ino });
    // a node below a file in Synced only (a half-done replacement)
    case 14: {
      const file = synced.find((n) => n.kind === 'file');
      if (file && s.id !== file.id && s.parent !== ROOT_ID) setS({ parent: file.id });
      return;
    }
    case 15: {
      // two local entries that swapped inodes (each inode still held once)
      const other = pick(r, local);
      if (other.diskPath === e.diskPath) return;
      m.local.set(e.diskPath, { ...e, ino: other.ino });
      m.local.set(other.diskPath, { ...other, ino: e.ino });
      return;
    }
    case 16: {
      // a file below another file in all three trees (a hostile server's tree)
      const a = settledFile(r, m);
      const b = settledFile(r, m);
      if (!a || !b || a.s.id === b.s.id) return;
      m.synced.set(b.s.id, { ...b.s, parent: a.s.id });
      m.remote.set(b.s.id, { ...m.remote.get(b.s.id)!, parent: a.s.id });
      m.local.delete(b.e.diskPath);
      const path = `${a.e.path}/${b.s.name}`;
      m.local.set(path, { ...b.e, path, diskPath: path });
      return;
    }
    case 17: {
      // gone from both sides, its Synced row still there
      const f = settledFile(r, m);
      if (!f) return;
      m.remote.delete(f.s.id);
      m.local.delete(f.e.diskPath);
      return;
    }
    default: return setS({ rev: s.rev + 1 });
  }
}

/** True when the node's parents in this tree lead to the root. */
function reaches(tree: ReadonlyMap<string, { parent: string }>, id: string): boolean {
  const seen = new Set<string>();
  for (let q = tree.get(id); q && !seen.has(q.parent); q = tree.get(q.parent)) {
    if (q.parent === ROOT_ID) return true;
    seen.add(q.parent);
  }
  return false;
}

/** Nodes not done yet, as while a batch's ops run: their Synced row, their Local entry, or both, missing. */
function undone(r: Rng, m: Model): void {
  for (const s of [...m.synced.values()]) {
    if (r() > 0.08) continue;
    m.synced.delete(s.id);
    if (r() < 0.5) for (const [k, e] of m.local) if (e.ino === s.ino) m.local.delete(k);
  }
  for (const [k] of [...m.local]) if (r() < 0.03) m.local.delete(k);
}

describe('a batch found settled in SQL', () => {
  const seed0 = baseSeed(23);
  it(`plans nothing under its names (${RUNS} randomized runs, seed ${seed0})`, () => {
    let settled = 0;
    let batches = 0;
    randomRunsOverStateDb(RUNS, seed0, { runsVar: 'SYNCD_SETTLED_RUNS', file: 'test/unit/client/state/batch-settled.test.ts' }, (r, store) => {
      const t = new Trees(store);
      const rows = new TreeRows(store, () => {});
      const m = syncedModel(randomBase(r));
      const mess = r();
      if (mess < 0.6) {
        for (let i = 0; i < Math.floor(r() * 3); i++) remoteStep(r, m);
        for (let i = 0; i < Math.floor(r() * 3); i++) localStep(r, m);
      }
      if (mess < 0.8) undone(r, m);
      if (mess < 0.5) for (let i = 0; i < 1 + Math.floor(r() * 2); i++) tamper(r, m);
      store.db.transaction(() => {
        for (const n of m.remote.values()) t.upsertRemote(n, 1);
        for (const n of m.synced.values()) t.putSynced(n);
        for (const e of m.local.values()) t.putLocal(e);
      })();
      // as the agent cuts and reads them: the names a node or an inode spans in one batch, its subtrees whole
      const links = rows.topLinks();
      if (links === null) return;
      for (const size of [1, 4, 1000]) {
        for (const b of batchesOf(rows.topEntries(), size, links)) {
          batches++;
          if (!batchSettled(b, rows.batchRows(b.seeds.ids))) continue;
          settled++;
          const sel = selectBatch(b, rows);
          const narrowed = narrowPlanInput({ ...sel, device: 'dev', now: NOW });
          const part = batchPart(plan(narrowed), b.keys, sel);
          expect(part.ops).toEqual([]);
          expect(part.problems).toEqual([]);
          // unsettled under its names: none (batchUnsettled also keeps what reaches no
          // top-level name in this selection, an orphan here: its own batch plans it)
          const u = batchUnsettled(narrowed.unsettled, b.keys, sel);
          expect({ ids: u.ids.filter((id) => reaches(sel.remote, id) || reaches(sel.synced, id)), paths: u.paths }).toEqual({ ids: [], paths: [] });
        }
      }
    });
    // the check is worth its query: most batches of a tidy mirror pass it
    expect(settled).toBeGreaterThan(batches / 5);
  });
});
