// GET /v1/list and GET /v1/changes: the authoritative pull (REST adapter).

import { parseLimit } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import { authenticate } from '../http/auth.js';
import { sendJson, sendRawJson } from '../http/io.js';
import type { Router } from '../http/router.js';
import { changesPage, listPage } from '../service/sync.js';

export function treeRoutes(router: Router, ctx: ServerContext): void {
  router.on('GET', '/v1/list', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const limit = parseLimit(query.get('limit'));
    sendJson(res, 200, await listPage(ctx, device, limit, query.get('page_token')));
  });

  router.on('GET', '/v1/changes', async ({ req, res, query }) => {
    const device = await authenticate(ctx, req);
    const raw = query.require('cursor');
    const limit = parseLimit(query.get('limit'));
    const page = await changesPage(ctx, device, raw, limit);
    // the stored entry texts go out as they are: no parse and re-encode per entry
    const json =
      `{"entries":[${page.entries.map((e) => e.json).join(',')}],` +
      `"cursor":${JSON.stringify(page.cursor)},"has_more":${page.has_more},"head":${page.head}}`;
    sendRawJson(res, 200, json);
  });
}
