// How the protocol's error codes travel over gRPC/Connect: a status code
// (the table the contract fixes) plus a syncd.v1.ErrorDetail carrying our
// own code and fields, so an RPC client learns exactly what a REST client
// learns from the JSON error body. Pure: both roles use it.

import { Code } from '@connectrpc/connect';

export const RPC_CODE_OF: Readonly<Record<string, Code>> = {
  reset: Code.FailedPrecondition,
  conflict: Code.Aborted,
  unauthorized: Code.Unauthenticated,
  bad_request: Code.InvalidArgument,
  invalid_name: Code.InvalidArgument,
  hash_mismatch: Code.InvalidArgument,
  not_found: Code.NotFound,
  too_large: Code.ResourceExhausted,
  rate_limited: Code.ResourceExhausted,
  unavailable: Code.Unavailable,
  method_not_allowed: Code.Unimplemented,
};

/** The gRPC status for one of our codes; anything unknown is INTERNAL. */
export function rpcCodeOf(code: string): Code {
  return RPC_CODE_OF[code] ?? Code.Internal;
}

/** The status message: our code first (and the reset reason), then the human text. */
export function rpcMessage(code: string, message: string, reason?: string): string {
  return reason === undefined ? `${code}: ${message}` : `${code} (${reason}): ${message}`;
}
