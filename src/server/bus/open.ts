// The notifier of a process on a shared PostgreSQL store: NATS first when
// configured, PostgreSQL LISTEN/NOTIFY always (alone, or as NATS's fallback).

import type { PostgresStore } from '../store/postgres/store.js';
import { NatsTransport } from './nats.js';
import { PgNotifyTransport } from './pg.js';
import { SharedBus, type Transport } from './shared.js';

export interface ClusterBusOptions {
  /** NATS servers (nats://host:port[,…]); omitted = LISTEN/NOTIFY only */
  nats?: string;
  natsPrefix?: string;
  /** poll period of watched heads while a transport is down, ms */
  pollMs?: number;
  log: (line: string) => void;
}

export async function openClusterBus(store: PostgresStore, opts: ClusterBusOptions): Promise<SharedBus> {
  const transports: Transport[] = [];
  if (opts.nats !== undefined) transports.push(new NatsTransport({ servers: opts.nats, prefix: opts.natsPrefix, log: opts.log }));
  transports.push(new PgNotifyTransport({ client: store.clientConfig(), pool: store.pool, log: opts.log }));
  const bus = new SharedBus(transports, { heads: (names) => store.headsOf(names), pollMs: opts.pollMs, log: opts.log });
  try {
    await bus.start();
  } catch (err) {
    await bus.close();
    throw err;
  }
  return bus;
}
