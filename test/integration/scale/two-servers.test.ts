// Two `syncd serve --db` processes on one PostgreSQL database and one blob
// folder, wakes through LISTEN/NOTIFY (no NATS): parallel commits through
// both make one gap-free journal with every op once; a longpoll or SSE stream
// held on one process wakes on a commit through the other; blobs uploaded
// through one are served by the other.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OpResult } from '../../../src/protocol/types.js';
import { waitFor } from '../../helpers/agent.js';
import { describePg, pgQuery } from '../../helpers/pg.js';
import { Api, ensureBuilt } from '../../helpers/server.js';
import { journal, measureWake, percentile, startCluster, type Cluster } from './cluster.js';

describePg('two server processes on one PostgreSQL (LISTEN/NOTIFY wakes)', () => {
  let c: Cluster;
  let A: string;
  let B: string;
  beforeAll(async () => {
    ensureBuilt();
    c = await startCluster(2);
    [A, B] = c.procs.map((p) => p.url) as [string, string];
  });
  afterAll(async () => {
    await c?.close();
  });

  it('parallel commits through both (with op_id retries racing across them): one gap-free journal, every op once', async () => {
    const tokens = Array.from({ length: 6 }, (_, i) => c.device('busy', `dev${i}`));
    const c0 = await new Api(A, tokens[0]!).startCursor();
    const first = new Map<string, OpResult>();
    const again: Array<[string, OpResult]> = [];
    await Promise.all(
      tokens.map(async (tok, d) => {
        const viaA = new Api(A, tok);
        const viaB = new Api(B, tok);
        for (let i = 0; i < 20; i++) {
          const ops = [0, 1].map((k) => ({ op_id: randomUUID(), op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `d${d}-${i}-${k}` }));
          const body = JSON.stringify({ ops });
          const send = (api: Api) => api.request('POST', '/v1/commit', { body });
          const own = i % 2 ? viaA : viaB;
          // every fourth commit also goes to the other process at the same moment, like a retry after a lost reply
          const replies = i % 4 === 0 ? await Promise.all([send(own), send(own === viaA ? viaB : viaA)]) : [await send(own)];
          for (const [k, r] of replies.entries()) {
            expect(r.status, r.text).toBe(200);
            r.body.results.forEach((res: OpResult, j: number) => {
              expect(res.status).toBe('ok');
              if (k === 0) first.set(ops[j]!.op_id, res);
              else again.push([ops[j]!.op_id, res]);
            });
          }
        }
      }),
    );
    for (const [id, res] of again) expect(res).toEqual(first.get(id));
    const entries = await journal(new Api(B, tokens[1]!), c0);
    expect(entries).toHaveLength(6 * 20 * 2);
    const names = entries.map((e) => e.node.name);
    expect(new Set(names).size).toBe(names.length);
    for (const res of first.values()) {
      const ok = res as Extract<OpResult, { status: 'ok' }>;
      expect(entries[ok.seq - 1]!.node).toEqual(ok.node);
    }
  });

  it('a longpoll held on B wakes on a commit through A (and the other way round)', async () => {
    const tok = c.device('wake');
    const [onA, onB] = [new Api(A, tok), new Api(B, tok)];
    const samples: number[] = [];
    for (let i = 0; i < 10; i++) {
      const [waiter, committer] = i % 2 ? [onA, onB] : [onB, onA];
      const w = await measureWake(waiter, committer, `w${i}`);
      expect(w.changes).toBe(true);
      samples.push(w.ms);
    }
    samples.sort((x, y) => x - y);
    // the issue asks for 100 ms; the bounds are generous for loaded CI machines (the figure is printed),
    // but a median under 500 ms still tells a real wake from the 1 s degraded-mode poll
    expect(percentile(samples, 100)).toBeLessThan(2000);
    expect(percentile(samples, 50)).toBeLessThan(500);
    console.log(`cross-process wake via LISTEN/NOTIFY (commit sent → longpoll answered): p50 ${percentile(samples, 50).toFixed(1)} ms, max ${percentile(samples, 100).toFixed(1)} ms`);
  });

  it('an SSE stream on B gets `advanced` for a commit through A', async () => {
    const tok = c.device('sse');
    const onB = new Api(B, tok);
    const cursor = await onB.startCursor();
    const ac = new AbortController();
    const res = await fetch(`${B}/v1/events?cursor=${encodeURIComponent(cursor)}`, { headers: { authorization: `Bearer ${tok}` }, signal: ac.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    let text = '';
    const advanced = (async () => {
      while (!text.includes('event: advanced')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString();
      }
    })();
    await new Promise((r) => setTimeout(r, 100));
    await new Api(A, tok).mkdir('via-a');
    await Promise.race([advanced, new Promise((_, rej) => setTimeout(() => rej(new Error(`no advance on B; got ${JSON.stringify(text)}`)), 5000))]);
    expect(text).toContain('data: {"head":1}');
    ac.abort();
  });

  it('a blob uploaded through A is served by B and may be committed through B', async () => {
    const tok = c.device('blobs');
    const [onA, onB] = [new Api(A, tok), new Api(B, tok)];
    const content = `shared volume ${randomUUID()}`.repeat(100);
    const { hash, size, status } = await onA.putBlob(content);
    expect(status).toBe(201);
    expect((await onB.putBlob(content)).status).toBe(200);
    const got = await onB.get(`/v1/blobs/${hash}`);
    expect(got.status).toBe(200);
    expect(got.text).toBe(content);
    const node = (await onB.one({ op: 'create', kind: 'file', parent: 'root', name: 'f.txt', hash, size })).node;
    expect(node).toMatchObject({ hash, size, seq: 1 });
    // another namespace knowing the hash still gets nothing
    expect((await new Api(B, c.device('other')).get(`/v1/blobs/${hash}`)).status).toBe(404);
  });

  it('status, healthz and metrics on each process report the shared journal', async () => {
    const tok = c.device('status', 'st');
    await new Api(A, tok).mkdir('one');
    await new Api(B, tok).mkdir('two');
    for (const url of [A, B]) {
      const st = await new Api(url, tok).get('/v1/status');
      expect(st.body).toMatchObject({ namespace: 'status', head: 2, floor: 1 });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
      expect(await (await fetch(`${url}/metrics`)).text()).toMatch(/syncd_journal_head\{namespace="status"\} 2/);
    }
  });

  it('both processes survive PostgreSQL killing all their connections: requests recover, LISTEN comes back, wakes resume', async () => {
    const tok = c.device('killed-conns');
    const [onA, onB] = [new Api(A, tok), new Api(B, tok)];
    await onA.mkdir('before');
    const killed = await pgQuery(
      c.db.url,
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'syncd' AND pid <> pg_backend_pid()",
    );
    expect(killed.length).toBeGreaterThanOrEqual(2); // the LISTEN connection of each process, and pooled ones
    // a request may meet a dead pooled connection once: 503 with Retry-After, never a 500
    for (const api of [onA, onB]) {
      let ok = false;
      for (let i = 0; i < 5 && !ok; i++) {
        const r = await api.get('/v1/status');
        if (r.status === 503) expect(r.headers.get('retry-after')).not.toBeNull();
        else expect(r.status).toBe(200);
        ok = r.status === 200;
      }
      expect(ok).toBe(true);
    }
    await waitFor(() => c.procs.every((p) => p.proc.output.join('').includes('LISTEN connection to PostgreSQL restored')), 10_000, 'LISTEN to come back');
    const w = await measureWake(onB, onA, 'after');
    expect(w.changes).toBe(true);
    expect(w.ms).toBeLessThan(2000);
  });
});
