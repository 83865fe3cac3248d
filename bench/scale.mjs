#!/usr/bin/env node
// node bench/scale.mjs [--quick] [--out FILE]
//
// Scale-out figures (docs/scale-out.md), with real `syncd serve --db`
// processes on 127.0.0.1 sharing one PostgreSQL database:
//   commits/s    single-op commits from 16 concurrent clients, through one
//                process vs two (clients split evenly), (a) each client in its
//                own namespace, (b) all in one namespace (one row lock);
//                the embedded SQLite server (--data) alongside for reference
//   wake         a longpoll held on process B, one commit through process A:
//                ms from sending the commit to the longpoll's answer, p50/p99,
//                over LISTEN/NOTIFY and (when nats-server is installed) NATS,
//                each on warmed-up processes; the commit's own round trip alongside
//
// PostgreSQL: SYNCD_BENCH_PG_URL (a role with CREATEDB), else the test role
// of test/helpers/pg.ts on 127.0.0.1:5432 (.ci/run creates it). A database
// is created for the run and dropped at the end.

import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { withDatabase } from './lib/pg-db.mjs';
import { Pool } from 'undici';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'bin', 'syncd');
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const outIdx = args.indexOf('--out');
const outFile = outIdx >= 0 ? args[outIdx + 1] : null;

const CLIENTS = 16;
const COMMITS = quick ? 800 : 3000; // per configuration and run
const RUNS = quick ? 1 : 3;
const WAKES = quick ? 60 : 300;

const log = (s) => process.stderr.write(`${s}\n`);
const now = () => performance.now();
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
};
const median = (xs) => pct(xs, 50);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const work = mkdtempSync(join(tmpdir(), 'syncd-bench-scale-'));
const children = new Set();

function serve(argv) {
  const child = spawn(process.execPath, [BIN, 'serve', ...argv, '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) {
        clearInterval(t);
        resolve({ url: m[1], child, stop: () => stop(child) });
      } else if (child.exitCode !== null) {
        clearInterval(t);
        reject(new Error(`syncd serve exited: ${out}`));
      }
    }, 20);
  });
}

async function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  children.delete(child);
}

function cli(...argv) {
  const r = spawnSync(process.execPath, [BIN, ...argv], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`syncd ${argv[0]} ${argv[1]}: ${r.stderr}`);
  return r.stdout.trim();
}

async function commitLoop(url, token, count, prefix) {
  const pool = new Pool(url, { connections: 1, pipelining: 1 });
  try {
    for (let i = 0; i < count; i++) {
      const res = await pool.request({
        method: 'POST',
        path: '/v1/commit',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `${prefix}-${i}` }] }),
      });
      const body = JSON.parse(await res.body.text());
      if (res.statusCode !== 200 || body.results[0].status !== 'ok') throw new Error(`commit failed: ${res.statusCode} ${JSON.stringify(body)}`);
    }
  } finally {
    await pool.close();
  }
}

/** CLIENTS concurrent committers, client k through urls[k % urls.length]; returns commits/s. */
async function commitRate(urls, tokens, tag) {
  const per = Math.ceil(COMMITS / CLIENTS);
  const t = now();
  await Promise.all(tokens.map((tok, k) => commitLoop(urls[k % urls.length], tok, per, `${tag}-${k}`)));
  return (per * CLIENTS) / ((now() - t) / 1000);
}

async function get(pool, path, token) {
  const res = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
  return JSON.parse(await res.body.text());
}

async function waiters(url) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(/^syncd_longpoll_waiters (\d+)/m.exec(text)?.[1] ?? 0);
}

/** Fresh processes run cold (JIT, pools): give both some commits before timing anything. */
async function warmUp(urls, token, tag) {
  await Promise.all(urls.map((u, i) => commitLoop(u, token, quick ? 200 : 500, `${tag}-warm${i}`)));
}

/** WAKES samples: longpoll on B, commit through A. */
async function wakeLatency(A, B, token, tag) {
  const pa = new Pool(A, { connections: 1 });
  const pb = new Pool(B, { connections: 2 });
  const wake = [];
  const commit = [];
  try {
    for (let i = 0; i < WAKES; i++) {
      const { cursor } = await get(pb, '/v1/list?limit=1', token);
      const poll = get(pb, `/v1/longpoll?cursor=${encodeURIComponent(cursor)}&timeout=30`, token);
      while ((await waiters(B)) < 1) await sleep(1);
      const t0 = now();
      const res = await pa.request({
        method: 'POST',
        path: '/v1/commit',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `${tag}-${i}` }] }),
      });
      await res.body.text();
      commit.push(now() - t0);
      const r = await poll;
      if (!r.changes) throw new Error('longpoll answered without changes');
      wake.push(now() - t0);
    }
  } finally {
    await pa.close();
    await pb.close();
  }
  return {
    wake_p50_ms: +median(wake).toFixed(2),
    wake_p99_ms: +pct(wake, 99).toFixed(2),
    wake_max_ms: +pct(wake, 100).toFixed(2),
    commit_p50_ms: +median(commit).toFixed(2),
    samples: WAKES,
  };
}

function natsBinary() {
  for (const p of ['/usr/sbin/nats-server', '/usr/bin/nats-server', '/usr/local/bin/nats-server']) if (existsSync(p)) return p;
  try {
    return execFileSync('sh', ['-c', 'command -v nats-server'], { encoding: 'utf8' }).trim() || null;
  } catch {
    return null;
  }
}

async function startNats(bin) {
  const child = spawn(bin, ['-a', '127.0.0.1', '-p', '-1'], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let out = '';
  const port = await new Promise((resolve, reject) => {
    const on = (d) => {
      out += d;
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout.on('data', on);
    child.stderr.on('data', on);
    child.once('exit', () => reject(new Error(`nats-server exited: ${out}`)));
  });
  return { url: `nats://127.0.0.1:${port}`, stop: () => stop(child) };
}

async function main() {
  const results = { machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, clients: CLIENTS, commits: COMMITS, runs: RUNS };
  log(`scale bench: ${CLIENTS} clients, ${COMMITS} commits per configuration, ${RUNS} run(s), ${WAKES} wake samples`);

  // reference: the embedded SQLite server, one process
  {
    const data = join(work, 'sqlite');
    const s = await serve(['--data', data]);
    const tokens = Array.from({ length: CLIENTS }, (_, k) => cli('server', 'add-device', '--data', data, '--namespace', `ns${k}`, '--label', 'b'));
    const shared = Array.from({ length: CLIENTS }, () => cli('server', 'add-device', '--data', data, '--namespace', 'one', '--label', 'b'));
    const own = [];
    const one = [];
    for (let r = 0; r < RUNS; r++) {
      own.push(await commitRate([s.url], tokens, `s${r}`));
      one.push(await commitRate([s.url], shared, `s1${r}`));
    }
    await s.stop();
    results.sqlite_one_process = { own_namespaces: Math.round(median(own)), one_namespace: Math.round(median(one)) };
    log(`  sqlite, 1 process:     ${results.sqlite_one_process.own_namespaces} commits/s (own namespaces), ${results.sqlite_one_process.one_namespace} (one namespace)`);
  }

  await withDatabase(async (db) => {
    const blobs = join(work, 'blobs');
    const A = await serve(['--db', db, '--blobs', blobs]);
    const B = await serve(['--db', db, '--blobs', blobs]);
    const tokens = Array.from({ length: CLIENTS }, (_, k) => cli('server', 'add-device', '--db', db, '--namespace', `ns${k}`, '--label', 'b'));
    const shared = Array.from({ length: CLIENTS }, () => cli('server', 'add-device', '--db', db, '--namespace', 'one', '--label', 'b'));
    const rate = { one: { own: [], one: [] }, two: { own: [], one: [] } };
    for (let r = 0; r < RUNS; r++) {
      rate.one.own.push(await commitRate([A.url], tokens, `p1-${r}`));
      rate.two.own.push(await commitRate([A.url, B.url], tokens, `p2-${r}`));
      rate.one.one.push(await commitRate([A.url], shared, `q1-${r}`));
      rate.two.one.push(await commitRate([A.url, B.url], shared, `q2-${r}`));
    }
    results.postgres_commits_per_s = {
      one_process: { own_namespaces: Math.round(median(rate.one.own)), one_namespace: Math.round(median(rate.one.one)) },
      two_processes: { own_namespaces: Math.round(median(rate.two.own)), one_namespace: Math.round(median(rate.two.one)) },
    };
    const pr = results.postgres_commits_per_s;
    log(`  postgres, 1 process:   ${pr.one_process.own_namespaces} commits/s (own namespaces), ${pr.one_process.one_namespace} (one namespace)`);
    log(`  postgres, 2 processes: ${pr.two_processes.own_namespaces} commits/s (own namespaces), ${pr.two_processes.one_namespace} (one namespace)`);

    const wakeTok = cli('server', 'add-device', '--db', db, '--namespace', 'wake', '--label', 'b');
    await warmUp([A.url, B.url], wakeTok, 'pg');
    results.wake_listen_notify = await wakeLatency(A.url, B.url, wakeTok, 'pg');
    const w = results.wake_listen_notify;
    log(`  wake via LISTEN/NOTIFY: p50 ${w.wake_p50_ms} ms, p99 ${w.wake_p99_ms} ms (commit alone p50 ${w.commit_p50_ms} ms)`);
    await A.stop();
    await B.stop();

    const bin = natsBinary();
    if (!bin) {
      log('  nats-server not installed: NATS wake latency not measured');
      return;
    }
    const nats = await startNats(bin);
    const NA = await serve(['--db', db, '--blobs', blobs, '--nats', nats.url]);
    const NB = await serve(['--db', db, '--blobs', blobs, '--nats', nats.url]);
    await warmUp([NA.url, NB.url], wakeTok, 'nats');
    results.wake_nats = await wakeLatency(NA.url, NB.url, wakeTok, 'nats');
    const n = results.wake_nats;
    log(`  wake via NATS:          p50 ${n.wake_p50_ms} ms, p99 ${n.wake_p99_ms} ms (commit alone p50 ${n.commit_p50_ms} ms)`);
    await NA.stop();
    await NB.stop();
    await nats.stop();
  });

  process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  if (outFile) writeFileSync(outFile, `${JSON.stringify(results, null, 2)}\n`);
}

try {
  await main();
} finally {
  for (const c of children) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
