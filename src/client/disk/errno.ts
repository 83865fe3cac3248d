// The disk adapter's side of the error catalogue. node reports a failed
// file-system call by its errno (`err.code === 'ENOENT'`); the agent decides
// on syncd's own codes instead, so no call site above the disk adapter
// reads a platform's errno spelling. The mapping is one to one where the
// agent tells errnos apart (EEXIST from ENOTEMPTY, EACCES from EPERM), so
// every decision is the same as on the raw errno.

import type { ErrorCode } from '../../protocol/errors.js';

export const ERRNO_CODES = {
  ENOENT: 'path_missing',
  ENOTDIR: 'path_not_dir',
  EEXIST: 'path_taken',
  ENOTEMPTY: 'dir_not_empty',
  ELOOP: 'path_is_symlink',
  ENOSPC: 'disk_full',
  EACCES: 'permission_denied',
  EPERM: 'not_permitted',
  EIO: 'io_error',
  ENOTSUP: 'not_supported',
  EOPNOTSUPP: 'not_supported',
  EMFILE: 'too_many_files',
  EXDEV: 'cross_device',
} as const satisfies Record<string, ErrorCode>;

export type DiskErrorCode = (typeof ERRNO_CODES)[keyof typeof ERRNO_CODES];

/** syncd's code for a failed file-system call, or null when it is not one this table names. */
export function diskCode(err: unknown): DiskErrorCode | null {
  if (typeof err !== 'object' || err === null) return null;
  const errno = (err as { code?: unknown }).code;
  return typeof errno === 'string' && Object.hasOwn(ERRNO_CODES, errno) ? ERRNO_CODES[errno as keyof typeof ERRNO_CODES] : null;
}

/** True when `err` is a file-system failure with one of these codes. */
export function isDiskError(err: unknown, ...codes: DiskErrorCode[]): boolean {
  const c = diskCode(err);
  return c !== null && codes.includes(c);
}

/**
 * A watcher's failure that means the OS refuses more watches: inotify
 * reports its watch limit as ENOSPC, and running out of descriptors as
 * EMFILE. Neither means the disk is full.
 */
export function isWatchLimit(err: unknown): boolean {
  return isDiskError(err, 'disk_full', 'too_many_files');
}
