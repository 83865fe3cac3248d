// Cross-process wakes through PostgreSQL LISTEN/NOTIFY: the transport that
// needs nothing but the database the processes already share. One channel
// for all namespaces (payload "<head> <sender> <namespace>"), one dedicated
// LISTEN connection per process; a publish is a `pg_notify` on the pool,
// outside the commit transaction, so commits never queue on the global
// NOTIFY lock. Every process receives every namespace's advances, which is
// why NATS (a subject per namespace) comes first when configured.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Transport, TransportHooks } from './shared.js';

export const NOTIFY_CHANNEL = 'syncd_advanced';

export interface PgNotifyOptions {
  /** settings of the LISTEN connection (the store's, so the same server and credentials) */
  client: pg.ClientConfig;
  /** where `pg_notify` is sent from */
  pool: pg.Pool;
  channel?: string;
  log?: (line: string) => void;
  /** first reconnect delay, ms (doubles up to 5 s) */
  reconnectMs?: number;
}

const PAYLOAD = /^([0-9]{1,16}) ([A-Za-z0-9_-]+) (.+)$/;

export class PgNotifyTransport implements Transport {
  readonly name = 'postgres';
  readonly #opts: Required<PgNotifyOptions>;
  /** distinguishes this process's own notifications, which it already delivered locally */
  readonly #me = randomBytes(6).toString('base64url');
  #hooks: TransportHooks | null = null;
  #client: pg.Client | null = null;
  #healthy = false;
  #closed = false;
  #retry: NodeJS.Timeout | null = null;
  #delay: number;
  #sendFailing = false;

  constructor(opts: PgNotifyOptions) {
    this.#opts = {
      client: opts.client,
      pool: opts.pool,
      channel: opts.channel ?? NOTIFY_CHANNEL,
      log: opts.log ?? (() => undefined),
      reconnectMs: opts.reconnectMs ?? 250,
    };
    this.#delay = this.#opts.reconnectMs;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  async start(hooks: TransportHooks): Promise<void> {
    this.#hooks = hooks;
    await this.#connect(false);
  }

  async #connect(isRetry: boolean): Promise<void> {
    if (this.#closed) return;
    const client = new pg.Client(this.#opts.client);
    const down = (why: string): void => {
      if (this.#client !== client) return;
      this.#client = null;
      client.removeAllListeners('notification');
      client.end().catch(() => undefined);
      if (this.#closed) return;
      this.#opts.log(`syncd: LISTEN connection to PostgreSQL lost (${why}); reconnecting`);
      this.#setHealthy(false);
      this.#schedule();
    };
    client.on('error', (err) => down(err.message));
    client.on('end', () => down('closed'));
    client.on('notification', (m) => {
      const p = m.channel === this.#opts.channel && m.payload ? PAYLOAD.exec(m.payload) : null;
      if (p && p[2] !== this.#me) this.#hooks?.deliver(p[3]!, Number(p[1]));
    });
    try {
      this.#client = client;
      await client.connect();
      await client.query(`LISTEN ${pg.escapeIdentifier(this.#opts.channel)}`);
    } catch (err) {
      if (this.#client === client) this.#client = null;
      client.end().catch(() => undefined);
      if (!isRetry) this.#opts.log(`syncd: cannot LISTEN on PostgreSQL (${(err as Error).message}); retrying`);
      this.#schedule();
      return;
    }
    if (this.#closed) {
      await client.end().catch(() => undefined);
      return;
    }
    this.#delay = this.#opts.reconnectMs;
    this.#setHealthy(true);
    if (isRetry) {
      this.#opts.log('syncd: LISTEN connection to PostgreSQL restored');
      this.#hooks?.gap();
    }
  }

  #schedule(): void {
    if (this.#closed || this.#retry) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      void this.#connect(true);
    }, this.#delay);
    this.#retry.unref();
    this.#delay = Math.min(this.#delay * 2, 5000);
  }

  #setHealthy(v: boolean): void {
    if (this.#healthy === v) return;
    this.#healthy = v;
    this.#hooks?.health();
  }

  send(namespace: string, head: number): void {
    if (this.#closed) return;
    this.#opts.pool.query('SELECT pg_notify($1, $2)', [this.#opts.channel, `${head} ${this.#me} ${namespace}`]).then(
      () => {
        this.#sendFailing = false;
      },
      (err: Error) => {
        // lossy by contract; say so once per outage, not once per commit
        if (!this.#sendFailing) this.#opts.log(`syncd: pg_notify failed (${err.message}); other processes wake by their safety net`);
        this.#sendFailing = true;
      },
    );
  }

  watch(): void {
    // one channel carries every namespace
  }

  unwatch(): void {}

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#retry) clearTimeout(this.#retry);
    this.#retry = null;
    const c = this.#client;
    this.#client = null;
    this.#healthy = false;
    await c?.end().catch(() => undefined);
  }
}
