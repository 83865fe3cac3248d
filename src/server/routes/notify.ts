// GET /v1/longpoll and GET /v1/events: the lossy notification channel (REST adapter).

import { parseLongpollTimeout } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';
import { admitStream, followFrom, waitForChange } from '../service/sync.js';

export function notifyRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/longpoll', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const raw = query.require('cursor');
    const timeout = parseLongpollTimeout(query.get('timeout'));
    const gone = new AbortController();
    const onClose = (): void => gone.abort();
    res.on('close', onClose);
    try {
      const reply = await waitForChange(ctx, device, raw, timeout, gone.signal);
      if (reply) sendJson(res, 200, reply);
    } finally {
      res.off('close', onClose);
    }
  });

  router.on('GET', '/v1/events', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const { after, head } = await followFrom(ctx, device, query.require('cursor'));
    const owner = { ns: device.namespace.name, deviceId: device.deviceId };
    admitStream(ctx, owner);
    ctx.events.start(res, owner, after, head);
  });
}
