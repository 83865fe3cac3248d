// GET /v1/list and GET /v1/changes: the authoritative pull.

import { badRequest, resetError } from '../../protocol/errors.js';
import { parseLimit } from '../../protocol/validate.js';
import type { ListReply } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import { authenticate, checkCursor, decodeCursor } from '../http/auth.js';
import { sendJson, sendRawJson } from '../http/io.js';
import type { Router } from '../http/router.js';

export function treeRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/list', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const limit = parseLimit(query.get('limit'));
    const rawToken = query.get('page_token');
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
    sendJson(res, 200, reply);
  });

  router.on('GET', '/v1/changes', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const raw = query.require('cursor');
    const limit = parseLimit(query.get('limit'));
    const c = decodeCursor(ctx, device, raw);
    // state and entries come from one read transaction, so has_more and head agree with the entries
    const { state, entries } = await ctx.store.readChanges(device.namespace, c.seq, limit);
    checkCursor(ctx, c, state);
    ctx.activity.record(device.deviceId, ctx.now(), c.seq);
    const last = entries.length > 0 ? entries[entries.length - 1]!.seq : c.seq;
    const cursor = last === c.seq ? raw : ctx.codec.encodeCursor({ namespace: device.namespace.name, epoch: state.epoch, seq: last });
    const json =
      `{"entries":[${entries.map((e) => e.json).join(',')}],` +
      `"cursor":${JSON.stringify(cursor)},"has_more":${last < state.head},"head":${state.head}}`;
    sendRawJson(res, 200, json);
  });
}
