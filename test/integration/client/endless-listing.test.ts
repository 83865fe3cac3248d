// A server whose listing never ends (has_more forever, the same page token
// again, or simply more nodes than any namespace should have) must end the
// pull with a protocol error, not grow the client without bound.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pull } from '../../../src/client/exec/pull.js';
import { RemoteClient } from '../../../src/client/remote/remote.js';
import { StateDB } from '../../../src/client/state/db.js';
import type { WireNode } from '../../../src/protocol/types.js';
import { useTempStateDir } from '../../helpers/agent.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server.js';

const node = (i: number): WireNode => ({ id: `n_${String(i).padStart(8, '0')}`, parent: 'root', name: `f${i}`, kind: 'dir', rev: 1, mtime: 0, exec: false, seq: 1 });
const page = (from: number, n: number, token: string) => ({ entries: Array.from({ length: n }, (_, k) => node(from + k)), cursor: 'c', seq: 1, has_more: true, page_token: token });

let fake: FakeServer;
let client: RemoteClient;
let db: StateDB;
beforeAll(async () => {
  await useTempStateDir();
  fake = await startFakeServer();
  client = new RemoteClient({ server: fake.url, token: 'tok' });
});
afterAll(async () => {
  await client.close();
  await fake.close();
});
beforeEach(async () => {
  fake.reset();
  db?.close();
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  db = new StateDB(join(await mkdtemp(join(tmpdir(), 'syncd-endless-')), 'state.db'));
});

describe('a listing that never ends', () => {
  it('is a protocol error when the page token does not advance', async () => {
    let calls = 0;
    fake.on('GET', '/v1/list', () => {
      calls++;
      return { json: page(calls * 10, 10, 'same-token-every-time') };
    });
    await expect(pull(db, client)).rejects.toMatchObject({ code: 'protocol_error' });
    expect(calls).toBeLessThanOrEqual(3);
  });

  it('is a protocol error when it passes the configured bound, even with fresh tokens', async () => {
    let calls = 0;
    fake.on('GET', '/v1/list', () => {
      calls++;
      return { json: page(calls * 100, 100, `t${calls}`) };
    });
    await expect(pull(db, client, { maxListEntries: 1000 })).rejects.toMatchObject({ code: 'protocol_error' });
    expect(calls).toBeLessThanOrEqual(11);
  });
});
