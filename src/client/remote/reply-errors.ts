// What a bad reply means to the client, as a RemoteError: a non-2xx status
// (shared/PROTOCOL.md "Errors"), or a reply that breaks the protocol. Pure:
// the caller has already read the reply's text.

import { sanitize } from '../../protocol/replies.js';
import type { ResetReason } from '../../protocol/types.js';
import { parseRetryAfter, RemoteError, RESET_REASONS, type RemoteErrorCode } from './errors.js';

/** A non-2xx reply: its status, its Retry-After header and (up to a bound) its body as text. */
export interface FailedReply {
  status: number;
  retryAfter: string | string[] | undefined;
  text: string;
}

/** The `protocol` error for a reply to request `what` that breaks the protocol; `detail` says how. */
export function malformedReply(server: string, what: string): (detail: string) => RemoteError {
  return (detail) => new RemoteError('protocol', `malformed ${what} reply from the syncd server at ${server}: ${detail}`, { server });
}

/**
 * The RemoteError for a non-2xx reply to request `what` from `server`: the
 * status decides, the server's JSON `{error, message, reason}` adds detail.
 */
export function errorForStatus(server: string, what: string, reply: FailedReply): RemoteError {
  const { text } = reply;
  let serverCode: string | undefined;
  let serverMsg: string | undefined;
  let reason: unknown;
  try {
    const b = JSON.parse(text) as unknown;
    if (typeof b === 'object' && b !== null) {
      const o = b as Record<string, unknown>;
      if (typeof o.error === 'string') serverCode = o.error.slice(0, 64);
      if (typeof o.message === 'string') serverMsg = sanitize(o.message);
      reason = o.reason;
    }
  } catch {
    // not JSON: a proxy's HTML page, say; the status decides
  }
  const s = server;
  const status = reply.status;
  const said = serverMsg ? `: ${serverMsg}` : '';
  const base = { server: s, status, ...(serverCode !== undefined ? { serverCode } : {}) };
  const make = (code: RemoteErrorCode, message: string, extra: Partial<{ reason: ResetReason; retryAfterS: number }> = {}): RemoteError =>
    new RemoteError(code, message, { ...base, ...extra });
  if (status === 401 || status === 403) {
    return make(
      'unauthorized',
      `the syncd server at ${s} rejected this device's token (${status})${said}. The token is wrong or was revoked: create a new one on the server with "syncd server add-device" and link the folder again with "syncd init DIR --server ${s} --token NEW_TOKEN".`,
    );
  }
  if (status === 409) {
    if (serverCode === 'reset' || serverCode === undefined) {
      const known = RESET_REASONS.includes(reason as ResetReason);
      // an unknown reason still means "this cursor cannot be served": a full list is the answer either way
      const r: ResetReason = known ? (reason as ResetReason) : 'invalid';
      return make('reset', `the syncd server at ${s} cannot continue from this cursor (reset: ${known ? r : `unrecognised reason ${JSON.stringify(reason)}`})${said}; a full listing is needed`, { reason: r });
    }
    return make('conflict', `the syncd server at ${s} answered ${what} with a conflict${said}`);
  }
  if (status === 429 || status === 503) {
    const retryAfterS = parseRetryAfter(reply.retryAfter);
    const code = status === 429 ? 'rate_limited' : 'unavailable';
    const why = status === 429 ? 'is rate limiting this device' : 'is temporarily unavailable';
    return make(code, `the syncd server at ${s} ${why}${said}; retry in ${retryAfterS} s`, { retryAfterS });
  }
  if (status === 404) return make('not_found', `the syncd server at ${s} has no such ${what === 'download' ? 'blob' : 'resource'} (404)${said}`);
  if (status === 413) return make('too_large', `the syncd server at ${s} refused ${what} as too large (413)${said}`);
  if (status === 400 && serverCode === 'hash_mismatch') {
    return make('hash_mismatch', `the syncd server at ${s} received content that does not match its hash${said}`);
  }
  if (status >= 400 && status < 500) return make('bad_request', `the syncd server at ${s} rejected ${what} (${status}${serverCode ? ` ${serverCode}` : ''})${said}`);
  if (status >= 500) {
    const ra = reply.retryAfter;
    return make('server_error', `the syncd server at ${s} failed on ${what} (${status})${said}`, ra === undefined ? {} : { retryAfterS: parseRetryAfter(ra) });
  }
  return make('protocol', `the syncd server at ${s} answered ${what} with unexpected status ${status}`);
}
