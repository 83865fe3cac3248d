// Server options, documented where declared and validated once.

import { newNodeId } from './ids.js';
import type { JournalStore } from './store/types.js';

export interface ServerOptions {
  /** the data folder: syncd.db, blobs/, tmp/. Created on first use. Required unless `db` (or `store`) and `blobsDir` are given. */
  dataDir?: string;
  /** a PostgreSQL URL (postgres://…): the shared journal store of a scale-out deployment, instead of DIR/syncd.db */
  db?: string;
  /** NATS servers (nats://host:port[,…]) for cross-process wakes; needs `db`. Without it, LISTEN/NOTIFY does the job */
  nats?: string;
  /** the blob folder (blobs/, tmp/), shared by every process of a deployment (default: dataDir) */
  blobsDir?: string;
  /** PostgreSQL connections per process (default 10) */
  dbPoolSize?: number;
  /** while a cross-process transport is down, how often waiters' heads are re-read, ms (default 1000) */
  busPollMs?: number;
  /** bind address (default 127.0.0.1) */
  host?: string;
  /** serve HTTPS (HTTP/2 with HTTP/1.1 fallback) with this PEM certificate chain and key; default: cleartext */
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** TCP port; 0 picks a free one (default 7420) */
  port?: number;
  /** journal count cap to store as the policy; 0 = unlimited; omitted = keep the stored policy */
  retentionEntries?: number;
  /** journal age limit in seconds to store as the policy; 0 = unlimited; omitted = keep the stored policy */
  retentionAgeS?: number;
  /** how long versions are kept, days, to store as the policy (docs/history.md); 0 = only back to the journal floor; omitted = keep the stored value (default 30) */
  keepVersionsDays?: number;
  /** cap of the longpoll wake spread, ms (default 1000) */
  longpollSpreadMaxMs?: number;
  /** more open longpolls than this get `backoff` (default 50,000) */
  maxLongpollWaiters?: number;
  /** period of the retention trim, ms; 0 = only at start (default 10 min) */
  trimIntervalMs?: number;
  /** period of the content collector, ms; 0 = never by itself (default 1 h; src/server/gc.ts) */
  gcIntervalMs?: number;
  /** the collector's first pass comes this long after start, ms (default 10 min, at most gcIntervalMs); at start only gc-trash is settled */
  gcFirstDelayMs?: number;
  /** uploads not yet committed are kept this long, ms (default a day) */
  gcUploadGraceMs?: number;
  /** unneeded content is deleted after it has been unneeded this long, ms (default a day) */
  gcOrphanGraceMs?: number;
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
  /** a commit or batch-fetch body must arrive whole within this, ms (default 60 s) */
  bodyDeadlineMs?: number;
  /** an upload slower than this on average, after its first bodyRateGraceMs, is cut, bytes/s (default 1024; 0 = off) */
  minBodyBytesPerS?: number;
  /** the start of an upload not judged by minBodyBytesPerS, ms (default 10 s) */
  bodyRateGraceMs?: number;
  /** a request whose headers are not complete within this is answered 408 and its socket destroyed, ms (default 60 s) */
  headersTimeoutMs?: number;
  /** open TCP connections; more are refused at accept (default 10,000) */
  maxConnections?: number;
  /** request bodies read whole (the JSON routes) held at once, bytes, server-wide / per namespace (default 256 MiB / 64 MiB) */
  bodyBudgetBytes?: number;
  bodyBudgetPerNamespaceBytes?: number;
  /** open longpolls per device / per namespace before `backoff` (default 16 / 5,000) */
  maxLongpollsPerDevice?: number;
  maxLongpollsPerNamespace?: number;
  /** open event streams per device / per namespace / in total before 429 (default 4 / 1,000 / 10,000) */
  maxStreamsPerDevice?: number;
  maxStreamsPerNamespace?: number;
  maxStreams?: number;
  /** an event stream whose writes have not drained for this long is closed, ms (default 30 s) */
  eventsStallMs?: number;
  /** a download or a long reply (snapshot, deleted, restore, rewind) whose client took no byte of it for this long is cut, ms (default 120 s: an agent under a low bandwidth limit pauses its reads) */
  replyStallMs?: number;
  /** how often open streams and longpolls are checked for revoked devices, ms (default 5 s) */
  authRecheckMs?: number;
  /** token buckets: requests per second per device / per namespace (0 = off, the default) */
  rateDevice?: number;
  rateNamespace?: number;
  /** bucket sizes: requests a device / namespace may burst (default 10 × the rate) */
  burstDevice?: number;
  burstNamespace?: number;
  /** deepest node a commit may create or move to, counting the root's children as 1 (default 1024) */
  maxDepth?: number;
  /** longest path a commit may create or move to, in UTF-8 bytes with "/" separators (default 4096) */
  maxPathBytes?: number;
  /** how long a /healthz write probe's result is reused, ms (default 10 s) */
  healthCacheMs?: number;
  /** serve /metrics on its own listener at this address instead of the API port */
  metricsHost?: string;
  /** the port of that listener (0 picks a free one); given alone, metricsHost is 127.0.0.1 */
  metricsPort?: number;
  /** where operational messages go (default: stderr) */
  log?: (line: string) => void;
  /** use this journal store instead of DIR/syncd.db (e.g. PostgreSQL); closed by close() */
  store?: JournalStore;
  /** node id source (default: random "n_…"); tests pass a seeded one to make runs replayable */
  newNodeId?: () => string;
}

type OptionalKeys = 'retentionEntries' | 'retentionAgeS' | 'keepVersionsDays' | 'store' | 'dataDir' | 'db' | 'nats' | 'tls' | 'metricsHost' | 'metricsPort';
export type ResolvedOptions = Required<Omit<ServerOptions, OptionalKeys | 'blobsDir'>> & Pick<ServerOptions, OptionalKeys> & { blobsDir: string };

function nonNegInt(v: number | undefined, name: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  return v;
}

function nonNegDays(v: number): number {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`keepVersionsDays must be a non-negative number, got ${v}`);
  return v;
}

function nonNegNum(v: number | undefined, name: string, dflt = 0): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a non-negative number, got ${v}`);
  return v;
}

function checkPort(port: number): number {
  if (port > 65535) throw new RangeError(`port must be 0–65535, got ${port}`);
  return port;
}

export function resolveOptions(o: ServerOptions): ResolvedOptions {
  const given = (v: string | undefined): v is string => typeof v === 'string' && v !== '';
  if (o.db !== undefined && !/^postgres(ql)?:\/\//.test(o.db)) throw new RangeError('db must be a postgres:// or postgresql:// URL');
  if (!given(o.dataDir) && o.db === undefined && o.store === undefined) throw new RangeError('dataDir is required (or db)');
  if (o.db !== undefined && given(o.dataDir)) throw new RangeError('dataDir and db are exclusive: one journal store per server');
  if (o.nats !== undefined && o.db === undefined) throw new RangeError('nats needs db: only processes sharing a PostgreSQL store share wakes');
  if (o.nats !== undefined && !/^(nats|tls):\/\/\S+$/.test(o.nats)) throw new RangeError('nats must be a nats://host:port URL');
  const blobsDir = given(o.blobsDir) ? o.blobsDir : o.dataDir;
  if (!given(blobsDir)) throw new RangeError('blobsDir is required with db');
  const port = checkPort(nonNegInt(o.port, 'port', 7420));
  if (o.metricsHost !== undefined && o.metricsPort === undefined) throw new RangeError('metricsHost needs metricsPort');
  return {
    dataDir: o.dataDir,
    db: o.db,
    nats: o.nats,
    blobsDir,
    dbPoolSize: Math.max(1, nonNegInt(o.dbPoolSize, 'dbPoolSize', 10)),
    busPollMs: Math.max(10, nonNegInt(o.busPollMs, 'busPollMs', 1000)),
    host: o.host ?? '127.0.0.1',
    tls: o.tls,
    port,
    retentionEntries: o.retentionEntries === undefined ? undefined : nonNegInt(o.retentionEntries, 'retentionEntries', 0),
    retentionAgeS: o.retentionAgeS === undefined ? undefined : nonNegInt(o.retentionAgeS, 'retentionAgeS', 0),
    keepVersionsDays: o.keepVersionsDays === undefined ? undefined : nonNegDays(o.keepVersionsDays),
    longpollSpreadMaxMs: nonNegInt(o.longpollSpreadMaxMs, 'longpollSpreadMaxMs', 1000),
    maxLongpollWaiters: nonNegInt(o.maxLongpollWaiters, 'maxLongpollWaiters', 50_000),
    trimIntervalMs: nonNegInt(o.trimIntervalMs, 'trimIntervalMs', 600_000),
    gcIntervalMs: nonNegInt(o.gcIntervalMs, 'gcIntervalMs', 3_600_000),
    gcFirstDelayMs: nonNegInt(o.gcFirstDelayMs, 'gcFirstDelayMs', 600_000),
    gcUploadGraceMs: nonNegInt(o.gcUploadGraceMs, 'gcUploadGraceMs', 86_400_000),
    gcOrphanGraceMs: nonNegInt(o.gcOrphanGraceMs, 'gcOrphanGraceMs', 86_400_000),
    maxBlobBytes: nonNegInt(o.maxBlobBytes, 'maxBlobBytes', 64 * 1024 ** 3),
    eventsHeartbeatMs: Math.max(10, nonNegInt(o.eventsHeartbeatMs, 'eventsHeartbeatMs', 15_000)),
    activityFlushMs: nonNegInt(o.activityFlushMs, 'activityFlushMs', 1000),
    bodyIdleMs: Math.max(100, nonNegInt(o.bodyIdleMs, 'bodyIdleMs', 120_000)),
    shutdownGraceMs: nonNegInt(o.shutdownGraceMs, 'shutdownGraceMs', 10_000),
    bodyDeadlineMs: Math.max(100, nonNegInt(o.bodyDeadlineMs, 'bodyDeadlineMs', 60_000)),
    minBodyBytesPerS: nonNegInt(o.minBodyBytesPerS, 'minBodyBytesPerS', 1024),
    bodyRateGraceMs: nonNegInt(o.bodyRateGraceMs, 'bodyRateGraceMs', 10_000),
    headersTimeoutMs: Math.max(100, nonNegInt(o.headersTimeoutMs, 'headersTimeoutMs', 60_000)),
    maxConnections: Math.max(1, nonNegInt(o.maxConnections, 'maxConnections', 10_000)),
    bodyBudgetBytes: Math.max(1, nonNegInt(o.bodyBudgetBytes, 'bodyBudgetBytes', 256 * 1024 * 1024)),
    bodyBudgetPerNamespaceBytes: Math.max(1, nonNegInt(o.bodyBudgetPerNamespaceBytes, 'bodyBudgetPerNamespaceBytes', 64 * 1024 * 1024)),
    maxLongpollsPerDevice: Math.max(1, nonNegInt(o.maxLongpollsPerDevice, 'maxLongpollsPerDevice', 16)),
    maxLongpollsPerNamespace: Math.max(1, nonNegInt(o.maxLongpollsPerNamespace, 'maxLongpollsPerNamespace', 5_000)),
    maxStreamsPerDevice: Math.max(1, nonNegInt(o.maxStreamsPerDevice, 'maxStreamsPerDevice', 4)),
    maxStreamsPerNamespace: Math.max(1, nonNegInt(o.maxStreamsPerNamespace, 'maxStreamsPerNamespace', 1_000)),
    maxStreams: Math.max(1, nonNegInt(o.maxStreams, 'maxStreams', 10_000)),
    eventsStallMs: Math.max(10, nonNegInt(o.eventsStallMs, 'eventsStallMs', 30_000)),
    replyStallMs: Math.max(10, nonNegInt(o.replyStallMs, 'replyStallMs', 120_000)),
    authRecheckMs: Math.max(10, nonNegInt(o.authRecheckMs, 'authRecheckMs', 5_000)),
    rateDevice: nonNegNum(o.rateDevice, 'rateDevice'),
    rateNamespace: nonNegNum(o.rateNamespace, 'rateNamespace'),
    burstDevice: Math.max(1, nonNegNum(o.burstDevice, 'burstDevice', 10 * nonNegNum(o.rateDevice, 'rateDevice'))),
    burstNamespace: Math.max(1, nonNegNum(o.burstNamespace, 'burstNamespace', 10 * nonNegNum(o.rateNamespace, 'rateNamespace'))),
    maxDepth: Math.max(1, nonNegInt(o.maxDepth, 'maxDepth', 1024)),
    maxPathBytes: Math.max(255, nonNegInt(o.maxPathBytes, 'maxPathBytes', 4096)),
    healthCacheMs: nonNegInt(o.healthCacheMs, 'healthCacheMs', 10_000),
    metricsHost: o.metricsHost ?? (o.metricsPort !== undefined ? '127.0.0.1' : undefined),
    metricsPort: o.metricsPort === undefined ? undefined : checkPort(nonNegInt(o.metricsPort, 'metricsPort', 0)),
    log: o.log ?? ((line: string) => process.stderr.write(`${line}\n`)),
    store: o.store,
    newNodeId: o.newNodeId ?? newNodeId,
  };
}
