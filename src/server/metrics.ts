// Prometheus metrics (prom-client) in a registry of this server instance,
// so several servers in one process (tests) never share counters. Journal
// figures are read from the store at scrape time: they stay right even when
// another process (the admin CLI's trim) moved them.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { JournalStore } from './store/types.js';

export interface LiveFigures {
  longpollWaiters(): number;
  sseStreams(): number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'method' | 'code'>;
  readonly duration: Histogram<'route'>;
  readonly resets: Counter<'reason'>;
  readonly commitOps: Counter<'op' | 'status'>;
  readonly conflicts: Counter<string>;
  readonly retentionMisses: Counter<string>;
  readonly longpollReplies: Counter<'outcome'>;
  readonly rateLimited: Counter<string>;
  readonly streamsRefused: Counter<'reason'>;
  readonly streamsEnded: Counter<string>;

  constructor(store: JournalStore, live: LiveFigures) {
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'syncd_http_requests_total',
      help: 'HTTP requests by route, method and status code',
      labelNames: ['route', 'method', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'syncd_http_request_duration_seconds',
      help: 'Time to answer a request (longpoll and events excluded)',
      labelNames: ['route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    });
    this.resets = new Counter({
      name: 'syncd_cursor_resets_total',
      help: 'Cursors answered with 409 reset, by reason',
      labelNames: ['reason'],
      registers,
    });
    this.commitOps = new Counter({
      name: 'syncd_commit_ops_total',
      help: 'Committed ops by op and result status (ok, conflict, error, replayed)',
      labelNames: ['op', 'status'],
      registers,
    });
    this.conflicts = new Counter({
      name: 'syncd_commit_conflicts_total',
      help: 'Ops refused because base_rev was not the current rev',
      registers,
    });
    this.retentionMisses = new Counter({
      name: 'syncd_retention_misses_total',
      help: 'Active devices whose cursor a trim left below the floor (the count cap forced it)',
      registers,
    });
    this.longpollReplies = new Counter({
      name: 'syncd_longpoll_replies_total',
      help: 'Longpoll replies by outcome (changes, timeout, backoff)',
      labelNames: ['outcome'],
      registers,
    });
    this.rateLimited = new Counter({
      name: 'syncd_rate_limited_total',
      help: 'Requests answered 429 rate_limited by a device or namespace token bucket',
      registers,
    });
    this.streamsRefused = new Counter({
      name: 'syncd_sse_refused_total',
      help: 'Event streams refused with 429, by the cap that refused them (device, namespace, total)',
      labelNames: ['reason'],
      registers,
    });
    this.streamsEnded = new Counter({
      name: 'syncd_streams_revoked_total',
      help: 'Open event streams and longpolls ended because their device was revoked',
      registers,
    });
    new Gauge({
      name: 'syncd_longpoll_waiters',
      help: 'Longpolls currently held open',
      registers,
      collect() {
        this.set(live.longpollWaiters());
      },
    });
    new Gauge({
      name: 'syncd_sse_streams',
      help: 'Event streams currently open',
      registers,
      collect() {
        this.set(live.sseStreams());
      },
    });
    // The store is read once per scrape: prom-client collects all metrics
    // concurrently, so each store-derived gauge awaits the same snapshot.
    let snap: { at: number; p: Promise<Snapshot> } | null = null;
    const snapshot = (): Promise<Snapshot> => {
      const now = Date.now();
      if (!snap || now - snap.at > 250) snap = { at: now, p: readSnapshot(store) };
      return snap.p;
    };
    new Gauge({
      name: 'syncd_namespaces',
      help: 'Number of namespaces',
      registers,
      async collect() {
        this.set((await snapshot()).namespaces.length);
      },
    });
    new Gauge({
      name: 'syncd_journal_head',
      help: 'Latest journal seq per namespace',
      labelNames: ['namespace'],
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const n of s.namespaces) this.set({ namespace: n.name }, n.head);
      },
    });
    new Gauge({
      name: 'syncd_journal_floor',
      help: 'Lowest retained seq per namespace',
      labelNames: ['namespace'],
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const n of s.namespaces) this.set({ namespace: n.name }, n.floor);
      },
    });
    new Gauge({
      name: 'syncd_device_cursor_lag',
      help: 'Journal head minus the applied cursor seq of each device',
      labelNames: ['namespace', 'device'],
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const d of s.lags) this.set({ namespace: d.namespace, device: d.device }, d.lag);
      },
    });
    new Gauge({
      name: 'syncd_oldest_device_cursor',
      help: 'Lowest applied cursor seq among the devices of a namespace',
      labelNames: ['namespace'],
      registers,
      async collect() {
        const s = await snapshot();
        this.reset();
        for (const [ns, seq] of s.oldest) this.set({ namespace: ns }, seq);
      },
    });
    new Gauge({
      name: 'syncd_process_resident_memory_bytes',
      help: 'Resident set size of the server process',
      registers,
      collect() {
        this.set(process.memoryUsage.rss());
      },
    });
  }
}

interface Snapshot {
  namespaces: Array<{ name: string; head: number; floor: number }>;
  lags: Array<{ namespace: string; device: string; lag: number }>;
  oldest: Map<string, number>;
}

async function readSnapshot(store: JournalStore): Promise<Snapshot> {
  const [namespaces, devices] = await Promise.all([store.namespaces(), store.devices()]);
  const heads = new Map(namespaces.map((n) => [n.name, n.head]));
  const lags: Snapshot['lags'] = [];
  const oldest = new Map<string, number>();
  for (const d of devices) {
    const head = heads.get(d.namespace);
    if (d.revoked || d.cursorSeq === null || head === undefined) continue;
    lags.push({ namespace: d.namespace, device: d.id, lag: Math.max(0, head - d.cursorSeq) });
    oldest.set(d.namespace, Math.min(oldest.get(d.namespace) ?? Infinity, d.cursorSeq));
  }
  return { namespaces, lags, oldest };
}
