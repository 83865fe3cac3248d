#!/usr/bin/env node
// Server benchmark (plain node, uses the built dist/ via bin/syncd; run
// `npm run build` first). Starts `syncd serve` as a child process on a temp
// data folder and measures, over loopback HTTP with undici keep-alive:
//   1. sequential single-op commits/s (each op one durable transaction)
//   2. changes entries/s served, paging a 100,000-entry journal
//   3. longpoll wake latency: one waiter, commit sent → longpoll reply
//   4. server RSS with 1,000 open longpolls
// plus a baseline: the round trip of a request the server answers without
// touching the store (404), so figures can be read as ratios.
// Usage: node bench/server.mjs [--entries 100000] [--commits 2000] [--json]

import { execFileSync, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Agent, Pool, request } from 'undici';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin/syncd');
const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const ENTRIES = opt('entries', 100_000);
const COMMITS = opt('commits', 2000);
const JSON_OUT = args.includes('--json');

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (ns) => Number(ns) / 1e6;
const log = (...a) => {
  if (!JSON_OUT) console.log(...a);
};

async function startServe(dataDir) {
  const child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((res, rej) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const m = /http:\/\/[\d.]+:\d+/.exec(out);
      if (m) res(m[0]);
    });
    child.on('exit', (c) => rej(new Error(`serve exited ${c}`)));
  });
  return { child, url };
}

function addDevice(dataDir, ns) {
  return execFileSync(process.execPath, [BIN, 'server', 'add-device', '--data', dataDir, '--namespace', ns, '--label', 'bench'], { encoding: 'utf8' }).trim();
}

function rssOf(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

async function main() {
  const dataDir = mkdtempSync(join(tmpdir(), 'syncd-bench-'));
  const { child, url } = await startServe(dataDir);
  const pool = new Pool(url, { connections: 16, pipelining: 1 });
  const call = async (token, method, path, body) => {
    const r = await pool.request({ method, path, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });
    const text = await r.body.text();
    return { status: r.statusCode, body: text ? JSON.parse(text) : null };
  };
  const results = { machine: { cpus: (await import('node:os')).cpus().length, node: process.version } };
  try {
    // baseline: a round trip the server answers without the store
    const tok0 = addDevice(dataDir, 'baseline');
    const base = [];
    for (let i = 0; i < 2000; i++) {
      const t = process.hrtime.bigint();
      await call(tok0, 'GET', '/v1/nope');
      base.push(ms(process.hrtime.bigint() - t));
    }
    results.baseline_404_rtt_ms = { median: pct(base, 50), p99: pct(base, 99) };
    log(`baseline (404 round trip): median ${pct(base, 50).toFixed(3)} ms, p99 ${pct(base, 99).toFixed(3)} ms`);

    // 1. sequential single-op commits
    const tok1 = addDevice(dataDir, 'commits');
    const lat = [];
    const t1 = process.hrtime.bigint();
    for (let i = 0; i < COMMITS; i++) {
      const t = process.hrtime.bigint();
      const r = await call(tok1, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }] }));
      if (r.status !== 200 || r.body.results[0].status !== 'ok') throw new Error(`commit failed: ${JSON.stringify(r.body)}`);
      lat.push(ms(process.hrtime.bigint() - t));
    }
    const commitS = ms(process.hrtime.bigint() - t1) / 1000;
    results.single_op_commits_per_s = Math.round(COMMITS / commitS);
    results.single_op_commit_ms = { median: pct(lat, 50), p99: pct(lat, 99) };
    log(`single-op commits: ${results.single_op_commits_per_s}/s sequential (median ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms)`);

    // 2. changes served: seed ENTRIES entries with 1000-op commits from 4 clients, then page them
    const tok2 = addDevice(dataDir, 'changes');
    const c0 = (await call(tok2, 'GET', '/v1/list?limit=1')).body.cursor;
    const seedStart = process.hrtime.bigint();
    let made = 0;
    const seeders = Array.from({ length: 4 }, async (_, w) => {
      for (let b = w; b * 1000 < ENTRIES; b += 4) {
        const n = Math.min(1000, ENTRIES - b * 1000);
        const ops = Array.from({ length: n }, (_, i) => ({ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `e${b}-${i}` }));
        const r = await call(tok2, 'POST', '/v1/commit', JSON.stringify({ ops }));
        if (r.status !== 200) throw new Error(`seed failed ${r.status}`);
        made += n;
      }
    });
    await Promise.all(seeders);
    const seedS = ms(process.hrtime.bigint() - seedStart) / 1000;
    results.batched_ops_per_s_4_clients = Math.round(made / seedS);
    log(`seeding: ${made} ops in 1000-op commits from 4 clients: ${results.batched_ops_per_s_4_clients} ops/s`);
    for (const limit of [1000, 10000]) {
      let cursor = c0;
      let got = 0;
      let bytes = 0;
      const t = process.hrtime.bigint();
      for (;;) {
        const r = await pool.request({ method: 'GET', path: `/v1/changes?cursor=${encodeURIComponent(cursor)}&limit=${limit}`, headers: { authorization: `Bearer ${tok2}` } });
        const text = await r.body.text();
        bytes += text.length;
        const body = JSON.parse(text);
        got += body.entries.length;
        cursor = body.cursor;
        if (!body.has_more) break;
      }
      const s = ms(process.hrtime.bigint() - t) / 1000;
      if (got !== ENTRIES) throw new Error(`paged ${got} entries, expected ${ENTRIES}`);
      results[`changes_entries_per_s_limit_${limit}`] = Math.round(got / s);
      log(`changes: ${got} entries with limit=${limit} in ${s.toFixed(2)} s: ${Math.round(got / s)} entries/s (${(bytes / s / 1e6).toFixed(1)} MB/s of JSON, parsed by the client)`);
    }

    // 3. longpoll wake latency, one waiter
    const tok3 = addDevice(dataDir, 'wake');
    const waker = new Pool(url, { connections: 2 });
    const wake = [];
    for (let i = 0; i < 200; i++) {
      const st = (await call(tok3, 'GET', '/v1/list?limit=1')).body;
      const polling = waker.request({ method: 'GET', path: `/v1/longpoll?cursor=${encodeURIComponent(st.cursor)}&timeout=30`, headers: { authorization: `Bearer ${tok3}` } });
      await new Promise((r) => setTimeout(r, 5));
      const t = process.hrtime.bigint();
      const committed = call(tok3, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `w${i}` }] }));
      const r = await polling;
      const body = JSON.parse(await r.body.text());
      wake.push(ms(process.hrtime.bigint() - t));
      if (!body.changes) throw new Error('longpoll did not report changes');
      await committed;
    }
    await waker.close();
    results.longpoll_wake_ms = { median: pct(wake, 50), p99: pct(wake, 99) };
    log(`longpoll wake (commit sent → longpoll reply, incl. the commit's fsync): median ${pct(wake, 50).toFixed(2)} ms, p99 ${pct(wake, 99).toFixed(2)} ms`);

    // 4. RSS with 1,000 open longpolls, on a fresh server (the one above has
    //    just parsed 100 MB of commits, which inflates its heap)
    const dataDir2 = mkdtempSync(join(tmpdir(), 'syncd-bench-'));
    const fresh = await startServe(dataDir2);
    const pool2 = new Pool(fresh.url, { connections: 4 });
    const tok4 = addDevice(dataDir2, 'rss');
    const st = JSON.parse(await (await pool2.request({ method: 'GET', path: '/v1/list?limit=1', headers: { authorization: `Bearer ${tok4}` } })).body.text());
    await new Promise((r) => setTimeout(r, 500));
    const rssIdle = rssOf(fresh.child.pid);
    const agent = new Agent({ connections: 1000, pipelining: 0 });
    const polls = Array.from({ length: 1000 }, () =>
      request(`${fresh.url}/v1/longpoll?cursor=${encodeURIComponent(st.cursor)}&timeout=120`, { dispatcher: agent, headers: { authorization: `Bearer ${tok4}` } }).then((r) => r.body.json()),
    );
    for (let i = 0; i < 200; i++) {
      const m = await (await pool2.request({ method: 'GET', path: '/metrics' })).body.text();
      if (/^syncd_longpoll_waiters 1000$/m.test(m)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const rssHeld = rssOf(fresh.child.pid);
    results.rss_bytes = { idle: rssIdle, with_1000_longpolls: rssHeld };
    log(`server RSS: ${(rssIdle / 2 ** 20).toFixed(1)} MiB before, ${(rssHeld / 2 ** 20).toFixed(1)} MiB with 1,000 open longpolls (+${((rssHeld - rssIdle) / 1000 / 1024).toFixed(1)} KiB each)`);
    const tw = process.hrtime.bigint();
    await pool2.request({
      method: 'POST',
      path: '/v1/commit',
      headers: { authorization: `Bearer ${tok4}` },
      body: JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: 'wake-all' }] }),
    }).then((r) => r.body.text());
    const replies = await Promise.all(polls);
    results.wake_1000_ms = ms(process.hrtime.bigint() - tw);
    if (!replies.every((r) => r.changes === true)) throw new Error('not all longpolls woke');
    log(`1,000 waiters woken by one commit: all answered in ${results.wake_1000_ms.toFixed(0)} ms (spread ${'≤'} ${(Math.min(1000, 999 * 0.1)).toFixed(0)} ms by design)`);
    await agent.close();
    await pool2.close();
    fresh.child.kill('SIGTERM');
    await new Promise((r) => fresh.child.on('exit', r));
    rmSync(dataDir2, { recursive: true, force: true });
  } finally {
    await pool.close();
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
    rmSync(dataDir, { recursive: true, force: true });
  }
  if (JSON_OUT) console.log(JSON.stringify(results, null, 2));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
