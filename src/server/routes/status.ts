// GET /v1/status (REST adapter), GET /healthz, GET /metrics.

import { HttpError } from '../../protocol/errors.js';
import type { StatusReply } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';
import { namespaceStatus } from '../service/sync.js';

export function statusRoutes(router: Router, ctx: ServerContext, with_: { metrics: boolean }): void {
  router.on('GET', '/v1/status', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    sendJson(res, 200, (await namespaceStatus(ctx, device)) satisfies StatusReply);
  });

  // The probe writes (two fsyncs) and /healthz needs no token: its result is
  // reused for healthCacheMs and concurrent calls share one probe, so
  // anonymous callers cannot turn it into a stream of synchronous writes.
  let probe: { at: number; result: Promise<string | null> } | null = null;
  const check = async (): Promise<string | null> => {
    try {
      await ctx.store.healthCheck(ctx.now());
      await ctx.blobs.probe();
      return null;
    } catch (err) {
      return (err as Error).message;
    }
  };
  router.on('GET', '/healthz', async ({ res }) => {
    const now = ctx.now();
    if (probe === null || now - probe.at >= ctx.opts.healthCacheMs) probe = { at: now, result: check() };
    const failure = await probe.result;
    if (failure !== null) {
      probe = null; // a failure is not cached: the next call probes again
      throw new HttpError('unavailable', `store check failed: ${failure}`, {}, 5);
    }
    sendJson(res, 200, { status: 'ok' });
  });

  if (with_.metrics) metricsRoute(router, ctx);
}

/** GET /metrics (Prometheus text; on the API port, or alone on the metrics listener). */
export function metricsRoute(router: Router, ctx: ServerContext): void {
  router.on('GET', '/metrics', async ({ res }) => {
    const text = await ctx.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType, 'cache-control': 'no-store' });
    res.end(text);
  });
}
