// The error catalogue: every code syncd raises, replies with or records, in
// one list, and the one error base class typed by it. Codes are stable
// machine-readable strings (scripts read them from `syncd status --json` and
// from HTTP replies); the human message beside each is free to improve.
// A code is added here first; test/unit/protocol/errors.test.ts fails on a
// code used in src/ that this list does not document.

import type { ErrorBody, ResetReason } from './types.js';

export const ERROR_CODES = {
  // --- HTTP replies (PROTOCOL.md "Errors"); also what the remote adapter raises for them
  bad_request: 'a malformed request (400); from the remote adapter, any other 4xx',
  hash_mismatch: 'uploaded or downloaded bytes do not match their SHA-256 or size',
  unauthorized: 'the token is missing, unknown or revoked (401/403)',
  not_found: 'no such node, blob, device, namespace or route (404)',
  method_not_allowed: 'the route exists but not for this HTTP method (405)',
  reset: 'the cursor cannot be served exactly; `reason` says why, the client lists afresh (409)',
  conflict: "a base_rev that is not the node's current rev (409, or a commit result)",
  too_large: 'a request body or blob over the configured limit (413)',
  unsupported_media_type: 'a request body that is not JSON where JSON is required (415)',
  range_not_satisfiable: 'a Range outside the blob (416)',
  rate_limited: 'too many requests; honour Retry-After (429)',
  unavailable: 'the server cannot serve now (its store is failing); honour Retry-After (503)',

  // --- commit op results (PROTOCOL.md "POST /v1/commit")
  name_taken: 'a sibling already has this name, up to case and Unicode normalisation',
  invalid_name: 'a name that breaks the name rules (PROTOCOL.md "Names"), or one not valid UTF-8 on disk',
  parent_not_found: 'the parent node of a create or move does not exist',
  not_a_directory: 'the parent node of a create or move is not a directory',
  cycle: 'a move of a directory into itself; in a tree check, a node that is its own ancestor',
  blob_missing: 'a commit names content this namespace never uploaded',

  // --- the remote adapter (src/client/remote): failures that are not a reply code above
  network: 'the server could not be reached or stopped answering (refused, reset, DNS, TLS, timeout)',
  server_error: 'a 5xx other than 503',
  protocol: 'a reply that breaks the protocol: bad JSON, wrong shape, bad framing, truncated',
  unsupported: 'the server lacks an optional feature (the event stream)',

  // --- the server's stores and admin commands
  store_unavailable: 'the journal database is busy or failing; routes answer 503',
  store_too_new: 'the journal database was written by a newer syncd',
  store_corrupt: 'the journal database breaks an invariant syncd relies on',
  blob_store: 'the blob folder breaks an invariant (a short or unstorable blob)',
  invalid_argument: 'an admin argument (namespace, label) that breaks its rules',

  // --- the client's state, config and folder link
  state_db: 'the state DB cannot be opened',
  state_db_too_new: 'the state DB was written by a newer syncd',
  not_linked: 'the folder has not been linked with `syncd init`',
  already_linked: '`syncd init` on a folder linked to another server or namespace',
  locked: 'another agent is already syncing the folder',
  bad_config: 'a config key or value, or a config file, that syncd cannot accept',
  io_error: 'the disk failed to read or write (EIO), or a config file cannot be written',
  server_version: 'the server speaks another protocol version',

  // --- the command line
  usage: 'a usage mistake the argument parser cannot see (exit code 2)',
  no_agent: '`syncd wait` without a running agent for the folder',
  timeout: '`syncd wait` (or `syncd revert`/`override` with a running agent) gave up before the agent caught up',
  not_converged: '`syncd sync` ended with operations still pending, or `syncd revert`/`override` left differences',
  still_empty: '`syncd resume` while the folder is still missing or empty',
  trash_not_found: '`syncd trash restore` found no entry in the local trash for that path or id',
  service_error: 'the user service (systemd, launchd) cannot be written or started',

  // --- the agent's rounds
  reset_loop: 'the server keeps asking for a reset; the agent gives up for now',
  journal_gap: 'a pulled page does not follow on from the cursor; the agent lists afresh',
  disk_full: 'the disk is full (ENOSPC)',
  changed_during_upload: 'a file changed while it was read for upload; it goes again once it settles',
  unsafe_path: 'a path that would leave the synced folder or pass through a symlink',

  // --- the disk adapter's names for errno (src/client/disk/errno.ts)
  path_missing: 'nothing at the path, or a parent is missing (ENOENT)',
  path_not_dir: 'a parent in the path is not a directory (ENOTDIR)',
  path_taken: 'something is already at the path (EEXIST)',
  dir_not_empty: 'a directory to remove or replace is not empty (ENOTEMPTY)',
  path_is_symlink: 'a symlink where a file was opened without following links (ELOOP)',
  not_a_file: 'not a regular file where one was expected',
  permission_denied: 'the operating system refused access to the path (EACCES)',
  not_permitted: 'the operating system refused the operation (EPERM)',
  not_supported: 'the file system does not support the operation (ENOTSUP, EOPNOTSUPP)',
  too_many_files: 'this process is out of file descriptors (EMFILE)',
  cross_device: 'a rename between two file systems (EXDEV); the trash then copies instead',
  parent_missing: 'a parent directory of a path to write does not exist',
  parent_not_dir: 'a parent of a path is not a directory (on disk, or in a tree check)',

  // --- guards that pause the agent (src/core/guards.ts)
  root_missing: 'the synced folder is gone (an unmounted disk?)',
  root_empty: 'the synced folder is suddenly empty while Synced is not',
  mass_delete: 'one pass would delete more than the allowed share of the tree',

  // --- problems recorded per path (`syncd status` lists them)
  unreadable: 'a local path that cannot be read; what was synced of it stays as it is',
  special_file: 'a pipe, socket or device in the folder: not synced',
  occupied: 'a download target taken by something syncd cannot sync',
  download_failed: 'a download failed without a more precise code',
  upload_failed: 'an upload failed without a more precise code',
  orphan: "a tree node whose parent is missing",
  remote_orphan: "a server node whose parent is missing (the listing's orphans are left out)",
  remote_cycle: 'a server node that is its own ancestor',
  remote_invalid_name: 'a server node whose name this disk cannot hold',
  remote_parent_not_dir: 'a server node under a file or symlink',
  excluded_kept: 'an excluded path (selective sync) holds something syncd does not sync, so it stays on disk',
  chunks_missing: 'an assembly names chunks this namespace does not hold (400); upload them and assemble again',
  // --- hardening (docs/server.md "Limits and tuning"; docs/sync.md)
  too_deep: 'a create or move past the server\'s maximum depth (op error)',
  path_too_long: 'a path longer than the server\'s (or this disk\'s) maximum, in UTF-8 bytes',
  remote_path_too_long: 'a server node whose path is longer than any disk takes (left out)',
  incomplete: '`syncd sync` agreed on what it could, but left server nodes out (see `syncd status`)',
  token_file: 'the --token-file cannot be read or holds no token',
  protocol_error: 'a server listing that never ends (a page token that does not advance, or more nodes than maxListEntries)',
  // --- version history (docs/history.md)
  user: 'paused by the user (`syncd pause`); a pause code, lifted by `syncd resume`',
  partly_done: 'a restore or rewind whose steps did not all land (some hit a conflict or an error)',
  server_too_old: 'the server lacks an endpoint this command needs (upgrade it)',
  http_error: 'an HTTP error reply without a code syncd knows',
  error: 'a failure without a more precise code',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export const HTTP_ERROR_STATUS = {
  bad_request: 400,
  hash_mismatch: 400,
  chunks_missing: 400,
  unauthorized: 401,
  not_found: 404,
  method_not_allowed: 405,
  reset: 409,
  conflict: 409,
  too_large: 413,
  unsupported_media_type: 415,
  range_not_satisfiable: 416,
  rate_limited: 429,
  unavailable: 503,
} as const satisfies Partial<Record<ErrorCode, number>>;
export type HttpErrorCode = keyof typeof HTTP_ERROR_STATUS;

/** Base of every error syncd raises on purpose. `code` is stable and machine-readable. */
export class SyncdError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncdError';
    this.code = code;
    this.details = details;
  }
}

/** A usage mistake the argument parser cannot see: the CLI prints it and exits 2. */
export class UsageError extends SyncdError {
  constructor(message: string) {
    super('usage', message);
    this.name = 'UsageError';
  }
}

/** An error that maps to an HTTP reply of the protocol. */
export class HttpError extends SyncdError {
  declare readonly code: HttpErrorCode;
  readonly status: number;
  readonly retryAfter?: number;
  constructor(code: HttpErrorCode, message: string, details: Record<string, unknown> = {}, retryAfter?: number) {
    super(code, message, details);
    this.name = 'HttpError';
    this.status = HTTP_ERROR_STATUS[code];
    this.retryAfter = retryAfter;
  }
  toBody(): ErrorBody {
    return { error: this.code, message: this.message, ...this.details };
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError('bad_request', message);
}

export function resetError(reason: ResetReason, message: string): HttpError {
  return new HttpError('reset', message, { reason });
}
