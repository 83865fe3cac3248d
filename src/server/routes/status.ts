// GET /v1/status (REST adapter), GET /healthz, GET /metrics.

import { HttpError } from '../../protocol/errors.js';
import type { StatusReply } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';
import { namespaceStatus } from '../service/sync.js';

export function statusRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/status', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    sendJson(res, 200, (await namespaceStatus(ctx, device)) satisfies StatusReply);
  });

  router.on('GET', '/healthz', async ({ res }) => {
    try {
      await ctx.store.healthCheck(ctx.now());
      await ctx.blobs.probe();
    } catch (err) {
      throw new HttpError('unavailable', `store check failed: ${(err as Error).message}`, {}, 5);
    }
    sendJson(res, 200, { status: 'ok' });
  });

  router.on('GET', '/metrics', async ({ res }) => {
    const text = await ctx.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(text);
  });
}
