// One error base with a stable code (STYLE.md "Conventions" 5).

import type { ErrorBody, ResetReason } from './types.js';

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
} as const;
export type HttpErrorCode = keyof typeof HTTP_ERROR_STATUS;

/** Base of every error syncd raises on purpose. `code` is stable and machine-readable. */
export class SyncdError extends Error {
  readonly code: string;
  readonly details: Record<string, unknown>;
  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SyncdError';
    this.code = code;
    this.details = details;
  }
}

/** An error that maps to an HTTP reply of the protocol. */
export class HttpError extends SyncdError {
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
