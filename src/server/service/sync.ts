// The protocol's operations, once, over the store: REST routes (routes/)
// and the RPC service (rpc/) are adapters that parse their own wire form,
// call these, and write their own reply. Errors are HttpErrors carrying the
// protocol's code; each adapter maps them to its transport.

import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { badRequest, HttpError, resetError } from '../../protocol/errors.js';
import { PROTOCOL_VERSION, type ListReply, type LongpollReply, type Op, type OpResult, type StatusReply } from '../../protocol/types.js';
import { VERSION } from '../../version.js';
import type { ServerContext } from '../context.js';
import type { StreamOwner } from '../events.js';
import { checkCursor, decodeCursor } from '../http/auth.js';
import type { DeviceIdentity, RawEntry } from '../store/types.js';

export interface ChangesPage {
  /** each entry's stored JSON text, so REST replies without re-encoding */
  entries: RawEntry[];
  cursor: string;
  has_more: boolean;
  head: number;
}

export async function listPage(ctx: ServerContext, device: DeviceIdentity, limit: number, rawToken: string | null): Promise<ListReply> {
  let pinned: number | null = null;
  let afterId = '';
  let tokenEpoch: string | null = null;
  if (rawToken !== null) {
    const t = ctx.codec.decodePageToken(rawToken);
    if (!t) throw badRequest('page_token is malformed or was not issued by this server');
    if (t.namespace !== device.namespace.name) throw badRequest('page_token belongs to another namespace');
    pinned = t.seq;
    afterId = t.afterId;
    tokenEpoch = t.epoch;
  }
  const { state, nodes } = await ctx.store.listNodes(device.namespace, afterId, limit + 1);
  if (tokenEpoch !== null && tokenEpoch !== state.epoch) {
    ctx.metrics.resets.inc({ reason: 'epoch' });
    throw resetError('epoch', 'the namespace was restored or re-created during the listing; start again');
  }
  const seq = pinned ?? state.head;
  if (seq < state.floor - 1) {
    ctx.metrics.resets.inc({ reason: 'expired' });
    throw resetError('expired', 'the listing took longer than the journal is retained; start again');
  }
  const hasMore = nodes.length > limit;
  if (hasMore) nodes.length = limit;
  const ns = device.namespace.name;
  const reply: ListReply = {
    entries: nodes,
    cursor: ctx.codec.encodeCursor({ namespace: ns, epoch: state.epoch, seq }),
    seq,
    has_more: hasMore,
  };
  if (hasMore) {
    reply.page_token = ctx.codec.encodePageToken({ namespace: ns, epoch: state.epoch, seq, afterId: nodes[nodes.length - 1]!.id });
  }
  return reply;
}

export async function changesPage(ctx: ServerContext, device: DeviceIdentity, raw: string, limit: number): Promise<ChangesPage> {
  const c = decodeCursor(ctx, device, raw);
  // state and entries come from one read transaction, so has_more and head agree with the entries
  const { state, entries } = await ctx.store.readChanges(device.namespace, c.seq, limit);
  checkCursor(ctx, c, state);
  ctx.activity.record(device.deviceId, ctx.now(), c.seq);
  const last = entries.length > 0 ? entries[entries.length - 1]!.seq : c.seq;
  const cursor = last === c.seq ? raw : ctx.codec.encodeCursor({ namespace: device.namespace.name, epoch: state.epoch, seq: last });
  return { entries, cursor, has_more: last < state.head, head: state.head };
}

/** the longest a commit runs ops before other requests get a turn, ms */
const YIELD_AFTER_MS = 2;

export async function commitOps(ctx: ServerContext, device: DeviceIdentity, ops: Op[]): Promise<OpResult[]> {
  const results: OpResult[] = [];
  const commitCtx = () => ({
    deviceId: device.deviceId,
    now: ctx.now(),
    newNodeId: ctx.opts.newNodeId,
    limits: { maxDepth: ctx.opts.maxDepth, maxPathBytes: ctx.opts.maxPathBytes },
  });
  const store = ctx.store;
  let ranSince = performance.now();
  for (let i = 0; i < ops.length; ) {
    // a slice of ops in one transaction where the store can (one fsync for the slice), else one op
    const outcomes = store.commitSlice
      ? await store.commitSlice(device.namespace, ops.slice(i), commitCtx(), YIELD_AFTER_MS)
      : [await store.commitOp(device.namespace, ops[i]!, commitCtx())];
    outcomes.forEach(({ result, replayed }, k) => {
      results.push(result);
      ctx.metrics.commitOps.inc({ op: ops[i + k]!.op, status: replayed ? 'replayed' : result.status });
      if (result.status === 'conflict') ctx.metrics.conflicts.inc();
      if (result.status === 'ok' && !replayed) ctx.bus.publish(device.namespace.name, result.seq);
    });
    i += outcomes.length;
    // each slice is a synchronous SQLite transaction: after one, let other
    // tenants' requests in (fairness costs a turn per slice, not per op)
    if (performance.now() - ranSince >= YIELD_AFTER_MS) {
      await setImmediate();
      ranSince = performance.now();
    }
  }
  return results;
}

/** Refuses a new event stream (SSE or Subscribe) past the per-device, per-namespace or total cap: 429 rate_limited. */
export function admitStream(ctx: ServerContext, owner: StreamOwner): void {
  const refused = ctx.events.admit(owner);
  if (refused === null) return;
  ctx.metrics.streamsRefused.inc({ reason: refused });
  const whose = refused === 'device' ? 'this device' : refused === 'namespace' ? 'this namespace' : 'the server';
  throw new HttpError('rate_limited', `${whose} has too many open event streams; use longpoll or retry later`, { limit: refused }, 30);
}

export async function namespaceStatus(ctx: ServerContext, device: DeviceIdentity): Promise<StatusReply> {
  await ctx.activity.flush();
  const [state, devices, retention] = await Promise.all([
    ctx.store.namespaceState(device.namespace),
    ctx.store.devices(device.namespace),
    ctx.store.retention(),
  ]);
  return {
    namespace: state.name,
    epoch: state.epoch,
    head: state.head,
    floor: state.floor,
    retention: { max_age_s: retention.maxAgeS, max_entries: retention.maxEntries },
    devices: devices
      .filter((d) => !d.revoked)
      .map((d) => ({
        id: d.id,
        label: d.label,
        cursor_seq: d.cursorSeq,
        lag: d.cursorSeq === null ? null : Math.max(0, state.head - d.cursorSeq),
        last_seen: d.lastSeen,
      })),
    device: device.deviceId,
    server_version: VERSION,
    protocol: PROTOCOL_VERSION,
  };
}

/** Checks the cursor and records it as the device's position; returns where a notification starts. */
export async function followFrom(ctx: ServerContext, device: DeviceIdentity, raw: string): Promise<{ after: number; head: number }> {
  const c = decodeCursor(ctx, device, raw);
  const state = await ctx.store.namespaceState(device.namespace);
  checkCursor(ctx, c, state);
  ctx.activity.record(device.deviceId, ctx.now(), c.seq);
  return { after: c.seq, head: state.head };
}

/** The longpoll: resolves once the head passes the cursor or `timeout` seconds pass; null when `gone` aborted. */
export async function waitForChange(
  ctx: ServerContext,
  device: DeviceIdentity,
  raw: string,
  timeout: number,
  gone: AbortSignal,
): Promise<LongpollReply | null> {
  const { after, head } = await followFrom(ctx, device, raw);
  const readHead = async (): Promise<number> => (await ctx.store.namespaceState(device.namespace)).head;
  const { reply, outcome } =
    head > after
      ? { reply: { changes: true }, outcome: 'changes' as const }
      : await ctx.hub.wait(device.namespace.name, after, readHead, timeout, gone, device.deviceId);
  ctx.metrics.longpollReplies.inc({ outcome });
  if (gone.aborted) return null;
  if (outcome === 'revoked') throw new HttpError('unauthorized', 'this device was revoked');
  return reply;
}
