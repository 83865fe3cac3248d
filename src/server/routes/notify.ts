// GET /v1/longpoll and GET /v1/events: the lossy notification channel.

import { parseLongpollTimeout } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate, checkCursor, decodeCursor } from '../http/auth.js';
import { HttpError } from '../../protocol/errors.js';
import { sendError, sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';

export function notifyRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/longpoll', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const c = decodeCursor(ctx, device, query.require('cursor'));
    const timeout = parseLongpollTimeout(query.get('timeout'));
    const state = await ctx.store.namespaceState(device.namespace);
    checkCursor(ctx, c, state);
    ctx.activity.record(device.deviceId, ctx.now(), c.seq);
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.on('close', onClose);
    const readHead = async (): Promise<number> => (await ctx.store.namespaceState(device.namespace)).head;
    const { reply, outcome } =
      state.head > c.seq
        ? { reply: { changes: true }, outcome: 'changes' as const }
        : await ctx.hub.wait(device.namespace.name, c.seq, readHead, timeout, gone.signal, device.deviceId);
    res.off('close', onClose);
    ctx.metrics.longpollReplies.inc({ outcome });
    if (gone.signal.aborted) return;
    if (outcome === 'revoked') sendError(res, new HttpError('unauthorized', 'this device was revoked'));
    else sendJson(res, 200, reply);
  });

  router.on('GET', '/v1/events', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const c = decodeCursor(ctx, device, query.require('cursor'));
    const state = await ctx.store.namespaceState(device.namespace);
    checkCursor(ctx, c, state);
    const owner = { ns: device.namespace.name, deviceId: device.deviceId };
    const refused = ctx.events.admit(owner);
    if (refused !== null) {
      ctx.metrics.streamsRefused.inc({ reason: refused });
      const whose = refused === 'device' ? 'this device' : refused === 'namespace' ? 'this namespace' : 'the server';
      throw new HttpError('rate_limited', `${whose} has too many open event streams; use longpoll or retry later`, { limit: refused }, 30);
    }
    ctx.activity.record(device.deviceId, ctx.now(), c.seq);
    ctx.events.start(res, owner, c.seq, state.head);
  });
}
