// The Local tree helpers: expectations, path keys, and the identity check
// every destructive step makes before acting.

import { describe, expect, it } from 'vitest';
import { expectOf, onlyDirMtimeMoved, pathKey, stillExpected, type DiskState, type LocalEntry, type LocalExpect } from '../../../src/core/local.js';

describe('expectOf', () => {
  it('keeps what a destructive step checks: kind, size, mtime, inode', () => {
    const e: LocalEntry = { path: 'a', diskPath: 'a', kind: 'file', size: 3, mtimeMs: 7, ino: 9, hash: 'h', exec: true, target: null };
    expect(expectOf(e)).toEqual({ kind: 'file', size: 3, mtimeMs: 7, ino: 9 });
  });
});

describe('pathKey', () => {
  const cases: { a: string; b: string; same: boolean; why: string }[] = [
    { a: 'Dir/File.TXT', b: 'dir/file.txt', same: true, why: 'letter case' },
    { a: 'caf\u00e9', b: 'cafe\u0301', same: true, why: 'NFC and NFD' },
    { a: 'a/b', b: 'a/c', same: false, why: 'different names' },
  ];
  for (const c of cases) it(`${c.a} vs ${c.b}: ${c.why}`, () => expect(pathKey(c.a) === pathKey(c.b)).toBe(c.same));
});

describe('stillExpected', () => {
  const file: LocalExpect = { kind: 'file', size: 3, mtimeMs: 7, ino: 9 };
  const link: LocalExpect = { kind: 'symlink', size: null, mtimeMs: 7, ino: 9 };
  const dir: LocalExpect = { kind: 'dir', size: null, mtimeMs: 7, ino: 9 };
  const disk = (e: LocalExpect, d: Partial<DiskState> = {}): DiskState => ({ kind: e.kind, size: e.size ?? 0, mtimeMs: e.mtimeMs, ino: e.ino, ...d });
  const cases: { name: string; disk: DiskState | null; expect: LocalExpect | null; want: boolean }[] = [
    { name: 'nothing expected, nothing there', disk: null, expect: null, want: true },
    { name: 'nothing expected, something appeared', disk: disk(file), expect: null, want: false },
    { name: 'something expected, gone', disk: null, expect: file, want: false },
    { name: 'the same file', disk: disk(file), expect: file, want: true },
    { name: 'a file written since (mtime)', disk: disk(file, { mtimeMs: 8 }), expect: file, want: false },
    { name: 'a file written since (size)', disk: disk(file, { size: 4 }), expect: file, want: false },
    { name: 'a file replaced (inode)', disk: disk(file, { ino: 10 }), expect: file, want: false },
    { name: 'a directory where a file was', disk: disk(file, { kind: 'dir' }), expect: file, want: false },
    { name: 'a pipe where a file was', disk: disk(file, { kind: 'other' }), expect: file, want: false },
    { name: 'a link: size is not compared', disk: disk(link, { size: 99 }), expect: link, want: true },
    { name: 'a link re-pointed (mtime)', disk: disk(link, { mtimeMs: 8 }), expect: link, want: false },
    { name: 'a directory whose entries changed (mtime) is still itself', disk: disk(dir, { mtimeMs: 99 }), expect: dir, want: true },
    { name: 'a directory replaced (inode)', disk: disk(dir, { ino: 1 }), expect: dir, want: false },
  ];
  for (const c of cases) it(c.name, () => expect(stillExpected(c.disk, c.expect)).toBe(c.want));
});

describe('onlyDirMtimeMoved (a Local update no plan reads)', () => {
  const d: LocalEntry = { path: 'd', diskPath: 'd', kind: 'dir', size: null, mtimeMs: 7, ino: 9, hash: null, exec: false, target: null };
  const f: LocalEntry = { path: 'f', diskPath: 'f', kind: 'file', size: 3, mtimeMs: 7, ino: 9, hash: 'h', exec: false, target: null };
  const cases: { name: string; prev: LocalEntry | undefined; next: LocalEntry; want: boolean }[] = [
    { name: 'a directory whose mtime moved', prev: d, next: { ...d, mtimeMs: 8 }, want: true },
    { name: 'a new directory', prev: undefined, next: d, want: false },
    { name: 'a directory replaced by another inode', prev: d, next: { ...d, mtimeMs: 8, ino: 10 }, want: false },
    { name: 'a directory whose NFC path changed', prev: d, next: { ...d, mtimeMs: 8, path: 'D' }, want: false },
    { name: 'a file that became a directory', prev: f, next: { ...d, path: 'f', diskPath: 'f' }, want: false },
    { name: 'a directory that became a file', prev: d, next: { ...f, path: 'd', diskPath: 'd' }, want: false },
    { name: 'a file whose mtime moved', prev: f, next: { ...f, mtimeMs: 8 }, want: false },
  ];
  for (const c of cases) it(c.name, () => expect(onlyDirMtimeMoved(c.prev, c.next)).toBe(c.want));
});
