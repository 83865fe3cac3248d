// Where a data folder keeps its journal store.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/store.js';

export const DB_FILE = 'syncd.db';

export function openDataDirStore(dataDir: string): SqliteStore {
  mkdirSync(dataDir, { recursive: true });
  return new SqliteStore(join(dataDir, DB_FILE));
}
