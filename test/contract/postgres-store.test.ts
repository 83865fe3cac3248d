// What only the PostgreSQL store has: migrations shared by racing processes,
// operational failures translated to store_unavailable (→ 503), recovery
// after its connections are killed.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import pg from 'pg';
import { SyncdError } from '../../src/protocol/errors.js';
import { hashToken, newNodeId } from '../../src/server/ids.js';
import { MIGRATIONS } from '../../src/server/store/postgres/migrations.js';
import { PostgresStore, redactUrl } from '../../src/server/store/postgres/store.js';
import { STORE_UNAVAILABLE } from '../../src/server/store/types.js';
import type { Op } from '../../src/protocol/types.js';
import { createTestDatabase, describePg, pgQuery, type TestDatabase } from '../helpers/pg.js';

const op = (o: Partial<Op> & { op: Op['op'] }): Op => ({ op_id: randomUUID(), ...o }) as Op;
const ctx = () => ({ deviceId: 'd_x', now: Date.now(), newNodeId });

describePg('PostgreSQL store', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('six processes opening a fresh database at once migrate it exactly once', async () => {
    const stores = await Promise.all(Array.from({ length: 6 }, () => PostgresStore.open(db.url, { max: 2 })));
    const keys = await Promise.all(stores.map((s) => s.cursorKey()));
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(1);
    expect(await stores[0]!.schemaVersion()).toBe(MIGRATIONS.length);
    expect(await pgQuery(db.url, 'SELECT version FROM schema_migrations ORDER BY version')).toEqual(
      MIGRATIONS.map((_, i) => ({ version: i + 1 })),
    );
    await Promise.all(stores.map((s) => s.close()));
  });

  it('refuses a database migrated by a newer syncd', async () => {
    const other = await createTestDatabase();
    try {
      await (await PostgresStore.open(other.url)).close();
      await pgQuery(other.url, 'INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)', [MIGRATIONS.length + 1]);
      await expect(PostgresStore.open(other.url)).rejects.toMatchObject({ code: 'store_too_new', message: expect.stringMatching(/newer/) });
    } finally {
      await other.drop();
    }
  });

  it('an unreachable server is store_unavailable, and the message hides the password', async () => {
    const url = 'postgres://someone:s3cret@127.0.0.1:1/nowhere';
    const err = await PostgresStore.open(url, { connectTimeoutMs: 2000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncdError);
    expect((err as SyncdError).code).toBe(STORE_UNAVAILABLE);
    expect((err as Error).message).not.toContain('s3cret');
    expect(redactUrl(url)).toBe('postgres://someone@127.0.0.1:1/nowhere');
  });

  it('a commit that waits longer than lock_timeout for the namespace lock is store_unavailable (503), and writes nothing', async () => {
    const store = await PostgresStore.open(db.url, { lockTimeoutMs: 200, max: 2 });
    const { namespace } = await store.createDevice('locked', 'x', `d_${randomUUID()}`, hashToken(randomUUID()), 1);
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT head FROM namespaces WHERE id = $1 FOR UPDATE', [namespace.id]);
      const err = await store.commitOp(namespace, op({ op: 'create', kind: 'dir', parent: 'root', name: 'a' }), ctx()).catch((e: unknown) => e);
      expect((err as SyncdError).code).toBe(STORE_UNAVAILABLE);
      await holder.query('ROLLBACK');
      const r = await store.commitOp(namespace, op({ op: 'create', kind: 'dir', parent: 'root', name: 'a' }), ctx());
      expect(r.result).toMatchObject({ status: 'ok', seq: 1 });
    } finally {
      await holder.end();
      await store.close();
    }
  });

  it('a slice is one transaction: an op that fails the database takes the ops before it back, head included', async () => {
    const store = await PostgresStore.open(db.url, { max: 2 });
    const { namespace } = await store.createDevice('slice', 'x', `d_${randomUUID()}`, hashToken(randomUUID()), 1);
    await pgQuery(
      db.url,
      "CREATE FUNCTION boom() RETURNS trigger AS $$ BEGIN IF NEW.name = 'boom' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql",
    );
    await pgQuery(db.url, 'CREATE TRIGGER boom BEFORE INSERT ON nodes FOR EACH ROW EXECUTE FUNCTION boom()');
    try {
      const ok = await store.commitSlice(namespace, [op({ op: 'create', kind: 'dir', parent: 'root', name: 'kept' })], ctx(), 0);
      expect(ok[0]!.result).toMatchObject({ status: 'ok', seq: 1 });
      const failing = [...['lost-0', 'lost-1', 'lost-2', 'boom'].map((name) => op({ op: 'create', kind: 'dir', parent: 'root', name }))];
      await expect(store.commitSlice(namespace, failing, ctx(), Number.POSITIVE_INFINITY)).rejects.toThrow();
      expect((await store.namespaceState(namespace)).head).toBe(1);
      expect((await store.allNodes(namespace)).map((n) => n.name)).toEqual(['kept']);
    } finally {
      await pgQuery(db.url, 'DROP TRIGGER boom ON nodes');
      await store.close();
    }
  });

  it('keeps working after the server kills all its connections', async () => {
    const store = await PostgresStore.open(db.url, { max: 3 });
    const { namespace } = await store.createDevice('killed', 'x', `d_${randomUUID()}`, hashToken(randomUUID()), 1);
    await store.commitOp(namespace, op({ op: 'create', kind: 'dir', parent: 'root', name: 'before' }), ctx());
    const killed = await pgQuery(
      db.url,
      "SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'syncd' AND pid <> pg_backend_pid()",
    );
    expect(killed.length).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 100));
    // a request that met a dead connection may fail once (503); the pool then reconnects
    let after: unknown = null;
    for (let i = 0; i < 3 && after === null; i++) {
      after = await store.commitOp(namespace, op({ op: 'create', kind: 'dir', parent: 'root', name: 'after' }), ctx()).catch((e: unknown) => {
        expect((e as SyncdError).code).toBe(STORE_UNAVAILABLE);
        return null;
      });
    }
    expect(after).toMatchObject({ result: { status: 'ok', seq: 2 } });
    await store.close();
  });
});
