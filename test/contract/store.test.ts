// The JournalStore contract on both implementations: SQLite (two connections
// on one file) and PostgreSQL (two pools on one database).

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/server/store/sqlite/store.js';
import { PostgresStore } from '../../src/server/store/postgres/store.js';
import { createTestDatabase, SKIP_PG } from '../helpers/pg.js';
import { contentContract } from './content-contract.js';
import { storeContract } from './store-contract.js';

storeContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'syncd-store-'));
  return {
    open: async () => new SqliteStore(join(dir, 'syncd.db'), { trimChunk: 7 }),
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
});

storeContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    return {
      open: () => PostgresStore.open(db.url, { trimChunk: 7, max: 4 }),
      destroy: () => db.drop(),
    };
  },
  { skip: SKIP_PG },
);

contentContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'syncd-content-'));
  return {
    open: async () => new SqliteStore(join(dir, 'syncd.db')),
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
});

contentContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    return { open: () => PostgresStore.open(db.url, { max: 4 }), destroy: () => db.drop() };
  },
  { skip: SKIP_PG },
);
