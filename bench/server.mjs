// Server cases, each on a fresh `syncd serve` child process (127.0.0.1):
//   delta_pull         entries/s for a client pulling N pending entries into its state DB
//   commits            sequential single-op commits/s, each one durable transaction
//   longpoll_10k_rss   server RSS holding 10,000 idle longpolls
//   longpoll_10k_wake  one commit → all 10,000 longpolls answered
//   stream_10k_rss     server RSS holding 10,000 Subscribe streams
//   stream_10k_wake    one commit → all 10,000 streams told
// plus the bare loopback HTTP round trip (a minimal node server in its own
// process) that `commits` is read against.

import { copyFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { BIN, caseRecord, commitAll, echoServer, median, now, opId, parallel, request, roundTrips, sleep, until } from './lib/harness.mjs';

const here = new URL('.', import.meta.url).pathname;

async function commitsCase(b, { commits, runs }) {
  const server = await b.startServer('commits-srv');
  const echo = await echoServer(b);
  try {
    const tok = server.token('commits', 'bench');
    const pool = new Pool(server.url, { connections: 1 });
    const values = [];
    const base = [];
    for (let i = 0; i < 300; i++) {
      // warm-up (JIT, SQLite page cache) before any timed run
      const res = await pool.request({
        method: 'POST', path: '/v1/commit', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
        body: JSON.stringify({ ops: [{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `warm-${i}` }] }),
      });
      await res.body.text();
    }
    for (let r = 0; r < runs; r++) {
      const rtt = await roundTrips(echo.url, commits);
      base.push(1000 / median(rtt));
      const t = now();
      for (let i = 0; i < commits; i++) {
        const res = await pool.request({
          method: 'POST', path: '/v1/commit', headers: { authorization: `Bearer ${tok}`, 'content-type': 'application/json' },
          body: JSON.stringify({ ops: [{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `c${r}-${i}` }] }),
        });
        const body = JSON.parse(await res.body.text());
        if (res.statusCode !== 200 || body.results[0].status !== 'ok') throw new Error(`commit failed: ${JSON.stringify(body)}`);
      }
      values.push(commits / ((now() - t) / 1000));
      b.log(`  commits run ${r + 1}/${runs}: ${values[r].toFixed(0)} ops/s (bare loopback ${base[r].toFixed(0)} req/s)`);
    }
    await pool.close();
    return caseRecord({ values, baseline: median(base), baselineName: 'loopback rtt (sequential req/s)', unit: 'ops/s', commits_per_run: commits });
  } finally {
    await b.stop(echo.proc);
    await server.close();
  }
}

async function deltaPullCase(b, { entries, runs }) {
  const server = await b.startServer('delta-srv');
  try {
    const dir = b.path('delta-folder');
    const stateDir = b.path('delta-state');
    const env = b.env(stateDir);
    b.cli(env, 'init', dir, '--server', server.url, '--token', server.token('delta', 'puller'));
    b.cli(env, 'sync', dir); // cursor at the (empty) head
    const folders = join(stateDir, 'folders');
    const dbDir = join(folders, readdirSync(folders)[0]);
    const template = b.path('delta-template.db');
    copyFileSync(join(dbDir, 'state.db'), template);
    if (existsSync(join(dbDir, 'state.db-wal'))) copyFileSync(join(dbDir, 'state.db-wal'), `${template}-wal`);
    // N pending entries: 1% directories, the rest files in them (one shared 1 KiB blob)
    const tok = server.token('delta', 'writer');
    const blob = Buffer.alloc(1024, 7);
    const { createHash } = await import('node:crypto');
    const hash = createHash('sha256').update(blob).digest('hex');
    await server.call(tok, 'PUT', `/v1/blobs/${hash}`, blob);
    const c0 = (await server.call(tok, 'GET', '/v1/list?limit=1')).body.cursor;
    const nDirs = Math.max(1, Math.round(entries / 100));
    const dirIds = [];
    for (let i = 0; i < nDirs; i += 1000) {
      const res = await commitAll(server, tok, Array.from({ length: Math.min(1000, nDirs - i) }, (_, k) => ({ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `dir-${i + k}` })));
      for (const x of res) dirIds.push(x.node.id);
    }
    const nFiles = entries - nDirs;
    const chunks = [];
    for (let i = 0; i < nFiles; i += 1000) chunks.push([i, Math.min(1000, nFiles - i)]);
    let t = now();
    await parallel(chunks, 2, ([start, n]) =>
      commitAll(server, tok, Array.from({ length: n }, (_, k) => ({ op_id: opId(), op: 'create', kind: 'file', parent: dirIds[(start + k) % nDirs], name: `file-${start + k}.txt`, hash, size: blob.length }))),
    );
    b.log(`  delta_pull: ${entries} entries committed in ${((now() - t) / 1000).toFixed(1)} s`);
    // baseline: the same changes paged by a bare HTTP client (JSON parsed, nothing stored)
    const values = [];
    const base = [];
    for (let r = 0; r < runs; r++) {
      const db = b.path(`delta-run-${r}.db`);
      copyFileSync(template, db);
      if (existsSync(`${template}-wal`)) copyFileSync(`${template}-wal`, `${db}-wal`);
      const out = await new Promise((res, rej) => {
        const p = b.spawn(process.execPath, [...b.nodeArgs(true), join(here, 'lib/delta-pull.mjs'), db], { env });
        p.exited.then(({ code }) => (code === 0 ? res(p.out()) : rej(new Error(`delta-pull worker: ${p.out()}`))));
      });
      const m = JSON.parse(out.trim().split('\n').pop());
      if (m.entries !== entries) throw new Error(`delta pull got ${m.entries} entries, expected ${entries}`);
      values.push(m.entries / (m.ms / 1000));
      base.push(await pageChanges(server, tok, c0, entries));
      b.log(`  delta_pull run ${r + 1}/${runs}: ${values[r].toFixed(0)} entries/s (${m.ms.toFixed(0)} ms; server paging alone ${base[r].toFixed(0)} entries/s)`);
    }
    return caseRecord({ values, baseline: median(base), baselineName: 'server changes paged, JSON parsed, no state DB', unit: 'entries/s', entries });
  } finally {
    await server.close();
  }
}

/** entries/s for paging the whole journal of a namespace with limit 10000 (what pull uses) */
async function pageChanges(server, tok, cursor, expect) {
  const t = now();
  let got = 0;
  for (;;) {
    const r = await request(server.pool, { method: 'GET', path: `/v1/changes?cursor=${encodeURIComponent(cursor)}&limit=10000`, headers: { authorization: `Bearer ${tok}` } });
    const body = JSON.parse(await r.body.text());
    got += body.entries.length;
    cursor = body.cursor;
    if (!body.has_more) break;
  }
  if (got < expect) throw new Error(`paged ${got} entries, expected ${expect}`);
  return got / ((now() - t) / 1000);
}

async function longpollCase(b, { n, runs }) {
  const rss = [];
  const before = [];
  const wake = [];
  for (let r = 0; r < runs; r++) {
    // fresh server each run, with an fd limit for 10,000 sockets
    const data = b.path(`lp-srv-${r}`);
    const srv = b.spawn(`ulimit -n ${n * 2 + 1000} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve --data ${JSON.stringify(data)} --port 0 --max-longpolls-per-device ${n * 2} --max-longpolls-per-namespace ${n * 2} --max-connections ${n * 2}`, [], { shell: true });
    try {
      await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(srv.out()) || !srv.alive, 30_000, 10, 'longpoll server');
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(srv.out())[0];
      const { execFileSync } = await import('node:child_process');
      const tok = execFileSync(process.execPath, [BIN, 'server', 'add-device', '--data', data, '--namespace', 'lp', '--label', 'holder'], { encoding: 'utf8' }).trim();
      const holder = b.spawn(`ulimit -n ${n + 1000} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(here, 'lib/longpoll-holder.mjs'))} ${url} ${tok} ${srv.pid} ${n}`, [], { shell: true });
      const { code } = await holder.exited;
      if (code !== 0) throw new Error(`longpoll holder failed: ${holder.out().slice(-3000)}`);
      const m = JSON.parse(holder.out().trim().split('\n').pop());
      if (m.answered !== n || m.changes !== n) throw new Error(`longpoll: ${m.answered} answered, ${m.changes} with changes, of ${n}`);
      rss.push(m.rss_held);
      before.push(m.rss_before);
      wake.push(m.wake_ms);
      b.log(`  longpoll run ${r + 1}/${runs}: ${n} open in ${m.open_s.toFixed(1)} s, server RSS ${m.rss_before.toFixed(1)} → ${m.rss_held.toFixed(1)} MiB, all woken in ${m.wake_ms.toFixed(0)} ms`);
    } finally {
      await b.stop(srv);
    }
  }
  return {
    longpoll_10k_rss: caseRecord({ values: rss, baseline: median(before), baselineName: 'same server before the longpolls', unit: 'MiB', longpolls: n }),
    longpoll_10k_wake: caseRecord({ values: wake, unit: 'ms', longpolls: n, spread_cap_ms: 1000 }),
  };
}

/** The same as longpollCase with N Subscribe streams (Connect over HTTP/1.1, one connection each). */
async function streamCase(b, { n, runs }) {
  const rss = [];
  const before = [];
  const wake = [];
  for (let r = 0; r < runs; r++) {
    const data = b.path(`st-srv-${r}`);
    const srv = b.spawn(`ulimit -n ${n * 2 + 1000} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} serve --data ${JSON.stringify(data)} --port 0 --max-streams ${n * 2} --max-streams-per-device ${n * 2} --max-streams-per-namespace ${n * 2} --max-connections ${n * 2}`, [], { shell: true });
    try {
      await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(srv.out()) || !srv.alive, 30_000, 10, 'stream server');
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(srv.out())[0];
      const { execFileSync } = await import('node:child_process');
      const tok = execFileSync(process.execPath, [BIN, 'server', 'add-device', '--data', data, '--namespace', 'st', '--label', 'holder'], { encoding: 'utf8' }).trim();
      const holder = b.spawn(`ulimit -n ${n + 1000} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${JSON.stringify(process.execPath)} ${JSON.stringify(join(here, 'lib/stream-holder.mjs'))} ${url} ${tok} ${srv.pid} ${n}`, [], { shell: true });
      const { code } = await holder.exited;
      if (code !== 0) throw new Error(`stream holder failed: ${holder.out().slice(-3000)}`);
      const m = JSON.parse(holder.out().trim().split('\n').pop());
      if (m.woken !== n) throw new Error(`stream: ${m.woken} of ${n} woken`);
      rss.push(m.rss_held);
      before.push(m.rss_before);
      wake.push(m.wake_ms);
      b.log(`  stream run ${r + 1}/${runs}: ${n} open in ${m.open_s.toFixed(1)} s, server RSS ${m.rss_before.toFixed(1)} → ${m.rss_held.toFixed(1)} MiB, all woken in ${m.wake_ms.toFixed(0)} ms`);
    } finally {
      await b.stop(srv);
    }
  }
  return {
    stream_10k_rss: caseRecord({ values: rss, baseline: median(before), baselineName: 'same server before the streams', unit: 'MiB', streams: n }),
    stream_10k_wake: caseRecord({ values: wake, unit: 'ms', streams: n }),
  };
}

export async function serverCases(b, opts) {
  const { quick, only } = opts;
  const want = (...names) => !only || names.some((x) => only.has(x));
  const cases = {};
  if (want('delta_pull')) {
    b.log('delta_pull');
    cases.delta_pull = await deltaPullCase(b, { entries: quick ? 20_000 : 100_000, runs: quick ? 2 : 3 });
  }
  if (want('commits')) {
    b.log('commits');
    cases.commits = await commitsCase(b, { commits: quick ? 500 : 2000, runs: quick ? 2 : 3 });
  }
  if (want('longpoll_10k_rss', 'longpoll_10k_wake')) {
    b.log('longpoll_10k');
    Object.assign(cases, await longpollCase(b, { n: 10_000, runs: quick ? 1 : 3 }));
  }
  if (want('stream_10k_rss', 'stream_10k_wake')) {
    b.log('stream_10k');
    Object.assign(cases, await streamCase(b, { n: 10_000, runs: quick ? 1 : 3 }));
  }
  await sleep(0);
  return cases;
}

// `node bench/server.mjs [--quick]`: only the server cases, through run.mjs
if (process.argv[1] && new URL(import.meta.url).pathname === (await import('node:fs')).realpathSync(process.argv[1])) {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, [join(here, 'run.mjs'), '--only', 'delta_pull,commits,longpoll_10k_rss,longpoll_10k_wake,stream_10k_rss,stream_10k_wake', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
