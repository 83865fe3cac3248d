// Selective sync's list rules (src/core/policy/exclusions.ts), table-driven.

import { describe, expect, it } from 'vitest';
import { addExclusions, checkExclusionPath, coveringExclusion, followServer, removeExclusions, type Exclusion } from '../../../../src/core/policy/exclusions.js';
import type { Tree, TreeNode } from '../../../../src/core/tree.js';

const dir = (id: string, parent: string, name: string): TreeNode => ({ id, parent, name, kind: 'dir', rev: 1, size: null, hash: null, mtime: 0, exec: false, target: null });
const x = (path: string, id: string | null = null): Exclusion => ({ path, id });

describe('checkExclusionPath', () => {
  it.each([
    { rel: 'docs', want: 'docs' },
    { rel: 'docs/sub/', want: 'docs/sub' },
    { rel: './docs//sub', want: 'docs/sub' },
    { rel: 'e\u0301t\u00e9', want: '\u00e9t\u00e9' },
  ])('$rel → $want', ({ rel, want }) => expect(checkExclusionPath(rel)).toEqual({ ok: true, path: want }));
  it.each([
    { rel: '', why: /folder itself/ },
    { rel: '.', why: /folder itself/ },
    { rel: '../other', why: /outside/ },
    { rel: 'a/../../b', why: /outside/ },
  ])('refuses "$rel"', ({ rel, why }) => {
    const r = checkExclusionPath(rel);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(why);
  });
});

describe('coveringExclusion', () => {
  it.each([
    { path: 'docs', list: ['docs'], want: 'docs' },
    { path: 'docs/a/b', list: ['docs'], want: 'docs' },
    { path: 'docs2', list: ['docs'], want: undefined },
    { path: 'docs/a', list: ['docs/a', 'docs'], want: 'docs' },
    { path: 'x', list: [], want: undefined },
  ])('$path under $list → $want', ({ path, list, want }) => expect(coveringExclusion(path, list)).toBe(want));
});

describe('add and remove', () => {
  it('adding keeps one entry per path, sorted; a child under an excluded parent is recorded too', () => {
    const a = addExclusions([x('b')], [x('a', 'n1'), x('b'), x('b/c')]);
    expect(a.list.map((e) => e.path)).toEqual(['a', 'b', 'b/c']);
    expect(a.added).toEqual(['a', 'b/c']);
  });
  it('removing a parent keeps the child excluded', () => {
    const r = removeExclusions([x('a'), x('a/b')], ['a']);
    expect(r.list.map((e) => e.path)).toEqual(['a/b']);
    expect(coveringExclusion('a/b/c', r.list.map((e) => e.path))).toBe('a/b');
    expect(coveringExclusion('a/other', r.list.map((e) => e.path))).toBeUndefined();
  });
  it('removing what is not listed reports it, with the exclusion that still covers it', () => {
    const r = removeExclusions([x('a')], ['a/b', 'z']);
    expect(r.removed).toEqual([]);
    expect(r.missing).toEqual([{ path: 'a/b', coveredBy: 'a' }, { path: 'z', coveredBy: undefined }]);
  });
});

describe('followServer', () => {
  const remote: Tree = new Map([
    ['n1', dir('n1', 'root', 'renamed')],
    ['n2', dir('n2', 'n1', 'inner')],
  ]);
  it.each([
    { name: 'a renamed node takes its new path', list: [x('old', 'n1')], want: ['renamed'] },
    { name: 'a node moved with its parent follows', list: [x('old/inner', 'n2')], want: ['renamed/inner'] },
    { name: 'a node gone from the server keeps its path', list: [x('gone', 'n9')], want: ['gone'] },
    { name: 'an entry without a node keeps its path', list: [x('later')], want: ['later'] },
  ])('$name', ({ list, want }) => expect(followServer(list, remote).map((e) => e.path)).toEqual(want));
  it('returns the same array when nothing moved (the caller writes only on change)', () => {
    const list = [x('renamed', 'n1')];
    expect(followServer(list, remote)).toBe(list);
  });
});
