// The engine's cycle rules, case by case.

import { describe, expect, it } from 'vitest';
import type { SyncedTree } from '../../../../src/core/associate.js';
import type { LocalEntry } from '../../../../src/core/local.js';
import type { Plan, PlanOp } from '../../../../src/core/ops.js';
import {
  afterFailure, afterRound, MAX_SELECT_SEEDS, plansFromSelection, plansInBatches, endOfCycle, fruitlessAfter, MAX_FRUITLESS_ROUNDS, nextWait, pendingOf, pullBeforeSending,
  rescanBeforeDeleting, transferTotals, UNAUTHORIZED_WAIT_MS, usesDeleteAllowance, type NextWait,
} from '../../../../src/core/policy/cycle.js';
import type { TreeNode } from '../../../../src/core/tree.js';

const node = (id: string, kind: TreeNode['kind'] = 'file', size: number | null = 5): TreeNode => ({ id, parent: 'root', name: id, kind, rev: 1, size, hash: 'h', mtime: 0, exec: false, target: null });
const entry = (path: string, kind: LocalEntry['kind'] = 'file', size: number | null = 7): LocalEntry => ({ path, diskPath: path, kind, size, mtimeMs: 1, ino: 1, hash: 'h', exec: false, target: null });
const fileExpect = { kind: 'file' as const, size: 1, mtimeMs: 1, ino: 1 };
const dirExpect = { kind: 'dir' as const, size: null, mtimeMs: 1, ino: 2 };

const OPS = {
  download: { type: 'download', id: 'a', path: 'a', node: node('a', 'file', 10), expect: null },
  mkdir: { type: 'mkdir', id: 'd', path: 'd', node: node('d', 'dir', null) },
  create: { type: 'create', path: 'c', parentId: 'root', name: 'c', local: entry('c', 'file', 3), replaces: null },
  createDir: { type: 'create', path: 'cd', parentId: 'root', name: 'cd', local: entry('cd', 'dir', null), replaces: null },
  update: { type: 'update', id: 'u', baseRev: 1, path: 'u', local: entry('u', 'file', 4) },
  move: { type: 'move', id: 'm', baseRev: 1, parentId: 'root', name: 'm2', path: 'm', local: entry('m') },
  deleteFile: { type: 'delete', id: 'f', baseRev: 1, path: 'f' },
  deleteDir: { type: 'delete', id: 'dd', baseRev: 1, path: 'dd' },
  localDelete: { type: 'local_delete', id: 'l', path: 'l', expect: fileExpect },
  moveFile: { type: 'local_move', id: 'x', from: 'x', to: 'y', node: node('x'), expect: fileExpect },
  moveDir: { type: 'local_move', id: 'x', from: 'x', to: 'y', node: node('x', 'dir'), expect: dirExpect },
  renameDir: { type: 'conflict_rename', path: 'p', to: 'q', expect: dirExpect, reason: 'r' },
  adopt: { type: 'adopt', id: 'a', node: node('a'), path: 'a', local: null },
} satisfies Record<string, PlanOp>;

const synced: SyncedTree = new Map([
  ['f', { ...node('f'), ino: 1 }],
  ['dd', { ...node('dd', 'dir', null), ino: 2 }],
]);
const planOf = (ops: PlanOp[], deferred = 0): Plan => ({ ops, problems: [], deferred });

describe('end of a cycle', () => {
  const cases: { name: string; plan: Plan; want: ReturnType<typeof endOfCycle>; pending: number }[] = [
    { name: 'nothing to do: agreement, remembered', plan: planOf([]), want: { converged: true, remember: true }, pending: 0 },
    { name: 'nothing runnable but ops held back: not agreement, not remembered', plan: planOf([], 2), want: { converged: false, remember: false }, pending: 2 },
    { name: 'ops to run: the cycle goes on', plan: planOf([OPS.download], 1), want: null, pending: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(endOfCycle(c.plan)).toEqual(c.want);
      expect(pendingOf(c.plan)).toBe(c.pending);
    });
  }
});

describe('round rules', () => {
  const cases: { name: string; ops: PlanOp[]; partial?: boolean; allow?: boolean; needPull?: boolean; rescan: boolean; allowance: boolean; pullFirst: boolean; after: { fullScan: boolean; pull: boolean } }[] = [
    { name: 'downloads only', ops: [OPS.download, OPS.mkdir], rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: false } },
    { name: 'a server file delete from hints: full scan first', ops: [OPS.deleteFile], partial: true, rescan: true, allowance: false, pullFirst: false, after: { fullScan: false, pull: true } },
    { name: 'a server file delete after a full scan: no rescan', ops: [OPS.deleteFile], partial: false, rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: true } },
    { name: 'a local delete from hints is no reason to rescan', ops: [OPS.localDelete], partial: true, rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: false } },
    { name: 'a server directory delete: pull right before', ops: [OPS.deleteDir], rescan: false, allowance: false, pullFirst: true, after: { fullScan: false, pull: true } },
    { name: 'a resume allowance is used by a server delete', ops: [OPS.deleteFile], allow: true, rescan: false, allowance: true, pullFirst: false, after: { fullScan: false, pull: true } },
    { name: 'a resume allowance is used by a local delete', ops: [OPS.localDelete], allow: true, rescan: false, allowance: true, pullFirst: false, after: { fullScan: false, pull: false } },
    { name: 'a resume allowance outlives a round without deletes', ops: [OPS.create], allow: true, rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: true } },
    { name: 'a local directory move: full scan after', ops: [OPS.moveDir], rescan: false, allowance: false, pullFirst: false, after: { fullScan: true, pull: false } },
    { name: 'a directory renamed aside: full scan after', ops: [OPS.renameDir], rescan: false, allowance: false, pullFirst: false, after: { fullScan: true, pull: false } },
    { name: 'a local file move: no full scan', ops: [OPS.moveFile], rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: false } },
    { name: 'a server move: pull the echo', ops: [OPS.move], rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: true } },
    { name: 'state ops only, the executor asked for a pull', ops: [OPS.adopt], needPull: true, rescan: false, allowance: false, pullFirst: false, after: { fullScan: false, pull: true } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(rescanBeforeDeleting(c.partial ?? false, c.ops)).toBe(c.rescan);
      expect(usesDeleteAllowance(c.allow ?? false, c.ops)).toBe(c.allowance);
      expect(pullBeforeSending(c.ops, synced)).toBe(c.pullFirst);
      expect(afterRound(c.ops, c.needPull ?? false)).toEqual(c.after);
    });
  }
});

describe('transfer totals', () => {
  const cases: { name: string; ops: PlanOp[]; want: { files: number; bytes: number } }[] = [
    { name: 'nothing moves', ops: [OPS.mkdir, OPS.adopt, OPS.move], want: { files: 0, bytes: 0 } },
    { name: 'downloads and file uploads count', ops: [OPS.download, OPS.create, OPS.update], want: { files: 3, bytes: 10 + 3 + 4 } },
    { name: 'a directory create is no transfer', ops: [OPS.createDir], want: { files: 0, bytes: 0 } },
  ];
  for (const c of cases) it(c.name, () => expect(transferTotals(c.ops)).toEqual(c.want));
});

describe('fruitless rounds', () => {
  it(`the cycle gives up after ${MAX_FRUITLESS_ROUNDS} rounds in a row that achieve nothing`, () => {
    let n = 0;
    for (let i = 0; i < MAX_FRUITLESS_ROUNDS; i++) n = fruitlessAfter(n, 0);
    expect(n).toBe(MAX_FRUITLESS_ROUNDS);
  });
  it('a round that achieves something starts the count again', () => {
    expect(fruitlessAfter(MAX_FRUITLESS_ROUNDS - 1, 1)).toBe(0);
  });
});

describe('after a cycle', () => {
  const trip = { code: 'mass_delete', message: 'm' };
  const cases: { name: string; r: { paused: unknown; converged: boolean; pending: number }; news: boolean; want: NextWait }[] = [
    { name: 'paused: look again later', r: { paused: trip, converged: false, pending: 3 }, news: true, want: 'paused' },
    { name: 'work left that did not move: back off', r: { paused: null, converged: false, pending: 2 }, news: true, want: 'stuck' },
    { name: 'in agreement, nothing new: sleep', r: { paused: null, converged: true, pending: 0 }, news: false, want: 'idle' },
    { name: 'in agreement, hints came in: again now', r: { paused: null, converged: true, pending: 0 }, news: true, want: 'again' },
    { name: 'stopped early with nothing pending: like agreement', r: { paused: null, converged: false, pending: 0 }, news: false, want: 'idle' },
  ];
  for (const c of cases) it(c.name, () => expect(nextWait(c.r, c.news)).toBe(c.want));
});

describe('after a failed cycle', () => {
  const cases: { name: string; code: string | undefined; network: boolean; want: ReturnType<typeof afterFailure> }[] = [
    { name: 'network: offline, usual backoff', code: 'network', network: true, want: { state: 'offline', waitMs: null } },
    { name: 'refused token: error, a long wait', code: 'unauthorized', network: false, want: { state: 'error', waitMs: UNAUTHORIZED_WAIT_MS } },
    { name: 'anything else: error, usual backoff', code: 'disk_full', network: false, want: { state: 'error', waitMs: null } },
    { name: 'no code at all', code: undefined, network: false, want: { state: 'error', waitMs: null } },
  ];
  for (const c of cases) it(c.name, () => expect(afterFailure(c.code, c.network)).toEqual(c.want));
});

describe('planning from a selection', () => {
  const cases = [
    { name: 'no base (first sync, a reset, a failed transaction): the whole trees', base: null, want: false },
    { name: 'a base taken with these rules and this version: a selection', base: { memo: 'k', seeds: 3 }, want: true },
    { name: 'a base taken with other rules (the .syncignore changed): the whole trees', base: { memo: 'other', seeds: 3 }, want: false },
    { name: `more than ${MAX_SELECT_SEEDS} seeds in a folder of 80,000 nodes: the whole trees load faster`, base: { memo: 'k', seeds: MAX_SELECT_SEEDS + 1 }, remote: 80_000, want: false },
    { name: `more than ${MAX_SELECT_SEEDS} seeds, but a quarter of the Remote nodes at most: a selection (memory follows the change)`, base: { memo: 'k', seeds: MAX_SELECT_SEEDS + 1 }, remote: 4 * (MAX_SELECT_SEEDS + 1), want: true },
    { name: 'a quarter of the Remote nodes and one more: the whole trees', base: { memo: 'k', seeds: 250_001 }, remote: 1_000_000, want: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      let asked = 0;
      const remote = () => (asked++, c.remote ?? 10);
      expect(plansFromSelection(c.base, 'k', remote)).toBe(c.want);
      // the count is only asked for past MAX_SELECT_SEEDS
      if (c.base === null || c.base.seeds <= MAX_SELECT_SEEDS) expect(asked).toBe(0);
    });
  }
});

describe('a plan in batches', () => {
  const cases = [
    { name: 'a new device (Synced empty) with more Remote than a batch: batches', rows: { remote: 5001, synced: 0 }, want: true },
    { name: 'a new device with a small namespace: the whole trees (one batch anyway)', rows: { remote: 5000, synced: 0 }, want: false },
    { name: 'a folder with Synced bigger than a batch (new ignore rules, a big reset): batches, linked where nodes span names', rows: { remote: 50_000, synced: 50_000 }, want: true },
    { name: 'the server deleted most of a big folder (Synced is the big tree): batches', rows: { remote: 10, synced: 50_000 }, want: true },
    { name: 'a small folder with Synced: the whole trees', rows: { remote: 4000, synced: 4000 }, want: false },
  ];
  for (const c of cases) it(c.name, () => expect(plansInBatches(c.rows, 5000, 0)).toBe(c.want));
  it('a new device up to FIRST_PLAN_WHOLE_MAX nodes (mirror_small): the whole trees, fewer rounds', () => {
    expect(plansInBatches({ remote: 10_250, synced: 0 }, 5000)).toBe(false);
    expect(plansInBatches({ remote: 20_001, synced: 0 }, 5000)).toBe(true);
  });
});
