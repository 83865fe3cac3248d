// A fresh state DB file per test, and copies of the fixtures (SQLite writes beside a DB it opens).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const FIXTURES = join(__dirname, '..', '..', '..', '..', 'fixtures', 'state-db');

export function tempDbFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'syncd-state-')), 'state.db');
}

export function fixtureCopy(name: string): string {
  const file = tempDbFile();
  copyFileSync(join(FIXTURES, name), file);
  return file;
}
