// A full listing (first sync, reset) is stored page by page as it arrives,
// never gathered in memory first (issue #17: bounded memory for a big
// namespace), and only a complete one replaces the Remote tree.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { resetFromList } from '../../../src/client/exec/pull.js';
import { RemoteClient } from '../../../src/client/remote/remote.js';
import { StateDB } from '../../../src/client/state/db.js';
import type { WireNode } from '../../../src/protocol/types.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server.js';

const PAGES = 5;
const PER_PAGE = 100;
const node = (i: number): WireNode => ({ id: `n_${String(i).padStart(8, '0')}`, parent: 'root', name: `f${i}`, kind: 'dir', rev: 1, mtime: 0, exec: false, seq: 1 });

let fake: FakeServer;
let client: RemoteClient;
let db: StateDB;
const staged = () => (db.db.prepare('SELECT count(*) AS n FROM remote_listing').get() as { n: number }).n;
const remoteRows = () => (db.db.prepare('SELECT count(*) AS n FROM remote').get() as { n: number }).n;

beforeAll(async () => {
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
  db = new StateDB(join(await mkdtemp(join(tmpdir(), 'syncd-listing-')), 'state.db'));
  db.upsertRemote({ id: 'old', parent: 'root', name: 'old', kind: 'dir', rev: 1, size: null, hash: null, mtime: 0, exec: false, target: null }, 1);
});

/** A listing of PAGES pages; `at` sees the state DB when page k (from 0) is asked for; `fail` makes that page a 500. */
function serve(at: (k: number) => void, fail = -1): void {
  let k = 0;
  fake.on('GET', '/v1/list', () => {
    at(k);
    if (k === fail) return { status: 500, json: { error: { code: 'internal', message: 'boom' } } };
    const entries = Array.from({ length: PER_PAGE }, (_, i) => node(k * PER_PAGE + i));
    k++;
    return { json: { entries, cursor: 'c', seq: 9, has_more: k < PAGES, page_token: `t${k}` } };
  });
}

describe('a listing larger than one page', () => {
  it('stores each page before asking for the next, and swaps the whole listing in at the end', async () => {
    const seen: number[] = [];
    serve(() => seen.push(staged()));
    await resetFromList(db, client, 'test', undefined, PER_PAGE);
    // before page k, the k pages before it are in the state DB, not in memory
    expect(seen).toEqual(Array.from({ length: PAGES }, (_, k) => k * PER_PAGE));
    expect(remoteRows()).toBe(PAGES * PER_PAGE);
    expect(db.loadRemote().has('old')).toBe(false);
    expect(staged()).toBe(0);
    expect(db.meta.get('cursor')).toBe('c');
  });

  it('a listing that fails half-way leaves the Remote tree and the cursor as they were', async () => {
    db.meta.set('cursor', 'before');
    serve(() => undefined, 3);
    await expect(resetFromList(db, client, 'test', undefined, PER_PAGE)).rejects.toThrow();
    expect([...db.loadRemote().keys()]).toEqual(['old']);
    expect(db.meta.get('cursor')).toBe('before');
    // the next listing starts from nothing staged
    serve(() => undefined);
    await resetFromList(db, client, 'test', undefined, PER_PAGE);
    expect(remoteRows()).toBe(PAGES * PER_PAGE);
  });
});
