// The reply validators on their own, without HTTP: a valid reply comes back
// typed with unknown fields dropped; a wrong one reaches the caller's
// `malformed` with a detail naming the field. (Every field rule is driven
// through RemoteClient in test/unit/client/remote/remote-shapes.test.ts.)

import { describe, expect, test } from 'vitest';
import { checkChanges, checkCommit, checkList, checkLongpoll, checkStatus, ReplyCheck, sanitize } from '../../../src/protocol/replies.js';

class Malformed extends Error {}
const check = (): ReplyCheck => new ReplyCheck((detail) => new Malformed(detail));

const H = 'ab'.repeat(32);
const FILE = { id: 'n_1', parent: 'root', name: 'a', kind: 'file', rev: 1, size: 1, hash: H, mtime: 5, exec: false, seq: 1 };

describe('valid replies come back typed, unknown fields dropped', () => {
  test.each([
    { name: 'longpoll', run: () => checkLongpoll({ changes: true, backoff: 2, x: 1 }, check()), want: { changes: true, backoff: 2 } },
    { name: 'longpoll, null backoff', run: () => checkLongpoll({ changes: false, backoff: null }, check()), want: { changes: false } },
    { name: 'list', run: () => checkList({ entries: [{ ...FILE, evil: 1 }], cursor: 'c', seq: 1, has_more: false, x: 1 }, check()), want: { entries: [FILE], cursor: 'c', seq: 1, has_more: false } },
    {
      name: 'changes',
      run: () => checkChanges({ entries: [{ seq: 1, op: 'create', node: FILE, device: 'd', x: 1 }], cursor: 'c', has_more: false, head: 1 }, check()),
      want: { entries: [{ seq: 1, op: 'create', node: FILE, device: 'd' }], cursor: 'c', has_more: false, head: 1 },
    },
    {
      name: 'status, numeric epoch and null label',
      run: () => checkStatus({ namespace: 'ns', epoch: 3, head: 1, floor: 0, retention: { max_age_s: null, max_entries: null }, devices: [{ id: 'd', label: null, cursor_seq: null, lag: null, last_seen: null }] }, check()),
      want: { namespace: 'ns', epoch: '3', head: 1, floor: 0, retention: { max_age_s: null, max_entries: null }, devices: [{ id: 'd', label: '', cursor_seq: null, lag: null, last_seen: null }] },
    },
    {
      name: 'commit, each result status',
      run: () => checkCommit({ results: [{ status: 'ok', seq: 2, node: FILE }, { status: 'conflict', current: FILE }, { status: 'error', error: 'name_taken', message: 'a\nb' }] }, check()),
      want: [{ status: 'ok', seq: 2, node: FILE }, { status: 'conflict', current: FILE }, { status: 'error', error: 'name_taken', message: 'a b' }],
    },
  ])('$name', ({ run, want }) => {
    expect(run()).toEqual(want);
  });
});

describe('a wrong reply reaches the caller as malformed(detail)', () => {
  test.each([
    { name: 'not an object', run: () => checkLongpoll([], check()), detail: 'reply must be an object, got an array' },
    { name: 'a missing boolean', run: () => checkLongpoll({}, check()), detail: 'reply.changes must be true or false, got nothing' },
    { name: 'a negative backoff', run: () => checkLongpoll({ changes: true, backoff: -1 }, check()), detail: 'reply.backoff must be a number >= 0, got -1' },
    { name: 'a bad node hash', run: () => checkList({ entries: [{ ...FILE, hash: 'x' }], cursor: 'c', seq: 1, has_more: false }, check()), detail: 'reply.entries[0].hash must be 64 lowercase hex characters, got "x"' },
    { name: 'an unknown op error code', run: () => checkCommit({ results: [{ status: 'error', error: 'oops' }] }, check()), detail: 'reply.results[0].error must be one of' },
  ])('$name', ({ run, detail }) => {
    expect(run).toThrow(Malformed);
    expect(run).toThrow(detail);
  });
});

describe('sanitize: a server-sent message made safe to show', () => {
  test.each([
    { name: 'plain text is kept', s: 'no such node', want: 'no such node' },
    { name: 'control characters become one space', s: 'a\r\n\u0000b\u007f', want: 'a b' },
    { name: 'surrounding space is trimmed', s: '\n x \n', want: 'x' },
    { name: 'long text is cut to 300 characters', s: 'y'.repeat(400), want: `${'y'.repeat(297)}...` },
  ])('$name', ({ s, want }) => {
    expect(sanitize(s)).toBe(want);
  });
});
