// kill -9 of one of two server processes in the middle of a commit storm:
// every acknowledged commit is in the journal, exactly once, with the seq it
// was acknowledged with, and the journal has no gap. The unacknowledged ops
// retried on the survivor (same op_id) land at most once.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { OpResult } from '../../../src/protocol/types.js';
import { waitFor } from '../../helpers/agent.js';
import { describePg } from '../../helpers/pg.js';
import { Api, ensureBuilt } from '../../helpers/server.js';
import { journal, startCluster, type Cluster } from './cluster.js';

describePg('kill -9 of a server process during a commit storm', () => {
  let c: Cluster;
  beforeAll(async () => {
    ensureBuilt();
    c = await startCluster(2);
  });
  afterAll(async () => {
    await c?.close();
  });

  it('every acknowledged commit is present once, at its seq; no gaps; unacknowledged retries land at most once', async () => {
    const [A, B] = c.procs as [(typeof c.procs)[0], (typeof c.procs)[0]];
    const tokens = Array.from({ length: 8 }, (_, i) => c.device('storm', `w${i}`));
    const c0 = await new Api(B.url, tokens[0]!).startCursor();
    const acked = new Map<string, Extract<OpResult, { status: 'ok' }>>();
    const unacked: Array<{ op_id: string; op: 'create'; kind: 'dir'; parent: string; name: string }> = [];
    let killed = false;
    const writers = tokens.map(async (tok, w) => {
      // half the writers commit through A (which dies), half through B
      const api = new Api(w % 2 ? A.url : B.url, tok);
      for (let i = 0; !killed || i < 40; i++) {
        if (killed && w % 2) break;
        const op = { op_id: randomUUID(), op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `w${w}-${i}` };
        try {
          const r = await api.commitRaw([op]);
          if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
          const res = r.body.results[0]!;
          expect(res.status).toBe('ok');
          acked.set(op.op_id, res as Extract<OpResult, { status: 'ok' }>);
        } catch {
          unacked.push(op);
          if (!(w % 2)) throw new Error(`a commit through the surviving process failed`);
        }
      }
    });
    // let the storm run, then kill A without warning while its writers are mid-commit
    try {
      await waitFor(() => acked.size >= 80, 30_000, 'the storm to get going');
    } finally {
      await A.kill('SIGKILL');
      killed = true;
    }
    await Promise.all(writers);

    const viaB = new Api(B.url, tokens[0]!);
    const before = await journal(viaB, c0);
    const bySeq = new Map(before.map((e) => [e.seq, e]));
    for (const res of acked.values()) expect(bySeq.get(res.seq)?.node).toEqual(res.node);
    const names = before.map((e) => e.node.name);
    expect(new Set(names).size).toBe(names.length);

    // a client whose reply was lost retries with the same op_id on the survivor: it lands at most once
    for (const op of unacked) {
      const [res] = await viaB.commit([op]);
      expect(res!.status).toBe('ok');
    }
    const after = await journal(viaB, c0);
    const all = after.map((e) => e.node.name);
    expect(new Set(all).size).toBe(all.length);
    for (const op of unacked) expect(all).toContain(op.name);
    expect(after.length).toBe(acked.size + unacked.length);
    console.log(`kill -9 storm: ${acked.size} acknowledged, ${unacked.length} cut off by the kill (retried), journal ${after.length} entries, gap-free`);
  });
});
