// The REST replies stay byte-for-byte what they were before the gRPC
// service came in (the handlers became adapters over one implementation):
// a fixed scenario's status lines and bodies are compared with
// fixtures/golden/rest-v1.txt, with only the values that differ per run
// (signed cursors, epoch, clock, version) replaced by stable placeholders.
// SYNCD_UPDATE_GOLDEN=1 rewrites the file (review the diff!).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

const GOLDEN = join(import.meta.dirname, '../../../fixtures/golden/rest-v1.txt');

let srv: TestServer;
let api: Api;
beforeAll(async () => {
  let n = 0;
  srv = await startTestServer({ newNodeId: () => `n_golden${String(++n).padStart(3, '0')}` });
  api = new Api(srv.url, await srv.addDevice('golden', 'laptop'));
});
afterAll(() => srv.close());

/** Replaces per-run values, numbering each distinct opaque token so identity stays visible. */
function normaliser(): (text: string) => string {
  const tokens = new Map<string, string>();
  const label = (kind: string, v: string): string => {
    if (!tokens.has(v)) tokens.set(v, `<${kind}#${tokens.size + 1}>`);
    return tokens.get(v)!;
  };
  return (text) =>
    text
      .replace(/"(cursor|page_token)":"([^"]+)"/g, (_, k: string, v: string) => `"${k}":"${label(k, v)}"`)
      .replace(/"(d_[A-Za-z0-9_-]+)"/g, (_, v: string) => `"${label('device', v)}"`)
      .replace(/"epoch":"[^"]+"/g, '"epoch":"<epoch>"')
      .replace(/"last_seen":\d+/g, '"last_seen":"<ms>"')
      .replace(/"server_version":"[^"]+"/g, '"server_version":"<version>"');
}

describe('REST replies are unchanged (golden)', () => {
  it('a fixed scenario replies exactly as recorded', async () => {
    const norm = normaliser();
    const lines: string[] = [];
    const rec = async (title: string, method: string, path: string, body?: string, auth = true): Promise<any> => {
      const headers: Record<string, string> = auth ? {} : { authorization: '' };
      const r = await api.request(method, path, { body, headers });
      const cursorMatch = /"cursor":"([^"]+)"/.exec(r.text);
      lines.push(`## ${title}\n${method} ${path.replace(/cursor=[^&]+/, 'cursor=…').replace(/page_token=[^&]+/, 'page_token=…')}\n` +
        `${r.status} ${r.headers.get('content-type')}\n${norm(r.text)}\n`);
      return { ...r, cursor: cursorMatch?.[1] };
    };
    const hello = 'hello, syncd\n';
    const hash = sha256(hello);
    await rec('status of a new namespace', 'GET', '/v1/status');
    const list0 = await rec('list of an empty namespace', 'GET', '/v1/list');
    await rec('upload', 'PUT', `/v1/blobs/${hash}`, hello);
    const op = (i: number): string => `op-golden-${String(i).padStart(4, '0')}`;
    const commit = JSON.stringify({
      ops: [
        { op_id: op(1), op: 'create', parent: 'root', name: 'hello.txt', kind: 'file', hash, size: 13, mtime: 1763700000000 },
        { op_id: op(2), op: 'create', parent: 'root', name: 'Docs', kind: 'dir' },
        { op_id: op(3), op: 'create', parent: 'root', name: 'link', kind: 'symlink', target: 'Docs/x' },
        { op_id: op(4), op: 'create', parent: 'root', name: 'docs', kind: 'dir' },
        { op_id: op(5), op: 'move', id: 'n_golden001', base_rev: 7, parent: 'n_golden002', name: 'hello.txt' },
        { op_id: op(6), op: 'move', id: 'n_golden001', base_rev: 1, parent: 'n_golden002', name: 'Hello.txt' },
        { op_id: op(7), op: 'update', id: 'n_golden001', base_rev: 2, hash, size: 13, mtime: 5, exec: true },
        { op_id: op(8), op: 'create', parent: 'root', name: 'missing', kind: 'file', hash: sha256('nope'), size: 4 },
      ],
    });
    await rec('commit: ok, twin name, conflict, move, update, blob_missing', 'POST', '/v1/commit', commit);
    await rec('commit replayed', 'POST', '/v1/commit', JSON.stringify({ ops: [JSON.parse(commit).ops[0]] }));
    await rec('commit malformed', 'POST', '/v1/commit', '{"ops":[{"op":"create"}]}');
    await rec('list page 1', 'GET', '/v1/list?limit=2');
    const p1 = await api.get('/v1/list?limit=2');
    await rec('list page 2', 'GET', `/v1/list?limit=2&page_token=${encodeURIComponent(p1.body.page_token)}`);
    await rec('changes page', 'GET', `/v1/changes?cursor=${encodeURIComponent(list0.cursor)}&limit=2`);
    await rec('changes rest', 'GET', `/v1/changes?cursor=${encodeURIComponent(list0.cursor)}`);
    await rec('changes forged', 'GET', '/v1/changes?cursor=forged');
    await rec('changes bad limit', 'GET', `/v1/changes?cursor=${encodeURIComponent(list0.cursor)}&limit=0`);
    await rec('longpoll behind the head', 'GET', `/v1/longpoll?cursor=${encodeURIComponent(list0.cursor)}&timeout=5`);
    await rec('longpoll bad timeout', 'GET', `/v1/longpoll?cursor=${encodeURIComponent(list0.cursor)}&timeout=999`);
    await rec('no token', 'GET', '/v1/list', undefined, false);
    await rec('unknown endpoint', 'GET', '/v1/nope');
    await rec('status after', 'GET', '/v1/status');
    const text = lines.join('\n');
    if (process.env.SYNCD_UPDATE_GOLDEN === '1') writeFileSync(GOLDEN, text);
    expect(existsSync(GOLDEN), 'fixtures/golden/rest-v1.txt is missing').toBe(true);
    expect(text).toBe(readFileSync(GOLDEN, 'utf8'));
  });
});
