// Server options, documented where declared and validated once.

import { newNodeId } from './ids.js';
import type { JournalStore } from './store/types.js';

export interface ServerOptions {
  /** the data folder: syncd.db, blobs/, tmp/. Created on first use. */
  dataDir: string;
  /** bind address (default 127.0.0.1) */
  host?: string;
  /** TCP port; 0 picks a free one (default 7420) */
  port?: number;
  /** journal count cap to store as the policy; 0 = unlimited; omitted = keep the stored policy */
  retentionEntries?: number;
  /** journal age limit in seconds to store as the policy; 0 = unlimited; omitted = keep the stored policy */
  retentionAgeS?: number;
  /** cap of the longpoll wake spread, ms (default 1000) */
  longpollSpreadMaxMs?: number;
  /** more open longpolls than this get `backoff` (default 50,000) */
  maxLongpollWaiters?: number;
  /** period of the retention trim, ms; 0 = only at start (default 10 min) */
  trimIntervalMs?: number;
  /** largest blob a PUT may upload, bytes (default 64 GiB) */
  maxBlobBytes?: number;
  /** SSE heartbeat period, ms (default 15 s) */
  eventsHeartbeatMs?: number;
  /** how often buffered device activity is written, ms (default 1 s) */
  activityFlushMs?: number;
  /** a request body that sends nothing for this long is aborted, ms (default 120 s) */
  bodyIdleMs?: number;
  /** how long close() lets in-flight requests finish before cutting them, ms (default 10 s) */
  shutdownGraceMs?: number;
  /** where operational messages go (default: stderr) */
  log?: (line: string) => void;
  /** use this journal store instead of DIR/syncd.db (e.g. PostgreSQL); closed by close() */
  store?: JournalStore;
  /** node id source (default: random "n_…"); tests pass a seeded one to make runs replayable */
  newNodeId?: () => string;
}

export type ResolvedOptions = Required<Omit<ServerOptions, 'retentionEntries' | 'retentionAgeS' | 'store'>> &
  Pick<ServerOptions, 'retentionEntries' | 'retentionAgeS' | 'store'>;

function nonNegInt(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

export function resolveOptions(o: ServerOptions): ResolvedOptions {
  if (typeof o.dataDir !== 'string' || o.dataDir === '') throw new RangeError('dataDir is required');
  const port = nonNegInt(o.port, 'port', 7420);
  if (port > 65535) throw new RangeError(`port must be 0–65535, got ${port}`);
  return {
    dataDir: o.dataDir,
    host: o.host ?? '127.0.0.1',
    port,
    retentionEntries: o.retentionEntries === undefined ? undefined : nonNegInt(o.retentionEntries, 'retentionEntries', 0),
    retentionAgeS: o.retentionAgeS === undefined ? undefined : nonNegInt(o.retentionAgeS, 'retentionAgeS', 0),
    longpollSpreadMaxMs: nonNegInt(o.longpollSpreadMaxMs, 'longpollSpreadMaxMs', 1000),
    maxLongpollWaiters: nonNegInt(o.maxLongpollWaiters, 'maxLongpollWaiters', 50_000),
    trimIntervalMs: nonNegInt(o.trimIntervalMs, 'trimIntervalMs', 600_000),
    maxBlobBytes: nonNegInt(o.maxBlobBytes, 'maxBlobBytes', 64 * 1024 ** 3),
    eventsHeartbeatMs: Math.max(10, nonNegInt(o.eventsHeartbeatMs, 'eventsHeartbeatMs', 15_000)),
    activityFlushMs: nonNegInt(o.activityFlushMs, 'activityFlushMs', 1000),
    bodyIdleMs: Math.max(100, nonNegInt(o.bodyIdleMs, 'bodyIdleMs', 120_000)),
    shutdownGraceMs: nonNegInt(o.shutdownGraceMs, 'shutdownGraceMs', 10_000),
    log: o.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
    store: o.store,
    newNodeId: o.newNodeId ?? newNodeId,
  };
}
