// What `conflicts --keep` does with one copy, from what syncd saw (Local)
// and what is on disk now.

import { describe, expect, it } from 'vitest';
import type { DiskState, LocalEntry } from '../../../../src/core/local.js';
import { planKeep, type KeepPlan, type KeepSide, type Observed } from '../../../../src/core/policy/conflicts.js';

const file = (path: string, ino: number, size = 3, mtimeMs = 10): LocalEntry => ({ path, diskPath: path, kind: 'file', size, mtimeMs, ino, hash: 'h', exec: false, target: null });
const dir = (path: string, ino: number): LocalEntry => ({ path, diskPath: path, kind: 'dir', size: null, mtimeMs: 10, ino, hash: null, exec: false, target: null });
const asSeen = (e: LocalEntry): DiskState => ({ kind: e.kind, size: e.size ?? 0, mtimeMs: e.mtimeMs, ino: e.ino });
const same = (e: LocalEntry): Observed => ({ path: e.path, known: e, disk: asSeen(e) });

const C = 'x (conflicted copy).txt';
const copy = file(C, 1);
const orig = file('x.txt', 2);

const cases: { name: string; keep: KeepSide; copy: Observed; below?: Observed[]; original: Observed; want: KeepPlan['do']; check?: (p: KeepPlan) => void }[] = [
  { name: 'the copy is gone: resolved', keep: 'remote', copy: { path: C, known: copy, disk: null }, original: same(orig), want: 'forget' },
  { name: 'remote, copy as seen: delete it', keep: 'remote', copy: same(copy), original: same(orig), want: 'delete',
    check: (p) => expect(p).toEqual({ do: 'delete', steps: [{ path: C, expect: { kind: 'file', size: 3, mtimeMs: 10, ino: 1 } }] }) },
  { name: 'remote, copy edited (mtime): skip', keep: 'remote', copy: { path: C, known: copy, disk: { ...asSeen(copy), mtimeMs: 11 } }, original: same(orig), want: 'skip' },
  { name: 'remote, copy replaced (inode): skip', keep: 'remote', copy: { path: C, known: copy, disk: { ...asSeen(copy), ino: 9 } }, original: same(orig), want: 'skip' },
  { name: 'remote, copy never scanned: skip', keep: 'remote', copy: { path: C, known: undefined, disk: asSeen(copy) }, original: same(orig), want: 'skip' },
  { name: 'remote, directory copy: children first', keep: 'remote', copy: same(dir('D', 5)), below: [same(dir('D/e', 6)), same(file('D/e/f', 7)), same(file('D/g', 8))], original: same(dir('d', 4)), want: 'delete',
    check: (p) => expect(p.do === 'delete' && p.steps.map((s) => s.path)).toEqual(['D/e/f', 'D/e', 'D/g', 'D']) },
  { name: 'remote, directory copy with an unseen file inside: skip', keep: 'remote', copy: same(dir('D', 5)), below: [{ path: 'D/new', known: undefined, disk: { kind: 'file', size: 1, mtimeMs: 1, ino: 9 } }], original: same(dir('d', 4)), want: 'skip' },
  { name: 'local, both as seen: replace', keep: 'local', copy: same(copy), original: same(orig), want: 'replace',
    check: (p) => expect(p).toMatchObject({ from: C, to: 'x.txt', expectTo: { ino: 2 } }) },
  { name: 'local, original gone: place the copy where nothing is', keep: 'local', copy: same(copy), original: { path: 'x.txt', known: orig, disk: null }, want: 'replace',
    check: (p) => expect(p).toMatchObject({ expectTo: null }) },
  { name: 'local, original edited: skip', keep: 'local', copy: same(copy), original: { path: 'x.txt', known: orig, disk: { ...asSeen(orig), size: 9 } }, want: 'skip' },
  { name: 'local, original never scanned: skip', keep: 'local', copy: same(copy), original: { path: 'x.txt', known: undefined, disk: asSeen(orig) }, want: 'skip' },
  { name: 'local, copy edited: skip', keep: 'local', copy: { path: C, known: copy, disk: { ...asSeen(copy), size: 4 } }, original: same(orig), want: 'skip' },
  { name: 'local, directory copy: merge by hand', keep: 'local', copy: same(dir('D', 5)), original: same(orig), want: 'skip' },
  { name: 'local, original a directory: merge by hand', keep: 'local', copy: same(copy), original: same(dir('x.txt', 2)), want: 'skip' },
  { name: 'local, original a pipe: skip', keep: 'local', copy: same(copy), original: { path: 'x.txt', known: undefined, disk: { kind: 'other', size: 0, mtimeMs: 1, ino: 3 } }, want: 'skip' },
];

describe('planKeep', () => {
  for (const c of cases) {
    it(c.name, () => {
      const p = planKeep(c.keep, c.copy, c.below ?? [], c.original);
      expect(p.do).toBe(c.want);
      c.check?.(p);
    });
  }
});
