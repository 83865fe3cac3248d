// A server on the scale-out stores for the HTTP contract suites: a fresh
// PostgreSQL database, a shared blob folder, LISTEN/NOTIFY wakes.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addDevice } from '../../src/server/admin.js';
import { startServer } from '../../src/server/app.js';
import { createTestDatabase } from '../helpers/pg.js';
import type { ContractServer } from './server-contract.js';

export async function startPgContractServer(): Promise<ContractServer> {
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
}
