// Many HTTP clients committing at once: the journal stays gap-free, every
// op lands exactly once, op_id retries (even racing ones) return the first result.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';
import type { OpResult } from '../../../src/protocol/types.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startTestServer();
});
afterAll(() => srv.close());

describe('parallel committers', () => {
  it('20 clients × 30 commits (with racing retries): gap-free journal, every op exactly once', async () => {
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => srv.addDevice('busy', `dev${i}`)));
    const apis = tokens.map((t) => new Api(srv.url, t));
    // listed while the namespace is empty: the cursor at seq 0
    const c0 = await apis[0]!.startCursor();
    const firstResults = new Map<string, OpResult>();
    const retryResults: Array<[string, OpResult]> = [];
    await Promise.all(
      apis.map(async (api, c) => {
        for (let i = 0; i < 30; i++) {
          const ops = [
            { op_id: randomUUID(), op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `c${c}-i${i}` },
            { op_id: randomUUID(), op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `c${c}-i${i}-b` },
          ];
          const send = () => api.request('POST', '/v1/commit', { body: JSON.stringify({ ops }) });
          // every third commit is sent twice at once, like a client retrying a reply it lost
          const replies = i % 3 === 0 ? await Promise.all([send(), send()]) : [await send()];
          for (const [k, r] of replies.entries()) {
            expect(r.status).toBe(200);
            r.body.results.forEach((res: OpResult, j: number) => {
              expect(res.status).toBe('ok');
              if (k === 0) firstResults.set(ops[j]!.op_id, res);
              else retryResults.push([ops[j]!.op_id, res]);
            });
          }
        }
      }),
    );
    for (const [opId, res] of retryResults) expect(res).toEqual(firstResults.get(opId));

    const api = apis[0]!;
    const cur = (await api.get('/v1/list?limit=1')).body;
    expect(cur.seq).toBe(20 * 30 * 2);
    const { entries } = await api.changesAll(c0, 500);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 1200 }, (_, i) => i + 1));
    const ids = entries.map((e) => e.node.id);
    expect(new Set(ids).size).toBe(1200);
    const acked = new Set([...firstResults.values()].map((r) => (r as { node: { id: string } }).node.id));
    expect(new Set(ids)).toEqual(acked);
    expect((await api.listAll()).nodes).toHaveLength(1200);
  });

  it('racing updates of one node at the same base_rev: exactly one wins, the rest conflict', async () => {
    const tokens = await Promise.all(Array.from({ length: 12 }, (_, i) => srv.addDevice('race', `r${i}`)));
    const apis = tokens.map((t) => new Api(srv.url, t));
    const d = await apis[0]!.mkdir('contended');
    const results = await Promise.all(apis.map((a, i) => a.commit([{ op: 'update', id: d.id, base_rev: 1, mtime: i + 100 }])));
    const flat = results.flat();
    expect(flat.filter((r) => r.status === 'ok')).toHaveLength(1);
    expect(flat.filter((r) => r.status === 'conflict')).toHaveLength(11);
    const winner = flat.find((r) => r.status === 'ok') as { node: { rev: number } };
    expect(winner.node.rev).toBe(2);
    for (const r of flat) if (r.status === 'conflict') expect(r.current).toEqual((winner as { node: unknown }).node);
  });

  it('racing creates of case twins: one name wins', async () => {
    const tokens = await Promise.all(Array.from({ length: 8 }, (_, i) => srv.addDevice('twins', `t${i}`)));
    const names = ['Readme', 'README', 'readme', 'ReadMe', 'rEADME', 'readME', 'READme', 'readmE'];
    const results = await Promise.all(tokens.map((t, i) => new Api(srv.url, t).commit([{ op: 'create', kind: 'dir', parent: 'root', name: names[i] }])));
    const flat = results.flat();
    expect(flat.filter((r) => r.status === 'ok')).toHaveLength(1);
    expect(flat.filter((r) => r.status === 'error' && r.error === 'name_taken')).toHaveLength(7);
  });
});

