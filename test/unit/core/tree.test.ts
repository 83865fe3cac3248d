// The tree model: wire nodes, content equality, paths from parent links
// (with hostile trees reported, never looped on) and path helpers.

import { describe, expect, it } from 'vitest';
import { baseName, depth, fromWire, isWithin, joinPath, parentPath, resolvePaths, sameContent, type Tree, type TreeNode } from '../../../src/core/tree.js';
import type { WireNode } from '../../../src/protocol/types.js';

const n = (id: string, parent: string, name: string, kind: TreeNode['kind'] = 'dir'): TreeNode => ({
  id, parent, name, kind, rev: 1, size: kind === 'file' ? 1 : null, hash: kind === 'file' ? 'h' : null, mtime: 0, exec: false, target: kind === 'symlink' ? 't' : null,
});
const tree = (...nodes: TreeNode[]): Tree => new Map(nodes.map((x) => [x.id, x]));

describe('fromWire', () => {
  const base = { id: 'x', parent: 'root', name: 'x', rev: 2, seq: 9, mtime: 0, exec: false };
  const cases: { name: string; wire: WireNode; want: Partial<TreeNode> }[] = [
    { name: 'a file keeps size, hash, exec', wire: { ...base, kind: 'file', size: 3, hash: 'abc', mtime: 5, exec: true }, want: { size: 3, hash: 'abc', mtime: 5, exec: true, target: null } },
    { name: 'a file without size or hash gets 0 and null', wire: { ...base, kind: 'file' }, want: { size: 0, hash: null, mtime: 0, exec: false } },
    { name: 'a missing mtime (a third-party server) reads as 0', wire: { ...base, kind: 'file', mtime: undefined as unknown as number }, want: { mtime: 0 } },
    { name: 'a directory drops content fields', wire: { ...base, kind: 'dir', size: 3, hash: 'abc', exec: true }, want: { size: null, hash: null, exec: false, target: null } },
    { name: 'a symlink keeps only its target', wire: { ...base, kind: 'symlink', target: 'a/b', size: 3, exec: true }, want: { size: null, hash: null, exec: false, target: 'a/b' } },
  ];
  for (const c of cases) it(c.name, () => expect(fromWire(c.wire)).toMatchObject({ id: 'x', parent: 'root', name: 'x', rev: 2, ...c.want }));
});

describe('sameContent', () => {
  const f = (hash: string | null, exec = false) => ({ kind: 'file' as const, hash, exec, target: null });
  const l = (target: string | null) => ({ kind: 'symlink' as const, hash: null, exec: false, target });
  const d = { kind: 'dir' as const, hash: null, exec: false, target: null };
  const cases: { name: string; a: Parameters<typeof sameContent>[0]; b: Parameters<typeof sameContent>[0]; want: boolean }[] = [
    { name: 'same file content', a: f('h'), b: f('h'), want: true },
    { name: 'different hash', a: f('h'), b: f('g'), want: false },
    { name: 'the execute bit is content', a: f('h', true), b: f('h', false), want: false },
    { name: 'same link target', a: l('t'), b: l('t'), want: true },
    { name: 'different link target', a: l('t'), b: l('u'), want: false },
    { name: 'two directories', a: d, b: d, want: true },
    { name: 'different kinds', a: d, b: f(null), want: false },
  ];
  for (const c of cases) it(c.name, () => expect(sameContent(c.a, c.b)).toBe(c.want));
});

describe('resolvePaths', () => {
  const cases: { name: string; tree: Tree; paths: Record<string, string>; problems: Record<string, string> }[] = [
    { name: 'nested tree', tree: tree(n('a', 'root', 'a'), n('b', 'a', 'b'), n('c', 'b', 'c.txt', 'file')), paths: { a: 'a', b: 'a/b', c: 'a/b/c.txt' }, problems: {} },
    { name: 'an orphan and its child are left out', tree: tree(n('a', 'gone', 'a'), n('b', 'a', 'b')), paths: {}, problems: { a: 'orphan' } },
    { name: 'a cycle is reported, not looped on', tree: tree(n('a', 'b', 'a'), n('b', 'a', 'b'), n('ok', 'root', 'ok')), paths: { ok: 'ok' }, problems: { a: 'cycle' } },
    { name: 'a child of a file', tree: tree(n('f', 'root', 'f', 'file'), n('x', 'f', 'x')), paths: { f: 'f' }, problems: { x: 'parent_not_dir' } },
    { name: 'an invalid name and its subtree', tree: tree(n('a', 'root', '..'), n('b', 'a', 'b')), paths: {}, problems: { a: 'invalid_name' } },
    { name: 'a name not in NFC', tree: tree(n('a', 'root', 'e\u0301')), paths: {}, problems: { a: 'invalid_name' } },
    { name: 'a path collision: the lower id keeps it, the other and its children go', tree: tree(n('b', 'root', 'x'), n('a', 'root', 'x'), n('c', 'b', 'y')), paths: { a: 'x' }, problems: { b: 'invalid_name' } },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = resolvePaths(c.tree);
      expect(Object.fromEntries(r.pathOf)).toEqual(c.paths);
      expect(Object.fromEntries(r.problems.map((p) => [p.id, p.code]))).toEqual(c.problems);
      for (const [id, p] of r.pathOf) expect(r.idAt.get(p)).toBe(id);
    });
  }
  it('a collision goes to the lower rank first, whatever the ids', () => {
    const r = resolvePaths(tree(n('a', 'root', 'x'), n('b', 'root', 'x')), (id) => (id === 'b' ? 0 : 1));
    expect(r.idAt.get('x')).toBe('b');
  });
});

describe('path helpers', () => {
  const cases: { path: string; parent: string; base: string; depth: number }[] = [
    { path: 'a', parent: '', base: 'a', depth: 1 },
    { path: 'a/b', parent: 'a', base: 'b', depth: 2 },
    { path: 'a/b/c.txt', parent: 'a/b', base: 'c.txt', depth: 3 },
  ];
  for (const c of cases) {
    it(`${c.path}: parent, base name, depth, and join back`, () => {
      expect(parentPath(c.path)).toBe(c.parent);
      expect(baseName(c.path)).toBe(c.base);
      expect(depth(c.path)).toBe(c.depth);
      expect(joinPath(c.parent, c.base)).toBe(c.path);
    });
  }
  const within: { path: string; ancestor: string; want: boolean; why: string }[] = [
    { path: 'a/b', ancestor: 'a', want: true, why: 'below' },
    { path: 'a', ancestor: 'a', want: true, why: 'itself' },
    { path: 'ab', ancestor: 'a', want: false, why: 'a name prefix is not an ancestor' },
    { path: 'a', ancestor: 'a/b', want: false, why: 'above' },
    { path: 'x', ancestor: '', want: true, why: 'everything is within the root' },
  ];
  for (const c of within) it(`isWithin(${c.path}, ${c.ancestor || "''"}): ${c.why}`, () => expect(isWithin(c.path, c.ancestor)).toBe(c.want));
});
