import { describe, expect, it } from 'vitest';
import { decideOp, EMPTY_SHA256, ROOT, type OpFacts, type StoredNode } from '../../../src/server/store/decide.js';
import type { Op } from '../../../src/protocol/types.js';

const H = 'b'.repeat(64);
const dir = (id: string, extra: Partial<StoredNode> = {}): StoredNode => ({
  id, parent: 'root', name: id, kind: 'dir', rev: 1, mtime: 0, exec: false, seq: 1, deleted: 0, ...extra,
});
const file = (id: string, extra: Partial<StoredNode> = {}): StoredNode => ({
  id, parent: 'root', name: id, kind: 'file', rev: 1, size: 3, hash: H, mtime: 0, exec: false, seq: 1, deleted: 0, ...extra,
});
const facts = (f: Partial<OpFacts> = {}): OpFacts => ({ node: null, parent: ROOT, sibling: null, parentChain: [], parentPathBytes: 0, subtreeHeight: 0, subtreePathBytes: 0, blob: null, subtreeSeq: 0, ...f });
const newId = () => 'n_new';
const code = (op: Op, f: OpFacts): string => {
  const d = decideOp(op, f, newId);
  return d.kind === 'write' ? `write:${d.op}` : d.result.status === 'error' ? d.result.error : d.result.status;
};

describe('decideOp', () => {
  const mkdir: Op = { op_id: 'op-1', op: 'create', parent: 'root', name: 'a', kind: 'dir' };
  const mkfile: Op = { op_id: 'op-1', op: 'create', parent: 'p', name: 'f', kind: 'file', hash: H, size: 3 };
  const mv = (parent: string, name = 'x'): Op => ({ op_id: 'op-1', op: 'move', id: 'd', base_rev: 1, parent, name });

  it.each<[string, Op, OpFacts, string]>([
    ['create dir at root', mkdir, facts(), 'write:create'],
    ['create: invalid name wins over everything', { ...mkdir, name: '..' }, facts({ parent: null, sibling: { id: 'x' } }), 'invalid_name'],
    ['create: unknown parent', mkfile, facts({ parent: null }), 'parent_not_found'],
    ['create: tombstoned parent', mkfile, facts({ parent: dir('p', { deleted: 9 }) }), 'parent_not_found'],
    ['create: parent is a file', mkfile, facts({ parent: file('p') }), 'not_a_directory'],
    ['create: sibling twin', mkfile, facts({ parent: dir('p'), sibling: { id: 'n_o' } }), 'name_taken'],
    ['create: no blob ref', mkfile, facts({ parent: dir('p') }), 'blob_missing'],
    ['create: blob of another size', mkfile, facts({ parent: dir('p'), blob: { size: 4 } }), 'blob_missing'],
    ['create: blob ok', mkfile, facts({ parent: dir('p'), blob: { size: 3 } }), 'write:create'],
    ['create: the empty blob needs no ref', { ...mkfile, hash: EMPTY_SHA256, size: 0 }, facts({ parent: dir('p') }), 'write:create'],
    ['update: unknown node', { op_id: 'o', op: 'update', id: 'f', base_rev: 1 }, facts(), 'not_found'],
    ['update: deleted node beats a stale rev', { op_id: 'o', op: 'update', id: 'f', base_rev: 7 }, facts({ node: file('f', { deleted: 3 }) }), 'not_found'],
    ['update: stale rev', { op_id: 'o', op: 'update', id: 'f', base_rev: 2 }, facts({ node: file('f') }), 'conflict'],
    ['update: blob missing', { op_id: 'o', op: 'update', id: 'f', base_rev: 1, hash: 'c'.repeat(64), size: 1 }, facts({ node: file('f') }), 'blob_missing'],
    ['update: mtime only', { op_id: 'o', op: 'update', id: 'f', base_rev: 1, mtime: 3 }, facts({ node: file('f') }), 'write:update'],
    ['move: into itself', mv('d'), facts({ node: dir('d'), parent: dir('d') }), 'cycle'],
    ['move: into a descendant', mv('c'), facts({ node: dir('d'), parent: dir('c'), parentChain: ['c', 'b', 'd'] }), 'cycle'],
    ['move: stale rev beats a bad name', { ...(mv('root', '/') as object), base_rev: 5 } as Op, facts({ node: dir('d') }), 'conflict'],
    ['move: bad name', mv('root', 'a/b'), facts({ node: dir('d') }), 'invalid_name'],
    ['move: taken by another node', mv('root'), facts({ node: dir('d'), sibling: { id: 'n_o' } }), 'name_taken'],
    ['move: case-only rename of itself', mv('root', 'D'), facts({ node: dir('d'), sibling: { id: 'd' } }), 'write:move'],
    ['move: file into a file', { op_id: 'o', op: 'move', id: 'f', base_rev: 1, parent: 'g', name: 'x' }, facts({ node: file('f'), parent: file('g') }), 'not_a_directory'],
    ['delete: ok', { op_id: 'o', op: 'delete', id: 'f', base_rev: 1 }, facts({ node: file('f') }), 'write:delete'],
    ['delete dir: subtree unchanged since subtree_seq', { op_id: 'o', op: 'delete', id: 'd', base_rev: 1, subtree_seq: 9 }, facts({ node: dir('d'), subtreeSeq: 9 }), 'write:delete'],
    ['delete dir: something below changed after subtree_seq', { op_id: 'o', op: 'delete', id: 'd', base_rev: 1, subtree_seq: 9 }, facts({ node: dir('d'), subtreeSeq: 10 }), 'conflict'],
    ['delete dir: no subtree_seq is unconditional', { op_id: 'o', op: 'delete', id: 'd', base_rev: 1 }, facts({ node: dir('d'), subtreeSeq: 10 }), 'write:delete'],
  ])('%s', (_d, op, f, want) => {
    expect(code(op, f)).toBe(want);
  });

  it('a dir delete cascades, a file delete does not; both bump rev', () => {
    const d = decideOp({ op_id: 'o', op: 'delete', id: 'd', base_rev: 1 }, facts({ node: dir('d') }), newId);
    expect(d).toMatchObject({ kind: 'write', cascade: true, node: { rev: 2 } });
    const f = decideOp({ op_id: 'o', op: 'delete', id: 'f', base_rev: 1 }, facts({ node: file('f') }), newId);
    expect(f).toMatchObject({ kind: 'write', cascade: false, node: { rev: 2 } });
  });

  it('update ignores fields that do not apply to the kind', () => {
    const d = decideOp({ op_id: 'o', op: 'update', id: 'd', base_rev: 1, exec: true, target: 't', mtime: 4 }, facts({ node: dir('d') }), newId);
    expect(d).toMatchObject({ kind: 'write', node: { exec: false, mtime: 4, rev: 2 } });
    expect(d.kind === 'write' && 'target' in d.node).toBe(false);
  });

  it('create stores the NFC name and the case-folded key', () => {
    const d = decideOp({ ...mkdir, name: 'CAFE\u0301' }, facts(), newId);
    expect(d).toMatchObject({ kind: 'write', nameKey: 'caf\u00e9', node: { name: 'CAF\u00c9', id: 'n_new', rev: 1 } });
  });

  it('conflict carries the current node without internal fields', () => {
    const d = decideOp({ op_id: 'o', op: 'delete', id: 'f', base_rev: 9 }, facts({ node: file('f', { rev: 3 }) }), newId);
    expect(d).toEqual({ kind: 'reject', result: { status: 'conflict', current: { id: 'f', parent: 'root', name: 'f', kind: 'file', rev: 3, size: 3, hash: H, mtime: 0, exec: false, seq: 1 } } });
  });
});

describe('decideOp: depth and path limits', () => {
  const limits = { maxDepth: 4, maxPathBytes: 20 };
  const chain = (n: number): string[] => Array.from({ length: n }, (_, i) => `p${i}`);
  const mkdirIn = (name: string): Op => ({ op_id: 'op-d', op: 'create', parent: 'p0', name, kind: 'dir' });
  const moveTo = (name: string): Op => ({ op_id: 'op-m', op: 'move', id: 'n_d', base_rev: 1, parent: 'p0', name });
  const cases: Array<{ desc: string; op: Op; facts: Partial<OpFacts>; want: string }> = [
    { desc: 'a create at the depth limit is fine', op: mkdirIn('a'), facts: { parent: dir('p0'), parentChain: chain(3), parentPathBytes: 8 }, want: 'write:create' },
    { desc: 'a create one level deeper is too_deep', op: mkdirIn('a'), facts: { parent: dir('p0'), parentChain: chain(4), parentPathBytes: 11 }, want: 'too_deep' },
    { desc: 'a create whose path fills the limit exactly is fine', op: mkdirIn('abcdefghi'), facts: { parent: dir('p0'), parentChain: chain(1), parentPathBytes: 10 }, want: 'write:create' },
    { desc: 'one byte more is path_too_long', op: mkdirIn('abcdefghij'), facts: { parent: dir('p0'), parentChain: chain(1), parentPathBytes: 10 }, want: 'path_too_long' },
    { desc: 'path bytes count UTF-8, not characters', op: mkdirIn('ééééé'), facts: { parent: dir('p0'), parentChain: chain(1), parentPathBytes: 10 }, want: 'path_too_long' },
    {
      desc: 'moving a directory counts the height of its subtree',
      op: moveTo('d'),
      facts: { node: dir('n_d'), parent: dir('p0'), parentChain: chain(2), parentPathBytes: 5, subtreeHeight: 2, subtreePathBytes: 4 },
      want: 'too_deep',
    },
    {
      desc: 'moving a directory counts its longest path below',
      op: moveTo('d'),
      facts: { node: dir('n_d'), parent: dir('p0'), parentChain: chain(1), parentPathBytes: 2, subtreeHeight: 1, subtreePathBytes: 17 },
      want: 'path_too_long',
    },
    {
      desc: 'a move that fits',
      op: moveTo('d'),
      facts: { node: dir('n_d'), parent: dir('p0'), parentChain: chain(1), parentPathBytes: 2, subtreeHeight: 2, subtreePathBytes: 6 },
      want: 'write:move',
    },
  ];
  for (const c of cases) {
    it(c.desc, () => {
      const d = decideOp(c.op, facts(c.facts), newId, limits);
      expect(d.kind === 'write' ? `write:${d.op}` : d.result.status === 'error' ? d.result.error : d.result.status).toBe(c.want);
    });
  }
});

describe('decideOp: names with bidirectional controls', () => {
  it('refuses a create or move to a name with a right-to-left override as invalid_name', () => {
    expect(code({ op_id: 'o', op: 'create', parent: 'root', name: 'x\u202Etxt.exe', kind: 'dir' }, facts())).toBe('invalid_name');
    expect(code({ op_id: 'o', op: 'move', id: 'n_d', base_rev: 1, parent: 'root', name: 'x\u202Etxt.exe' }, facts({ node: dir('n_d') }))).toBe('invalid_name');
  });
});
