import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/protocol/errors.js';
import { parseCommitRequest, parseLimit, parseLongpollTimeout } from '../../../src/protocol/validate.js';

const H = 'a'.repeat(64);

function err(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HttpError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('parseLimit', () => {
  it.each([
    [null, 1000],
    ['1', 1],
    ['10000', 10000],
    ['0042', 42],
  ])('%j → %i', (raw, want) => {
    expect(parseLimit(raw)).toBe(want);
  });
  it.each(['0', '10001', '-1', '1.5', 'abc', '', ' 5', '1e3', '9999999'])('400 for %j', (raw) => {
    expect(err(() => parseLimit(raw)).status).toBe(400);
  });
});

describe('parseLongpollTimeout', () => {
  it.each([
    [null, 30],
    ['1', 1],
    ['480', 480],
  ])('%j → %i', (raw, want) => {
    expect(parseLongpollTimeout(raw)).toBe(want);
  });
  it.each(['0', '481', 'x', '-5', '2.5', ''])('400 for %j', (raw) => {
    expect(err(() => parseLongpollTimeout(raw)).status).toBe(400);
  });
});

describe('parseCommitRequest', () => {
  const ok = [
    ['create file', { op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'file', hash: H, size: 3 }],
    ['create dir', { op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'dir' }],
    ['create symlink', { op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'symlink', target: 'x' }],
    ['update content', { op_id: 'op-000001', op: 'update', id: 'n_a', base_rev: 1, hash: H, size: 1 }],
    ['update mtime only', { op_id: 'op-000001', op: 'update', id: 'n_a', base_rev: 1, mtime: 5 }],
    ['move', { op_id: 'op-000001', op: 'move', id: 'n_a', base_rev: 2, parent: 'n_b', name: 'x' }],
    ['delete', { op_id: 'op-000001', op: 'delete', id: 'n_a', base_rev: 2 }],
    ['invalid name passes through (it is an op result)', { op_id: 'op-000001', op: 'create', parent: 'root', name: 'a/b', kind: 'dir' }],
  ] as const;
  it.each(ok)('accepts %s', (_d, op) => {
    expect(parseCommitRequest({ ops: [op] })).toHaveLength(1);
  });

  it('defaults mtime to 0 and exec to false on create', () => {
    const [op] = parseCommitRequest({ ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'dir' }] });
    expect(op).toMatchObject({ mtime: 0, exec: false });
  });

  const bad: Array<[string, unknown, number]> = [
    ['not an object', [], 400],
    ['ops missing', {}, 400],
    ['ops empty', { ops: [] }, 400],
    ['op not an object', { ops: [5] }, 400],
    ['short op_id', { ops: [{ op_id: 'x', op: 'delete', id: 'n_a', base_rev: 1 }] }, 400],
    ['unknown op', { ops: [{ op_id: 'op-000001', op: 'copy' }] }, 400],
    ['bad kind', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'fifo' }] }, 400],
    ['file without size', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'file', hash: H }] }, 400],
    ['uppercase hash', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'file', hash: H.toUpperCase(), size: 1 }] }, 400],
    ['negative size', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'file', hash: H, size: -1 }] }, 400],
    ['dir with hash', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'dir', hash: H, size: 1 }] }, 400],
    ['symlink without target', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'symlink' }] }, 400],
    ['target with NUL', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'symlink', target: 'a\0b' }] }, 400],
    ['target over 4096 bytes', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 'a', kind: 'symlink', target: 'x'.repeat(4097) }] }, 400],
    ['name not a string', { ops: [{ op_id: 'op-000001', op: 'create', parent: 'root', name: 5, kind: 'dir' }] }, 400],
    ['bad parent id', { ops: [{ op_id: 'op-000001', op: 'create', parent: '../x', name: 'a', kind: 'dir' }] }, 400],
    ['base_rev 0', { ops: [{ op_id: 'op-000001', op: 'delete', id: 'n_a', base_rev: 0 }] }, 400],
    ['base_rev float', { ops: [{ op_id: 'op-000001', op: 'delete', id: 'n_a', base_rev: 1.5 }] }, 400],
    ['hash without size on update', { ops: [{ op_id: 'op-000001', op: 'update', id: 'n_a', base_rev: 1, hash: H }] }, 400],
    ['exec not boolean', { ops: [{ op_id: 'op-000001', op: 'update', id: 'n_a', base_rev: 1, exec: 1 }] }, 400],
    ['duplicate op_id', { ops: [{ op_id: 'op-000001', op: 'delete', id: 'n_a', base_rev: 1 }, { op_id: 'op-000001', op: 'delete', id: 'n_b', base_rev: 1 }] }, 400],
    ['1001 ops', { ops: Array.from({ length: 1001 }, (_, i) => ({ op_id: `op-${String(i).padStart(6, '0')}`, op: 'delete', id: 'n_a', base_rev: 1 })) }, 413],
  ];
  it.each(bad)('rejects %s', (_d, body, status) => {
    const e = err(() => parseCommitRequest(body));
    expect(e.status).toBe(status);
    expect(e.message.length).toBeGreaterThan(0);
  });
});
