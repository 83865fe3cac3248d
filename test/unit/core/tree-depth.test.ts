// resolvePaths: every node's path, and the nodes it must leave out
// (orphans, cycles, bad names, children of files, paths no disk takes),
// at any depth a server may send.

import { describe, expect, it } from 'vitest';
import { MAX_PATH_BYTES, resolvePaths, type Tree, type TreeNode } from '../../../src/core/tree.js';

const dir = (id: string, parent: string, name = id): TreeNode => ({ id, parent, name, kind: 'dir', rev: 1, mtime: 0, exec: false }) as TreeNode;
const file = (id: string, parent: string, name = id): TreeNode => ({ id, parent, name, kind: 'file', rev: 1, size: 1, hash: 'h', mtime: 0, exec: false }) as TreeNode;
const treeOf = (...nodes: TreeNode[]): Tree => new Map(nodes.map((n) => [n.id, n])) as Tree;

describe('resolvePaths', () => {
  const cases: Array<{ desc: string; nodes: TreeNode[]; paths: Record<string, string>; problems: Array<[string, string]> }> = [
    { desc: 'a plain tree', nodes: [dir('a', 'root'), dir('b', 'a'), file('f', 'b')], paths: { a: 'a', b: 'a/b', f: 'a/b/f' }, problems: [] },
    { desc: 'children listed before parents', nodes: [file('f', 'b'), dir('b', 'a'), dir('a', 'root')], paths: { a: 'a', b: 'a/b', f: 'a/b/f' }, problems: [] },
    { desc: 'an orphan and its subtree are left out, one problem', nodes: [dir('a', 'gone'), file('f', 'a'), dir('ok', 'root')], paths: { ok: 'ok' }, problems: [['a', 'orphan']] },
    { desc: 'a cycle is left out, one problem', nodes: [dir('a', 'b'), dir('b', 'a'), file('f', 'a')], paths: {}, problems: [['a', 'cycle']] },
    { desc: 'a self-parent is a cycle', nodes: [dir('a', 'a')], paths: {}, problems: [['a', 'cycle']] },
    { desc: 'a child of a file is left out', nodes: [file('f', 'root'), dir('d', 'f'), file('g', 'd')], paths: { f: 'f' }, problems: [['d', 'parent_not_dir']] },
    { desc: 'an invalid name and its subtree are left out', nodes: [dir('a', 'root', 'x/y'), file('f', 'a')], paths: {}, problems: [['a', 'invalid_name']] },
  ];
  for (const c of cases) {
    it(c.desc, () => {
      const r = resolvePaths(treeOf(...c.nodes));
      expect(Object.fromEntries(r.pathOf)).toEqual(c.paths);
      expect(r.problems.map((p) => [p.id, p.code])).toEqual(c.problems);
    });
  }

  it('survives a 100,000-level chain without recursion, leaving out what no disk can hold', () => {
    const nodes: TreeNode[] = [];
    let parent = 'root';
    for (let i = 0; i < 100_000; i++) {
      nodes.push(dir(`n${i}`, parent, 'd'));
      parent = `n${i}`;
    }
    // deepest first: the walk climbs the whole chain at once
    const r = resolvePaths(treeOf(...nodes.reverse()));
    // "d/d/…/d": 2 bytes a level, so 2048 levels fit in 4096 bytes
    const fit = Math.floor((MAX_PATH_BYTES + 1) / 2);
    expect(r.pathOf.size).toBe(fit);
    expect(r.pathOf.get(`n${fit - 1}`)!.length).toBeLessThanOrEqual(MAX_PATH_BYTES);
    expect(r.problems).toEqual([expect.objectContaining({ id: `n${fit}`, code: 'path_too_long' })]);
  });

  it('finds a cycle at the top of a deep chain', () => {
    const nodes: TreeNode[] = [dir('top', 'n9999')];
    let parent = 'top';
    for (let i = 0; i < 10_000; i++) {
      nodes.push(dir(`n${i}`, parent, 'd'));
      parent = `n${i}`;
    }
    const r = resolvePaths(treeOf(...nodes));
    expect(r.pathOf.size).toBe(0);
    expect(r.problems.map((p) => p.code)).toEqual(['cycle']);
  });
});
