// The guards: a vanished root, a lost marker with server deletions, and a
// pass deleting too large a share of the tree pause instead of deleting.

import { describe, expect, it } from 'vitest';
import type { SyncedTree } from '../../../src/core/associate.js';
import { checkGuards, countDeletions, type GuardInput } from '../../../src/core/guards.js';
import type { PlanOp } from '../../../src/core/ops.js';

/** d/ with files d/0 … d/(n-1), and top-level files t0 … t(m-1). */
function syncedTree(inDir: number, top: number): SyncedTree {
  const t: SyncedTree = new Map();
  const node = (id: string, parent: string, kind: 'file' | 'dir') => ({ id, parent, name: id, kind, rev: 1, size: kind === 'file' ? 1 : null, hash: kind === 'file' ? 'h' : null, mtime: 0, exec: false, target: null, ino: 1 });
  t.set('d', node('d', 'root', 'dir'));
  for (let i = 0; i < inDir; i++) t.set(`d${i}`, node(`d${i}`, 'd', 'file'));
  for (let i = 0; i < top; i++) t.set(`t${i}`, node(`t${i}`, 'root', 'file'));
  return t;
}
const del = (id: string): PlanOp => ({ type: 'delete', id, baseRev: 1, path: id });
const ldel = (id: string, kind: 'file' | 'dir' = 'file'): PlanOp => ({ type: 'local_delete', id, path: id, expect: { kind, size: 1, mtimeMs: 1, ino: 1 } });
const upload: PlanOp = { type: 'move', id: 't0', baseRev: 1, parentId: 'root', name: 'x', path: 't0', local: { path: 't0', diskPath: 't0', kind: 'file', size: 1, mtimeMs: 1, ino: 1, hash: 'h', exec: false, target: null } };

describe('countDeletions', () => {
  const synced = syncedTree(5, 3);
  const cases: { name: string; ops: PlanOp[]; want: { local: number; remote: number } }[] = [
    { name: 'a server directory delete counts the files below it', ops: [del('d')], want: { local: 0, remote: 5 } },
    { name: 'a server file delete counts one', ops: [del('t0')], want: { local: 0, remote: 1 } },
    { name: 'local file deletes count, local directory deletes do not', ops: [ldel('t1'), ldel('t2'), ldel('d', 'dir')], want: { local: 2, remote: 0 } },
    { name: 'other ops count nothing', ops: [upload], want: { local: 0, remote: 0 } },
  ];
  for (const c of cases) it(c.name, () => expect(countDeletions({ ops: c.ops, problems: [], deferred: 0 }, synced)).toEqual(c.want));
});

describe('checkGuards', () => {
  const base = (ops: PlanOp[], over: Partial<GuardInput> = {}): GuardInput => ({
    rootExists: true, markerPresent: true, localFiles: () => 100, synced: syncedTree(30, 10), plan: { ops, problems: [], deferred: 0 },
    maxDeleteShare: 0.5, minDeleteCount: 20, allowDeletes: false, ...over,
  });
  const cases: { name: string; input: GuardInput; trip: string | null }[] = [
    { name: 'no deletions: nothing to guard', input: base([upload]), trip: null },
    { name: 'the root is gone', input: base([upload], { rootExists: false }), trip: 'root_missing' },
    { name: 'the marker is gone and the server would lose files', input: base([del('t0')], { markerPresent: false }), trip: 'root_empty' },
    { name: 'the marker is gone but only local deletes: allowed', input: base([ldel('t0')], { markerPresent: false }), trip: null },
    { name: 'the marker is gone, resumed by the user: allowed', input: base([del('t0')], { markerPresent: false, allowDeletes: true }), trip: null },
    { name: 'more than the share on the server (30 of 40)', input: base([del('d')]), trip: 'mass_delete' },
    { name: 'more than the share locally', input: base(Array.from({ length: 25 }, (_, i) => ldel(`d${i}`))), trip: 'mass_delete' },
    { name: 'a big share but fewer than the minimum count', input: base([del('d')], { minDeleteCount: 31 }), trip: null },
    { name: 'a big share, resumed by the user', input: base([del('d')], { allowDeletes: true }), trip: null },
    { name: 'within the share', input: base([del('d')], { maxDeleteShare: 0.8 }), trip: null },
  ];
  for (const c of cases) it(c.name, () => expect(checkGuards(c.input)?.code ?? null).toBe(c.trip));
  it('the root-empty message says whether the folder is empty, asking the count only then', () => {
    let asked = 0;
    const trip = checkGuards(base([del('t0')], { markerPresent: false, localFiles: () => (asked++, 0) }));
    expect(trip?.message).toMatch(/is empty and has lost its .syncd marker/);
    expect(asked).toBe(1);
    expect(checkGuards(base([upload], { localFiles: () => (asked++, 0) }))).toBeNull();
    expect(asked).toBe(1);
  });
});
