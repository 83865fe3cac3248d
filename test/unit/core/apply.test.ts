// What each op outcome does to the trees: the one definition the executor
// and the planner's test model both record.

import { describe, expect, it } from 'vitest';
import { committedEdits, localDeleteEdits, movedEdits, placedEdits, placedEntry, relocated, stateEdits, type TreeEdit } from '../../../src/core/apply.js';
import type { SyncedNode } from '../../../src/core/associate.js';
import type { LocalEntry } from '../../../src/core/local.js';
import type { PlanOp } from '../../../src/core/ops.js';
import { swapName } from '../../../src/core/syncd-names.js';
import type { TreeNode } from '../../../src/core/tree.js';

const node = (over: Partial<TreeNode> = {}): TreeNode => ({ id: 'n1', parent: 'root', name: 'a.txt', kind: 'file', rev: 3, size: 5, hash: 'h', mtime: 7, exec: true, target: null, ...over });
const entry = (over: Partial<LocalEntry> = {}): LocalEntry => ({ path: 'a.txt', diskPath: 'a.txt', kind: 'file', size: 5, mtimeMs: 1, ino: 42, hash: 'h', exec: false, target: null, ...over });
const expect0 = { kind: 'file' as const, size: 5, mtimeMs: 1, ino: 42 };
const st = { ino: 77, size: 5, mtimeMs: 9 };

describe('state ops', () => {
  const cases: { name: string; op: Extract<PlanOp, { type: 'adopt' | 'forget' }>; want: TreeEdit[] }[] = [
    { name: 'adopt with a local entry records its inode', op: { type: 'adopt', id: 'n1', node: node(), path: 'a.txt', local: entry() }, want: [{ tree: 'synced', edit: 'put', node: { ...node(), ino: 42 } }] },
    { name: 'adopt without one records no inode', op: { type: 'adopt', id: 'n1', node: node(), path: 'a.txt', local: null }, want: [{ tree: 'synced', edit: 'put', node: { ...node(), ino: null } }] },
    { name: 'forget drops the Synced node only', op: { type: 'forget', id: 'n1', path: 'a.txt' }, want: [{ tree: 'synced', edit: 'delete', id: 'n1' }] },
  ];
  for (const c of cases) it(c.name, () => expect(stateEdits(c.op)).toEqual(c.want));
});

describe('local moves and renames', () => {
  const cases: { name: string; op: Extract<PlanOp, { type: 'local_move' | 'conflict_rename' }>; want: TreeEdit[] }[] = [
    {
      name: 'a move takes Local along and relocates Synced (with the moved inode), never inserting',
      op: { type: 'local_move', id: 'n1', from: 'a.txt', to: 'd/b.txt', node: node({ parent: 'd1', name: 'b.txt', rev: 4 }), expect: expect0 },
      want: [
        { tree: 'local', edit: 'move_subtree', from: 'a.txt', to: 'd/b.txt', toNfc: 'd/b.txt' },
        { tree: 'synced', edit: 'relocate', id: 'n1', parent: 'd1', name: 'b.txt', rev: 4, ino: 42, orInsert: null },
      ],
    },
    {
      name: 'a conflict rename moves Local and logs the conflict',
      op: { type: 'conflict_rename', path: 'a.txt', to: 'a (conflicted copy).txt', expect: expect0, reason: 'both sides changed this file' },
      want: [
        { tree: 'local', edit: 'move_subtree', from: 'a.txt', to: 'a (conflicted copy).txt', toNfc: 'a (conflicted copy).txt' },
        { tree: 'conflicts', edit: 'add', path: 'a (conflicted copy).txt', original: 'a.txt', reason: 'both sides changed this file' },
      ],
    },
    {
      name: 'a move aside under a swap name is no conflict',
      op: { type: 'conflict_rename', path: 'a.txt', to: swapName('a.txt', '42'), expect: expect0, reason: 'untangle' },
      want: [{ tree: 'local', edit: 'move_subtree', from: 'a.txt', to: swapName('a.txt', '42'), toNfc: swapName('a.txt', '42') }],
    },
    {
      name: 'an NFD target is recorded under its NFC path',
      op: { type: 'local_move', id: 'n1', from: 'a.txt', to: 'cafe\u0301', node: node({ name: 'caf\u00e9' }), expect: expect0 },
      want: [
        { tree: 'local', edit: 'move_subtree', from: 'a.txt', to: 'cafe\u0301', toNfc: 'caf\u00e9' },
        { tree: 'synced', edit: 'relocate', id: 'n1', parent: 'root', name: 'caf\u00e9', rev: 3, ino: 42, orInsert: null },
      ],
    },
  ];
  for (const c of cases) it(c.name, () => expect(movedEdits(c.op, 42)).toEqual(c.want));
});

describe('placed objects', () => {
  const cases: { name: string; op: Extract<PlanOp, { type: 'mkdir' | 'download' | 'symlink' | 'chmod' }>; local: Partial<LocalEntry> }[] = [
    { name: 'a download: size from disk, hash and exec from the node', op: { type: 'download', id: 'n1', path: 'a.txt', node: node(), expect: null }, local: { kind: 'file', size: 5, hash: 'h', exec: true, target: null } },
    { name: 'a directory: no size, hash or exec', op: { type: 'mkdir', id: 'n1', path: 'd', node: node({ kind: 'dir', size: null, hash: null, exec: false }) }, local: { kind: 'dir', size: null, hash: null, exec: false } },
    { name: 'a symlink: its target', op: { type: 'symlink', id: 'n1', path: 'l', node: node({ kind: 'symlink', size: null, hash: null, exec: false, target: 'x' }), expect: null }, local: { kind: 'symlink', size: null, hash: null, target: 'x' } },
    { name: 'a chmod: the node exec bit', op: { type: 'chmod', id: 'n1', path: 'a.txt', node: node({ exec: false }), expect: expect0 }, local: { exec: false } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const [l, s] = placedEdits(c.op, st);
      expect(l).toEqual({ tree: 'local', edit: 'put', entry: expect.objectContaining({ diskPath: c.op.path, ino: 77, mtimeMs: 9, ...c.local }) });
      expect(s).toEqual({ tree: 'synced', edit: 'put', node: { ...c.op.node, ino: 77 } });
    });
  }
  it('the Local path of a placed entry is NFC, its disk path as spelled', () => {
    expect(placedEntry('d/cafe\u0301', st, node())).toMatchObject({ path: 'd/caf\u00e9', diskPath: 'd/cafe\u0301' });
  });
});

describe('local deletes', () => {
  const op = { type: 'local_delete' as const, id: 'n1', path: 'd', expect: { ...expect0, kind: 'dir' as const } };
  it('removed: Local subtree and Synced node go', () => expect(localDeleteEdits(op, true)).toEqual([{ tree: 'local', edit: 'delete_subtree', diskPath: 'd' }, { tree: 'synced', edit: 'delete', id: 'n1' }]));
  it('kept (not empty): only Synced forgets it, so the next round uploads it', () => expect(localDeleteEdits(op, false)).toEqual([{ tree: 'synced', edit: 'delete', id: 'n1' }]));
});

describe('committed remote ops', () => {
  const local = entry({ ino: 55 });
  const returned = node({ id: 'n9', rev: 1 });
  const cases: { name: string; op: Extract<PlanOp, { type: 'create' | 'update' | 'move' | 'delete' }>; seq: number; cursor: number; want: TreeEdit[] }[] = [
    { name: 'create: Remote and Synced take the returned node', op: { type: 'create', path: 'a.txt', parentId: 'root', name: 'a.txt', local, replaces: null }, seq: 10, cursor: 5,
      want: [{ tree: 'remote', edit: 'upsert', node: returned, seq: 10 }, { tree: 'synced', edit: 'put', node: { ...returned, ino: 55 } }] },
    { name: 'a replayed result the pull already passed leaves Remote to the journal', op: { type: 'update', id: 'n9', baseRev: 1, path: 'a.txt', local }, seq: 4, cursor: 5,
      want: [{ tree: 'synced', edit: 'put', node: { ...returned, ino: 55 } }] },
    { name: 'create replacing a node gone from the server: its Synced children move over', op: { type: 'create', path: 'd', parentId: 'root', name: 'd', local, replaces: 'old' }, seq: 10, cursor: 5,
      want: [
        { tree: 'remote', edit: 'upsert', node: returned, seq: 10 }, { tree: 'synced', edit: 'put', node: { ...returned, ino: 55 } },
        { tree: 'synced', edit: 'delete', id: 'old' }, { tree: 'synced', edit: 'reparent', from: 'old', to: 'n9' },
      ] },
    { name: 'move: Synced relocates (content kept), inserting the node if Synced lost it', op: { type: 'move', id: 'n9', baseRev: 1, parentId: 'root', name: 'a.txt', path: 'a.txt', local }, seq: 10, cursor: 5,
      want: [{ tree: 'remote', edit: 'upsert', node: returned, seq: 10 }, { tree: 'synced', edit: 'relocate', id: 'n9', parent: 'root', name: 'a.txt', rev: 1, ino: 55, orInsert: returned }] },
    { name: 'delete: the subtree goes from Remote and Synced', op: { type: 'delete', id: 'n9', baseRev: 1, path: 'a.txt' }, seq: 10, cursor: 5,
      want: [{ tree: 'remote', edit: 'delete_subtree', id: 'n9' }, { tree: 'synced', edit: 'delete_subtree', id: 'n9' }] },
  ];
  for (const c of cases) it(c.name, () => expect(committedEdits(c.op, returned, c.seq, c.cursor)).toEqual(c.want));
});

describe('relocated', () => {
  const e = { tree: 'synced' as const, edit: 'relocate' as const, id: 'n1', parent: 'd', name: 'b', rev: 5, ino: 8 };
  const current: SyncedNode = { ...node({ hash: 'old content' }), ino: 3 };
  const cases: { name: string; orInsert: TreeNode | null; current: SyncedNode | null; want: SyncedNode | null }[] = [
    { name: 'an existing node keeps its content, takes the location', orInsert: null, current, want: { ...current, parent: 'd', name: 'b', rev: 5, ino: 8 } },
    { name: 'a missing node without a fallback: nothing', orInsert: null, current: null, want: null },
    { name: 'a missing node with a fallback: the fallback at the new location', orInsert: node(), current: null, want: { ...node(), parent: 'd', name: 'b', rev: 5, ino: 8 } },
  ];
  for (const c of cases) it(c.name, () => expect(relocated({ ...e, orInsert: c.orInsert }, c.current)).toEqual(c.want));
});
