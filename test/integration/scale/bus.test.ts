// The shared bus in-process, with real transports: which channel an advance
// travels on (NATS while it is up, LISTEN/NOTIFY otherwise), the re-read of
// heads after a reconnect, and the degraded-mode poll.

import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { openClusterBus } from '../../../src/server/bus/open.js';
import type { SharedBus } from '../../../src/server/bus/shared.js';
import { NOTIFY_CHANNEL } from '../../../src/server/bus/pg.js';
import { hashToken, newNodeId } from '../../../src/server/ids.js';
import { PostgresStore } from '../../../src/server/store/postgres/store.js';
import type { Op } from '../../../src/protocol/types.js';
import { waitFor } from '../../helpers/agent.js';
import { startNats, type NatsServer } from '../../helpers/nats.js';
import { createTestDatabase, describePg, type TestDatabase } from '../../helpers/pg.js';

describePg('shared bus (NATS + LISTEN/NOTIFY)', () => {
  let db: TestDatabase;
  let store: PostgresStore;
  let spy: pg.Client;
  const notified: string[] = [];
  const open: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    store = await PostgresStore.open(db.url, { max: 4 });
    spy = new pg.Client({ connectionString: db.url });
    await spy.connect();
    spy.on('notification', (m) => notified.push(m.payload ?? ''));
    await spy.query(`LISTEN ${NOTIFY_CHANNEL}`);
  });
  afterEach(async () => {
    for (const b of open.splice(0)) await b.close();
    notified.length = 0;
  });
  afterAll(async () => {
    await spy?.end();
    await store?.close();
    await db?.drop();
  });

  const bus = async (nats?: string, pollMs = 1000): Promise<SharedBus> => {
    const b = await openClusterBus(store, { nats, pollMs, log: () => undefined });
    open.push(b);
    return b;
  };
  const received = (b: SharedBus, ns: string): number[] => {
    const got: number[] = [];
    b.subscribe(ns, (h) => got.push(h));
    return got;
  };

  it('LISTEN/NOTIFY alone: an advance published on one bus reaches the other, not itself twice', async () => {
    const [one, two] = [await bus(), await bus()];
    const onOne = received(one, 'ns');
    const onTwo = received(two, 'ns');
    one.publish('ns', 7);
    await waitFor(() => onTwo.length > 0, 2000, 'the notification');
    await new Promise((r) => setTimeout(r, 100));
    expect(onTwo).toEqual([7]);
    expect(onOne).toEqual([7]);
    expect(notified).toHaveLength(1);
  });

  it('with NATS up, advances go over NATS only; with NATS down, over PostgreSQL; back up, over NATS again', async () => {
    let nats: NatsServer = await startNats();
    try {
      const [one, two] = [await bus(nats.url), await bus(nats.url)];
      expect(one.healthy).toEqual(['nats', 'postgres']);
      const onTwo = received(two, 'ns');
      await new Promise((r) => setTimeout(r, 50));
      one.publish('ns', 1);
      await waitFor(() => onTwo.includes(1), 2000, 'the NATS message');
      expect(notified).toEqual([]);

      const port = nats.port;
      await nats.stop();
      await waitFor(() => one.healthy.join() === 'postgres' && two.healthy.join() === 'postgres', 5000, 'both buses to see NATS gone');
      one.publish('ns', 2);
      await waitFor(() => onTwo.includes(2), 2000, 'the fallback notification');
      expect(notified).toHaveLength(1);

      nats = await startNats(port);
      await waitFor(() => one.healthy.length === 2 && two.healthy.length === 2, 10_000, 'both buses to rejoin NATS');
      one.publish('ns', 3);
      await waitFor(() => onTwo.includes(3), 2000, 'the NATS message after the outage');
      expect(notified).toHaveLength(1);
    } finally {
      await nats.stop();
    }
  });

  it('a bus whose NATS is down polls the watched heads; a lost message still wakes within the poll period', async () => {
    const { namespace } = await store.createDevice('polled', 'x', `d_${randomUUID()}`, hashToken(randomUUID()), 1);
    const lonely = await bus('nats://127.0.0.1:1', 100);
    expect(lonely.healthy).toEqual(['postgres']);
    const got = received(lonely, 'polled');
    // a commit whose advance nobody publishes (as if it went over a NATS this bus cannot reach)
    const op = { op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: 'quiet' } as Op;
    await store.commitOp(namespace, op, { deviceId: 'd', now: 1, newNodeId });
    await waitFor(() => got.includes(1), 2000, 'the poll to find head 1');
  });

  it('with every transport up nothing polls: an unpublished commit stays unseen', async () => {
    const { namespace } = await store.createDevice('quiet', 'x', `d_${randomUUID()}`, hashToken(randomUUID()), 1);
    const b = await bus(undefined, 50);
    const got = received(b, 'quiet');
    const op = { op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: 'x' } as Op;
    await store.commitOp(namespace, op, { deviceId: 'd', now: 1, newNodeId });
    await new Promise((r) => setTimeout(r, 300));
    expect(got).toEqual([]);
    // a gap (as after a reconnect) re-reads the head
    await b.refresh();
    expect(got).toEqual([1]);
  });
});
