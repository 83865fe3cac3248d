// Table-driven planner tests: each case starts from a tree both sides agree
// on, mutates the server and/or the folder, plans to convergence with the
// model executor, and checks the final tree and what the plan did.

import { describe, expect, it } from 'vitest';
import { plan } from '../../../src/core/plan/index.js';
import type { PlanOp } from '../../../src/core/ops.js';
import { planInMode } from '../../../src/core/policy/modes.js';
import { converge, localEdit, localSpec, remoteEdit, remoteSpec, syncedModel, type Model, type TreeSpec } from '../../helpers/plan-model.js';

const CC = (stem: string, ext = '') => `${stem} (conflicted copy dev 2026-11-21 100000)${ext}`;

interface Case {
  name: string;
  base: TreeSpec;
  remote?: (m: Model) => void;
  local?: (m: Model) => void;
  want: TreeSpec;
  /** checks on the ops of the whole run */
  ops?: (ops: PlanOp[]) => void;
  ignore?: (path: string) => boolean;
  problems?: string[];
}

const count = (ops: PlanOp[], type: PlanOp['type']) => ops.filter((o) => o.type === type).length;

const cases: Case[] = [
  { name: 'nothing changed: no ops', base: { 'a/': null, 'a/x': 'X' }, want: { 'a/': null, 'a/x': 'X' }, ops: (o) => expect(o).toEqual([]) },
  {
    name: 'remote creates a nested tree: parents first, all downloaded',
    base: {},
    remote: (m) => { remoteEdit.create(m, 'd', null); remoteEdit.create(m, 'd/e', null); remoteEdit.create(m, 'd/e/f.txt', 'F'); remoteEdit.create(m, 'top.txt', 'T'); },
    want: { 'd/': null, 'd/e/': null, 'd/e/f.txt': 'F', 'top.txt': 'T' },
    ops: (o) => { expect(count(o, 'mkdir')).toBe(2); expect(count(o, 'download')).toBe(2); },
  },
  { name: 'remote edit replaces the local file', base: { 'x.txt': 'A' }, remote: (m) => remoteEdit.edit(m, 'x.txt', 'B'), want: { 'x.txt': 'B' }, ops: (o) => expect(count(o, 'download')).toBe(1) },
  {
    name: 'remote directory rename is one local rename; children untouched',
    base: { 'd/': null, 'd/1': '1', 'd/2': '2', 'd/s/': null, 'd/s/3': '3' },
    remote: (m) => remoteEdit.move(m, 'd', 'renamed'),
    want: { 'renamed/': null, 'renamed/1': '1', 'renamed/2': '2', 'renamed/s/': null, 'renamed/s/3': '3' },
    ops: (o) => { expect(count(o, 'local_move')).toBe(1); expect(o.filter((x) => x.type !== 'local_move' && x.type !== 'adopt')).toEqual([]); },
  },
  {
    name: 'remote directory delete removes the subtree children first',
    base: { 'd/': null, 'd/1': '1', 'd/s/': null, 'd/s/2': '2', 'keep': 'K' },
    remote: (m) => remoteEdit.delete(m, 'd'),
    want: { keep: 'K' },
    ops: (o) => {
      const dels = o.filter((x) => x.type === 'local_delete').map((x) => (x as { path: string }).path);
      expect(dels.indexOf('d/s/2')).toBeLessThan(dels.indexOf('d/s'));
      expect(dels.indexOf('d/s')).toBeLessThan(dels.indexOf('d'));
    },
  },
  {
    name: 'local create, edit, delete are pushed',
    base: { 'a': 'A', 'b': 'B' },
    local: (m) => { localEdit.create(m, 'c', 'C'); localEdit.edit(m, 'a', 'A2'); localEdit.delete(m, 'b'); },
    want: { a: 'A2', c: 'C' },
    ops: (o) => { expect(count(o, 'create')).toBe(1); expect(count(o, 'update')).toBe(1); expect(count(o, 'delete')).toBe(1); },
  },
  {
    name: 'local directory rename is ONE remote move',
    base: { 'd/': null, ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`d/f${i}`, `c${i}`])) },
    local: (m) => localEdit.move(m, 'd', 'e'),
    want: { 'e/': null, ...Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`e/f${i}`, `c${i}`])) },
    ops: (o) => { expect(o.filter((x) => x.type !== 'adopt')).toHaveLength(1); expect(o[0]!.type).toBe('move'); },
  },
  {
    name: 'local directory delete is ONE remote delete',
    base: { 'd/': null, 'd/1': '1', 'd/s/': null, 'd/s/2': '2' },
    local: (m) => localEdit.delete(m, 'd'),
    want: {},
    ops: (o) => { expect(o).toHaveLength(1); expect(o[0]!.type).toBe('delete'); },
  },
  {
    name: 'both sides changed to the same content: agree, no conflict',
    base: { 'x': 'A' },
    remote: (m) => remoteEdit.edit(m, 'x', 'B'),
    local: (m) => localEdit.edit(m, 'x', 'B'),
    want: { x: 'B' },
    ops: (o) => expect(o.map((x) => x.type)).toEqual(['adopt']),
  },
  {
    name: 'content vs content: remote keeps the path, local becomes one conflicted copy',
    base: { 'doc.txt': 'A' },
    remote: (m) => remoteEdit.edit(m, 'doc.txt', 'REMOTE'),
    local: (m) => localEdit.edit(m, 'doc.txt', 'LOCAL'),
    want: { 'doc.txt': 'REMOTE', [CC('doc', '.txt')]: 'LOCAL' },
    ops: (o) => expect(count(o, 'conflict_rename')).toBe(1),
  },
  { name: 'remote edit vs local delete: the edit comes back', base: { 'x': 'A' }, remote: (m) => remoteEdit.edit(m, 'x', 'B'), local: (m) => localEdit.delete(m, 'x'), want: { x: 'B' } },
  {
    name: 'local edit vs remote delete: the edit is uploaded again',
    base: { 'x': 'A' }, remote: (m) => remoteEdit.delete(m, 'x'), local: (m) => localEdit.edit(m, 'x', 'B'), want: { x: 'B' },
  },
  {
    // found by the fault proxy e2e (seeds 308, 322): the survivor went aside, the
    // deleted node stayed in Synced at "x", claimed the downloaded server file and
    // sent it aside as well, a copy per round, without end
    name: 'local edit vs remote delete, and another server file takes the name: one conflicted copy, no loop',
    base: { 'x': 'A' },
    remote: (m) => { remoteEdit.delete(m, 'x'); remoteEdit.create(m, 'x', 'B'); },
    local: (m) => localEdit.edit(m, 'x', 'C'),
    want: { x: 'B', [CC('x')]: 'C' },
    ops: (o) => expect(count(o, 'conflict_rename')).toBe(1),
  },
  {
    name: 'remote dir delete vs new local file inside: the file survives',
    base: { 'd/': null, 'd/old': 'O' },
    remote: (m) => remoteEdit.delete(m, 'd'),
    local: (m) => localEdit.create(m, 'd/new', 'N'),
    want: { 'd/': null, 'd/new': 'N' },
  },
  {
    name: 'local dir delete vs remote new file inside: the file survives',
    base: { 'd/': null, 'd/old': 'O' },
    remote: (m) => remoteEdit.create(m, 'd/new', 'N'),
    local: (m) => localEdit.delete(m, 'd'),
    want: { 'd/': null, 'd/new': 'N' },
  },
  {
    name: 'remote move + local edit: both apply',
    base: { 'a/': null, 'b/': null, 'a/x': 'A' },
    remote: (m) => remoteEdit.move(m, 'a/x', 'b/x'),
    local: (m) => localEdit.edit(m, 'a/x', 'EDIT'),
    want: { 'a/': null, 'b/': null, 'b/x': 'EDIT' },
  },
  {
    name: 'local move + remote edit: both apply',
    base: { 'a/': null, 'b/': null, 'a/x': 'A' },
    remote: (m) => remoteEdit.edit(m, 'a/x', 'EDIT'),
    local: (m) => localEdit.move(m, 'a/x', 'b/y'),
    want: { 'a/': null, 'b/': null, 'b/y': 'EDIT' },
  },
  {
    name: 'move vs move: the remote location wins',
    base: { 'x': 'A' },
    remote: (m) => remoteEdit.move(m, 'x', 'r'),
    local: (m) => localEdit.move(m, 'x', 'l'),
    want: { r: 'A' },
  },
  {
    name: 'both created the same file: adopted without transfer',
    base: {},
    remote: (m) => remoteEdit.create(m, 'n', 'SAME'),
    local: (m) => localEdit.create(m, 'n', 'SAME'),
    want: { n: 'SAME' },
    ops: (o) => expect(o.map((x) => x.type)).toEqual(['adopt']),
  },
  {
    name: 'both created different files at one path: one conflicted copy',
    base: {},
    remote: (m) => remoteEdit.create(m, 'n.md', 'R'),
    local: (m) => localEdit.create(m, 'n.md', 'L'),
    want: { 'n.md': 'R', [CC('n', '.md')]: 'L' },
  },
  {
    name: 'both created a directory at one path: merged',
    base: {},
    remote: (m) => { remoteEdit.create(m, 'd', null); remoteEdit.create(m, 'd/r', 'R'); },
    local: (m) => { localEdit.create(m, 'd', null); localEdit.create(m, 'd/l', 'L'); },
    want: { 'd/': null, 'd/r': 'R', 'd/l': 'L' },
  },
  {
    name: 'a local case twin of a synced name becomes a conflicted copy',
    base: { 'README': 'R' },
    local: (m) => localEdit.create(m, 'readme', 'r'),
    want: { README: 'R', [CC('readme')]: 'r' },
  },
  {
    name: 'two new local case twins: the first is uploaded, the other renamed',
    base: {},
    local: (m) => { localEdit.create(m, 'Foo.txt', '1'); localEdit.create(m, 'foo.txt', '2'); },
    want: { 'Foo.txt': '1', [CC('foo', '.txt')]: '2' },
  },
  {
    name: 'a local file replaced by a directory',
    base: { 'x': 'A' },
    local: (m) => { localEdit.delete(m, 'x'); localEdit.create(m, 'x', null); localEdit.create(m, 'x/in', 'I'); },
    want: { 'x/': null, 'x/in': 'I' },
  },
  {
    name: 'a remote file replaced by a directory',
    base: { 'x': 'A' },
    remote: (m) => { remoteEdit.delete(m, 'x'); remoteEdit.create(m, 'x', null); remoteEdit.create(m, 'x/in', 'I'); },
    want: { 'x/': null, 'x/in': 'I' },
  },
  {
    name: 'local swap of two names converges',
    base: { 'a': 'A', 'b': 'B' },
    local: (m) => { localEdit.move(m, 'a', 't'); localEdit.move(m, 'b', 'a'); localEdit.move(m, 't', 'b'); },
    want: { a: 'B', b: 'A' },
  },
  {
    name: 'remote swap of two names converges',
    base: { 'a': 'A', 'b': 'B' },
    remote: (m) => { remoteEdit.move(m, 'a', 't'); remoteEdit.move(m, 'b', 'a'); remoteEdit.move(m, 't', 'b'); },
    want: { a: 'B', b: 'A' },
  },
  {
    name: 'an editor save-by-rename with equal content moves nothing',
    base: { 'x': 'A' },
    local: (m) => localEdit.replace(m, 'x', 'A'),
    want: { x: 'A' },
    ops: (o) => expect(o.map((x) => x.type)).toEqual(['adopt']),
  },
  {
    name: 'ignored paths are never touched in either direction',
    base: { 'keep': 'K' },
    remote: (m) => { remoteEdit.create(m, 'build', null); remoteEdit.create(m, 'build/out', 'O'); },
    local: (m) => { localEdit.create(m, 'x.log', 'L'); localEdit.create(m, '.syncd-tmp-1', 'T'); },
    ignore: (p) => p === 'build' || p.endsWith('.log'),
    want: { keep: 'K' },
  },
  {
    name: 'moves on both sides that would nest two directories in each other: the server wins',
    base: { 'p/': null, 'q/': null, 'q/f': 'F' },
    remote: (m) => remoteEdit.move(m, 'p', 'q/p'),
    local: (m) => localEdit.move(m, 'q', 'p/q'),
    want: { 'q/': null, 'q/p/': null, 'q/f': 'F' },
  },
  {
    name: 'a cycle through two folder moves and one server move resolves',
    base: { 'y/': null, 'z/': null, 'z/w/': null },
    remote: (m) => remoteEdit.move(m, 'y', 'z/w/y'),
    local: (m) => { localEdit.move(m, 'z/w', 'y/w'); localEdit.move(m, 'z', 'y/w/z'); },
    want: { 'z/': null, 'z/w/': null, 'z/w/y/': null },
  },
  {
    name: 'three nested moves that each wait on another all land',
    base: { 'a/': null, 'a/b/': null, 'a/b/c/': null, 'd/': null, 'd/f': 'F' },
    remote: (m) => { remoteEdit.move(m, 'a/b/c', 'c'); remoteEdit.move(m, 'a', 'c/a'); remoteEdit.move(m, 'd', 'c/a/b/d'); },
    want: { 'c/': null, 'c/a/': null, 'c/a/b/': null, 'c/a/b/d/': null, 'c/a/b/d/f': 'F' },
  },
  {
    name: 'a directory moved locally into a remotely deleted one keeps it alive',
    base: { 'gone/': null, 'x/': null, 'x/f': 'F' },
    remote: (m) => remoteEdit.delete(m, 'gone'),
    local: (m) => localEdit.move(m, 'x', 'gone/x'),
    want: { 'gone/': null, 'gone/x/': null, 'gone/x/f': 'F' },
  },
  {
    name: 'a moved directory with an edit inside: one move, one update',
    base: { 'd/': null, 'd/a': 'A', 'd/b': 'B' },
    local: (m) => { localEdit.move(m, 'd', 'e'); localEdit.edit(m, 'e/a', 'A2'); },
    want: { 'e/': null, 'e/a': 'A2', 'e/b': 'B' },
    ops: (o) => { expect(count(o, 'move')).toBe(1); expect(count(o, 'update')).toBe(1); },
  },
];

describe('planner (table)', () => {
  for (const c of cases) {
    it(c.name, () => {
      const m = syncedModel(c.base);
      c.remote?.(m);
      c.local?.(m);
      const res = converge(m, c.ignore ? { isIgnored: c.ignore } : {});
      // the ignored ones stay where they are on their own side only
      const strip = (s: TreeSpec) => Object.fromEntries(Object.entries(s).filter(([p]) => !(c.ignore?.(p.replace(/\/$/, '').split('/')[0]!) ?? false) && !p.startsWith('.syncd') && !p.startsWith('build')));
      expect(strip(remoteSpec(m))).toEqual(strip(c.want));
      expect(strip(localSpec(m))).toEqual(strip(c.want));
      c.ops?.(res.ops);
      // converged: planning again does nothing
      expect(plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0, ...(c.ignore ? { isIgnored: c.ignore } : {}) }).ops).toEqual([]);
    });
  }
});

describe('planner (hostile remote trees)', () => {
  it('reports orphans, cycles and bad names and never applies them', () => {
    const m = syncedModel({});
    const base = { rev: 1, size: 1, hash: 'H', mtime: 0, exec: false, target: null } as const;
    m.remote.set('o', { id: 'o', parent: 'missing', name: 'orphan', kind: 'file', ...base });
    m.remote.set('c1', { id: 'c1', parent: 'c2', name: 'c1', kind: 'dir', ...base, size: null, hash: null });
    m.remote.set('c2', { id: 'c2', parent: 'c1', name: 'c2', kind: 'dir', ...base, size: null, hash: null });
    m.remote.set('up', { id: 'up', parent: 'root', name: '..', kind: 'dir', ...base, size: null, hash: null });
    m.remote.set('sl', { id: 'sl', parent: 'root', name: 'a/b', kind: 'file', ...base });
    m.remote.set('nul', { id: 'nul', parent: 'root', name: 'x\u0000y', kind: 'file', ...base });
    m.remote.set('ok', { id: 'ok', parent: 'root', name: 'fine', kind: 'file', ...base });
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(p.ops.map((o) => (o as { path: string }).path)).toEqual(['fine']);
    const codes = p.problems.map((x) => x.code).sort();
    expect(codes).toContain('remote_orphan');
    expect(codes).toContain('remote_cycle');
    expect(codes.filter((c) => c === 'remote_invalid_name')).toHaveLength(3);
  });

  it('a local symlink where the server has a directory goes aside as a conflicted copy, never written through', () => {
    const m = syncedModel({});
    remoteEdit.create(m, 'd', null);
    remoteEdit.create(m, 'd/f', 'F');
    m.local.set('d', { path: 'd', diskPath: 'd', kind: 'symlink', size: null, mtimeMs: 1, ino: 5, hash: null, exec: false, target: '/etc' });
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(p.ops.filter((o) => o.type === 'download' || o.type === 'mkdir')).toEqual([]);
    expect(p.ops).toContainEqual(expect.objectContaining({ type: 'conflict_rename', path: 'd', to: expect.stringMatching(/^d \(conflicted copy dev /) }));
  });

  it('a Synced path collision (adopted before the old node was retired) resolves instead of looping forget/adopt (found by the engine simulation, seed 1004)', () => {
    // Synced holds two nodes at "a.txt": the file the server deleted (lower id) and the directory it has now
    const m = syncedModel({ 'a.txt/': '' });
    const dirId = [...m.synced.values()][0]!.id;
    m.synced.set('n0', { id: 'n0', parent: 'root', name: 'a.txt', kind: 'file', rev: 1, size: 1, hash: 'x', mtime: 0, exec: false, target: null, ino: 500 });
    const first = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(first.ops.filter((o) => o.type === 'adopt' || o.type === 'forget').map((o) => `${o.type} ${o.id}`)).toEqual(['forget n0']);
    expect(first.ops.some((o) => 'id' in o && o.id === dirId)).toBe(false);
  });

  it('an NFD twin of a synced NFC name goes aside, never the synced entry (found by the engine simulation, seed 1021)', () => {
    const m = syncedModel({ '\u00e9.md/': '' });
    const nfd = 'e\u0301.md';
    m.local.set(nfd, { path: nfd.normalize('NFC'), diskPath: nfd, kind: 'file', size: 4, mtimeMs: 1, ino: 99, hash: 'mine', exec: false, target: null });
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(p.ops.filter((o) => o.type === 'conflict_rename').map((o) => (o as { path: string }).path)).toEqual([nfd]);
    expect(p.ops.filter((o) => o.type === 'mkdir' || o.type === 'local_move')).toEqual([]);
  });

  it('a Synced collision with a node the server moved elsewhere keeps the node the server has at that path (found by the engine simulation, seed 1046)', () => {
    const m = syncedModel({ 'd/': '' });
    const here = [...m.synced.values()][0]!;
    // a stale Synced entry (lower id) at "d": the server moved it into d as "b"
    m.remote.set('n0', { id: 'n0', parent: here.id, name: 'b', kind: 'dir', rev: 2, size: null, hash: null, mtime: 0, exec: false, target: null });
    m.synced.set('n0', { id: 'n0', parent: 'root', name: 'd', kind: 'dir', rev: 1, size: null, hash: null, mtime: 0, exec: false, target: null, ino: 500 });
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(p.ops.filter((o) => o.type === 'forget').map((o) => o.id)).toEqual(['n0']);
    expect(p.ops.some((o) => 'id' in o && o.id === here.id)).toBe(false);
  });

  it('a link moved into a new directory made at its old name (each waits on the other) is untangled (engine simulation, seed 2047)', () => {
    const m = syncedModel({ l: '-> x' });
    localEdit.move(m, 'l', 'tmp');
    localEdit.create(m, 'l', null);
    localEdit.move(m, 'tmp', 'l/l');
    const res = converge(m);
    expect(remoteSpec(m)).toEqual({ 'l/': null, 'l/l': '-> x' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
    expect(res.ops.some((o) => o.type === 'move' && (o as { name: string }).name.startsWith('l.syncd-swap-'))).toBe(true);
  });

  it('a file moved out of its folder, the folder deleted and the file given its name (`mv a/f f; rmdir a; mv f a`) lands under that name, no conflicted copy', () => {
    const m = syncedModel({ 'a/': null, 'a/f': 'F', k: 'K' });
    localEdit.move(m, 'a/f', 'f');
    localEdit.delete(m, 'a');
    localEdit.move(m, 'f', 'a');
    const res = converge(m);
    expect(remoteSpec(m)).toEqual({ a: 'F', k: 'K' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
    expect(res.ops.map((o) => o.type)).toEqual(['move', 'delete', 'move']);
  });

  it('send-only override: a file the server moved into a new directory made at the name the folder gave it ends under that name (planner property, seed 402116837)', () => {
    const m = syncedModel({ z1: 'B', k: 'K' });
    remoteEdit.create(m, '\u00e9', null);
    remoteEdit.move(m, 'z1', '\u00e9/b');
    localEdit.move(m, 'z1', '\u00e9');
    const res = converge(m, { planner: (input) => planInMode(input, 'send-only', 'override') });
    expect(remoteSpec(m)).toEqual({ k: 'K', '\u00e9': 'B' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
    expect(res.ops.filter((o) => o.type === 'conflict_rename')).toEqual([]);
  });

  it('a folder emptied by moves and deleted frees its name for a new file (its delete waits for the moves), no conflicted copy', () => {
    const m = syncedModel({ 'd/': null, 'd/f': 'F', 'e/': null, k: 'K' });
    localEdit.move(m, 'd/f', 'e/f');
    localEdit.delete(m, 'd');
    localEdit.create(m, 'd', 'NEW');
    const res = converge(m);
    expect(remoteSpec(m)).toEqual({ d: 'NEW', 'e/': null, 'e/f': 'F', k: 'K' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
    expect(res.ops.filter((o) => o.type === 'conflict_rename')).toEqual([]);
  });

  it('the test model calls a plan with ops held back and none to run a stall, not convergence', () => {
    const m = syncedModel({ k: 'K' });
    expect(() => converge(m, { planner: (input) => ({ ...plan(input), ops: [], deferred: 2 }) })).toThrow(/stalled: no op to run, 2 deferred/);
    expect(converge(m).rounds).toBe(1);
  });

  it('a folder renamed by hand to its case twin (mkdir A; mv a/f A/; rmdir a) is that folder renamed: one move, no conflicted copy', () => {
    const m = syncedModel({ 'a/': null, 'a/f': 'F', k: 'K' });
    localEdit.create(m, 'A', null);
    localEdit.move(m, 'a/f', 'A/f');
    localEdit.delete(m, 'a');
    const res = converge(m);
    expect(res.ops.map((o) => o.type)).toEqual(['move']);
    expect(remoteSpec(m)).toEqual({ 'A/': null, 'A/f': 'F', k: 'K' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
  });

  it('case twins renamed by hand one inside the other (a/b to A/B), with a file beside: no conflicted copy', () => {
    const m = syncedModel({ 'a/': null, 'a/b/': null, 'a/b/f': 'F', 'a/g': 'G', k: 'K' });
    localEdit.create(m, 'A', null);
    localEdit.create(m, 'A/B', null);
    localEdit.move(m, 'a/b/f', 'A/B/f');
    localEdit.move(m, 'a/g', 'A/g');
    localEdit.delete(m, 'a');
    const res = converge(m);
    expect(res.ops.filter((o) => o.type === 'conflict_rename')).toEqual([]);
    expect(remoteSpec(m)).toEqual({ 'A/': null, 'A/B/': null, 'A/B/f': 'F', 'A/g': 'G', k: 'K' });
    expect(localSpec(m)).toEqual(remoteSpec(m));
  });

  it('a folder deleted with its files and a case twin made anew is not a rename: the old one goes, the new one is uploaded', () => {
    const m = syncedModel({ 'a/': null, 'a/f': 'F', k: 'K' });
    localEdit.delete(m, 'a');
    localEdit.create(m, 'A', null);
    localEdit.create(m, 'A/new', 'N');
    const res = converge(m);
    expect(res.ops.filter((o) => o.type === 'move')).toEqual([]);
    expect(localSpec(m)).toEqual(remoteSpec(m));
    expect(Object.values(remoteSpec(m))).not.toContain('F');
    expect(Object.values(remoteSpec(m))).toContain('N');
  });

  it('send-only override: a new folder made at the name of a server folder that itself moves into the new one (planner property, seed 894440251)', () => {
    const m = syncedModel({ 'w2/': null, 'w2/x3/': null, 'w2/x3/x5': 'X', 'y6/': null, k: 'K' });
    remoteEdit.move(m, 'w2/x3', 'y6/\u00e9');
    localEdit.create(m, 'y6/\u00e9', null);
    localEdit.move(m, 'w2', 'y6/\u00e9/a');
    const before = localSpec(m);
    converge(m, { planner: (input) => planInMode(input, 'send-only', 'override') });
    expect(remoteSpec(m)).toEqual(before);
    expect(localSpec(m)).toEqual(before);
  });

  it('send-only override: the folder renamed a synced folder to the name of a new server folder, with a file of the same name in each (planner property, seed 1070062946)', () => {
    const m = syncedModel({ 'w0/': null, 'w0/w2': 'B1', k: 'K' });
    remoteEdit.create(m, 'a', null);
    remoteEdit.create(m, 'a/b', 'R6');
    localEdit.move(m, 'w0', 'a');
    localEdit.create(m, 'a/b', 'L9');
    const before = localSpec(m);
    converge(m, { planner: (input) => planInMode(input, 'send-only', 'override') });
    expect(remoteSpec(m)).toEqual(before);
    expect(localSpec(m)).toEqual(before);
  });

  it('send-only override: the folder nested a directory inside its own subdirectory, renamed to a case twin of the name the server gave the directory (planner property, seed 581418198)', () => {
    const m = syncedModel({ 'z0/': null, 'z0/z2/': null, k: 'K' });
    localEdit.move(m, 'z0/z2', 'c.txt');
    localEdit.move(m, 'z0', 'c.txt/\u00e9');
    remoteEdit.move(m, 'z0', 'C.TXT');
    const before = localSpec(m);
    converge(m, { planner: (input) => planInMode(input, 'send-only', 'override') });
    expect(remoteSpec(m)).toEqual(before);
    expect(localSpec(m)).toEqual(before);
  });

  it('a synced directory moved locally onto an NFD twin of a synced NFC name goes aside, not the one at home (engine simulation, seed 1352734719)', () => {
    const m = syncedModel({ '\u00e9.md/': '', 'b/': '' });
    const moved = m.local.get('b')!;
    m.local.delete('b');
    const nfd = 'e\u0301.md';
    m.local.set(nfd, { ...moved, path: nfd.normalize('NFC'), diskPath: nfd });
    const p = plan({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now: 0 });
    expect(p.ops.filter((o) => o.type === 'conflict_rename').map((o) => (o as { path: string }).path)).toEqual([nfd]);
  });
});
