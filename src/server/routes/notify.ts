// GET /v1/longpoll and GET /v1/events: the lossy notification channel.

import { parseLongpollTimeout } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate, checkCursor, decodeCursor } from '../http/auth.js';
import { sendJson } from '../http/io.js';
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
        : await ctx.hub.wait(device.namespace.name, c.seq, readHead, timeout, gone.signal);
    res.off('close', onClose);
    ctx.metrics.longpollReplies.inc({ outcome });
    if (!gone.signal.aborted) sendJson(res, 200, reply);
  });

  router.on('GET', '/v1/events', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const c = decodeCursor(ctx, device, query.require('cursor'));
    const state = await ctx.store.namespaceState(device.namespace);
    checkCursor(ctx, c, state);
    ctx.activity.record(device.deviceId, ctx.now(), c.seq);
    ctx.events.start(res, device.namespace.name, c.seq, state.head);
  });
}
