// POST /v1/commit: ops run in order, each its own transaction and journal entry.

import { performance } from 'node:perf_hooks';
import { setImmediate } from 'node:timers/promises';
import { LIMITS, type OpResult } from '../../protocol/types.js';
import { parseCommitRequest } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { readJson, sendJson } from '../http/io.js';
import type { Router } from '../http/router.js';

/** the longest a commit runs ops before other requests get a turn, ms */
const YIELD_AFTER_MS = 2;

export function commitRoutes(router: Router, ctx: ServerContext): void {
  router.on('POST', '/v1/commit', async ({ req, res }) => {
    const device = await authenticate(ctx, req);
    const body = await readJson(req, { maxBytes: LIMITS.commitMaxBytes, idleMs: ctx.opts.bodyIdleMs, deadlineMs: ctx.opts.bodyDeadlineMs });
    const ops = parseCommitRequest(body);
    const results: OpResult[] = [];
    let ranSince = performance.now();
    for (const op of ops) {
      const { result, replayed } = await ctx.store.commitOp(device.namespace, op, {
        deviceId: device.deviceId,
        now: ctx.now(),
        newNodeId: ctx.opts.newNodeId,
        limits: { maxDepth: ctx.opts.maxDepth, maxPathBytes: ctx.opts.maxPathBytes },
      });
      results.push(result);
      ctx.metrics.commitOps.inc({ op: op.op, status: replayed ? 'replayed' : result.status });
      if (result.status === 'conflict') ctx.metrics.conflicts.inc();
      if (result.status === 'ok' && !replayed) ctx.bus.publish(device.namespace.name, result.seq);
      // each op is a synchronous SQLite transaction: after a slice of them, let
      // other tenants' requests in (fairness costs a turn per slice, not per op)
      if (performance.now() - ranSince >= YIELD_AFTER_MS) {
        await setImmediate();
        ranSince = performance.now();
      }
    }
    sendJson(res, 200, { results });
  });
}
