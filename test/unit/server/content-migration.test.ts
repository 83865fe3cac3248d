// A data folder from before the content layer (schema v1) upgrades in place
// when a newer server opens it: its refs stay, the chunk tables appear.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { MIGRATIONS } from '../../../src/server/store/sqlite/migrations.js';
import { SqliteStore } from '../../../src/server/store/sqlite/store.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncd-migrate-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

it('a v1 database gains the content tables and keeps its blob refs', async () => {
  const file = join(dir, 'syncd.db');
  const old = new Database(file);
  old.exec(MIGRATIONS[0]!);
  old.pragma('user_version = 1');
  old.prepare("INSERT INTO namespaces (name, epoch, created_at) VALUES ('ns', 'e1', 1)").run();
  old.prepare("INSERT INTO blob_refs (ns, hash, size, at) VALUES (1, 'h1', 3, 1)").run();
  old.close();

  const store = new SqliteStore(file);
  try {
    const ns = { id: 1, name: 'ns' };
    expect(await store.blobRef(ns, 'h1')).toEqual({ size: 3 });
    expect(await store.content.readable(ns, ['h1', 'h2'])).toEqual(new Set(['h1']));
    expect(await store.content.recipe('h1')).toBeNull();
  } finally {
    await store.close();
  }
  const after = new Database(file, { readonly: true });
  expect(after.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
  after.close();
});
