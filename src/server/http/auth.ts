// Bearer-token authentication and cursor checks shared by the /v1 routes.

import type { IncomingMessage } from 'node:http';
import { HttpError, resetError } from '../../protocol/errors.js';
import type { ResetReason } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import { hashToken } from '../ids.js';
import type { DeviceIdentity, NamespaceState } from '../store/types.js';

const BEARER = /^Bearer ([A-Za-z0-9._~+/=-]{16,512})$/;

export function authenticate(ctx: ServerContext, req: IncomingMessage): Promise<DeviceIdentity> {
  return authenticateHeader(ctx, req.headers.authorization);
}

/**
 * The namespace an `authorization` value's token belongs to, or null (none,
 * malformed, unknown, revoked). A look only: no activity recorded, no rate
 * token taken (the request's handler authenticates it as usual).
 */
export async function namespaceOfHeader(ctx: ServerContext, h: string | undefined): Promise<string | null> {
  const m = h === undefined ? null : BEARER.exec(h);
  if (!m) return null;
  return (await ctx.store.authenticate(hashToken(m[1]!)))?.namespace.name ?? null;
}

/** The same check for any transport that carries an `authorization` value (REST header, gRPC metadata). */
export async function authenticateHeader(ctx: ServerContext, h: string | undefined): Promise<DeviceIdentity> {
  if (h === undefined) throw new HttpError('unauthorized', 'missing "Authorization: Bearer <token>" header');
  const m = BEARER.exec(h);
  if (!m) throw new HttpError('unauthorized', 'malformed Authorization header; expected "Bearer <token>"');
  const device = await ctx.store.authenticate(hashToken(m[1]!));
  if (!device) throw new HttpError('unauthorized', 'unknown or revoked token');
  const now = ctx.now();
  ctx.activity.record(device.deviceId, now);
  const wait = ctx.limits.device.check(device.deviceId, now) ?? ctx.limits.namespace.check(device.namespace.name, now);
  if (wait !== null) {
    ctx.metrics.rateLimited.inc();
    throw new HttpError('rate_limited', `too many requests; retry in ${wait} s`, {}, wait);
  }
  return device;
}

function reset(ctx: ServerContext, reason: ResetReason, message: string): HttpError {
  ctx.metrics.resets.inc({ reason });
  return resetError(reason, message);
}

/** The cursor's seq before the namespace state is known: only the signature and namespace are checked. */
export function decodeCursor(ctx: ServerContext, device: DeviceIdentity, raw: string): { seq: number; epoch: string } {
  const c = ctx.codec.decodeCursor(raw);
  if (!c) throw reset(ctx, 'invalid', 'cursor is malformed or was not issued by this server');
  if (c.namespace !== device.namespace.name) throw reset(ctx, 'invalid', 'cursor belongs to another namespace');
  return c;
}

/** Throws 409 reset unless the cursor can be served exactly against `state`. */
export function checkCursor(ctx: ServerContext, c: { seq: number; epoch: string }, state: NamespaceState): void {
  if (c.epoch !== state.epoch) throw reset(ctx, 'epoch', 'the namespace was restored or re-created since this cursor was issued');
  if (c.seq > state.head) throw reset(ctx, 'future', `cursor points at seq ${c.seq}, past the head ${state.head}`);
  if (c.seq < state.floor - 1) {
    throw reset(ctx, 'expired', `cursor seq ${c.seq} is older than the retained journal (floor ${state.floor})`);
  }
}
