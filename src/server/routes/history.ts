// Version history (docs/history.md, docs/api.md "History"): the versions of
// a node, the nodes deleted below a folder, the latest activity, a past
// subtree, and restore/rewind, which commit ordinary ops.

import { badRequest, HttpError } from '../../protocol/errors.js';
import { fairGate } from '../gate.js';
import type { ActivityItem, ChangeReply, DeletedItem, HistoryReply, SnapshotReply } from '../../protocol/history.js';
import { LIMITS } from '../../protocol/types.js';
import { parseLimit } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { readJson, sendJson, type Query } from '../http/io.js';
import { sendJsonList } from '../http/stream-json.js';
import { reserveFor } from '../http/body-budget.js';
import type { Router } from '../http/router.js';
import type { ServerResponse } from 'node:http';
import { activity, deletedBelow, nodeHistory, restore, rewind, snapshot, type Moment, type Target } from '../history/service.js';
import type { NamespaceRef } from '../store/types.js';

const OP_ID = /^[A-Za-z0-9_-]{8,100}$/;
const MAX_PATH = 32 * 1024;

function checkPath(path: string): string {
  if (path.length > MAX_PATH) throw badRequest('path is too long');
  if (path.split('/').some((s) => s === '..')) throw badRequest('path must not contain ".."');
  if (/[\u0000]/.test(path)) throw badRequest('path must not contain NUL');
  return path;
}

function targetOf(path: unknown, id: unknown, optional = false): Target {
  if (typeof path === 'string' && id === undefined) return { path: checkPath(path) };
  if (typeof id === 'string' && path === undefined && /^[A-Za-z0-9_-]{1,64}$/.test(id)) return { id };
  if (optional && path === undefined && id === undefined) return { path: '' };
  throw badRequest('give exactly one of "path" (relative to the namespace root) or "id"');
}

function queryTarget(q: Query, optional = false): Target {
  const path = q.get('path');
  const id = q.get('id');
  return targetOf(path ?? undefined, id ?? undefined, optional);
}

function intParam(raw: unknown, name: string, min: number): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  const n = typeof raw === 'string' && /^-?[0-9]{1,16}$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min) throw badRequest(`${name} must be an integer ≥ ${min}`);
  return n;
}

function momentOf(rev: unknown, at: unknown): Moment {
  const r = intParam(rev, 'rev', 1);
  const a = intParam(at, 'at', 0);
  if (r !== undefined && a !== undefined) throw badRequest('give at most one of "rev" and "at"');
  return r !== undefined ? { rev: r } : a !== undefined ? { at: a } : null;
}

async function labels(ctx: ServerContext, ns: NamespaceRef): Promise<(id: string | null) => string | null> {
  const m = new Map((await ctx.store.devices(ns)).map((d) => [d.id, d.label]));
  return (id) => (id === null ? null : (m.get(id) ?? null));
}

interface BodyFields {
  op_id?: unknown;
  path?: unknown;
  id?: unknown;
  rev?: unknown;
  at?: unknown;
  base_rev?: unknown;
  dry_run?: unknown;
}

function parseBody(body: unknown): BodyFields & { opId: string; dryRun: boolean } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('the body must be a JSON object');
  const b = body as BodyFields;
  if (typeof b.op_id !== 'string' || !OP_ID.test(b.op_id)) throw badRequest('op_id must be 8–100 characters of A–Z a–z 0–9 _ -');
  if (b.dry_run !== undefined && typeof b.dry_run !== 'boolean') throw badRequest('dry_run must be a boolean');
  return { ...b, opId: b.op_id, dryRun: b.dry_run === true };
}

/** requests that read a namespace's whole tree, in the server at once (one per namespace); a namespace's waiting ones at most */
const WHOLE_TREE_AT_ONCE = 2;
const WHOLE_TREE_WAITING = 4;
/** replies whose lists grow with the namespace (snapshot, deleted, restore, rewind) worked out or being sent at once, in the server / per namespace */
const BIG_REPLIES = 8;
const BIG_REPLIES_PER_NAMESPACE = 2;
/** versions of one node in a reply unless the request says `limit` (1–10,000) */
const VERSIONS_DEFAULT = 1000;

export function historyRoutes(router: Router, ctx: ServerContext): void {
  // each reads the namespace's whole node table and tree (300,000 nodes: ~500 MB
  // while it runs): a tenant asking many at once waits its turn, then gets 429
  const gated = fairGate({
    total: WHOLE_TREE_AT_ONCE,
    perKey: 1,
    maxWaiting: WHOLE_TREE_WAITING,
    full: () => new HttpError('rate_limited', `this namespace has ${WHOLE_TREE_WAITING} history requests waiting already; retry later`, {}, 2),
  });
  const whole = <T>(ns: NamespaceRef, fn: () => Promise<T>): Promise<T> => gated(String(ns.id), fn);
  // a reply that lists a whole folder (80 MB at 300,000 nodes) is held until the
  // client has read it: how many a tenant can have open is bounded, not queued
  const replies = fairGate({
    total: BIG_REPLIES,
    perKey: BIG_REPLIES_PER_NAMESPACE,
    maxWaiting: 0,
    full: () => new HttpError('rate_limited', `too many snapshot, deleted, restore or rewind replies are in the works (${BIG_REPLIES_PER_NAMESPACE} per namespace); retry later`, {}, 2),
  });
  const big = (ns: NamespaceRef, fn: () => Promise<void>): Promise<void> => replies(String(ns.id), fn);
  const stream = { stallMs: ctx.opts.replyStallMs };
  // a rewind of a big folder lists a step per node: its steps go out a slice at a time
  const sendSteps = (res: ServerResponse, r: ChangeReply): Promise<void> => {
    const { steps, ...head } = r;
    return sendJsonList(res, 200, head, 'steps', steps, stream);
  };
  router.on('GET', '/v1/history', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const limit = parseLimit(query.get('limit'), LIMITS.pageMax, VERSIONS_DEFAULT);
    const h = await whole(device.namespace, () => nodeHistory(ctx, device.namespace, queryTarget(query), limit));
    const label = await labels(ctx, device.namespace);
    const reply: HistoryReply = {
      node: h.node,
      versions: h.versions.map((v) => ({ rev: v.rev, seq: v.seq, op: v.op, time: v.at, device: v.device, device_label: label(v.device), node: v.node })),
      ...(h.more ? { more: true } : {}),
    };
    sendJson(res, 200, reply);
  });

  router.on('GET', '/v1/deleted', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    await big(device.namespace, async () => {
      const items = await whole(device.namespace, () => deletedBelow(ctx, device.namespace, queryTarget(query, true)));
      const label = await labels(ctx, device.namespace);
      const entries: DeletedItem[] = items.map((d) => ({
        id: d.id, path: d.path, kind: d.kind, rev: d.rev, seq: d.seq, time: d.at, device: d.device, device_label: label(d.device), ...(d.size !== undefined ? { size: d.size } : {}),
      }));
      await sendJsonList(res, 200, {}, 'entries', entries, stream);
    });
  });

  router.on('GET', '/v1/activity', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const limit = parseLimit(query.get('limit'), LIMITS.pageMax, 50);
    const items = await whole(device.namespace, () => activity(ctx, device.namespace, queryTarget(query, true), limit));
    const label = await labels(ctx, device.namespace);
    const entries: ActivityItem[] = items.map((a) => ({ seq: a.seq, time: a.at, op: a.op, kind: a.kind, path: a.path, rev: a.rev, device: a.device, device_label: label(a.device) }));
    sendJson(res, 200, { entries });
  });

  router.on('GET', '/v1/snapshot', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const m = momentOf(query.get('rev') ?? undefined, query.get('at') ?? undefined);
    await big(device.namespace, async () => {
      const snap: SnapshotReply = await whole(device.namespace, () => snapshot(ctx, device.namespace, queryTarget(query, true), m !== null && 'at' in m ? m.at : null, m !== null && 'rev' in m ? m.rev : null));
      await sendJsonList(res, 200, { seq: snap.seq }, 'entries', snap.entries, stream);
    });
  });

  router.on('POST', '/v1/restore', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const b = parseBody(await readJson(req, { maxBytes: 64 * 1024, idleMs: ctx.opts.bodyIdleMs, reserve: reserveFor(ctx.bodies, device.namespace.name) }));
    const baseRev = intParam(b.base_rev, 'base_rev', 1);
    await big(device.namespace, async () => {
      const r: ChangeReply = await whole(device.namespace, () => restore(ctx, device, targetOf(b.path, b.id), momentOf(b.rev, b.at), { opId: b.opId, dryRun: b.dryRun, baseRev }));
      await sendSteps(res, r);
    });
  });

  router.on('POST', '/v1/rewind', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const b = parseBody(await readJson(req, { maxBytes: 64 * 1024, idleMs: ctx.opts.bodyIdleMs, reserve: reserveFor(ctx.bodies, device.namespace.name) }));
    const at = intParam(b.at, 'at', 0);
    if (at === undefined) throw badRequest('at (ms since the epoch) is required');
    await big(device.namespace, async () => {
      const r: ChangeReply = await whole(device.namespace, () => rewind(ctx, device, targetOf(b.path, b.id, true), at, { opId: b.opId, dryRun: b.dryRun }));
      await sendSteps(res, r);
    });
  });
}
