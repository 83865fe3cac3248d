// The large-namespace cases of issue #17 (a change costs the same in a
// 1,000,000-file folder as in a 100-file one), real processes on 127.0.0.1:
//   scale_mirror   300,000 small files in 300 folders, committed through the
//                  API (1000-op batches, distinct contents so nothing
//                  deduplicates), then a new device: `syncd init` + `syncd
//                  sync`, against `cp -a` + `sync` of the same tree; the
//                  agent's peak RSS (VmHWM of the sync process, polled)
//   scale_idle     that device's `syncd watch` on the folder once quiet:
//                  RSS and CPU over 30 s
//   scale_restart  `syncd sync` again on device A's unchanged mirror (a
//                  restart: the full scan against Local, a pull, no plan
//                  work): seconds and peak RSS, against `rsync -a`'s no-op
//                  on the `cp -a` copy
//   scale_latency  p50/p99 of server → folder (a commit through the API
//                  until the file is in the watching agent's folder) and of
//                  folder → folder (a second device, also mirrored), in the
//                  big namespace against the same in an empty one, same run
// --quick: 20,000 files. The server and both agents share the machine.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Pool } from 'undici';
import { BIN, caseRecord, commitAll, cpuSeconds, hasRsync, median, now, opId, parallel, pct, request, rssMiB, sleep, until, writeTree } from './lib/harness.mjs';

const syncDisk = () => execFileSync('sync');

/** blob uploads in flight while seeding (each one fsyncs its file and directory on the server) */
const SEED_BLOB_CONNECTIONS = 32;
/** 1000-op commits in flight while seeding */
const SEED_COMMITS = 2;

/**
 * Commits the tree through the API, streamed: the 300 folders first, then
 * the files in 1000-op commits, each commit sent as soon as its blobs are
 * stored (SEED_BLOB_CONNECTIONS uploads in flight on their own connections),
 * so uploads and commits overlap and nothing is held per file but its hash.
 * Returns seconds and files/s.
 */
async function seedScale(server, token, root, spec) {
  const t = now();
  const dirNames = [...new Set(spec.map((f) => f.path.slice(0, f.path.indexOf('/'))))].sort();
  const dirIds = new Map();
  for (let i = 0; i < dirNames.length; i += 1000) {
    const chunk = dirNames.slice(i, i + 1000);
    const res = await commitAll(server, token, chunk.map((name) => ({ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name })));
    res.forEach((x, k) => dirIds.set(chunk[k], x.node.id));
  }
  const blobs = new Pool(server.url, { connections: SEED_BLOB_CONNECTIONS });
  try {
    const batches = [];
    for (let i = 0; i < spec.length; i += 1000) batches.push(spec.slice(i, i + 1000));
    // each batch: its blobs (many in flight), then its commit; SEED_COMMITS batches at a time
    await parallel(batches, SEED_COMMITS, async (batch) => {
      const ops = new Array(batch.length);
      await parallel(batch, SEED_BLOB_CONNECTIONS / SEED_COMMITS, async (f, k) => {
        const body = readFileSync(join(root, f.path));
        const hash = createHash('sha256').update(body).digest('hex');
        const r = await request(blobs, { method: 'PUT', path: `/v1/blobs/${hash}`, headers: { authorization: `Bearer ${token}` }, body });
        await r.body.text();
        if (r.statusCode >= 300) throw new Error(`PUT blob: HTTP ${r.statusCode}`);
        const cut = f.path.indexOf('/');
        ops[k] = { op_id: opId(), op: 'create', kind: 'file', parent: dirIds.get(f.path.slice(0, cut)), name: f.path.slice(cut + 1), hash, size: body.length };
      });
      await commitAll(server, token, ops);
    });
  } finally {
    await blobs.close();
  }
  const s = (now() - t) / 1000;
  return { s, filesPerS: spec.length / s };
}

/**
 * A server holding the seeded namespace `scale`. Seeding runs against a
 * server whose store is on tmpfs (/dev/shm when there is one): every blob
 * upload fsyncs its file and its directory, and on this machine's disk that
 * bounds seeding at ~150 files/s, which is the disk, not syncd's API. The
 * store is then copied (`cp -a`, one `sync`) to the work folder's disk and
 * the measured server runs from there: same bytes, same journal, committed
 * through the API.
 * The seeded store can also be kept between runs in `cacheDir`
 * (--seed-cache DIR), by file count; a run then copies it and reports the
 * seeding figures it was made with.
 */
async function seededServer(b, { files, spec, src, cacheDir }) {
  const tpl = cacheDir ? join(cacheDir, `scale-${files}-v1`) : null;
  const metaFile = tpl && join(tpl, 'seed.json');
  const dest = b.path('scale-srv');
  let seed;
  if (tpl && existsSync(metaFile)) {
    const t = now();
    execFileSync('cp', ['-a', join(tpl, 'data'), dest]);
    seed = { ...JSON.parse(readFileSync(metaFile, 'utf8')), cached: true };
    b.log(`  scale: server store copied from the seed cache ${tpl} in ${((now() - t) / 1000).toFixed(1)} s (seeded through the API in ${seed.s.toFixed(1)} s, ${seed.filesPerS.toFixed(0)} files/s, ${seed.at})`);
  } else {
    const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/syncd-bench-seed-') : null;
    const data = shm ? join(shm, 'data') : dest;
    try {
      const server = await b.startServer(data);
      try {
        seed = await seedScale(server, server.token('scale', 'seeder'), src, spec);
      } finally {
        await server.close();
      }
      seed = { ...seed, files, store: shm ? 'tmpfs' : 'disk', at: new Date().toISOString() };
      b.log(`  scale: committed through the API in ${seed.s.toFixed(1)} s (${seed.filesPerS.toFixed(0)} files/s, store on ${seed.store})`);
      if (tpl) {
        rmSync(tpl, { recursive: true, force: true });
        mkdirSync(tpl, { recursive: true });
        execFileSync('cp', ['-a', data, join(tpl, 'data.part')]);
        renameSync(join(tpl, 'data.part'), join(tpl, 'data'));
        writeFileSync(metaFile, JSON.stringify(seed));
      }
      if (shm) execFileSync('cp', ['-a', data, dest]);
    } finally {
      if (shm) rmSync(shm, { recursive: true, force: true });
    }
    seed.cached = false;
  }
  syncDisk();
  return { server: await b.startServer('scale-srv'), seed };
}

/** 300 folders of small files (16–527 bytes), every content distinct */
function scaleSpec(n, dirs = 300) {
  return Array.from({ length: n }, (_, i) => ({
    path: `s${String(i % dirs).padStart(3, '0')}/f${String(i).padStart(7, '0')}.txt`,
    size: 16 + ((i * 7919) % 512),
    index: i,
  }));
}

/** peak RSS so far (VmHWM) of a live process, MiB; null once it is gone */
function peakMiB(pid) {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Runs a CLI command to its end, polling its peak RSS; returns seconds and MiB. */
async function runMeasured(b, env, args) {
  const t = now();
  const p = b.spawn(process.execPath, [...b.nodeArgs(true), BIN, ...args], { env });
  let peak = 0;
  while (p.alive) {
    peak = Math.max(peak, peakMiB(p.pid) ?? 0);
    await sleep(50);
  }
  const { code } = await p.exited;
  if (code !== 0) throw new Error(`syncd ${args.join(' ')} exited ${code}: ${p.out().slice(-2000)}`);
  return { s: (now() - t) / 1000, peakMiB: peak };
}

function countFiles(root) {
  let n = 0;
  for (const d of readdirSync(root, { withFileTypes: true })) {
    if (d.name.startsWith('.syncd')) continue;
    if (d.isDirectory()) n += countFiles(join(root, d.name));
    else if (d.isFile()) n++;
  }
  return n;
}

/** resolves (with the time) once `dir/name` exists, polling every ms */
async function arrival(dir, name, timeoutMs = 60_000) {
  await until(() => existsSync(join(dir, name)), timeoutMs, 1, `${name} in ${dir}`);
  return now();
}

/** a device of `ns`: its folder and state, mirrored with `init` + `sync` (measured) */
async function mirrorDevice(b, server, ns, label) {
  const dir = b.path(`${ns}-${label}`);
  const env = b.env(b.path(`${ns}-${label}-state`));
  const t = now();
  b.cli(env, 'init', dir, '--server', server.url, '--token', server.token(ns, label));
  const initS = (now() - t) / 1000;
  const sync = await runMeasured(b, env, ['sync', dir]);
  return { dir, env, s: initS + sync.s, peakMiB: sync.peakMiB };
}

/**
 * A reset in the big folder (issue 17): device A was away while the server
 * took RESET_CHANGES new files and trimmed its journal past A's cursor, so
 * A's next `syncd sync` rebuilds Remote from a full listing. Time and peak
 * RSS against A's no-op restart just before (same run). The agent must see
 * an expired cursor (`last_reset_reason`) and land every new file.
 */
const RESET_CHANGES = 10;
async function resetCase(b, server, A, files) {
  const noop = await runMeasured(b, A.env, ['sync', A.dir]);
  const token = server.token('scale', 'resetter');
  const hashes = [];
  for (let i = 0; i < RESET_CHANGES; i++) {
    const body = Buffer.from(`reset probe ${i}\n`);
    const hash = createHash('sha256').update(body).digest('hex');
    const put = await request(server.pool, { method: 'PUT', path: `/v1/blobs/${hash}`, headers: { authorization: `Bearer ${token}` }, body });
    await put.body.text();
    if (put.statusCode >= 300) throw new Error(`scale_reset: PUT blob: HTTP ${put.statusCode}`);
    hashes.push({ hash, size: body.length });
  }
  const top = await server.call(token, 'GET', '/v1/list?limit=1000');
  const dir = top.body.entries.find((e) => e.kind === 'dir' && e.parent === 'root');
  await commitAll(server, token, hashes.map((h, i) => ({ op_id: opId(), op: 'create', kind: 'file', parent: dir.id, name: `reset-probe-${i}.txt`, hash: h.hash, size: h.size })));
  execFileSync(process.execPath, [BIN, 'server', 'trim', '--data', server.data, '--retention-entries', '5'], { stdio: 'ignore' });
  const reset = await runMeasured(b, A.env, ['sync', A.dir]);
  const reason = lastResetReason(A.env.SYNCD_STATE_DIR);
  if (!/expired/.test(reason ?? '')) throw new Error(`scale_reset: the agent did not reset from an expired cursor (last reset: ${reason})`);
  for (let i = 0; i < RESET_CHANGES; i++) {
    if (!existsSync(join(A.dir, dir.name, `reset-probe-${i}.txt`))) throw new Error(`scale_reset: reset-probe-${i}.txt did not arrive`);
  }
  b.log(`  scale_reset: ${RESET_CHANGES} new files after an expired cursor: syncd sync ${reset.s.toFixed(2)} s, peak RSS ${reset.peakMiB.toFixed(0)} MiB (no-op restart before: ${noop.s.toFixed(2)} s, ${noop.peakMiB.toFixed(0)} MiB)`);
  return caseRecord({
    values: [reset.s], baseline: noop.s, baselineName: 'syncd sync no-op restart, same device, just before', unit: 's', files, changes: RESET_CHANGES,
    reset_reason: reason, peak_rss_mib: +reset.peakMiB.toFixed(1), noop_peak_rss_mib: +noop.peakMiB.toFixed(1),
  });
}

/** the state DB's last_reset_reason of the one folder under a state dir */
function lastResetReason(stateDir) {
  const folders = join(stateDir, 'folders');
  const [folder] = readdirSync(folders);
  const db = new Database(join(folders, folder, 'state.db'), { readonly: true });
  try {
    return db.prepare("SELECT value FROM meta WHERE key = 'last_reset_reason'").pluck().get() ?? null;
  } finally {
    db.close();
  }
}

/** server → folder and folder → folder latency between two watching devices of one namespace */
async function latencies(b, server, { ns, token, A, B, trials }) {
  const toA = [];
  const aToB = [];
  for (let i = 0; i < trials + 3; i++) {
    // server → A: the blob is stored first; the clock runs from the commit
    const name = `probe-${ns}-${i}.txt`;
    const body = Buffer.from(`server probe ${ns} ${i}\n`);
    const hash = createHash('sha256').update(body).digest('hex');
    const put = await request(server.pool, { method: 'PUT', path: `/v1/blobs/${hash}`, headers: { authorization: `Bearer ${token}` }, body });
    await put.body.text();
    const got = arrival(A.dir, name);
    const t0 = now();
    await commitAll(server, token, [{ op_id: opId(), op: 'create', kind: 'file', parent: 'root', name, hash, size: body.length }]);
    const t1 = await got;
    // A → B: written in A's folder until present in B's
    const local = `local-${ns}-${i}.txt`;
    const there = arrival(B.dir, local);
    const t2 = now();
    writeFileSync(join(A.dir, local), `folder probe ${ns} ${i}\n`);
    const t3 = await there;
    if (i >= 3) {
      toA.push(t1 - t0);
      aToB.push(t3 - t2);
    }
    await sleep(30);
  }
  const fig = (xs) => ({ p50: +pct(xs, 50).toFixed(2), p99: +pct(xs, 99).toFixed(2), max: +Math.max(...xs).toFixed(2), values: xs.map((x) => +x.toFixed(2)) });
  return { server_to_folder: fig(toA), folder_to_folder: fig(aToB), trials };
}

/** idle RSS and CPU of a watching agent, once it has gone quiet */
async function idleFigures(b, agent, seconds) {
  let last = cpuSeconds(agent.pid);
  const t = now();
  for (let k = 0; k < 900; k++) {
    await sleep(1000);
    const c = cpuSeconds(agent.pid);
    const busy = c - last;
    last = c;
    if (busy < 0.02) break;
  }
  const quietS = (now() - t) / 1000;
  await sleep(3000);
  const rss = [];
  const t0 = now();
  const c0 = cpuSeconds(agent.pid);
  for (let s = 1; s <= seconds; s++) {
    await sleep(t0 + s * 1000 - now());
    rss.push(rssMiB(agent.pid));
  }
  const cpu = ((cpuSeconds(agent.pid) - c0) / ((now() - t0) / 1000)) * 100;
  return { rss, cpu, quietS };
}

export async function scaleFolderCases(b, { quick, only, scaleFiles, seedCache }) {
  const want = (...names) => !only || names.some((n) => only.has(n));
  if (!want('scale_mirror', 'scale_latency', 'scale_idle', 'scale_restart', 'scale_reset')) return {};
  const files = scaleFiles ?? (quick ? 20_000 : 300_000);
  const trials = quick ? 15 : 40;
  const idleS = quick ? 10 : 30;
  const cases = {};
  const agents = [];
  b.log(`scale: ${files} files in 300 folders`);
  const spec = scaleSpec(files);
  const src = b.path('scale-src');
  let t = now();
  const bytes = writeTree(src, spec, 17);
  syncDisk();
  b.log(`  scale: tree written in ${((now() - t) / 1000).toFixed(1)} s (${(bytes / 2 ** 20).toFixed(1)} MiB)`);
  const { server, seed } = await seededServer(b, { files, spec, src, cacheDir: seedCache });
  try {
    // two new devices, each mirrored; cp -a + sync of the same tree before each
    const cp = [];
    const devices = [];
    for (const label of ['A', 'B']) {
      syncDisk();
      const t0 = now();
      execFileSync('cp', ['-a', src, b.path(`scale-cp-${label}`)]);
      syncDisk();
      cp.push((now() - t0) / 1000);
      const dev = await mirrorDevice(b, server, 'scale', label);
      const n = countFiles(dev.dir);
      if (n !== files) throw new Error(`scale: device ${label} has ${n} files, expected ${files}`);
      devices.push(dev);
      b.log(`  scale_mirror ${label}: cp -a + sync ${cp.at(-1).toFixed(2)} s, syncd init + sync ${dev.s.toFixed(2)} s, peak RSS ${dev.peakMiB.toFixed(0)} MiB`);
    }
    cases.scale_mirror = caseRecord({
      values: devices.map((d) => d.s), baseline: Math.min(...cp), baselineName: 'cp -a + sync (fastest run)', unit: 's',
      files, bytes, folders: 300, seed_through_api_s: +seed.s.toFixed(2), seed_files_per_s: +seed.filesPerS.toFixed(1), seed_from_cache: seed.cached, cp_a_sync_runs: cp.map((x) => +x.toFixed(3)),
      peak_rss_mib: +Math.max(...devices.map((d) => d.peakMiB)).toFixed(1), peak_rss_runs: devices.map((d) => +d.peakMiB.toFixed(1)),
    });

    // a restart on the unchanged mirror: a full scan against Local, nothing to do
    const [A, B] = devices;
    if (want('scale_restart')) {
      const runs = [];
      const rs = [];
      for (let r = 0; r < 2; r++) {
        if (hasRsync()) {
          const t0 = now();
          execFileSync('rsync', ['-a', `${src}/`, `${b.path('scale-cp-A')}/`]);
          rs.push((now() - t0) / 1000);
        }
        runs.push(await runMeasured(b, A.env, ['sync', A.dir]));
        b.log(`  scale_restart run ${r + 1}: rsync -a (no-op) ${rs.at(-1)?.toFixed(2) ?? '-'} s, syncd sync ${runs.at(-1).s.toFixed(2)} s, peak RSS ${runs.at(-1).peakMiB.toFixed(0)} MiB`);
      }
      cases.scale_restart = caseRecord({
        values: runs.map((x) => x.s), baseline: rs.length ? median(rs) : null, baselineName: 'rsync -a (no-op, same tree)', unit: 's', files,
        peak_rss_mib: +Math.max(...runs.map((x) => x.peakMiB)).toFixed(1), peak_rss_runs: runs.map((x) => +x.peakMiB.toFixed(1)),
      });
    }
    if (!want('scale_idle', 'scale_latency')) {
      if (want('scale_reset')) cases.scale_reset = await resetCase(b, server, A, files);
      return cases;
    }

    // the idle agent: A watching the big folder
    const bare = b.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)']);
    await sleep(1000);
    const bareRss = rssMiB(bare.pid);
    await b.stop(bare);
    const agentA = b.agent(A.env, 'watch', A.dir);
    agents.push(agentA);
    t = now();
    await b.waitIdle(A.env, A.dir);
    const idle = await idleFigures(b, agentA, idleS);
    b.log(`  scale_idle: RSS ${median(idle.rss).toFixed(1)} MiB (bare node ${bareRss.toFixed(1)}), CPU ${idle.cpu.toFixed(2)} % over ${idleS} s; quiet after ${((now() - t) / 1000).toFixed(1)} s`);
    cases.scale_idle = caseRecord({
      values: idle.rss, baseline: bareRss, baselineName: 'bare node process', unit: 'MiB', files, seconds: idleS,
      cpu_pct: +idle.cpu.toFixed(3), start_to_quiet_s: +((now() - t) / 1000 - idleS - 3).toFixed(1), max_rss_mib: +Math.max(...idle.rss).toFixed(1),
    });

    // latency: the big namespace (A and B watching) against an empty one, same run
    const agentB = b.agent(B.env, 'watch', B.dir);
    agents.push(agentB);
    await b.waitIdle(B.env, B.dir);
    await sleep(1000);
    const big = await latencies(b, server, { ns: 'scale', token: server.token('scale', 'prober'), A, B, trials });
    b.log(`  scale_latency (${files} files): server → folder p50 ${big.server_to_folder.p50} ms p99 ${big.server_to_folder.p99} ms; folder → folder p50 ${big.folder_to_folder.p50} ms p99 ${big.folder_to_folder.p99} ms`);
    await Promise.all(agents.splice(0).map((a) => b.stop(a)));
    const E = await mirrorDevice(b, server, 'scale-empty', 'A');
    const F = await mirrorDevice(b, server, 'scale-empty', 'B');
    agents.push(b.agent(E.env, 'watch', E.dir), b.agent(F.env, 'watch', F.dir));
    await Promise.all([b.waitIdle(E.env, E.dir), b.waitIdle(F.env, F.dir)]);
    await sleep(1000);
    const empty = await latencies(b, server, { ns: 'scale-empty', token: server.token('scale-empty', 'prober'), A: E, B: F, trials });
    b.log(`  scale_latency (empty): server → folder p50 ${empty.server_to_folder.p50} ms p99 ${empty.server_to_folder.p99} ms; folder → folder p50 ${empty.folder_to_folder.p50} ms p99 ${empty.folder_to_folder.p99} ms`);
    cases.scale_latency = caseRecord({
      syncd: big.server_to_folder.p50, values: big.server_to_folder.values, baseline: empty.server_to_folder.p50, baselineName: 'same, empty namespace (p50)', unit: 'ms',
      runs: trials, files, p99: big.server_to_folder.p99, empty_p99: empty.server_to_folder.p99,
      folder_to_folder: { p50: big.folder_to_folder.p50, p99: big.folder_to_folder.p99, empty_p50: empty.folder_to_folder.p50, empty_p99: empty.folder_to_folder.p99 },
    });
    // last: it trims the server's journals, which the cases above must not see
    if (want('scale_reset')) cases.scale_reset = await resetCase(b, server, A, files);
  } finally {
    await Promise.all(agents.map((a) => b.stop(a)));
    await server.close();
  }
  return cases;
}

// `node bench/scale-folder.mjs --seed-cache DIR [--scale-files N]` fills the
// seed cache only (a long seed can run ahead of the measured runs).
if (import.meta.url === `file://${process.argv[1]}`) {
  const arg = (n) => process.argv[process.argv.indexOf(`--${n}`) + 1];
  if (!process.argv.includes('--seed-cache')) throw new Error('usage: node bench/scale-folder.mjs --seed-cache DIR [--scale-files N]');
  const files = process.argv.includes('--scale-files') ? Number(arg('scale-files')) : 300_000;
  const { Bench } = await import('./lib/harness.mjs');
  const b = new Bench({});
  try {
    const spec = scaleSpec(files);
    writeTree(b.path('scale-src'), spec, 17);
    const { server } = await seededServer(b, { files, spec, src: b.path('scale-src'), cacheDir: resolve(arg('seed-cache')) });
    await server.close();
  } finally {
    await b.cleanup();
  }
}
