// `syncd serve` and `syncd server …` with --db: argument rules (exit 2 with
// a clear line), and the admin commands on a PostgreSQL store while servers run.

import { afterAll, beforeAll, expect, it } from 'vitest';
import { describePg } from '../../helpers/pg.js';
import { cli } from '../../helpers/procs.js';
import { Api, ensureBuilt } from '../../helpers/server.js';
import { startCluster, type Cluster } from './cluster.js';

describePg('syncd serve / syncd server with --db', () => {
  let c: Cluster;
  beforeAll(async () => {
    ensureBuilt();
    c = await startCluster(1);
  });
  afterAll(async () => {
    await c?.close();
  });

  it.each([
    [['serve', '--port', '0'], /one of --data DIR .* or --db postgres/],
    [['serve', '--data', '/tmp/x', '--db', 'postgres://h/db'], /--data and --db are exclusive/],
    [['serve', '--db', 'postgres://h/db'], /--db needs --blobs DIR/],
    [['serve', '--db', 'mysql://h/db', '--blobs', '/tmp/b'], /--db must be a postgres:\/\/ URL/],
    [['serve', '--data', '/tmp/x', '--nats', 'nats://127.0.0.1:4222'], /--nats goes with --db/],
    [['serve', '--data', '/tmp/x', '--blobs', '/tmp/b'], /--blobs goes with --db/],
    [['serve', '--db', 'postgres://h/db', '--blobs', '/tmp/b', '--nats', 'http://x'], /--nats must be a nats:\/\/host:port URL/],
    [['server', 'status'], /one of --data DIR .* or --db postgres/],
  ])('usage error: %j', (args, message) => {
    const r = cli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  it('a database that cannot be reached: exit 1, one line, no password', () => {
    const r = cli(['server', 'status', '--db', 'postgres://u:hunter2@127.0.0.1:1/none']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^syncd: cannot open the PostgreSQL store at postgres:\/\/u@127\.0\.0\.1:1\/none/);
    expect(r.stderr).not.toContain('hunter2');
  });

  it('add-device, trim, status, new-epoch and revoke-device work on the database while a server runs', async () => {
    const db = c.db.url;
    const token = cli(['server', 'add-device', '--db', db, '--namespace', 'ns', '--label', 'laptop']).stdout.trim();
    expect(token).toMatch(/^syncd_/);
    const api = new Api(c.procs[0]!.url, token);
    for (let i = 0; i < 12; i++) await api.mkdir(`d${i}`);
    const t = cli(['server', 'trim', '--db', db, '--retention-entries', '5', '--retention-age', '0', '--keep-versions-days', '0', '--json']);
    expect(t.code, t.stderr).toBe(0);
    expect(JSON.parse(t.stdout).namespaces).toEqual([{ name: 'ns', oldFloor: 1, newFloor: 8, head: 12, dropped: 7, misses: 0 }]);
    const st = JSON.parse(cli(['server', 'status', '--db', db, '--json']).stdout);
    expect(st.retention).toEqual({ maxEntries: 5, maxAgeS: null });
    expect(st.namespaces[0]).toMatchObject({ name: 'ns', head: 12, floor: 8, devices: [{ label: 'laptop', revoked: false }] });
    // the running server serves the floor the CLI raised
    expect((await api.get('/v1/status')).body).toMatchObject({ head: 12, floor: 8, retention: { max_entries: 5, max_age_s: null } });
    expect(cli(['server', 'status', '--db', db]).stdout).toContain('retention: max entries 5, max age unlimited');

    const cursor = (await api.get('/v1/list?limit=1')).body.cursor;
    expect(cli(['server', 'new-epoch', '--db', db, '--namespace', 'ns']).stdout).toBe('new epoch for 1 namespace(s)\n');
    expect((await api.get(`/v1/changes?cursor=${encodeURIComponent(cursor)}`)).body).toMatchObject({ error: 'reset', reason: 'epoch' });

    const id = st.namespaces[0].devices[0].id;
    expect(cli(['server', 'revoke-device', '--db', db, '--device', id]).stdout).toBe(`revoked ${id}\n`);
    expect((await api.get('/v1/status')).status).toBe(401);
  });
});
