// Two server processes on one PostgreSQL with NATS fan-out: wakes travel
// over NATS (one subject per namespace); with nats-server killed they travel
// over LISTEN/NOTIFY and nothing is lost; when NATS comes back the processes
// rejoin it. A process started while NATS is down serves anyway.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { connect, type NatsConnection } from 'nats';
import { describePg } from '../../helpers/pg.js';
import { startNats, type NatsServer } from '../../helpers/nats.js';
import { waitFor } from '../../helpers/agent.js';
import { Api, ensureBuilt } from '../../helpers/server.js';
import { journal, measureWake, percentile, startCluster, type Cluster, type ServeProc } from './cluster.js';

describePg('NATS fan-out between server processes', () => {
  let nats: NatsServer;
  let c: Cluster;
  let A: ServeProc;
  let B: ServeProc;
  beforeAll(async () => {
    ensureBuilt();
    nats = await startNats();
    c = await startCluster(2, { nats: nats.url });
    [A, B] = c.procs as [ServeProc, ServeProc];
  });
  afterAll(async () => {
    await c?.close();
    await nats?.stop();
  });

  const logged = (p: ServeProc, text: string): boolean => p.proc.output.join('').includes(text);

  async function wakes(tok: string, n: number, tag: string): Promise<number[]> {
    const [onA, onB] = [new Api(A.url, tok), new Api(B.url, tok)];
    const samples: number[] = [];
    for (let i = 0; i < n; i++) {
      const [waiter, committer] = i % 2 ? [onA, onB] : [onB, onA];
      const w = await measureWake(waiter, committer, `${tag}${i}`);
      expect(w.changes).toBe(true);
      samples.push(w.ms);
    }
    return samples.sort((x, y) => x - y);
  }

  it('a commit on A is published on the namespace subject and wakes a longpoll on B', async () => {
    const watcher: NatsConnection = await connect({ servers: nats.url });
    const seen: string[] = [];
    const sub = watcher.subscribe('syncd.advanced.>', { callback: (_e, m) => seen.push(`${m.subject} ${Buffer.from(m.data).toString()}`) });
    await watcher.flush();
    try {
      const tok = c.device('team.docs');
      const samples = await wakes(tok, 12, 'n');
      expect(percentile(samples, 100)).toBeLessThan(2000);
      expect(percentile(samples, 50)).toBeLessThan(500);
      console.log(`cross-process wake via NATS (commit sent → longpoll answered): p50 ${percentile(samples, 50).toFixed(1)} ms, max ${percentile(samples, 100).toFixed(1)} ms`);
      await waitFor(() => seen.length >= 12, 2000, 'the NATS messages');
      // dots in a namespace name are escaped so the subject has one token per namespace
      expect(seen.slice(0, 3)).toEqual(['syncd.advanced.team~docs 1', 'syncd.advanced.team~docs 2', 'syncd.advanced.team~docs 3']);
    } finally {
      sub.unsubscribe();
      await watcher.close();
    }
  });

  it('nats-server killed: longpolls still wake (LISTEN/NOTIFY), nothing is lost; NATS back: processes rejoin it', async () => {
    const tok = c.device('outage');
    const api = new Api(A.url, tok);
    const c0 = await api.startCursor();
    await api.mkdir('before');
    const port = nats.port;
    await nats.stop('SIGKILL');
    await waitFor(() => logged(A, 'NATS disconnected') && logged(B, 'NATS disconnected'), 10_000, 'both processes to notice');
    const samples = await wakes(tok, 8, 'down');
    expect(percentile(samples, 100)).toBeLessThan(2000);
    console.log(`cross-process wake with NATS down (LISTEN/NOTIFY fallback): p50 ${percentile(samples, 50).toFixed(1)} ms, max ${percentile(samples, 100).toFixed(1)} ms`);
    const entries = await journal(new Api(B.url, tok), c0);
    expect(entries.map((e) => e.node.name)).toEqual(['before', ...Array.from({ length: 8 }, (_, i) => `down${i}`)]);

    nats = await startNats(port);
    await waitFor(() => logged(A, 'NATS reconnected') && logged(B, 'NATS reconnected'), 15_000, 'both processes to rejoin NATS');
    const watcher = await connect({ servers: nats.url });
    const seen: string[] = [];
    const sub = watcher.subscribe('syncd.advanced.outage', { callback: (_e, m) => seen.push(Buffer.from(m.data).toString()) });
    await watcher.flush();
    try {
      const back = await wakes(tok, 4, 'back');
      expect(percentile(back, 100)).toBeLessThan(2000);
      await waitFor(() => seen.length >= 4, 2000, 'wakes to travel over NATS again');
      expect(seen).toEqual(['10', '11', '12', '13']);
    } finally {
      sub.unsubscribe();
      await watcher.close();
    }
  });

  it('a process started while NATS is unreachable serves: its commits wake the others via LISTEN/NOTIFY, theirs reach it by the degraded-mode poll', async () => {
    const C = await c.add({ nats: 'nats://127.0.0.1:1' });
    expect(logged(C, 'not reachable yet')).toBe(true);
    const tok = c.device('late');
    const [onA, onC] = [new Api(A.url, tok), new Api(C.url, tok)];
    const w1 = await measureWake(onC, onA, 'a');
    const w2 = await measureWake(onA, onC, 'c');
    expect([w1.changes, w2.changes]).toEqual([true, true]);
    expect(Math.max(w1.ms, w2.ms)).toBeLessThan(2000);
  });
});
