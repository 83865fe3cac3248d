// Errors of the remote API adapter. Everything the network, undici or a
// server reply can throw leaves src/client/remote/remote.ts as a RemoteError with a
// stable code (STYLE.md convention 5); nothing above it sees an undici error.

import { SyncdError } from '../../protocol/errors.js';
import type { ResetReason } from '../../protocol/types.js';

export const REMOTE_ERROR_CODES = [
  /** refused, reset, DNS, TLS, timeout: the server could not be reached or stopped answering */
  'network',
  /** 401/403: the token is wrong or revoked */
  'unauthorized',
  /** 409 reset: the cursor cannot be served; `reason` says why */
  'reset',
  /** 409 conflict outside a commit result */
  'conflict',
  /** 429, with `retryAfterS` */
  'rate_limited',
  /** 503, with `retryAfterS` */
  'unavailable',
  /** 404 */
  'not_found',
  /** other 4xx (400, 405, 415, 416, …) */
  'bad_request',
  /** 413 */
  'too_large',
  /** 400 hash_mismatch on upload, or downloaded bytes that do not match their hash/size */
  'hash_mismatch',
  /** 5xx other than 503 */
  'server_error',
  /** a reply that breaks the protocol: bad JSON, wrong shape, bad framing, truncated */
  'protocol',
  /** the server lacks an optional feature (SSE) */
  'unsupported',
] as const;
export type RemoteErrorCode = (typeof REMOTE_ERROR_CODES)[number];

export const RESET_REASONS: readonly ResetReason[] = ['invalid', 'expired', 'future', 'epoch'];

/** Default wait when a 429/503 carries no usable Retry-After. */
export const DEFAULT_RETRY_AFTER_S = 5;
/** A server cannot park us for longer than this with one Retry-After. */
export const MAX_RETRY_AFTER_S = 3600;
/** The longest longpoll `backoff` the client honours, s: beyond it the server is broken, not busy. */
export const MAX_BACKOFF_S = 300;

export interface RemoteErrorInit {
  /** the server base URL, for messages */
  server: string;
  /** HTTP status when there was a reply */
  status?: number;
  /** `reset` only */
  reason?: ResetReason;
  /** `rate_limited` / `unavailable` (and any reply that carried Retry-After) */
  retryAfterS?: number;
  /** the server's own error code, when it sent one */
  serverCode?: string;
  cause?: unknown;
}

export class RemoteError extends SyncdError {
  declare readonly code: RemoteErrorCode;
  readonly server: string;
  declare readonly status?: number;
  declare readonly reason?: ResetReason;
  declare readonly retryAfterS?: number;
  declare readonly serverCode?: string;

  constructor(code: RemoteErrorCode, message: string, init: RemoteErrorInit) {
    const details: Record<string, unknown> = { server: init.server };
    if (init.status !== undefined) details.status = init.status;
    if (init.reason !== undefined) details.reason = init.reason;
    if (init.retryAfterS !== undefined) details.retryAfterS = init.retryAfterS;
    if (init.serverCode !== undefined) details.serverCode = init.serverCode;
    super(code, message, details, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = 'RemoteError';
    this.server = init.server;
    // optional fields exist only when set, so logs and snapshots stay small
    const self = this as { -readonly [K in keyof RemoteError]: RemoteError[K] };
    if (init.status !== undefined) self.status = init.status;
    if (init.reason !== undefined) self.reason = init.reason;
    if (init.retryAfterS !== undefined) self.retryAfterS = init.retryAfterS;
    if (init.serverCode !== undefined) self.serverCode = init.serverCode;
  }
}

export function isRemoteError(e: unknown, code?: RemoteErrorCode): e is RemoteError {
  return e instanceof RemoteError && (code === undefined || e.code === code);
}

/** Worth retrying later with the same request: the failure was transient. */
export function isRetryable(e: unknown): boolean {
  return (
    e instanceof RemoteError &&
    (e.code === 'network' || e.code === 'rate_limited' || e.code === 'unavailable' || e.code === 'server_error')
  );
}

export function isAbortError(e: unknown): boolean {
  return (
    typeof e === 'object' &&
    e !== null &&
    ((e as { name?: unknown }).name === 'AbortError' || (e as { code?: unknown }).code === 'UND_ERR_ABORTED')
  );
}

/**
 * Parses Retry-After (delta-seconds or an HTTP date). Missing or unusable
 * values give the default; the result is clamped to [0, MAX_RETRY_AFTER_S].
 */
export function parseRetryAfter(raw: string | string[] | undefined, nowMs: number = Date.now()): number {
  const v = Array.isArray(raw) ? raw[0] : raw;
  if (v === undefined) return DEFAULT_RETRY_AFTER_S;
  const t = v.trim();
  let s: number;
  if (/^[0-9]{1,10}$/.test(t)) {
    s = Number(t);
  } else {
    const at = Date.parse(t);
    if (!Number.isFinite(at) || !/[a-z]/i.test(t)) return DEFAULT_RETRY_AFTER_S;
    s = Math.ceil((at - nowMs) / 1000);
  }
  return Math.min(MAX_RETRY_AFTER_S, Math.max(0, s));
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ECONNABORTED: 'connection aborted',
  EPIPE: 'connection closed while sending',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENETDOWN: 'network down',
  EHOSTDOWN: 'host down',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_CONNECT_TIMEOUT: 'connect timed out',
  UND_ERR_HEADERS_TIMEOUT: 'no reply within the timeout',
  UND_ERR_BODY_TIMEOUT: 'reply stalled mid-body',
  UND_ERR_SOCKET: 'connection dropped',
  UND_ERR_CLOSED: 'client closed',
  UND_ERR_DESTROYED: 'client closed',
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: 'reply shorter or longer than its Content-Length',
  UND_ERR_HEADERS_OVERFLOW: 'reply headers too large',
  UND_ERR_INFO: 'connection dropped',
};

const NOT_NETWORK = new Set(['UND_ERR_INVALID_ARG', 'UND_ERR_INVALID_RETURN_VALUE', 'UND_ERR_NOT_SUPPORTED', 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH']);

function isNetworkCode(code: string): boolean {
  if (code in NETWORK_CODES) return true;
  if (code.startsWith('UND_ERR_')) return !NOT_NETWORK.has(code);
  // TLS failures: the server cannot be reached safely
  return code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || /CERT|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code) || code === 'EPROTO';
}

function errCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const c = (e as { code?: unknown }).code;
  if (typeof c === 'string') return c;
  // happy-eyeballs connect failures arrive as an AggregateError of per-address errors
  const inner = (e as { errors?: unknown }).errors;
  if (Array.isArray(inner)) return errCode(inner[0]);
  const cause = (e as { cause?: unknown }).cause;
  return cause === undefined ? undefined : errCode(cause);
}

/**
 * Translates whatever undici / node:net threw into a RemoteError. Abort
 * errors are NOT translated (callers rethrow them so an aborted request is
 * distinguishable from a failed one); RemoteErrors pass through unchanged.
 */
export function translateNetworkError(e: unknown, server: string): unknown {
  if (e instanceof RemoteError || isAbortError(e)) return e;
  const code = errCode(e);
  if (code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
    return new RemoteError('protocol', `the server at ${server} sent a reply whose length does not match its Content-Length`, { server, cause: e });
  }
  if (code === 'UND_ERR_HEADERS_OVERFLOW') {
    return new RemoteError('protocol', `the server at ${server} sent reply headers that are too large`, { server, cause: e });
  }
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH') {
    // our own request body did not match the length we announced (a file changed under us)
    return e;
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') {
    return new RemoteError('network', `the connection pool to the syncd server at ${server} is closed`, { server, cause: e });
  }
  if (code === undefined || !isNetworkCode(code)) {
    // not a network failure (a bug, a local fs error): keep it visible as what it is
    return e;
  }
  const what = NETWORK_CODES[code] ?? `${code}${e instanceof Error ? `: ${e.message}` : ''}`;
  return new RemoteError('network', `the syncd server at ${server} is unreachable (${what})`, { server, cause: e });
}
