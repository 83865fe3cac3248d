// The version-history API on both stores: SQLite and PostgreSQL.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDevice } from '../../src/server/admin.js';
import { startServer } from '../../src/server/app.js';
import { createTestDatabase, SKIP_PG } from '../helpers/pg.js';
import { startTestServer } from '../helpers/server.js';
import { historyContract } from './history-contract.js';

historyContract('sqlite', () => startTestServer());

historyContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    const blobsDir = await mkdtemp(join(tmpdir(), 'syncd-pg-blobs-'));
    const server = await startServer({ db: db.url, blobsDir, port: 0, trimIntervalMs: 0, log: () => undefined });
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
