// Where a data folder keeps its journal store.

import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from './sqlite/store.js';

export const DB_FILE = 'syncd.db';

/** Owner-only modes of the data folder and its files, whatever the umask: it holds every tenant's data and token hashes. */
export const DIR_MODE = 0o700;
export const FILE_MODE = 0o600;

/** Creates the data folder owner-only, or makes an existing one so. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: DIR_MODE });
  chmodSync(dir, DIR_MODE);
}

function chmodIfThere(file: string, mode: number): void {
  try {
    chmodSync(file, mode);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function openDataDirStore(dataDir: string): SqliteStore {
  ensurePrivateDir(dataDir);
  const file = join(dataDir, DB_FILE);
  // SQLite creates its files 0644 less the umask, and gives -wal and -shm the
  // main file's mode: an empty 0600 file first makes all three owner-only
  closeSync(openSync(file, 'a', FILE_MODE));
  for (const f of [file, `${file}-wal`, `${file}-shm`]) chmodIfThere(f, FILE_MODE);
  return new SqliteStore(file);
}
