// PostgreSQL for tests: finds (or starts) a local server, makes sure a test
// role exists, and gives each test file a fresh database that it drops at
// the end.
//
// - SYNCD_TEST_PG_URL: an admin URL (a role with CREATEDB) to use instead of
//   the local cluster, e.g. postgres://me:pw@127.0.0.1:5432/postgres.
// - Otherwise the helper starts the local Debian cluster if it is down
//   (`pg_ctlcluster <ver> <name> start`) and creates the role syncd_test
//   (as the postgres OS user), then connects over 127.0.0.1.
// - SYNCD_SKIP_PG=1 reports the PostgreSQL/NATS tests as skipped, locally
//   only: under CI=true it is ignored and a missing PostgreSQL fails the run.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { PG_TYPES } from '../../src/server/store/postgres/pool.js';

export const IN_CI = process.env.CI === 'true';
/** true when the PostgreSQL/NATS tests are to be reported as skipped (never in CI) */
export const SKIP_PG = process.env.SYNCD_SKIP_PG === '1' && !IN_CI;

/** `describe`, or `describe.skip` under SYNCD_SKIP_PG=1 outside CI */
export const describePg: typeof describe = SKIP_PG ? (describe.skip as typeof describe) : describe;

const ROLE = 'syncd_test';
const PASSWORD = 'syncd_test';
const DB_PREFIX = 'syncd_t_';

function fail(why: string): never {
  throw new Error(
    `PostgreSQL is required for this test and ${why}.\n` +
      'Start it (`pg_ctlcluster 15 main start`; .ci/run does), or point SYNCD_TEST_PG_URL at a role with CREATEDB.\n' +
      (IN_CI ? 'This is CI (CI=true): these tests never skip here.' : 'Locally, SYNCD_SKIP_PG=1 reports these tests as skipped.'),
  );
}

async function canConnect(url: string): Promise<{ ok: true } | { ok: false; code: string; message: string }> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return { ok: true };
  } catch (err) {
    const e = err as { code?: string; message: string };
    return { ok: false, code: e.code ?? 'unknown', message: e.message };
  } finally {
    await c.end().catch(() => undefined);
  }
}

interface Cluster {
  version: string;
  name: string;
  port: number;
  online: boolean;
}

function clusters(): Cluster[] {
  try {
    const out = execFileSync('pg_lsclusters', ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return out
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f.length >= 4)
      .map((f) => ({ version: f[0]!, name: f[1]!, port: Number(f[2]), online: f[3]!.startsWith('online') }));
  } catch {
    return [];
  }
}

/** Runs psql as the postgres OS user (peer authentication on the unix socket). */
function psqlAsPostgres(port: number, sql: string): void {
  const args = ['-u', 'postgres', '--', 'psql', '-X', '-q', '-p', String(port), '-v', 'ON_ERROR_STOP=1', '-c', sql];
  if (process.getuid?.() === 0) execFileSync('runuser', args, { stdio: 'pipe' });
  else execFileSync('sudo', ['-n', ...args], { stdio: 'pipe' });
}

let adminUrl: Promise<string> | null = null;

/** An admin URL (CREATEDB) of a running PostgreSQL; starts the local cluster and creates the test role when needed. */
export function pgAdminUrl(): Promise<string> {
  adminUrl ??= findAdminUrl();
  return adminUrl;
}

async function findAdminUrl(): Promise<string> {
  const given = process.env.SYNCD_TEST_PG_URL;
  if (given) {
    const r = await canConnect(given);
    if (!r.ok) fail(`SYNCD_TEST_PG_URL cannot be reached (${r.code}: ${r.message})`);
    return given;
  }
  const all = clusters();
  if (all.length === 0) fail('no local cluster was found (pg_lsclusters lists none; is postgresql installed?)');
  const cluster = all.find((c) => c.online) ?? all[0]!;
  const url = `postgres://${ROLE}:${PASSWORD}@127.0.0.1:${cluster.port}/postgres`;
  let r = await canConnect(url);
  if (!r.ok && !cluster.online) {
    try {
      execFileSync('pg_ctlcluster', [cluster.version, cluster.name, 'start'], { stdio: 'pipe' });
    } catch (err) {
      // another test worker may have started it meanwhile: check again below
      const now = clusters().find((c) => c.version === cluster.version && c.name === cluster.name);
      if (!now?.online) fail(`cluster ${cluster.version}/${cluster.name} is down and could not be started (${(err as Error).message.trim()})`);
    }
    r = await canConnect(url);
  }
  if (!r.ok && (r.code === '28P01' || r.code === '28000')) {
    // no such role (or another password): create it as the postgres superuser
    try {
      psqlAsPostgres(
        cluster.port,
        `DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '${ROLE}') THEN
             CREATE ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}';
           ELSE ALTER ROLE ${ROLE} LOGIN CREATEDB PASSWORD '${PASSWORD}';
           END IF;
         END $$;`,
      );
    } catch (err) {
      const stderr = String((err as { stderr?: Buffer }).stderr ?? '');
      if (!/already exists/.test(stderr)) fail(`the role ${ROLE} could not be created (${stderr.trim() || (err as Error).message})`);
    }
    r = await canConnect(url);
  }
  if (!r.ok) fail(`127.0.0.1:${cluster.port} refused the test role (${r.code}: ${r.message})`);
  return url;
}

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function admin<T>(fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: await pgAdminUrl() });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end().catch(() => undefined);
  }
}

/** A fresh, empty database for one test file (dropped by drop(); leftovers of killed runs are dropped after 6 h). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `${DB_PREFIX}${Date.now()}_${randomBytes(4).toString('hex')}`;
  await admin(async (c) => {
    const old = await c.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'syncd\\_t\\_%'");
    for (const { datname } of old.rows) {
      const born = Number(datname.slice(DB_PREFIX.length).split('_')[0]);
      if (Number.isFinite(born) && born < Date.now() - 6 * 3_600_000) {
        await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(datname)} WITH (FORCE)`).catch(() => undefined);
      }
    }
    await c.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
  });
  const url = withDatabase(await pgAdminUrl(), name);
  return {
    url,
    name,
    drop: () => admin((c) => dropForce(c, name)),
  };
}

/**
 * DROP DATABASE … WITH (FORCE), again while it fails for want of privilege:
 * FORCE may not end an autovacuum worker that is busy in the database (the
 * test role is no superuser), and such a worker finishes within moments.
 */
async function dropForce(c: pg.Client, name: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await c.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(name)} WITH (FORCE)`);
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== '42501' || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

/** Runs one query on a database (for assertions on tables); BIGINTs come back as numbers. */
export async function pgQuery<R extends pg.QueryResultRow = any>(url: string, text: string, values: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: url, types: PG_TYPES });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end().catch(() => undefined);
  }
}
