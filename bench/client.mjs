// Client-side measurements with real processes (server + agents via the
// built CLI). Ratios are against baselines measured in the same run.
//   node bench/client.mjs [--quick] [--json out.json]
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const BIN = join(ROOT, 'bin', 'syncd');
const quick = process.argv.includes('--quick');
const work = mkdtempSync(join(tmpdir(), 'syncd-bench-'));
const env = { ...process.env, SYNCD_STATE_DIR: join(work, 'state'), SYNCD_MAX_DELETE_SHARE: '1' };
const cli = (...args) => execFileSync(process.execPath, [BIN, ...args], { env, encoding: 'utf8' }).trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]; };
const now = () => performance.now();

function startProc(args) {
  const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return { child, out: () => out };
}
async function until(cond, timeoutMs = 120_000, poll = 1) {
  const end = now() + timeoutMs;
  while (now() < end) { if (cond()) return; await sleep(poll); }
  throw new Error('timeout');
}

const server = startProc(['serve', '--data', join(work, 'srv'), '--port', '0']);
await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(server.out()), 20_000, 20);
const url = /http:\/\/127\.0\.0\.1:\d+/.exec(server.out())[0];
const token = (label) => cli('server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'bench', '--label', label);
const results = {};

// --- 1. initial mirror of N small files (1-8 KiB, ~250 dirs) vs cp -a ---
const N = Number(process.env.BENCH_FILES ?? (quick ? 2000 : 10000));
const src = join(work, 'src');
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
for (let d = 0; d < 250; d++) mkdirSync(join(src, `d${String(d).padStart(3, '0')}`), { recursive: true });
for (let i = 0; i < N; i++) writeFileSync(join(src, `d${String(i % 250).padStart(3, '0')}`, `f${i}.txt`), Buffer.alloc(1024 + Math.floor(rnd() * 7168), i % 251));
cli('init', src, '--server', url, '--token', token('uploader'));
let t = now();
cli('sync', src);
results.upload_small_s = (now() - t) / 1000;
const cpRuns = [], syncRuns = [];
for (let r = 0; r < (quick ? 1 : 3); r++) {
  t = now(); execFileSync('cp', ['-a', src, join(work, `cp-${r}`)]); cpRuns.push((now() - t) / 1000);
  const dst = join(work, `mirror-${r}`);
  cli('init', dst, '--server', url, '--token', token(`mirror-${r}`));
  t = now(); cli('sync', dst); syncRuns.push((now() - t) / 1000);
}
results.mirror_small = { files: N, syncd_s: pct(syncRuns, 50), cp_a_s: pct(cpRuns, 50), ratio: pct(syncRuns, 50) / pct(cpRuns, 50), files_per_s: N / pct(syncRuns, 50) };

// --- 2. latency: commit (API) -> file on disk; folder A -> folder B ---
const A = join(work, 'A'), B = join(work, 'B');
cli('init', A, '--server', url, '--token', token('A'));
const tB = token('B');
cli('init', B, '--server', url, '--token', tB);
const agentA = startProc(['watch', A]);
const agentB = startProc(['watch', B]);
await sleep(1500);
const H = { Authorization: `Bearer ${token('api')}`, 'content-type': 'application/json' };
const trials = quick ? 30 : 100;
const commitLat = [];
for (let i = 0; i < trials; i++) {
  const body = Buffer.from(`api ${i}`);
  const hash = createHash('sha256').update(body).digest('hex');
  await fetch(`${url}/v1/blobs/${hash}`, { method: 'PUT', headers: { Authorization: H.Authorization }, body });
  const t0 = now();
  const res = await (await fetch(`${url}/v1/commit`, { method: 'POST', headers: H, body: JSON.stringify({ ops: [{ op_id: `bench-op-${i}-${Date.now()}`, op: 'create', parent: 'root', name: `api-${i}.txt`, kind: 'file', hash, size: body.length }] }) })).json();
  if (res.results?.[0]?.status !== 'ok') throw new Error(`commit failed: ${JSON.stringify(res)}`);
  try {
    await until(() => existsSync(join(B, `api-${i}.txt`)), 10_000);
  } catch (e) {
    console.error('agent B output:', agentB.out().slice(-3000), '\nA:', agentA.out().slice(-2000), '\nstatus B:', cli('status', B));
    throw e;
  }
  commitLat.push(now() - t0);
  await sleep(20);
}
results.commit_to_disk_ms = { p50: pct(commitLat, 50), p99: pct(commitLat, 99), max: Math.max(...commitLat), trials };
  if (process.env.BENCH_DEBUG) console.error(commitLat.map((x) => x.toFixed(0)).join(" "));
const folderLat = [];
for (let i = 0; i < trials; i++) {
  const t0 = now();
  writeFileSync(join(A, `prop-${i}.txt`), `from A ${i}`);
  await until(() => existsSync(join(B, `prop-${i}.txt`)), 10_000);
  folderLat.push(now() - t0);
  await sleep(20);
}
results.folder_to_folder_ms = { p50: pct(folderLat, 50), p99: pct(folderLat, 99), trials };
// loopback RTT baseline
const rtt = [];
for (let i = 0; i < 200; i++) { const t0 = now(); await (await fetch(`${url}/healthz`)).arrayBuffer(); rtt.push(now() - t0); }
results.loopback_rtt_ms = { p50: pct(rtt, 50), p99: pct(rtt, 99) };

// --- 3. directory rename of R files lands on the other side ---
const R = 1000;
mkdirSync(join(A, 'big-dir'));
for (let i = 0; i < R; i++) writeFileSync(join(A, 'big-dir', `x${i}`), `x ${i}`);
await until(() => existsSync(join(B, 'big-dir')) && readdirSync(join(B, 'big-dir')).length === R, 120_000, 20);
await sleep(500);
const headBefore = JSON.parse(cli('status', A, '--json')).head_seq;
t = now();
renameSync(join(A, 'big-dir'), join(A, 'big-dir-renamed'));
await until(() => existsSync(join(B, 'big-dir-renamed')) && !existsSync(join(B, 'big-dir')), 60_000);
results.dir_rename = { files: R, ms: now() - t };
await sleep(500);
results.dir_rename.journal_entries = JSON.parse(cli('status', A, '--json')).head_seq - headBefore;

agentA.child.kill('SIGTERM'); agentB.child.kill('SIGTERM'); server.child.kill('SIGTERM');
console.log(JSON.stringify(results, null, 2));
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0) writeFileSync(process.argv[jsonAt + 1], JSON.stringify(results, null, 2));
