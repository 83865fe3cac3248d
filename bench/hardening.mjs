// Hardening cases (issue 13), each on a fresh `syncd serve` child process:
//   noisy_neighbour   one tenant commits 1000-op batches from two connections
//                     while another tenant's small requests are timed; p99
//                     (p50 beside it) against the same probe on the idle server
//   events_rss        server RSS with 200 unread event streams after 10,000
//                     commits, against the same server before the streams
//   half_sent_fds     server descriptors after 500 sockets sent half their
//                     headers and the headers timeout passed, against before

import { readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { Pool } from 'undici';
import { caseRecord, median, now, opId, parallel, pct, rssMiB, sleep, until } from './lib/harness.mjs';

/** Sequential small reads by one tenant over one keep-alive connection: ms each. */
async function probe(url, tok, cursor, { count, until: stop }) {
  const pool = new Pool(url, { connections: 1 });
  const xs = [];
  try {
    for (let i = 0; (count === undefined || i < count) && !(stop && stop()); i++) {
      const t = now();
      const r = await pool.request({ method: 'GET', path: `/v1/changes?cursor=${encodeURIComponent(cursor)}&limit=10`, headers: { authorization: `Bearer ${tok}` } });
      await r.body.text();
      if (r.statusCode !== 200) throw new Error(`probe: HTTP ${r.statusCode}`);
      xs.push(now() - t);
    }
  } finally {
    await pool.close();
  }
  return xs;
}

async function noisyCase(b, { probes, runs }) {
  const server = await b.startServer('noisy-srv');
  try {
    const quiet = server.token('quiet', 'probe');
    const noisy = server.token('noisy', 'bulk');
    await server.call(quiet, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: 'q' }] }));
    const cursor = (await server.call(quiet, 'GET', '/v1/list?limit=1')).body.cursor;
    await probe(server.url, quiet, cursor, { count: 300 }); // warm-up
    const p50 = [];
    const p99 = [];
    const idle50 = [];
    const idle99 = [];
    let batch = 0;
    for (let r = 0; r < runs; r++) {
      const idle = await probe(server.url, quiet, cursor, { count: probes });
      let stop = false;
      let ops = 0;
      const pools = [new Pool(server.url, { connections: 1 }), new Pool(server.url, { connections: 1 })];
      const loud = pools.map(async (pool) => {
        while (!stop) {
          const n = batch++;
          const body = JSON.stringify({ ops: Array.from({ length: 1000 }, (_, i) => ({ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `b${n}-${i}` })) });
          const res = await pool.request({ method: 'POST', path: '/v1/commit', headers: { authorization: `Bearer ${noisy}`, 'content-type': 'application/json' }, body });
          await res.body.text();
          if (res.statusCode !== 200) throw new Error(`noisy commit: HTTP ${res.statusCode}`);
          ops += 1000;
        }
      });
      await sleep(300); // both bulk loops are running
      const t = now();
      const busy = await probe(server.url, quiet, cursor, { count: probes });
      const secs = (now() - t) / 1000;
      stop = true;
      await Promise.all(loud);
      await Promise.all(pools.map((p) => p.close()));
      p50.push(pct(busy, 50));
      p99.push(pct(busy, 99));
      idle50.push(pct(idle, 50));
      idle99.push(pct(idle, 99));
      b.log(`  noisy_neighbour run ${r + 1}/${runs}: probe p50 ${p50[r].toFixed(2)} ms, p99 ${p99[r].toFixed(2)} ms (idle ${idle50[r].toFixed(2)} / ${idle99[r].toFixed(2)} ms); bulk tenant ${(ops / secs).toFixed(0)} ops/s meanwhile`);
    }
    return caseRecord({
      values: p99,
      baseline: median(idle99),
      baselineName: 'the same probe on the idle server, p99',
      unit: 'ms',
      p50_ms: median(p50),
      idle_p50_ms: median(idle50),
      probes_per_run: probes,
    });
  } finally {
    await server.close();
  }
}

/** A socket that sent a request and never reads what comes back. */
function unread(url, text) {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => {
      s.pause();
      s.write(text);
      resolve(s);
    });
    s.on('error', reject);
  });
}

async function eventsRssCase(b, { streams, commits, runs }) {
  const values = [];
  const before = [];
  for (let r = 0; r < runs; r++) {
    const server = await b.startServer(`events-srv-${r}`, ['--max-streams-per-device', String(streams)]);
    const socks = [];
    try {
      const tok = server.token('ev', 'reader');
      const writer = server.token('ev', 'writer');
      const cursor = (await server.call(tok, 'GET', '/v1/list?limit=1')).body.cursor;
      for (let i = 0; i < 200; i++) await server.call(writer, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `warm-${i}` }] }));
      await sleep(500);
      const rss0 = rssMiB(server.pid);
      const host = new URL(server.url).host;
      for (let i = 0; i < streams; i++) {
        socks.push(await unread(server.url, `GET /v1/events?cursor=${encodeURIComponent(cursor)} HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${tok}\r\n\r\n`));
      }
      const t = now();
      const ids = Array.from({ length: commits }, (_, i) => i);
      await parallel(ids, 4, (i) => server.call(writer, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `e${r}-${i}` }] })));
      await sleep(1000);
      const rss1 = rssMiB(server.pid);
      values.push(rss1);
      before.push(rss0);
      b.log(`  events_rss run ${r + 1}/${runs}: ${streams} unread streams, ${commits} commits in ${((now() - t) / 1000).toFixed(1)} s: RSS ${rss0.toFixed(1)} → ${rss1.toFixed(1)} MiB`);
    } finally {
      for (const s of socks) s.destroy();
      await server.close();
    }
  }
  return caseRecord({ values, baseline: median(before), baselineName: 'same server before the streams', unit: 'MiB', streams, commits });
}

async function halfSentCase(b, { sockets }) {
  const server = await b.startServer('halfsent-srv', ['--headers-timeout', '2']);
  const socks = [];
  try {
    const fds = () => readdirSync(`/proc/${server.pid}/fd`).length;
    await sleep(300);
    const fd0 = fds();
    for (let i = 0; i < sockets; i++) {
      const s = await unread(server.url, 'GET /v1/status HTTP/1.1\r\nhost: x\r\n');
      s.on('error', () => {});
      socks.push(s);
    }
    await until(() => fds() >= fd0 + sockets, 10_000, 20, 'half-sent sockets accepted');
    const held = fds();
    // 2 s timeout, checked every 0.5 s; the clients never close their side
    await sleep(4000);
    const after = fds();
    b.log(`  half_sent_fds: ${sockets} half-sent requests: server descriptors ${fd0} → ${held} while sending → ${after} after the headers timeout`);
    return caseRecord({ values: [after], baseline: fd0, baselineName: 'server descriptors before the sockets', unit: 'fds', held_while_sending: held, sockets });
  } finally {
    for (const s of socks) s.destroy();
    await server.close();
  }
}

export async function hardeningCases(b, { quick, only }) {
  const want = (...names) => !only || names.some((x) => only.has(x));
  const cases = {};
  if (want('noisy_neighbour')) {
    b.log('noisy_neighbour');
    cases.noisy_neighbour = await noisyCase(b, { probes: quick ? 500 : 2000, runs: quick ? 1 : 3 });
  }
  if (want('events_rss')) {
    b.log('events_rss');
    cases.events_rss = await eventsRssCase(b, { streams: 200, commits: 10_000, runs: quick ? 1 : 2 });
  }
  if (want('half_sent_fds')) {
    b.log('half_sent_fds');
    cases.half_sent_fds = await halfSentCase(b, { sockets: 500 });
  }
  return cases;
}
