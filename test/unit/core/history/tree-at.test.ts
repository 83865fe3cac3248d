import { describe, expect, it } from 'vitest';
import { PastTree, TreePaths, type ChangeRow, type NodeRowState } from '../../../../src/core/history/tree-at.js';

/** every change first, then every node row, as the server feeds them */
function treeAt(rows: NodeRowState[], after: ChangeRow[], seq: number) {
  const t = new PastTree(seq);
  for (const r of after) t.change(r);
  for (const row of rows) t.row(row);
  return t.nodes;
}
import type { WireNode } from '../../../../src/protocol/types.js';

const node = (id: string, parent: string, name: string, rev: number, seq: number, extra: Partial<WireNode> = {}): WireNode => ({
  id, parent, name, kind: 'file', rev, size: 1, hash: `h${rev}`, mtime: 0, exec: false, seq, ...extra,
});
const row = (n: WireNode, deleted = 0): NodeRowState => ({ ...n, deleted });

// history: 1 create D; 2 create a in D; 3 create b; 4 update a; 5 move b into D as c; 6 delete D (a, c go with it); 7 create e
const D1 = node('D', 'root', 'D', 1, 1, { kind: 'dir', size: undefined, hash: undefined });
const a2 = node('a', 'D', 'a', 1, 2);
const b3 = node('b', 'root', 'b', 1, 3);
const a4 = node('a', 'D', 'a', 2, 4);
const c5 = node('b', 'D', 'c', 2, 5);
const e7 = node('e', 'root', 'e', 1, 7);
const rows = [row({ ...D1, rev: 2, seq: 6 }, 6), row(a4, 6), row(c5, 6), row(e7)];
const changes: ChangeRow[] = [
  { seq: 1, id: 'D', prev: null },
  { seq: 2, id: 'a', prev: null },
  { seq: 3, id: 'b', prev: null },
  { seq: 4, id: 'a', prev: a2 },
  { seq: 5, id: 'b', prev: b3 },
  { seq: 6, id: 'D', prev: D1 },
  { seq: 7, id: 'e', prev: null },
];

describe('treeAt', () => {
  it.each([
    ['before anything', 0, {}],
    ['after the folder and a file in it', 2, { D: D1, a: a2 }],
    ['after the update, before the move', 4, { D: D1, a: a4, b: b3 }],
    ['after the move', 5, { D: D1, a: a4, b: c5 }],
    ['after the folder delete: its content is gone with it', 6, {}],
    ['now', 7, { e: e7 }],
  ])('%s (seq %i)', (_d, seq, want) => {
    expect(Object.fromEntries(treeAt(rows, changes, seq))).toEqual(want);
  });

  it('rows it cannot know (changed after the position, rows trimmed) are left out, never guessed', () => {
    expect(treeAt([row(e7)], [], 3).size).toBe(0);
  });
});

describe('TreePaths', () => {
  const t = new Map([['D', D1], ['a', a4], ['b', c5], ['x', node('x', 'gone', 'x', 1, 1)]]);
  const p = new TreePaths(t);
  it.each([
    ['root', 'root', ''],
    ['a folder', 'D', 'D'],
    ['a file in it', 'a', 'D/a'],
    ['a broken chain', 'x', null],
  ])('path of %s', (_d, id, want) => {
    expect(p.path(id)).toBe(want);
  });
  it('isBelow and depth', () => {
    expect(p.isBelow('a', 'D')).toBe(true);
    expect(p.isBelow('D', 'D')).toBe(false);
    expect(p.isBelow('a', 'root')).toBe(true);
    expect(p.isBelow('x', 'root')).toBe(false);
    expect(p.depth('a')).toBe(2);
  });
});
