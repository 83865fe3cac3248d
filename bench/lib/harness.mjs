// Shared benchmark plumbing: the work folder, real child processes (server,
// CLI, agents) with cleanup, statistics, deterministic trees, /proc readers.
// Plain node against the built dist/ (bin/syncd); no src/ imports.

import { execFile, execFileSync, spawn } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Pool } from 'undici';
import { seededRandom } from '../../dist/client/agent/backoff.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = join(ROOT, 'bin', 'syncd');

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const now = () => performance.now();

// ---------- statistics ----------
export function sorted(xs) {
  return [...xs].sort((a, b) => a - b);
}
/** nearest-rank percentile */
export function pct(xs, p) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}
export function median(xs) {
  const s = sorted(xs);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}
export function round(x, digits = 3) {
  if (x === null || x === undefined || !Number.isFinite(x)) return x ?? null;
  if (x === 0) return 0;
  const mag = Math.floor(Math.log10(Math.abs(x)));
  const d = Math.max(0, digits - 1 - mag);
  return Number(x.toFixed(Math.min(d, 6)));
}

/**
 * One case record in the shape of bench/results.json. `runs` are the
 * per-run values (the median is reported); `baseline` is a number measured in
 * the same run, or null.
 */
export function caseRecord({ values, syncd, baseline = null, baselineName = null, unit, min, max, runs, target, ...extra }) {
  const v = values ?? [];
  const s = syncd ?? median(v);
  return {
    syncd: round(s, 4),
    baseline: baseline === null || baseline === undefined ? null : round(baseline, 4),
    baseline_name: baselineName,
    ratio: baseline ? round(s / baseline, 3) : null,
    unit,
    runs: runs ?? v.length,
    min: round(min ?? Math.min(...v), 4),
    max: round(max ?? Math.max(...v), 4),
    ...(target ? { target } : {}),
    ...extra,
  };
}

// ---------- work folder and processes ----------
export class Bench {
  constructor({ quick = false, keep = false, profDir = null, log = (...a) => console.error(...a) } = {}) {
    this.quick = quick;
    this.profDir = profDir;
    this.keep = keep;
    this.log = log;
    this.work = mkdtempSync(join(tmpdir(), 'syncd-bench-'));
    this.children = new Set();
    this.trash = join(this.work, 'trash');
    mkdirSync(this.trash);
    this.#trashN = 0;
  }

  #trashN;

  path(...p) {
    return join(this.work, ...p);
  }

  /** Moves a folder aside (deleted at the end): creating files right after deleting many is slow here. */
  aside(p) {
    if (existsSync(p)) renameSync(p, join(this.trash, `t${this.#trashN++}`));
  }

  /** env for a CLI/agent with its own state dir */
  env(stateDir, extra = {}) {
    return { ...process.env, SYNCD_STATE_DIR: stateDir, SYNCD_MAX_DELETE_SHARE: '1', SYNCD_LOG_LEVEL: process.env.BENCH_AGENT_LOG_LEVEL ?? 'warn', ...extra };
  }

  /** node flags for agent processes (`--profile DIR` adds --cpu-prof) */
  nodeArgs(profiled) {
    return profiled && this.profDir ? ['--cpu-prof', `--cpu-prof-dir=${this.profDir}`] : [];
  }

  cli(env, ...args) {
    return this.#cli(false, env, args);
  }

  /** like cli, profiled when --profile is on (the measured sync runs) */
  cliP(env, ...args) {
    return this.#cli(true, env, args);
  }

  #cli(profiled, env, args) {
    return execFileSync(process.execPath, [...this.nodeArgs(profiled), BIN, ...args], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 }).trim();
  }

  cliAsync(env, ...args) {
    return new Promise((res, rej) => {
      execFile(process.execPath, [BIN, ...args], { env, encoding: 'utf8', maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        if (err) rej(Object.assign(err, { stdout, stderr }));
        else res(stdout.trim());
      });
    });
  }

  /** `syncd wait DIR` once the agent holds the folder (retried while it is still starting) */
  async waitIdle(env, dir, timeoutS = 900) {
    const end = now() + 60_000;
    for (;;) {
      try {
        return await this.cliAsync(env, 'wait', dir, '--timeout', String(timeoutS));
      } catch (err) {
        if (!/no agent is running/.test(err.stderr ?? '') || now() > end) throw err;
        await sleep(100);
      }
    }
  }

  /** A long-running child (server, agent, helper). Output is kept (tail) for error reports. */
  spawn(cmd, args, { env = process.env, shell = false } = {}) {
    const child = shell
      ? spawn('bash', ['-c', cmd], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true })
      : spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    const keep = (d) => {
      out += d;
      if (out.length > 200_000) out = out.slice(-100_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise((r) => child.on('exit', (code, sig) => r({ code, sig })));
    const p = { child, pid: child.pid, out: () => out, exited, alive: true };
    child.on('exit', () => {
      p.alive = false;
      this.children.delete(p);
    });
    this.children.add(p);
    return p;
  }

  agent(env, ...args) {
    return this.spawn(process.execPath, [...this.nodeArgs(true), BIN, ...args], { env });
  }

  async stop(p, sig = 'SIGTERM', graceMs = 10_000) {
    if (!p?.alive) return;
    try {
      process.kill(p.pid, sig);
    } catch {
      return;
    }
    const t = setTimeout(() => {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
    }, graceMs);
    await p.exited;
    clearTimeout(t);
  }

  /** `name`: a folder in the work folder, or an absolute path */
  async startServer(name = 'srv', extraArgs = []) {
    const data = isAbsolute(name) ? name : this.path(name);
    const p = this.spawn(process.execPath, [BIN, 'serve', '--data', data, '--port', '0', ...extraArgs]);
    await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(p.out()) || !p.alive, 30_000, 10);
    if (!p.alive) throw new Error(`syncd serve exited: ${p.out()}`);
    const url = /http:\/\/127\.0\.0\.1:\d+/.exec(p.out())[0];
    const pool = new Pool(url, { connections: 8 });
    const server = {
      proc: p,
      pid: p.pid,
      url,
      data,
      pool,
      token: (ns, label) => execFileSync(process.execPath, [BIN, 'server', 'add-device', '--data', data, '--namespace', ns, '--label', label], { encoding: 'utf8' }).trim(),
      call: async (token, method, path, body, headers = {}) => {
        const r = await request(pool, { method, path, headers: { authorization: `Bearer ${token}`, ...(body && typeof body === 'string' ? { 'content-type': 'application/json' } : {}), ...headers }, body });
        const text = await r.body.text();
        let json = null;
        try {
          json = text ? JSON.parse(text) : null;
        } catch {}
        return { status: r.statusCode, body: json, text };
      },
      close: async () => {
        await pool.close().catch(() => {});
        await this.stop(p);
      },
    };
    return server;
  }

  /** `fn` runs at cleanup (also on SIGINT/SIGTERM), after the children are killed: e.g. dropping a database the run made */
  atCleanup(fn) {
    this.#atCleanup.push(fn);
    return () => this.#atCleanup.splice(this.#atCleanup.indexOf(fn) >>> 0, 1);
  }

  #atCleanup = [];

  async cleanup() {
    for (const p of [...this.children]) {
      try {
        process.kill(-p.pid, 'SIGKILL');
      } catch {}
    }
    for (const fn of this.#atCleanup.splice(0)) await fn().catch((e) => this.log(`cleanup: ${e.message}`));
    if (!this.keep) rmSync(this.work, { recursive: true, force: true });
  }
}

/**
 * pool.request, retried when a kept-alive socket turned out closed (the
 * server's keep-alive timeout raced the request). Only used for requests that
 * are safe to repeat: GETs, blob PUTs, commits (op ids make them idempotent).
 */
export async function request(pool, opts) {
  for (let attempt = 0; ; attempt++) {
    try {
      return await pool.request(opts);
    } catch (err) {
      if (attempt >= 3 || !['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE'].includes(err.code)) throw err;
    }
  }
}

export async function until(cond, timeoutMs = 120_000, pollMs = 2, what = 'condition') {
  const end = now() + timeoutMs;
  for (;;) {
    if (await cond()) return;
    if (now() > end) throw new Error(`timeout after ${timeoutMs} ms waiting for ${what}`);
    await sleep(pollMs);
  }
}

// ---------- /proc ----------
export function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
const CLK_TCK = 100;
/** utime+stime of a process, seconds */
export function cpuSeconds(pid) {
  const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  // fields after ")" start at field 3 (state): utime is field 14, stime 15
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export function machineInfo() {
  const c = cpus();
  let kernel = null;
  let fs = null;
  try {
    kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
  } catch {}
  try {
    fs = execFileSync('df', ['-T', tmpdir()], { encoding: 'utf8' }).trim().split('\n').pop().split(/\s+/)[1];
  } catch {}
  let rsync = null;
  try {
    rsync = execFileSync('rsync', ['--version'], { encoding: 'utf8' }).split('\n')[0];
  } catch {}
  let commit = null;
  let dirtySrc = null;
  try {
    commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    dirtySrc = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
  } catch {}
  let distBuilt = null;
  try {
    distBuilt = statSync(join(ROOT, 'dist', 'cli', 'main.js')).mtime.toISOString();
  } catch {}
  return {
    commit,
    src_uncommitted_changes: dirtySrc,
    dist_built_at: distBuilt,
    cpus: c.length,
    cpu_model: c[0]?.model ?? null,
    mem_gib: round(totalmem() / 2 ** 30, 3),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    kernel,
    tmp_fs: fs,
    rsync,
  };
}

let rsyncChecked = null;

/** rsync is the baseline of several cases: installed (apt-get, when we may) if it is missing */
export function hasRsync() {
  if (rsyncChecked !== null) return rsyncChecked;
  const present = () => {
    try {
      execFileSync('rsync', ['--version'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  };
  rsyncChecked = present();
  if (!rsyncChecked && process.getuid?.() === 0) {
    try {
      execFileSync('apt-get', ['install', '-y', '-q', 'rsync'], { stdio: 'ignore', timeout: 300_000 });
    } catch {
      // no apt, or no network: the cases run without their rsync baseline
    }
    rsyncChecked = present();
  }
  return rsyncChecked;
}

/** wall-clock seconds of a command */
export function timeCmd(cmd, args) {
  const t = now();
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  return (now() - t) / 1000;
}

// ---------- deterministic data ----------
/** a small seeded PRNG: the agent's own (mulberry32), so trees match the tests' */
export const prng = seededRandom;

/** deterministic incompressible bytes: AES-128-CTR keystream of (seed, index) */
export function bytesFor(seed, index, size) {
  const key = createHash('sha256').update(`syncd-bench:${seed}`).digest().subarray(0, 16);
  const iv = Buffer.alloc(16);
  iv.writeUInt32BE(index >>> 0, 0);
  const c = createCipheriv('aes-128-ctr', key, iv);
  return c.update(Buffer.alloc(size));
}

/** writes a list of {path, size, index} under root with deterministic content; returns total bytes */
export function writeTree(root, files, seed) {
  const dirs = new Set();
  let bytes = 0;
  for (const f of files) {
    const d = dirname(join(root, f.path));
    if (!dirs.has(d)) {
      mkdirSync(d, { recursive: true });
      dirs.add(d);
    }
    const fd = openSync(join(root, f.path), 'w');
    const CH = 8 << 20;
    for (let off = 0; off < f.size; off += CH) {
      const n = Math.min(CH, f.size - off);
      writeSync(fd, bytesFor(seed, f.index * 4096 + off / CH, n));
    }
    closeSync(fd);
    bytes += f.size;
  }
  return bytes;
}

/** 10,000-ish small files (1–8 KiB) over `dirs` directories two levels deep */
export function smallTreeSpec(n, dirs = 250, seed = 1) {
  const r = prng(seed);
  const files = [];
  for (let i = 0; i < n; i++) {
    const d = i % dirs;
    files.push({ path: `g${String(d % 10).padStart(2, '0')}/d${String(d).padStart(3, '0')}/f${String(i).padStart(6, '0')}.dat`, size: 1024 + Math.floor(r() * 7169), index: i });
  }
  return files;
}

/** a mixed tree: `n` files of 1 KiB–1 MiB (log-uniform) plus `big` large files, ~`totalMiB` in all */
export function mixedTreeSpec({ n = 1500, totalMiB = 300, big = [64, 64], seed = 2 } = {}) {
  const r = prng(seed);
  const rest = n - big.length;
  const raw = [];
  for (let i = 0; i < rest; i++) raw.push(Math.exp(Math.log(1024) + r() * (Math.log(4 << 20) - Math.log(1024))));
  const want = (totalMiB - big.reduce((a, b) => a + b, 0)) * 2 ** 20;
  const scale = want / raw.reduce((a, b) => a + b, 0);
  const files = raw.map((s, i) => ({ path: `m${String(i % 30).padStart(2, '0')}/s${String(i % 7)}/file-${String(i).padStart(5, '0')}.bin`, size: Math.max(1, Math.round(s * scale)), index: i }));
  big.forEach((mib, j) => files.push({ path: `big/large-${j}.bin`, size: mib * 2 ** 20, index: rest + j }));
  return files;
}

// ---------- seeding a namespace through the HTTP API ----------
/** Runs `fn` over `items` with at most `n` in flight. */
export async function parallel(items, n, fn) {
  let i = 0;
  const worker = async () => {
    while (i < items.length) {
      const k = i++;
      await fn(items[k], k);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
}

let opSeq = 0;
const opId = () => `bench-${process.pid}-${Date.now().toString(36)}-${(opSeq++).toString(36)}`;

async function commitAll(server, token, ops) {
  const r = await server.call(token, 'POST', '/v1/commit', JSON.stringify({ ops }));
  if (r.status !== 200) throw new Error(`commit: HTTP ${r.status} ${r.text.slice(0, 300)}`);
  r.body.results.forEach((x, i) => {
    if (x.status !== 'ok') throw new Error(`commit op ${JSON.stringify(ops[i])}: ${JSON.stringify(x)}`);
  });
  return r.body.results;
}

/**
 * Puts a tree written by writeTree into a namespace through the API (blobs
 * PUT 8 at a time, creates in 1000-op commits, directories level by level),
 * so a case starts from a server that already holds the data.
 */
export async function seedTree(server, token, root, files, { parentId = 'root', prefix = '' } = {}) {
  const hashes = new Map();
  const sent = new Set();
  await parallel(files, 8, async (f) => {
    const body = readFileSync(join(root, f.path));
    const hash = createHash('sha256').update(body).digest('hex');
    hashes.set(f.path, { hash, size: body.length });
    if (sent.has(hash)) return;
    sent.add(hash);
    const r = await request(server.pool, { method: 'PUT', path: `/v1/blobs/${hash}`, headers: { authorization: `Bearer ${token}` }, body });
    await r.body.text();
    if (r.statusCode >= 300) throw new Error(`PUT blob: HTTP ${r.statusCode}`);
  });
  const dirIds = new Map([['', parentId]]);
  const dirs = new Set();
  for (const f of files) {
    const parts = (prefix + f.path).split('/');
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join('/'));
  }
  const byDepth = new Map();
  for (const d of dirs) {
    const depth = d.split('/').length;
    if (!byDepth.has(depth)) byDepth.set(depth, []);
    byDepth.get(depth).push(d);
  }
  for (const depth of [...byDepth.keys()].sort((a, b) => a - b)) {
    const list = byDepth.get(depth).sort();
    for (let i = 0; i < list.length; i += 1000) {
      const chunk = list.slice(i, i + 1000);
      const res = await commitAll(server, token, chunk.map((d) => ({ op_id: opId(), op: 'create', kind: 'dir', parent: dirIds.get(d.includes('/') ? d.slice(0, d.lastIndexOf('/')) : ''), name: d.slice(d.lastIndexOf('/') + 1) })));
      res.forEach((x, k) => dirIds.set(chunk[k], x.node.id));
    }
  }
  const fileOps = files.map((f) => {
    const p = prefix + f.path;
    const cut = p.lastIndexOf('/');
    const h = hashes.get(f.path);
    return { op_id: opId(), op: 'create', kind: 'file', parent: dirIds.get(cut < 0 ? '' : p.slice(0, cut)), name: p.slice(cut + 1), hash: h.hash, size: h.size };
  });
  const chunks = [];
  for (let i = 0; i < fileOps.length; i += 1000) chunks.push(fileOps.slice(i, i + 1000));
  await parallel(chunks, 2, (c) => commitAll(server, token, c));
  return { dirIds, hashes };
}

export { commitAll, opId };

// ---------- the bare loopback round trip ----------
/** a bare node http server in its own process; returns its URL and the process */
export async function echoServer(b) {
  const p = b.spawn(process.execPath, [join(ROOT, 'bench/lib/echo-server.mjs')]);
  await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(p.out()), 10_000, 10, 'echo server');
  return { proc: p, url: /http:\/\/127\.0\.0\.1:\d+/.exec(p.out())[0] };
}

/** sequential round trips over one keep-alive connection, ms each */
export async function roundTrips(url, n, path = '/') {
  const pool = new Pool(url, { connections: 1 });
  const xs = [];
  for (let i = 0; i < n + 100; i++) {
    const t = now();
    const r = await pool.request({ method: 'GET', path });
    await r.body.arrayBuffer();
    if (i >= 100) xs.push(now() - t);
  }
  await pool.close();
  return xs;
}

