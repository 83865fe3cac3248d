// The Subscribe stream (syncd.v1.SyncService) as the agent holds it:
// Connect protocol over HTTP/1.1, which passes the same proxies as the
// REST calls. Loaded on demand (remote.ts imports this module only when
// the agent subscribes), so `syncd status` and friends never load the RPC
// stack. Failures become RemoteErrors with the REST codes.

import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { SyncService } from '../../gen/syncd/v1/sync_service_pb.js';
import { ErrorDetailSchema } from '../../gen/syncd/v1/types_pb.js';
import type { ResetReason } from '../../protocol/types.js';
import { RemoteError, RESET_REASONS, type RemoteErrorCode } from './errors.js';

export interface SubscribeOptions {
  /** base URL, path prefix included */
  server: string;
  /** the Authorization value */
  auth: string;
  userAgent: string;
  cursor: string;
  onHead: (head: number, heartbeat: boolean) => void;
  signal: AbortSignal;
}

const CLIENT_CODES = new Set<string>(['unauthorized', 'reset', 'rate_limited', 'unavailable', 'not_found', 'bad_request', 'too_large']);

/** Resolves when the server ends the stream or `signal` aborts. */
export async function subscribe(o: SubscribeOptions): Promise<void> {
  const client = createClient(SyncService, createConnectTransport({ baseUrl: o.server, httpVersion: '1.1' }));
  try {
    const stream = client.subscribe({ cursor: o.cursor }, { headers: { authorization: o.auth, 'user-agent': o.userAgent }, signal: o.signal });
    for await (const m of stream) o.onHead(Number(m.head), m.heartbeat);
  } catch (err) {
    if (o.signal.aborted) return;
    throw translate(err, o.server);
  }
}

export function translate(err: unknown, server: string): RemoteError {
  const e = ConnectError.from(err);
  const [detail] = e.findDetails(ErrorDetailSchema);
  if (detail) {
    const code = (CLIENT_CODES.has(detail.error) ? detail.error : 'server_error') as RemoteErrorCode;
    const reason = RESET_REASONS.includes(detail.reason as ResetReason) ? (detail.reason as ResetReason) : undefined;
    return new RemoteError(code, `${server}: ${detail.message}`, { server, serverCode: detail.error, reason, retryAfterS: detail.retryAfter, cause: err });
  }
  // no detail: not our server's answer. A 404/405 from an older syncd (no such route) maps to Unimplemented
  if (e.code === Code.Unimplemented) {
    return new RemoteError('unsupported', `the syncd server at ${server} has no Subscribe stream (${e.rawMessage}); using longpoll`, { server, cause: err });
  }
  if (e.code === Code.Unauthenticated) return new RemoteError('unauthorized', `${server}: ${e.rawMessage}`, { server, cause: err });
  return new RemoteError('network', `the Subscribe stream to ${server} failed: ${e.rawMessage}`, { server, cause: err });
}
