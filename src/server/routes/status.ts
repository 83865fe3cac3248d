// GET /v1/status, GET /healthz, GET /metrics.

import { HttpError } from '../../protocol/errors.js';
import { PROTOCOL_VERSION, type StatusReply } from '../../protocol/types.js';
import { VERSION } from '../../version.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';

export function statusRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/status', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    await ctx.activity.flush();
    const [state, devices, retention] = await Promise.all([
      ctx.store.namespaceState(device.namespace),
      ctx.store.devices(device.namespace),
      ctx.store.retention(),
    ]);
    const reply: StatusReply = {
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
    sendJson(res, 200, reply);
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
