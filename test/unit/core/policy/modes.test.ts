// Folder modes: which ops each mode lets run, what the held-back ones mean,
// and what revert / override plan, case by case.

import { describe, expect, it } from 'vitest';
import type { LocalEntry } from '../../../../src/core/local.js';
import type { Plan, PlanOp } from '../../../../src/core/ops.js';
import type { FolderMode } from '../../../../src/core/policy/mode-names.js';
import { allowedIn, differences, holdBack, planInMode, requestRefusal, type Difference, type ModeRequest } from '../../../../src/core/policy/modes.js';
import type { TreeNode } from '../../../../src/core/tree.js';
import { converge, localEdit, localSpec, remoteEdit, remoteSpec, syncedModel, type Model } from '../../../helpers/plan-model.js';

const node = (id: string, kind: TreeNode['kind'] = 'file'): TreeNode => ({ id, parent: 'root', name: id, kind, rev: 1, size: 1, hash: 'h', mtime: 0, exec: false, target: null });
const entry = (path: string): LocalEntry => ({ path, diskPath: path, kind: 'file', size: 1, mtimeMs: 1, ino: 1, hash: 'h', exec: false, target: null });
const expectFile = { kind: 'file' as const, size: 1, mtimeMs: 1, ino: 1 };

const OPS = {
  download: { type: 'download', id: 'a', path: 'a', node: node('a'), expect: expectFile },
  fresh: { type: 'download', id: 'n', path: 'n', node: node('n'), expect: null },
  mkdir: { type: 'mkdir', id: 'd', path: 'd', node: node('d', 'dir') },
  chmod: { type: 'chmod', id: 'x', path: 'x', node: node('x'), expect: expectFile },
  localMove: { type: 'local_move', id: 'm', from: 'm', to: 'm2', node: node('m'), expect: expectFile },
  localDelete: { type: 'local_delete', id: 'l', path: 'l', expect: expectFile },
  aside: { type: 'conflict_rename', path: 'a', to: 'a (conflicted copy)', expect: expectFile, reason: 'both' },
  create: { type: 'create', path: 'c', parentId: 'root', name: 'c', local: entry('c'), replaces: null },
  update: { type: 'update', id: 'u', baseRev: 1, path: 'u', local: entry('u') },
  move: { type: 'move', id: 'v', baseRev: 1, parentId: 'root', name: 'v2', path: 'v2', local: entry('v2') },
  delete: { type: 'delete', id: 'f', baseRev: 1, path: 'f' },
  adopt: { type: 'adopt', id: 'a', node: node('a'), path: 'a', local: null },
  forget: { type: 'forget', id: 'g', path: 'g' },
} satisfies Record<string, PlanOp>;
type OpName = keyof typeof OPS;

const LOCAL_OPS: OpName[] = ['download', 'fresh', 'mkdir', 'chmod', 'localMove', 'localDelete', 'aside'];
const REMOTE_OPS: OpName[] = ['create', 'update', 'move', 'delete'];
const STATE_OPS: OpName[] = ['adopt', 'forget'];

describe('which ops a mode lets run', () => {
  const cases: { mode: FolderMode; allowed: OpName[]; held: OpName[] }[] = [
    { mode: 'two-way', allowed: [...LOCAL_OPS, ...REMOTE_OPS, ...STATE_OPS], held: [] },
    { mode: 'receive-only', allowed: [...LOCAL_OPS, ...STATE_OPS], held: REMOTE_OPS },
    { mode: 'send-only', allowed: [...REMOTE_OPS, ...STATE_OPS], held: LOCAL_OPS },
  ];
  for (const c of cases) {
    it(`${c.mode}: runs ${c.allowed.length} op kinds, holds ${c.held.length}`, () => {
      for (const n of c.allowed) expect(allowedIn(c.mode, OPS[n]), n).toBe(true);
      for (const n of c.held) expect(allowedIn(c.mode, OPS[n]), n).toBe(false);
    });
  }
});

describe('holding back', () => {
  const planOf = (names: OpName[], deferred: number): Plan => ({ ops: names.map((n) => OPS[n]), problems: [], deferred });
  const cases: { name: string; mode: FolderMode; plan: Plan; ops: number; held: number; deferred: number }[] = [
    { name: 'two-way keeps everything', mode: 'two-way', plan: planOf(['create', 'download'], 2), ops: 2, held: 0, deferred: 2 },
    { name: 'receive-only: ops waiting only on a held upload are not pending', mode: 'receive-only', plan: planOf(['create'], 3), ops: 0, held: 1, deferred: 0 },
    { name: 'receive-only: deferred work beside allowed ops still counts', mode: 'receive-only', plan: planOf(['create', 'download'], 3), ops: 1, held: 1, deferred: 3 },
    { name: 'send-only: a remote subtree waiting on a held mkdir is not pending', mode: 'send-only', plan: planOf(['mkdir'], 4), ops: 0, held: 1, deferred: 0 },
    { name: 'nothing held: deferred counts as before', mode: 'send-only', plan: planOf([], 2), ops: 0, held: 0, deferred: 2 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const p = holdBack(c.plan, c.mode);
      expect([p.ops.length, p.held.length, p.deferred]).toEqual([c.ops, c.held, c.deferred]);
    });
  }
});

describe('requests and modes', () => {
  const cases: { request: ModeRequest; mode: FolderMode; ok: boolean }[] = [
    { request: 'revert', mode: 'receive-only', ok: true },
    { request: 'revert', mode: 'two-way', ok: false },
    { request: 'revert', mode: 'send-only', ok: false },
    { request: 'override', mode: 'send-only', ok: true },
    { request: 'override', mode: 'two-way', ok: false },
    { request: 'override', mode: 'receive-only', ok: false },
  ];
  for (const c of cases) {
    it(`${c.request} in a ${c.mode} folder: ${c.ok ? 'runs' : 'refused with the mode it needs'}`, () => {
      const why = requestRefusal(c.request, c.mode);
      if (c.ok) expect(why).toBeNull();
      else expect(why).toMatch(c.request === 'revert' ? /receive-only/ : /send-only/);
    });
  }
});

describe('differences as the user sees them', () => {
  it('one line per path, a conflict over the other op at its path, sorted', () => {
    const d = differences([OPS.update, OPS.fresh, OPS.aside, OPS.download, OPS.localMove, OPS.delete]);
    expect(d).toEqual<Difference[]>([
      { path: 'a', side: 'remote', change: 'conflict' },
      { path: 'f', side: 'local', change: 'deleted' },
      { path: 'm', side: 'remote', change: 'moved' },
      { path: 'n', side: 'remote', change: 'created' },
      { path: 'u', side: 'local', change: 'changed' },
    ]);
  });
  it('state ops are no difference', () => {
    expect(differences([OPS.adopt, OPS.forget])).toEqual([]);
  });
});

// Whole plans over named situations (a synced base, then edits on one or both sides).
const BASE = { 'doc.txt': 'v1', 'dir/': null, 'dir/a.txt': 'a1' };
const now = 0;
const planFor = (m: Model, mode: FolderMode, request: ModeRequest | null = null) =>
  planInMode({ remote: m.remote, synced: m.synced, local: m.local, device: 'dev', now }, mode, request);
const summary = (ops: PlanOp[]) => ops.map((o) => `${o.type} ${'from' in o ? o.from : o.path}`).sort();

describe('a round in each mode', () => {
  const cases: { name: string; mode: FolderMode; request?: ModeRequest; edit: (m: Model) => void; ops: string[]; diffs: string[] }[] = [
    { name: 'receive-only: a local edit is held as a local difference', mode: 'receive-only',
      edit: (m) => localEdit.edit(m, 'doc.txt', 'mine'), ops: [], diffs: ['local changed doc.txt'] },
    { name: 'receive-only: a new local folder with a file is one difference, nothing pending', mode: 'receive-only',
      edit: (m) => { localEdit.create(m, 'new', null); localEdit.create(m, 'new/x', 'x'); }, ops: [], diffs: ['local created new'] },
    { name: 'receive-only: a remote edit is applied', mode: 'receive-only',
      edit: (m) => remoteEdit.edit(m, 'doc.txt', 'theirs'), ops: ['download doc.txt'], diffs: [] },
    { name: 'receive-only: a remote edit over a local edit sends the local one aside', mode: 'receive-only',
      edit: (m) => { remoteEdit.edit(m, 'doc.txt', 'theirs'); localEdit.edit(m, 'doc.txt', 'mine'); }, ops: ['conflict_rename doc.txt', 'download doc.txt'], diffs: [] },
    { name: 'send-only: a remote edit is held as a remote difference', mode: 'send-only',
      edit: (m) => remoteEdit.edit(m, 'doc.txt', 'theirs'), ops: [], diffs: ['remote changed doc.txt'] },
    { name: 'send-only: a local edit uploads', mode: 'send-only',
      edit: (m) => localEdit.edit(m, 'doc.txt', 'mine'), ops: ['update doc.txt'], diffs: [] },
    { name: 'send-only: edits on both sides are held whole and listed as a conflict', mode: 'send-only',
      edit: (m) => { remoteEdit.edit(m, 'doc.txt', 'theirs'); localEdit.edit(m, 'doc.txt', 'mine'); }, ops: [], diffs: ['remote conflict doc.txt'] },
    { name: 'send-only: a remote delete is held', mode: 'send-only',
      edit: (m) => remoteEdit.delete(m, 'dir'), ops: [], diffs: ['remote deleted dir', 'remote deleted dir/a.txt'] },
    { name: 'revert: the server version over a local edit', mode: 'receive-only', request: 'revert',
      edit: (m) => localEdit.edit(m, 'doc.txt', 'mine'), ops: ['download doc.txt'], diffs: [] },
    { name: 'revert: a local-only file is removed', mode: 'receive-only', request: 'revert',
      edit: (m) => localEdit.create(m, 'dir/extra.txt', 'x'), ops: ['local_delete dir/extra.txt'], diffs: [] },
    { name: 'revert: a locally deleted file is placed again', mode: 'receive-only', request: 'revert',
      edit: (m) => localEdit.delete(m, 'dir/a.txt'), ops: ['download dir/a.txt'], diffs: [] },
    { name: 'revert: a local move goes back', mode: 'receive-only', request: 'revert',
      edit: (m) => localEdit.move(m, 'doc.txt', 'dir/doc.txt'), ops: ['local_move dir/doc.txt'], diffs: [] },
    { name: 'revert is refused outside receive-only: the plan is the mode\'s own', mode: 'send-only', request: 'revert',
      edit: (m) => localEdit.create(m, 'extra.txt', 'x'), ops: ['create extra.txt'], diffs: [] },
    { name: 'override: the local version over a remote edit', mode: 'send-only', request: 'override',
      edit: (m) => remoteEdit.edit(m, 'doc.txt', 'theirs'), ops: ['update doc.txt'], diffs: [] },
    { name: 'override: a server-only file is deleted on the server', mode: 'send-only', request: 'override',
      edit: (m) => remoteEdit.create(m, 'dir/theirs.txt', 't'), ops: ['delete dir/theirs.txt'], diffs: [] },
    { name: 'override: a file the server deleted is uploaded again', mode: 'send-only', request: 'override',
      edit: (m) => remoteEdit.delete(m, 'doc.txt'), ops: ['create doc.txt', 'forget synced:n1'], diffs: [] },
    { name: 'override: the local edit wins a conflict', mode: 'send-only', request: 'override',
      edit: (m) => { remoteEdit.edit(m, 'doc.txt', 'theirs'); localEdit.edit(m, 'doc.txt', 'mine'); }, ops: ['update doc.txt'], diffs: [] },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = syncedModel(BASE);
      c.edit(m);
      const p = planFor(m, c.mode, c.request ?? null);
      expect(summary(p.ops)).toEqual(c.ops);
      expect(differences(p.held).map((d) => `${d.side} ${d.change} ${d.path}`)).toEqual(c.diffs);
      expect(p.deferred).toBe(0);
    });
  }

  it('a revert download expects the local edit it replaces (the executor re-checks it)', () => {
    const m = syncedModel(BASE);
    localEdit.edit(m, 'doc.txt', 'mine');
    const op = planFor(m, 'receive-only', 'revert').ops[0]!;
    expect(op).toMatchObject({ type: 'download', expect: { ino: m.local.get('doc.txt')!.ino, mtimeMs: m.local.get('doc.txt')!.mtimeMs } });
  });

  it('a revert reads a Synced path collision as the planner does: the node the server has at that path keeps its local copy (engine simulation, seed 1833: the copy was deleted and placed again, round after round)', () => {
    // Synced still holds the old file at "C.txt" (moved aside locally) and the directory placed there since
    const m = syncedModel({ 'C.txt/': null, 'k.txt': 'K' });
    const dir = m.synced.get([...m.synced.values()].find((n) => n.name === 'C.txt')!.id)!;
    // (an id that sorts first: without the server's ranking the lower id keeps the path)
    m.synced.set('a_old', { ...node('a_old'), name: 'C.txt', ino: 900 });
    m.remote.set('a_old', { ...node('a_old'), parent: dir.id, name: 'notes', rev: 2 });
    m.local.set('C.txt.syncd-swap-900', { ...entry('C.txt.syncd-swap-900'), ino: 900 });
    const p = planFor(m, 'receive-only', 'revert');
    expect(p.ops.filter((o) => o.type === 'local_delete').map((o) => (o as { path: string }).path)).not.toContain('C.txt');
  });

  it.each([
    {
      // planner property seed 899911746: the override parked the folder's `A` aside (held in send-only) and stopped
      name: 'the server made `a` and moved a file into it; the folder made `A` and moved the same file into it',
      edit: (m: Model) => {
        remoteEdit.create(m, 'a', null);
        remoteEdit.move(m, 'doc.txt', 'a/é.txt');
        localEdit.create(m, 'A', null);
        localEdit.move(m, 'doc.txt', 'A/C.TXT');
        localEdit.create(m, 'A/new.txt', 'n');
      },
    },
    {
      // the two-way planner sends `DIR` aside here (a conflicted copy); override must not
      name: 'the folder made `DIR`, moved the synced directory\'s file into it and removed `dir`',
      edit: (m: Model) => {
        localEdit.create(m, 'DIR', null);
        localEdit.move(m, 'dir/a.txt', 'DIR/a.txt');
        localEdit.delete(m, 'dir');
      },
    },
    {
      name: 'the server holds `a/x.txt` new, the folder `A/x.txt` new, with other content',
      edit: (m: Model) => {
        remoteEdit.create(m, 'a', null);
        remoteEdit.create(m, 'a/x.txt', 'theirs');
        localEdit.create(m, 'A', null);
        localEdit.create(m, 'A/x.txt', 'mine');
      },
    },
  ])('override over a case twin: $name; the server ends as the folder, the folder untouched', ({ edit }) => {
    const m = syncedModel(BASE);
    edit(m);
    const local = localSpec(m);
    const r = converge(m, { maxRounds: 20, planner: (input) => planInMode(input, 'send-only', 'override') });
    expect(r.ops.filter((o) => !['create', 'update', 'move', 'delete', 'adopt', 'forget'].includes(o.type))).toEqual([]);
    expect(remoteSpec(m)).toEqual(local);
    expect(localSpec(m)).toEqual(local);
  });
});
