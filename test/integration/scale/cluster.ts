// Real `syncd serve --db … --blobs …` processes (the built CLI) sharing one
// PostgreSQL database and blob folder, plus the tools the scale tests use:
// a per-request round-robin HTTP proxy, longpoll wake measurement and
// journal checks.

import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { BIN, cli, start, type Proc } from '../../helpers/procs.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/pg.js';
import type { Api } from '../../helpers/server.js';
import type { JournalEntry } from '../../../src/protocol/types.js';

/**
 * The CLI without blocking this process: needed when the command talks to
 * something this process serves (the proxy), which spawnSync would starve.
 */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

export interface ServeProc {
  proc: Proc;
  url: string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Cluster {
  db: TestDatabase;
  blobs: string;
  procs: ServeProc[];
  /** starts one more server process on the shared database and blob folder */
  add(opts?: { nats?: string; env?: NodeJS.ProcessEnv }): Promise<ServeProc>;
  /** a device token made with `syncd server add-device --db` */
  device(namespace: string, label?: string): string;
  close(): Promise<void>;
}

export async function startServe(db: string, blobs: string, opts: { nats?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ServeProc> {
  const args = ['serve', '--db', db, '--blobs', blobs, '--port', '0'];
  if (opts.nats) args.push('--nats', opts.nats);
  const proc = start(args, opts.env);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(proc.output.join(''));
    if (m) return { proc, url: m[1]!, kill: (s) => proc.kill(s) };
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  await proc.kill();
  throw new Error(`syncd serve --db did not start:\n${proc.output.join('')}`);
}

export async function startCluster(n: number, opts: { nats?: string } = {}): Promise<Cluster> {
  const db = await createTestDatabase();
  const blobs = await mkdtemp(join(tmpdir(), 'syncd-scale-blobs-'));
  const procs: ServeProc[] = [];
  const cluster: Cluster = {
    db,
    blobs,
    procs,
    async add(o = {}) {
      const p = await startServe(db.url, blobs, { nats: opts.nats, ...o });
      procs.push(p);
      return p;
    },
    device(namespace, label = 'dev') {
      const r = cli(['server', 'add-device', '--db', db.url, '--namespace', namespace, '--label', label]);
      if (r.code !== 0) throw new Error(`add-device failed: ${r.stderr}`);
      return r.stdout.trim();
    },
    async close() {
      await Promise.all(procs.map((p) => p.kill('SIGTERM')));
      await db.drop();
      await rm(blobs, { recursive: true, force: true });
    },
  };
  // sequentially: the first one migrates, the others find the schema in place (racing migrations have their own test)
  for (let i = 0; i < n; i++) await cluster.add();
  return cluster;
}

/** The whole journal from a cursor taken at seq 0 (before the first commit), checked gap-free from seq 1. */
export async function journal(api: Api, cursorAt0: string): Promise<JournalEntry[]> {
  const { entries, head } = await api.changesAll(cursorAt0);
  expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
  return entries;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Waits until the server's /metrics shows at least `n` open longpolls. */
export async function waitForWaiters(url: string, n: number, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const text = await (await fetch(`${url}/metrics`)).text();
    const m = /^syncd_longpoll_waiters (\d+)/m.exec(text);
    if (m && Number(m[1]) >= n) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`no ${n} longpoll waiter(s) on ${url} after ${timeoutMs} ms`);
}

/**
 * Holds a longpoll on `waiter` (cursor at the head), commits one op through
 * `committer`, and returns ms from sending the commit to the longpoll's
 * answer (commit time included: an upper bound of the wake latency).
 */
export async function measureWake(waiter: Api, committer: Api, name: string, timeoutS = 30): Promise<{ ms: number; changes: boolean }> {
  const cursor = (await waiter.get('/v1/list?limit=1')).body.cursor as string;
  const poll = waiter.get(`/v1/longpoll?cursor=${encodeURIComponent(cursor)}&timeout=${timeoutS}`);
  await waitForWaiters(waiter.url, 1);
  const t0 = performance.now();
  await committer.mkdir(name);
  const r = await poll;
  return { ms: performance.now() - t0, changes: r.body.changes === true };
}

/** A per-request round-robin HTTP proxy: request k goes to backends[k % n]. */
export async function roundRobinProxy(backends: string[]): Promise<{ url: string; counts: number[]; close(): Promise<void> }> {
  const targets = backends.map((b) => new URL(b));
  const counts = targets.map(() => 0);
  let next = 0;
  const server: Server = createServer((req, res) => {
    const i = next++ % targets.length;
    counts[i]!++;
    const t = targets[i]!;
    const up = request(
      { host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } },
      (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      },
    );
    up.on('error', () => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end('{"error":"unavailable","message":"backend failed"}');
    });
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    counts,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
