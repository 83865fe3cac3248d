// The disk adapter names errno with catalogue codes, one to one where the
// agent tells errnos apart.

import { describe, expect, test } from 'vitest';
import { diskCode, isDiskError, isWatchLimit } from '../../../../src/client/disk/errno.js';

const fsErr = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: simulated`), { code });

describe('diskCode', () => {
  const cases: { desc: string; err: unknown; want: ReturnType<typeof diskCode> }[] = [
    { desc: 'ENOENT: nothing there', err: fsErr('ENOENT'), want: 'path_missing' },
    { desc: 'ENOTDIR: a parent is not a directory', err: fsErr('ENOTDIR'), want: 'path_not_dir' },
    { desc: 'EEXIST: the name is taken', err: fsErr('EEXIST'), want: 'path_taken' },
    { desc: 'ENOTEMPTY stays apart from EEXIST', err: fsErr('ENOTEMPTY'), want: 'dir_not_empty' },
    { desc: 'ELOOP: a symlink opened without following', err: fsErr('ELOOP'), want: 'path_is_symlink' },
    { desc: 'ENOSPC: the disk is full', err: fsErr('ENOSPC'), want: 'disk_full' },
    { desc: 'EACCES: access refused', err: fsErr('EACCES'), want: 'permission_denied' },
    { desc: 'EPERM stays apart from EACCES (a refused hard link falls back to rename)', err: fsErr('EPERM'), want: 'not_permitted' },
    { desc: 'EIO: the disk failed', err: fsErr('EIO'), want: 'io_error' },
    { desc: 'ENOTSUP', err: fsErr('ENOTSUP'), want: 'not_supported' },
    { desc: 'EOPNOTSUPP, its twin', err: fsErr('EOPNOTSUPP'), want: 'not_supported' },
    { desc: 'EMFILE: out of descriptors', err: fsErr('EMFILE'), want: 'too_many_files' },
    { desc: 'EXDEV: a rename across file systems (the trash then copies)', err: fsErr('EXDEV'), want: 'cross_device' },
    { desc: 'an errno the table does not name', err: fsErr('EBUSY'), want: null },
    { desc: "a code inherited from Object's prototype is not an errno", err: fsErr('toString'), want: null },
    { desc: 'a syncd error is not a disk error', err: Object.assign(new Error('x'), { code: 'network' }), want: null },
    { desc: 'an error without a code', err: new Error('plain'), want: null },
    { desc: 'not an object', err: 'ENOENT', want: null },
    { desc: 'null', err: null, want: null },
  ];
  test.each(cases)('$desc', ({ err, want }) => {
    expect(diskCode(err)).toBe(want);
  });
});

describe('isDiskError and isWatchLimit', () => {
  const cases: { desc: string; got: boolean; want: boolean }[] = [
    { desc: 'matches one of the codes asked for', got: isDiskError(fsErr('ENOTDIR'), 'path_missing', 'path_not_dir'), want: true },
    { desc: 'not another code', got: isDiskError(fsErr('EEXIST'), 'path_missing', 'path_not_dir'), want: false },
    { desc: 'not an unknown errno', got: isDiskError(fsErr('EBUSY'), 'path_missing'), want: false },
    { desc: "a watcher's ENOSPC is inotify's watch limit", got: isWatchLimit(fsErr('ENOSPC')), want: true },
    { desc: "a watcher's EMFILE too", got: isWatchLimit(fsErr('EMFILE')), want: true },
    { desc: "a watcher's ENOENT is not a limit", got: isWatchLimit(fsErr('ENOENT')), want: false },
  ];
  test.each(cases)('$desc', ({ got, want }) => {
    expect(got).toBe(want);
  });
});
