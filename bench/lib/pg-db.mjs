// A PostgreSQL database made for one bench run and dropped after it (also
// when the run is interrupted, through `atCleanup`). The admin URL:
// SYNCD_BENCH_PG_URL (a role with CREATEDB), else the test role of
// test/helpers/pg.ts on 127.0.0.1:5432 (.ci/run creates it).

import { randomBytes } from 'node:crypto';
import pg from 'pg';

export function pgAdminUrl() {
  return process.env.SYNCD_BENCH_PG_URL ?? 'postgres://syncd_test:syncd_test@127.0.0.1:5432/postgres';
}

/** true when the admin URL accepts a connection within 3 s */
export async function pgReachable() {
  const c = new pg.Client({ connectionString: pgAdminUrl(), connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

/** fn(url) on a fresh database; `atCleanup(drop)` (a Bench's) returns a function that unregisters it */
export async function withDatabase(fn, atCleanup = () => () => {}) {
  const admin = pgAdminUrl();
  const name = `syncd_bench_${Date.now()}_${randomBytes(3).toString('hex')}`;
  const run = async (sql) => {
    const c = new pg.Client({ connectionString: admin });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const drop = () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  const forget = atCleanup(drop);
  const u = new URL(admin);
  u.pathname = `/${name}`;
  try {
    return await fn(u.toString());
  } finally {
    forget();
    await drop();
  }
}
