// The HTTP contract suite against the scale-out stores: PostgreSQL journal,
// shared blob folder, LISTEN/NOTIFY bus. Needs PostgreSQL (test/helpers/pg.ts).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDevice } from '../../src/server/admin.js';
import { startServer } from '../../src/server/app.js';
import { createTestDatabase, SKIP_PG } from '../helpers/pg.js';
import { serverContract } from './server-contract.js';

serverContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    const blobsDir = await mkdtemp(join(tmpdir(), 'syncd-pg-blobs-'));
    const logs: string[] = [];
    const server = await startServer({ db: db.url, blobsDir, port: 0, trimIntervalMs: 0, log: (l) => logs.push(l) });
    return {
      url: server.url,
      addDevice: async (namespace = 'default', label = 'test-device') => (await addDevice({ db: db.url }, namespace, label)).token,
      close: async () => {
        await server.close();
        await db.drop();
        await rm(blobsDir, { recursive: true, force: true });
      },
    };
  },
  { skip: SKIP_PG },
);
