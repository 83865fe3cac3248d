// Client cases, all with real processes (`syncd serve`, `syncd init|sync|
// watch|wait` from the built CLI, each agent with its own SYNCD_STATE_DIR):
//   mirror_small, mirror_mixed  initial mirror vs cp -a (and rsync -a)
//   noop_restart                `syncd sync` on an unchanged folder vs rsync's no-op
//   latency_p50, latency_p99    write in folder A → present in folder B, vs a loopback round trip
//   dir_rename                  rename of a 5,000-file directory until the other folder shows it
//   idle_rss, idle_cpu          a watching agent on a 100,000-file folder after it reports idle
// Every run writes into a folder that did not exist before (old ones are
// moved aside, deleted at the end): creating files right after deleting many
// is slow on journal-less ext4.

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  caseRecord, cpuSeconds, echoServer, roundTrips, hasRsync, median, mixedTreeSpec, now, pct, rssMiB, seedTree, sleep, smallTreeSpec, timeCmd, until, writeTree,
} from './lib/harness.mjs';

const syncDisk = () => execFileSync('sync');

/** inotify watches a process holds (from /proc/PID/fdinfo) */
function inotifyWatches(pid) {
  let n = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8');
      n += info.split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {}
  }
  return n;
}

/** counts regular files and bytes under a folder, skipping syncd's own names */
function census(root) {
  let files = 0;
  let bytes = 0;
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.name.startsWith('.syncd')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        files++;
        bytes += statSync(p).size;
      }
    }
  };
  walk(root);
  return { files, bytes };
}

/** mirror_* : the same tree mirrored by cp -a, rsync -a and syncd (init + sync), `runs` times, interleaved */
async function mirrorCase(b, ctx, { name, spec, seed, runs }) {
  const { server, rsync } = ctx;
  const src = b.path(`${name}-src`);
  let t = now();
  const bytes = writeTree(src, spec, seed);
  syncDisk();
  b.log(`  ${name}: generated ${spec.length} files, ${(bytes / 2 ** 20).toFixed(1)} MiB in ${((now() - t) / 1000).toFixed(1)} s`);
  const tok = server.token(name, 'seeder');
  t = now();
  await seedTree(server, tok, src, spec);
  b.log(`  ${name}: seeded the server through the API in ${((now() - t) / 1000).toFixed(1)} s`);
  const cp = [];
  const cpSync = [];
  const rs = [];
  const sy = [];
  const env = b.env(b.path(`${name}-state`));
  for (let r = 0; r < runs; r++) {
    syncDisk();
    const t0 = now();
    cp.push(timeCmd('cp', ['-a', src, b.path(`${name}-cp-${r}`)]));
    syncDisk(); // cp -a then sync: the same copy made durable (for reference; syncd fsyncs)
    cpSync.push((now() - t0) / 1000);
    if (rsync) {
      rs.push(timeCmd('rsync', ['-a', `${src}/`, `${b.path(`${name}-rsync-${r}`)}/`]));
      syncDisk();
    }
    const dst = b.path(`${name}-syncd-${r}`);
    b.cli(env, 'init', dst, '--server', server.url, '--token', server.token(name, `mirror-${r}`));
    t = now();
    b.cliP(env, 'sync', dst);
    sy.push((now() - t) / 1000);
    const c = census(dst);
    if (c.files !== spec.length || c.bytes !== bytes) throw new Error(`${name}: mirror ${r} has ${c.files} files / ${c.bytes} bytes, expected ${spec.length} / ${bytes}`);
    b.log(`  ${name} run ${r + 1}/${runs}: cp -a ${cp[r].toFixed(3)} s (+sync ${cpSync[r].toFixed(3)} s), rsync -a ${rs[r]?.toFixed(3) ?? '-'} s, syncd ${sy[r].toFixed(3)} s`);
  }
  if (name === 'mirror_small') {
    ctx.smallSrc = src;
    ctx.smallMirror = b.path(`${name}-syncd-0`);
    ctx.smallRsync = rsync ? b.path(`${name}-rsync-0`) : null;
    ctx.smallEnv = env;
  }
  // Baselines that create files use their fastest run: on this shared machine
  // other sessions' mass deletes slow file creation at random (up to 6× seen);
  // the fastest run is the limit. All runs are kept.
  const rsMin = rs.length ? Math.min(...rs) : null;
  const cpMin = Math.min(...cp);
  // issue 14 sets mirror_mixed's target against rsync -a (cp -a moves pages inside the kernel); cp -a stays an extra
  const againstRsync = name === 'mirror_mixed' && rsMin !== null;
  return caseRecord({
    values: sy, baseline: againstRsync ? rsMin : cpMin, baselineName: againstRsync ? 'rsync -a (fastest run)' : 'cp -a (fastest run)', unit: 's',
    files: spec.length, bytes, cp_a: +cpMin.toFixed(4), cp_a_runs: cp.map((x) => +x.toFixed(4)), cp_a_then_sync: +Math.min(...cpSync).toFixed(4), ratio_cp_a: +(median(sy) / cpMin).toFixed(3),
    rsync: rsMin === null ? null : +rsMin.toFixed(4), rsync_runs: rs.map((x) => +x.toFixed(4)), ratio_rsync: rsMin ? +(median(sy) / rsMin).toFixed(3) : null,
  });
}

async function noopCase(b, ctx, runs) {
  const sy = [];
  const rs = [];
  for (let r = 0; r < runs; r++) {
    syncDisk();
    if (ctx.smallRsync) rs.push(timeCmd('rsync', ['-a', `${ctx.smallSrc}/`, `${ctx.smallRsync}/`]));
    const t = now();
    const out = b.cliP(ctx.smallEnv, 'sync', ctx.smallMirror);
    sy.push((now() - t) / 1000);
    if (!/in sync/.test(out)) throw new Error(`noop sync: ${out}`);
    b.log(`  noop_restart run ${r + 1}/${runs}: rsync -a ${rs[r]?.toFixed(3) ?? '-'} s, syncd sync ${sy[r].toFixed(3)} s`);
  }
  return caseRecord({ values: sy, baseline: rs.length ? median(rs) : null, baselineName: 'rsync -a (no-op)', unit: 's', files: ctx.smallCount });
}

/** resolves when `file` exists, watching its directory (inotify) with a slow poll as a safety net */
function whenExists(dir, name, timeoutMs = 30_000) {
  const p = join(dir, name);
  return new Promise((resolve, reject) => {
    if (existsSync(p)) return resolve(now());
    let done = false;
    const finish = (err) => {
      if (done) return;
      done = true;
      w.close();
      clearInterval(iv);
      clearTimeout(to);
      if (err) reject(err);
      else resolve(now());
    };
    const w = watch(dir, (_ev, f) => {
      if (f === name && existsSync(p)) finish();
    });
    const iv = setInterval(() => existsSync(p) && finish(), 5);
    const to = setTimeout(() => finish(new Error(`timeout waiting for ${p}`)), timeoutMs);
  });
}

/** what a stretch of the journal holds, as {"<device label> <op>": count} */
async function journalSummary(server, token, cursor, labels) {
  const out = {};
  for (;;) {
    const r = await server.call(token, 'GET', `/v1/changes?cursor=${encodeURIComponent(cursor)}&limit=10000`);
    for (const e of r.body.entries) {
      const k = `${labels.get(e.device) ?? e.device} ${e.op}`;
      out[k] = (out[k] ?? 0) + 1;
    }
    cursor = r.body.cursor;
    if (!r.body.has_more) return out;
  }
}

/** Latency A → B with both agents on one notification channel (`stream` or `longpoll`), same run. */
async function channelLatency(b, ctx, { trials, notify }) {
  const { server } = ctx;
  const A = b.path(`ch-${notify}-A`);
  const B = b.path(`ch-${notify}-B`);
  const envA = { ...b.env(b.path(`ch-${notify}-state-A`)), SYNCD_NOTIFY: notify };
  const envB = { ...b.env(b.path(`ch-${notify}-state-B`)), SYNCD_NOTIFY: notify };
  b.cli(envA, 'init', A, '--server', server.url, '--token', server.token(`ch-${notify}`, 'A'));
  b.cli(envB, 'init', B, '--server', server.url, '--token', server.token(`ch-${notify}`, 'B'));
  const agentA = b.agent(envA, 'watch', A);
  const agentB = b.agent(envB, 'watch', B);
  try {
    await Promise.all([b.waitIdle(envA, A), b.waitIdle(envB, B)]);
    await sleep(500);
    const lat = [];
    for (let i = 0; i < trials + 3; i++) {
      const name = `lat-${i}.txt`;
      const arrived = whenExists(B, name);
      const t0 = now();
      writeFileSync(join(A, name), `latency probe ${i}\n`);
      const t1 = await arrived;
      if (i >= 3) lat.push(t1 - t0);
      await sleep(30);
    }
    b.log(`  latency over ${notify}: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`);
    return { p50: pct(lat, 50), p99: pct(lat, 99), trials: lat.length };
  } finally {
    await Promise.all([b.stop(agentA), b.stop(agentB)]);
  }
}

async function liveCases(b, ctx, { trials, renameFiles, renameRuns, rename = true }) {
  const { server } = ctx;
  const A = b.path('live-A');
  const B = b.path('live-B');
  const envA = b.env(b.path('live-state-A'));
  const envB = b.env(b.path('live-state-B'));
  b.cli(envA, 'init', A, '--server', server.url, '--token', server.token('live', 'A'));
  b.cli(envB, 'init', B, '--server', server.url, '--token', server.token('live', 'B'));
  const agentA = b.agent(envA, 'watch', A);
  const agentB = b.agent(envB, 'watch', B);
  const api = server.token('live', 'observer');
  const head = async () => (await server.call(api, 'GET', '/v1/status')).body.head;
  const waitIdle = (env, dir) => b.waitIdle(env, dir);
  try {
    await Promise.all([waitIdle(envA, A), waitIdle(envB, B)]);
    await sleep(500);
    // propagation latency, folder A → folder B
    const lat = [];
    for (let i = 0; i < trials + 3; i++) {
      const name = `lat-${i}.txt`;
      const arrived = whenExists(B, name);
      const t0 = now();
      writeFileSync(join(A, name), `latency probe ${i}\n`);
      const t1 = await arrived;
      if (i >= 3) lat.push(t1 - t0); // the first three warm the agents' connections
      await sleep(30);
    }
    const echo = await echoServer(b);
    const rtt = await roundTrips(echo.url, 2000);
    await b.stop(echo.proc);
    const out = {
      latency_p50: caseRecord({ syncd: pct(lat, 50), values: lat, baseline: pct(rtt, 50), baselineName: 'loopback rtt (p50)', unit: 'ms', runs: lat.length, trials: lat.length }),
      latency_p99: caseRecord({ syncd: pct(lat, 99), values: lat, baseline: pct(rtt, 99), baselineName: 'loopback rtt (p99)', unit: 'ms', runs: lat.length, trials: lat.length }),
    };
    b.log(`  latency: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms, max ${Math.max(...lat).toFixed(1)} ms (loopback rtt p50 ${pct(rtt, 50).toFixed(3)} ms, p99 ${pct(rtt, 99).toFixed(3)} ms)`);
    if (!rename) return out;

    // directory rename: build the directory in A, let it reach B, then rename it (renameRuns times)
    let t = now();
    const stage = b.path('live-stage');
    mkdirSync(stage);
    for (let i = 0; i < renameFiles; i++) writeFileSync(join(stage, `x${String(i).padStart(5, '0')}.txt`), `rename member ${i}\n`);
    renameSync(stage, join(A, 'ren-0'));
    await until(() => existsSync(join(B, 'ren-0')) && readdirSync(join(B, 'ren-0')).length === renameFiles, 600_000, 50, 'the rename directory in B');
    const propagate = (now() - t) / 1000;
    b.log(`  dir_rename: ${renameFiles} new files A → B in ${propagate.toFixed(1)} s (agent upload + download)`);
    await Promise.all([waitIdle(envA, A), waitIdle(envB, B)]);
    const ms = [];
    const entries = [];
    const labels = new Map((await server.call(api, 'GET', '/v1/status')).body.devices.map((d) => [d.id, d.label]));
    const journalOps = [];
    const anomalies = [];
    for (let r = 0; r < renameRuns; r++) {
      await sleep(300);
      const before = await head();
      const cursor = (await server.call(api, 'GET', '/v1/list?limit=1')).body.cursor;
      const from = `ren-${r}`;
      const to = `ren-${r + 1}`;
      const landed = whenExists(B, to, 120_000);
      t = now();
      renameSync(join(A, from), join(A, to));
      await landed;
      await until(() => !existsSync(join(B, from)), 60_000, 1, 'old name gone in B');
      ms.push(now() - t);
      await Promise.all([waitIdle(envA, A), waitIdle(envB, B)]);
      entries.push((await head()) - before);
      journalOps.push(await journalSummary(server, api, cursor, labels));
      // both agents idle: B must hold every file under the new name
      const inB = readdirSync(join(B, to)).length;
      const inA = readdirSync(join(A, to)).length;
      if (inB !== renameFiles || inA !== renameFiles || entries[r] !== 1) {
        const logFile = join(tmpdir(), `syncd-bench-dir_rename-run${r + 1}-${process.pid}.log`);
        writeFileSync(logFile, `agent A:\n${agentA.out().slice(-60_000)}\n\nagent B:\n${agentB.out().slice(-60_000)}\n`);
        anomalies.push({ run: r + 1, files_in_A: inA, files_in_B: inB, journal: journalOps[r], agent_logs: logFile });
      }
      if (inB !== renameFiles || inA !== renameFiles) {
        b.log(`  dir_rename run ${r + 1}: with both agents idle, A has ${inA} and B ${inB} of ${renameFiles} files; waiting for them`);
        await until(() => readdirSync(join(B, to)).length === renameFiles && readdirSync(join(A, to)).length === renameFiles, 180_000, 100, 'all files under the new name');
      }
      b.log(`  dir_rename run ${r + 1}/${renameRuns}: ${ms[r].toFixed(1)} ms, ${entries[r]} journal entr${entries[r] === 1 ? 'y' : 'ies'} (${JSON.stringify(journalOps[r])})`);
    }
    out.dir_rename = caseRecord({ values: ms, unit: 'ms', files: renameFiles, journal_entries: Math.max(...entries), journal_entries_runs: entries, journal_ops_runs: journalOps, anomalies, create_propagate_s: +propagate.toFixed(3) });
    return out;
  } finally {
    await Promise.all([b.stop(agentA), b.stop(agentB)]);
  }
}

/** the same A → B latency between two folders that already hold `files` synced files */
async function loadedLatency(b, ctx, { files, trials }) {
  const { server } = ctx;
  const spec = Array.from({ length: files }, (_, i) => ({ path: `pre/d${String(i % 100).padStart(2, '0')}/p${String(i).padStart(6, '0')}.txt`, size: 100 + (i % 900), index: i }));
  writeTree(b.path('loaded-src'), spec, 11);
  await seedTree(server, server.token('loaded', 'seeder'), b.path('loaded-src'), spec);
  const C = b.path('loaded-A');
  const D = b.path('loaded-B');
  const envC = b.env(b.path('loaded-state-A'));
  const envD = b.env(b.path('loaded-state-B'));
  b.cli(envC, 'init', C, '--server', server.url, '--token', server.token('loaded', 'A'));
  b.cli(envD, 'init', D, '--server', server.url, '--token', server.token('loaded', 'B'));
  b.cli(envC, 'sync', C);
  b.cli(envD, 'sync', D);
  const agentC = b.agent(envC, 'watch', C);
  const agentD = b.agent(envD, 'watch', D);
  try {
    await Promise.all([b.waitIdle(envC, C), b.waitIdle(envD, D)]);
    await sleep(1000);
    const lat = [];
    for (let i = 0; i < trials + 3; i++) {
      const name = `lat-${i}.txt`;
      const arrived = whenExists(D, name);
      const t0 = now();
      writeFileSync(join(C, name), `latency probe ${i}\n`);
      const t1 = await arrived;
      if (i >= 3) lat.push(t1 - t0);
      await sleep(30);
    }
    b.log(`  latency with ${files} files in the folders: p50 ${pct(lat, 50).toFixed(1)} ms, p99 ${pct(lat, 99).toFixed(1)} ms`);
    return { files, trials: lat.length, p50: +pct(lat, 50).toFixed(2), p99: +pct(lat, 99).toFixed(2), min: +Math.min(...lat).toFixed(2), max: +Math.max(...lat).toFixed(2) };
  } finally {
    await Promise.all([b.stop(agentC), b.stop(agentD)]);
  }
}

async function idleCase(b, ctx, { files, seconds }) {
  const { server } = ctx;
  // 100,000 small files (64–1024 bytes) over 1,000 directories, seeded through
  // the API, mirrored by `syncd sync`, then watched by `syncd watch`
  const spec = [];
  // (997 distinct contents: the server stores 997 blobs, the folder still has `files` files)
  for (let i = 0; i < files; i++) spec.push({ path: `h${String(i % 1000).padStart(3, '0')}/e${String(i).padStart(6, '0')}.txt`, size: 64 + (((i % 997) * 7919) % 961), index: i % 997 });
  const src = b.path('idle-src');
  let t = now();
  writeTree(src, spec, 7);
  const tok = server.token('idle', 'seeder');
  await seedTree(server, tok, src, spec);
  b.log(`  idle: ${files} files generated and seeded in ${((now() - t) / 1000).toFixed(1)} s`);
  const dir = b.path('idle-folder');
  const env = b.env(b.path('idle-state'));
  b.cli(env, 'init', dir, '--server', server.url, '--token', server.token('idle', 'agent'));
  t = now();
  b.cli(env, 'sync', dir);
  const mirrorS = (now() - t) / 1000;
  b.log(`  idle: mirrored by syncd sync in ${mirrorS.toFixed(1)} s`);
  // the floor: a bare node process
  const bare = b.spawn(process.execPath, ['-e', 'setInterval(() => {}, 1e9)']);
  await sleep(1000);
  const bareRss = rssMiB(bare.pid);
  await b.stop(bare);
  const agent = b.agent(env, 'watch', dir);
  try {
    t = now();
    await b.waitIdle(env, dir);
    // `wait` can answer from the state the mirroring `sync` left; the agent's
    // own start (full scan, file watches) is over when it stops using CPU
    let last = cpuSeconds(agent.pid);
    for (let k = 0; k < 600; k++) {
      await sleep(1000);
      const c = cpuSeconds(agent.pid);
      const busy = c - last;
      last = c;
      if (busy < 0.02) break;
    }
    const startS = (now() - t) / 1000;
    const watches = inotifyWatches(agent.pid);
    b.log(`  idle: agent started, reported idle and went quiet in ${startS.toFixed(1)} s (${watches} inotify watches); settling`);
    await sleep(3000);
    const rss = [];
    const cpu = [];
    const window = 5;
    const t0 = now();
    const c0 = cpuSeconds(agent.pid);
    let cw = c0;
    let tw = t0;
    for (let s = 1; s <= seconds; s++) {
      await sleep(t0 + s * 1000 - now());
      rss.push(rssMiB(agent.pid));
      if (s % window === 0) {
        const c = cpuSeconds(agent.pid);
        cpu.push(((c - cw) / ((now() - tw) / 1000)) * 100);
        cw = c;
        tw = now();
      }
    }
    const total = ((cpuSeconds(agent.pid) - c0) / ((now() - t0) / 1000)) * 100;
    const state = JSON.parse(b.cli(env, 'status', dir, '--json')).state;
    if (!agent.alive) throw new Error(`idle agent died: ${agent.out().slice(-2000)}`);
    b.log(`  idle: RSS ${median(rss).toFixed(1)} MiB (bare node ${bareRss.toFixed(1)} MiB), CPU ${total.toFixed(2)} % over ${seconds} s, state ${state}`);
    return {
      idle_rss: caseRecord({ values: rss, baseline: bareRss, baselineName: 'bare node process', unit: 'MiB', files, samples_every_s: 1, mirror_s: +mirrorS.toFixed(3), start_to_quiet_s: +startS.toFixed(3), inotify_watches: watches }),
      idle_cpu: caseRecord({ syncd: total, values: cpu, unit: '%', files, seconds, window_s: window, state }),
    };
  } finally {
    await b.stop(agent);
  }
}

export async function clientCases(b, opts) {
  const { quick, only } = opts;
  const want = (...names) => !only || names.some((n) => only.has(n));
  const rsync = hasRsync();
  const server = await b.startServer('client-srv');
  const ctx = { server, rsync };
  const cases = {};
  try {
    if (want('mirror_small', 'noop_restart')) {
      const n = quick ? 2000 : 10_000;
      ctx.smallCount = n;
      b.log(`mirror_small: ${n} files`);
      cases.mirror_small = await mirrorCase(b, ctx, { name: 'mirror_small', spec: smallTreeSpec(n), seed: 1, runs: quick ? 2 : 3 });
      b.log('noop_restart');
      cases.noop_restart = await noopCase(b, ctx, quick ? 2 : 5);
    }
    if (want('mirror_mixed')) {
      const spec = quick ? mixedTreeSpec({ n: 300, totalMiB: 60, big: [16, 16] }) : mixedTreeSpec();
      b.log(`mirror_mixed: ${spec.length} files`);
      cases.mirror_mixed = await mirrorCase(b, ctx, { name: 'mirror_mixed', spec, seed: 2, runs: quick ? 2 : 3 });
    }
    if (want('latency_p50', 'latency_p99', 'dir_rename')) {
      b.log('latency and dir_rename');
      Object.assign(cases, await liveCases(b, ctx, { trials: quick ? 30 : 100, renameFiles: quick ? 2000 : 5000, renameRuns: quick ? 2 : 5, rename: want('dir_rename') }));
      // not a case of the issue: the same latency once the folders are not empty
      const loaded = await loadedLatency(b, ctx, { files: quick ? 2000 : 10_000, trials: quick ? 20 : 50 });
      cases.latency_p50.in_loaded_folders = { ...loaded, p99: undefined };
      cases.latency_p99.in_loaded_folders = { ...loaded, p50: undefined };
      // the issue's comparison: agents on the Subscribe stream against agents on the longpoll, same run
      const byChannel = {};
      for (const notify of ['stream', 'longpoll']) byChannel[notify] = await channelLatency(b, ctx, { trials: quick ? 20 : 100, notify });
      cases.latency_p50.by_channel = Object.fromEntries(Object.entries(byChannel).map(([k, v]) => [k, v.p50]));
      cases.latency_p99.by_channel = Object.fromEntries(Object.entries(byChannel).map(([k, v]) => [k, v.p99]));
    }
    if (want('idle_rss', 'idle_cpu')) {
      b.log('idle agent');
      Object.assign(cases, await idleCase(b, ctx, { files: quick ? 10_000 : 100_000, seconds: quick ? 10 : 20 }));
    }
  } finally {
    await server.close();
  }
  return cases;
}

// `node bench/client.mjs [--quick]`: only the client cases, through run.mjs
if (process.argv[1] && new URL(import.meta.url).pathname === (await import('node:fs')).realpathSync(process.argv[1])) {
  const { spawnSync } = await import('node:child_process');
  const here = new URL('.', import.meta.url).pathname;
  const r = spawnSync(process.execPath, [join(here, 'run.mjs'), '--only', 'mirror_small,mirror_mixed,noop_restart,latency_p50,latency_p99,dir_rename,idle_rss,idle_cpu', ...process.argv.slice(2)], { stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
