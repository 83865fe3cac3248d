// POST /v1/commit (REST adapter): ops run in order, each its own transaction and journal entry.

import { LIMITS } from '../../protocol/types.js';
import { parseCommitRequest } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { readJson, sendJson } from '../http/io.js';
import { reserveFor } from '../http/body-budget.js';
import type { Router } from '../http/router.js';
import { commitOps } from '../service/sync.js';

export function commitRoutes(router: Router, ctx: ServerContext): void {
  router.on('POST', '/v1/commit', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const body = await readJson(req, { maxBytes: LIMITS.commitMaxBytes, idleMs: ctx.opts.bodyIdleMs, deadlineMs: ctx.opts.bodyDeadlineMs, reserve: reserveFor(ctx.bodies, device.namespace.name) });
    sendJson(res, 200, { results: await commitOps(ctx, device, parseCommitRequest(body)) });
  });
}
