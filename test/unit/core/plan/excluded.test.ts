// Selective sync in the planner (src/core/plan/excluded.ts), table-driven:
// each case starts from a tree both sides agree on, excludes paths on this
// device, changes the server and/or the folder, plans to convergence with
// the model executor, and checks both trees and what the plan did.

import { describe, expect, it } from 'vitest';
import { checkGuards } from '../../../../src/core/guards.js';
import { narrowPlanInput, plan } from '../../../../src/core/plan/index.js';
import type { PlanOp } from '../../../../src/core/ops.js';
import { converge, localEdit, localSpec, remoteEdit, remoteSpec, sortSpec, syncedModel, type Model, type TreeSpec } from '../../../helpers/plan-model.js';

const SSC = (stem: string, ext = '') => `${stem} (selective sync conflict)${ext}`;

interface Case {
  name: string;
  base: TreeSpec;
  excluded: string[];
  remote?: (m: Model) => void;
  local?: (m: Model) => void;
  wantLocal: TreeSpec;
  wantRemote: TreeSpec;
  ops?: (ops: PlanOp[]) => void;
  ignore?: (path: string) => boolean;
  problems?: string[];
}

const BASE: TreeSpec = { 'docs/': null, 'docs/a.txt': 'A', 'docs/sub/': null, 'docs/sub/b.txt': 'B', 'keep.txt': 'K' };
const count = (ops: PlanOp[], type: PlanOp['type']) => ops.filter((o) => o.type === type).length;
const noServerDelete = (ops: PlanOp[]) => expect(ops.filter((o) => o.type === 'delete')).toEqual([]);

const cases: Case[] = [
  {
    name: 'excluding a synced folder removes the local copy only, children first, marked excluded',
    base: BASE, excluded: ['docs'],
    wantLocal: { 'keep.txt': 'K' }, wantRemote: BASE,
    ops: (o) => {
      noServerDelete(o);
      const dels = o.filter((x): x is Extract<PlanOp, { type: 'local_delete' }> => x.type === 'local_delete');
      expect(dels.map((d) => d.path)).toEqual(['docs/sub/b.txt', 'docs/a.txt', 'docs/sub', 'docs']);
      expect(dels.every((d) => d.excluded)).toBe(true);
    },
  },
  {
    name: 'a local edit inside reaches the server before the folder leaves',
    base: BASE, excluded: ['docs'],
    local: (m) => localEdit.edit(m, 'docs/sub/b.txt', 'B2'),
    wantLocal: { 'keep.txt': 'K' }, wantRemote: { ...BASE, 'docs/sub/b.txt': 'B2' },
    ops: (o) => {
      noServerDelete(o);
      const up = o.findIndex((x) => x.type === 'update');
      const del = o.findIndex((x) => x.type === 'local_delete' && x.path === 'docs/sub/b.txt');
      expect(up).toBeGreaterThanOrEqual(0);
      expect(up).toBeLessThan(del);
    },
  },
  {
    name: 'a new local file inside a draining excluded folder is uploaded, then leaves',
    base: BASE, excluded: ['docs'],
    local: (m) => localEdit.create(m, 'docs/new.txt', 'N'),
    wantLocal: { 'keep.txt': 'K' }, wantRemote: { ...BASE, 'docs/new.txt': 'N' },
    ops: (o) => { noServerDelete(o); expect(count(o, 'create')).toBe(1); },
  },
  {
    name: 'a local move out of the excluded folder is sent; the moved file stays',
    base: BASE, excluded: ['docs'],
    local: (m) => localEdit.move(m, 'docs/a.txt', 'a.txt'),
    wantLocal: { 'keep.txt': 'K', 'a.txt': 'A' },
    wantRemote: { 'docs/': null, 'docs/sub/': null, 'docs/sub/b.txt': 'B', 'keep.txt': 'K', 'a.txt': 'A' },
    ops: noServerDelete,
  },
  {
    name: 'a local delete inside an excluded folder is not sent to the server',
    base: BASE, excluded: ['docs'],
    local: (m) => localEdit.delete(m, 'docs'),
    wantLocal: { 'keep.txt': 'K' }, wantRemote: BASE,
    ops: (o) => { noServerDelete(o); expect(count(o, 'forget')).toBeGreaterThan(0); },
  },
  {
    name: 'remote changes under an excluded path are not downloaded',
    base: BASE, excluded: ['docs'],
    remote: (m) => { remoteEdit.edit(m, 'docs/a.txt', 'A2'); remoteEdit.create(m, 'docs/c.txt', 'C'); },
    wantLocal: { 'keep.txt': 'K' }, wantRemote: { ...BASE, 'docs/a.txt': 'A2', 'docs/c.txt': 'C' },
    ops: (o) => { noServerDelete(o); expect(count(o, 'download')).toBe(0); },
  },
  {
    name: 'a remote edit and a local edit of one excluded file: both kept on the server',
    base: BASE, excluded: ['docs'],
    remote: (m) => remoteEdit.edit(m, 'docs/a.txt', 'R'),
    local: (m) => localEdit.edit(m, 'docs/a.txt', 'L'),
    wantLocal: { 'keep.txt': 'K' },
    wantRemote: { ...BASE, 'docs/a.txt': 'R', 'docs/a (conflicted copy dev 2026-11-21 100000).txt': 'L' },
    ops: noServerDelete,
  },
  {
    name: 'a folder created locally at an excluded path is renamed a selective sync conflict and synced',
    base: {}, excluded: ['docs'],
    remote: (m) => { remoteEdit.create(m, 'docs', null); remoteEdit.create(m, 'docs/a.txt', 'A'); },
    local: (m) => { localEdit.create(m, 'docs', null); localEdit.create(m, 'docs/a.txt', 'MINE'); },
    wantLocal: { [`${SSC('docs')}/`]: null, [`${SSC('docs')}/a.txt`]: 'MINE' },
    wantRemote: { 'docs/': null, 'docs/a.txt': 'A', [`${SSC('docs')}/`]: null, [`${SSC('docs')}/a.txt`]: 'MINE' },
    ops: (o) => { noServerDelete(o); expect(count(o, 'download')).toBe(0); expect(count(o, 'conflict_rename')).toBe(1); },
  },
  {
    name: 'a file created at an excluded path the server does not have is kept under the conflict name',
    base: { 'x.txt': 'X' }, excluded: ['notes.txt'],
    local: (m) => localEdit.create(m, 'notes.txt', 'N'),
    wantLocal: { 'x.txt': 'X', [SSC('notes', '.txt')]: 'N' },
    wantRemote: { 'x.txt': 'X', [SSC('notes', '.txt')]: 'N' },
  },
  {
    name: 'a new local file whose name is a case twin of an excluded server folder goes aside as a selective sync conflict, and is uploaded (planner property, seed 1230632418)',
    base: { 'd/': null }, excluded: ['d/A'],
    remote: (m) => remoteEdit.create(m, 'd/A', null),
    local: (m) => localEdit.create(m, 'd/a', 'MINE'),
    wantLocal: { 'd/': null, [`d/${SSC('a')}`]: 'MINE' },
    wantRemote: { 'd/': null, 'd/A/': null, [`d/${SSC('a')}`]: 'MINE' },
    ops: noServerDelete,
  },
  {
    name: 'the server moved a folder into an excluded one that the folder moved into that very folder (a cycle: the folder\'s move loses): both leave the disk (planner property, seed 1578947125)',
    base: { 'y1/': null, 'z2/': null, 'z2/z3/': null, k: 'K' }, excluded: ['z2'],
    remote: (m) => remoteEdit.move(m, 'y1', 'z2/z3/a'),
    local: (m) => { localEdit.move(m, 'z2/z3', 'y1/c.txt'); localEdit.delete(m, 'z2'); }, // the excluded folder itself had left already
    wantLocal: { k: 'K' }, wantRemote: { 'z2/': null, 'z2/z3/': null, 'z2/z3/a/': null, k: 'K' },
    ops: noServerDelete,
  },
  {
    name: 'a server rename of a node into an excluded folder takes the local copy away, not to the server',
    base: { 'docs/': null, 'docs/a.txt': 'A', 'out.txt': 'O' }, excluded: ['docs'],
    remote: (m) => remoteEdit.move(m, 'out.txt', 'docs/out.txt'),
    wantLocal: {}, wantRemote: { 'docs/': null, 'docs/a.txt': 'A', 'docs/out.txt': 'O' },
    ops: noServerDelete,
  },
  {
    name: 'the server swaps a folder and its subfolder into an excluded folder: both leave the disk (neither waits for the other)',
    base: { 'a/': null, 'a/b/': null, 'a/b/f.txt': 'F', 'x/': null, 'k.txt': 'K' }, excluded: ['x'],
    remote: (m) => { remoteEdit.move(m, 'a/b', 'x/b'); remoteEdit.move(m, 'a', 'x/b/a'); },
    wantLocal: { 'k.txt': 'K' }, wantRemote: { 'x/': null, 'x/b/': null, 'x/b/f.txt': 'F', 'x/b/a/': null, 'k.txt': 'K' },
    ops: noServerDelete,
  },
  {
    name: 'a server rename of a node out of an excluded folder brings it back',
    base: BASE, excluded: ['docs'],
    remote: (m) => remoteEdit.move(m, 'docs/a.txt', 'a.txt'),
    wantLocal: { 'keep.txt': 'K', 'a.txt': 'A' },
    wantRemote: { 'docs/': null, 'docs/sub/': null, 'docs/sub/b.txt': 'B', 'keep.txt': 'K', 'a.txt': 'A' },
    ops: noServerDelete,
  },
  {
    name: 'deleting locally the parent of an excluded folder deletes the rest on the server, never the excluded folder',
    base: { 'p/': null, 'p/x.txt': 'X', 'p/docs/': null, 'p/docs/a.txt': 'A' }, excluded: ['p/docs'],
    local: (m) => localEdit.delete(m, 'p'),
    wantLocal: { 'p/': null }, wantRemote: { 'p/': null, 'p/docs/': null, 'p/docs/a.txt': 'A' },
    ops: (o) => expect(o.filter((x) => x.type === 'delete').map((x) => (x as { path: string }).path)).toEqual(['p/x.txt']),
  },
  {
    name: 'an ignored file inside keeps its folder on disk and is reported',
    base: BASE, excluded: ['docs'],
    local: (m) => localEdit.create(m, 'docs/sub/b.tmp', 'T'),
    ignore: (p) => p.endsWith('.tmp'),
    wantLocal: { 'keep.txt': 'K', 'docs/': null, 'docs/sub/': null, 'docs/sub/b.tmp': 'T' }, wantRemote: BASE,
    problems: ['excluded_kept:docs/sub/b.tmp'],
    ops: noServerDelete,
  },
  {
    name: 'an empty folder at an excluded path (what is left when ignored files kept it) is left alone and reported',
    base: { 'keep.txt': 'K' }, excluded: ['docs'],
    remote: (m) => { remoteEdit.create(m, 'docs', null); remoteEdit.create(m, 'docs/a.txt', 'A'); },
    local: (m) => localEdit.create(m, 'docs', null),
    wantLocal: { 'keep.txt': 'K', 'docs/': null }, wantRemote: { 'keep.txt': 'K', 'docs/': null, 'docs/a.txt': 'A' },
    problems: ['excluded_kept:docs'],
    ops: (o) => expect(o).toEqual([]),
  },
  {
    name: 'nested: an exclusion inside another changes nothing while the outer one stands',
    base: BASE, excluded: ['docs', 'docs/sub'],
    wantLocal: { 'keep.txt': 'K' }, wantRemote: BASE,
    ops: noServerDelete,
  },
];

describe('planner with exclusions', () => {
  it.each(cases)('$name', (c) => {
    const m = syncedModel(c.base);
    c.remote?.(m);
    c.local?.(m);
    const r = converge(m, { excluded: c.excluded, isIgnored: c.ignore });
    expect(localSpec(m)).toEqual(sortSpec(c.wantLocal));
    expect(remoteSpec(m)).toEqual(sortSpec(c.wantRemote));
    c.ops?.(r.ops);
    if (c.problems) expect(r.problems).toEqual(c.problems);
  });

  it('removing the exclusion downloads the subtree; a child exclusion that remains stays out', () => {
    const m = syncedModel(BASE);
    converge(m, { excluded: ['docs', 'docs/sub'] });
    expect(localSpec(m)).toEqual({ 'keep.txt': 'K' });
    converge(m, { excluded: ['docs/sub'] });
    expect(localSpec(m)).toEqual(sortSpec({ 'keep.txt': 'K', 'docs/': null, 'docs/a.txt': 'A' }));
    const r = converge(m, { excluded: [] });
    expect(localSpec(m)).toEqual(sortSpec(BASE));
    expect(r.ops.filter((o) => o.type === 'download').length).toBe(1);
  });

  it('the narrowed input plans the same as the whole trees', () => {
    const m = syncedModel(BASE);
    const input = { remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0, excluded: ['docs'] };
    expect(plan(narrowPlanInput(input)).ops).toEqual(plan(input).ops);
    expect(plan(narrowPlanInput(input)).ops.length).toBeGreaterThan(0);
  });

  it('the mass-delete guard does not count an excluded folder leaving the disk', () => {
    const spec: TreeSpec = { 'docs/': null };
    for (let i = 0; i < 50; i++) spec[`docs/f${i}`] = `c${i}`;
    const m = syncedModel(spec);
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0, excluded: ['docs'] });
    expect(p.ops.filter((o) => o.type === 'local_delete').length).toBe(51);
    const guard = (pl: typeof p) => checkGuards({ rootExists: true, markerPresent: true, localFiles: () => 50, synced: m.synced, plan: pl, maxDeleteShare: 0.5, minDeleteCount: 10, allowDeletes: false });
    expect(guard(p)).toBeNull();
    // the same deletions, not from an exclusion, trip it
    expect(guard({ ...p, ops: p.ops.map((o) => (o.type === 'local_delete' ? { ...o, excluded: undefined } : o)) })?.code).toBe('mass_delete');
  });
});
