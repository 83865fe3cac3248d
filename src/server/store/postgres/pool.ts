// The PostgreSQL connection pool (`pg`) of one server process, the error
// translation of the PostgreSQL store, and its transaction runner.
//
// - BIGINT columns come back as JS numbers: seqs, revs, sizes and ms times
//   stay far below 2^53; a value that does not is refused, never rounded.
// - Every session gets a lock_timeout and an idle-in-transaction timeout, so
//   a stuck process cannot hold a namespace's row lock (and with it every
//   commit of that namespace) for long.
// - A transaction that PostgreSQL rolled back because of a serialization
//   failure, a deadlock or a unique violation (two processes racing the same
//   op_id) is run again from the start: its facts are read afresh.

import { userInfo } from 'node:os';
import pg from 'pg';
import { SyncdError } from '../../../protocol/errors.js';
import { STORE_UNAVAILABLE } from '../types.js';

export interface PgPoolOptions {
  /** connections per process (default 10) */
  max?: number;
  /** how long a statement waits for a row lock before the request gets 503, ms (default 10 s) */
  lockTimeoutMs?: number;
  /** how long to wait for a free or new connection before 503, ms (default 10 s) */
  connectTimeoutMs?: number;
  /** where pool errors of idle connections are reported (default: ignored; the next use reconnects) */
  log?: (line: string) => void;
}

const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new SyncdError('store_corrupt', `a BIGINT value (${text}) is beyond 2^53`);
  return n;
}

/** Type parsers of our pools: BIGINT as number; everything else as `pg` does by default. */
export const PG_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

/**
 * The user name when neither the URL nor the environment gives one. libpq
 * falls back to the OS user; `pg` reads only $USER, which systemd services
 * do not have, and then fails with "no PostgreSQL user name specified".
 */
export function defaultPgUser(url: string, env: NodeJS.ProcessEnv, osUser: () => string): string | undefined {
  let named = false;
  try {
    named = new URL(url).username !== '';
  } catch {
    return undefined; // pg reports a malformed URL itself
  }
  if (named || env.PGUSER || env.USER) return undefined;
  try {
    return osUser();
  } catch {
    return undefined;
  }
}

/** The connection settings of every connection syncd opens: pooled ones and the LISTEN one. */
export function clientConfig(url: string, opts: PgPoolOptions = {}): pg.ClientConfig {
  const lockMs = Math.max(1, Math.floor(opts.lockTimeoutMs ?? 10_000));
  const user = defaultPgUser(url, process.env, () => userInfo().username);
  return {
    ...(user === undefined ? {} : { user }),
    connectionString: url,
    application_name: 'syncd',
    types: PG_TYPES,
    connectionTimeoutMillis: Math.max(1, Math.floor(opts.connectTimeoutMs ?? 10_000)),
    // jit=off: the store's statements are short index lookups, but a subtree
    // walk's estimate passes jit_above_cost and compiling costs ~1 s per call
    options: `-c lock_timeout=${lockMs} -c idle_in_transaction_session_timeout=${Math.max(60_000, lockMs * 3)} -c jit=off`,
  };
}

export function createPool(url: string, opts: PgPoolOptions = {}): pg.Pool {
  const pool = new pg.Pool({ ...clientConfig(url, opts), max: opts.max ?? 10, idleTimeoutMillis: 30_000 });
  // an idle connection that dies (server restart) is dropped by the pool; without a listener it would crash the process
  pool.on('error', (err) => opts.log?.(`syncd: an idle PostgreSQL connection failed: ${err.message}`));
  return pool;
}

// SQLSTATE classes and codes that mean "the database is not available right now"
const UNAVAILABLE_CLASSES = new Set(['08', '53', '57', '58']);
const UNAVAILABLE_CODES = new Set(['55P03', '25P03', '40001', '40P01']);
const RETRY_CODES = new Set(['40001', '40P01', '23505']);
const NET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
const DRIVER_MESSAGES = /Connection terminated|connection error|not queryable|timeout exceeded when trying to connect|Cannot use a pool after calling end|Client was closed/i;

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function isDatabaseError(err: unknown): boolean {
  return err instanceof pg.DatabaseError;
}

export function isUnavailable(err: unknown): boolean {
  const code = sqlState(err);
  if (isDatabaseError(err) && code !== undefined) return UNAVAILABLE_CLASSES.has(code.slice(0, 2)) || UNAVAILABLE_CODES.has(code);
  if (code !== undefined && NET_CODES.has(code)) return true;
  return err instanceof Error && !(err instanceof SyncdError) && DRIVER_MESSAGES.test(err.message);
}

/** Translates PostgreSQL's operational failures into one stable error (STYLE.md 5); anything else is rethrown. */
export function translate(err: unknown): never {
  if (err instanceof SyncdError) throw err;
  if (isUnavailable(err)) {
    const code = sqlState(err) ?? 'connection';
    throw new SyncdError(STORE_UNAVAILABLE, `database unavailable (${code}: ${(err as Error).message})`, { pgCode: code }, { cause: err });
  }
  throw err;
}

/** Returned by a transaction body to roll back instead of committing, still yielding a value. */
export class Rollback<T> {
  constructor(readonly value: T) {}
}

export type Tx = pg.PoolClient;

const MAX_ATTEMPTS = 8;

/**
 * Runs `fn` in one transaction on a pooled connection, READ COMMITTED
 * whatever the database's default: the commit path relies on each statement
 * seeing what committed before it (store.ts). Retries the whole
 * transaction when PostgreSQL rolled it back for a retryable reason (never
 * after an unknown outcome such as a connection lost during COMMIT).
 */
export async function transaction<T>(pool: pg.Pool, fn: (c: Tx) => Promise<T | Rollback<T>>, begin = 'BEGIN ISOLATION LEVEL READ COMMITTED'): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      translate(err);
    }
    let broken: Error | undefined;
    try {
      await client.query(begin);
      const out = await fn(client);
      if (out instanceof Rollback) {
        await client.query('ROLLBACK');
        return out.value;
      }
      await client.query('COMMIT');
      return out;
    } catch (err) {
      if (isDatabaseError(err) || !isUnavailable(err)) {
        await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      } else {
        broken = err as Error;
      }
      const code = sqlState(err);
      if (broken === undefined && code !== undefined && RETRY_CODES.has(code) && attempt < MAX_ATTEMPTS) {
        await new Promise((r) => setTimeout(r, Math.random() * 5 * attempt));
        continue;
      }
      translate(err);
    } finally {
      client.release(broken);
    }
  }
}

/** One statement outside a transaction, with errors translated. */
export async function query<R extends pg.QueryResultRow>(pool: pg.Pool, text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
  try {
    return await pool.query<R>(text, values);
  } catch (err) {
    translate(err);
  }
}
