#!/usr/bin/env node
// Where folder→folder latency goes: two watching agents (debug logs), N
// probes written into A, each split into phases from the agents' own log
// timestamps (ms resolution):
//   A sees it     write → agent A's first plan round with ops (watcher event + debounce + pull + scan + plan)
//   A → server    → agent B's longpoll answered (upload PUT + commit + server wake)
//   B plans       → agent B's plan round with ops (debounce + pull + scan + plan)
//   B places      → file present in B (download + fsync + place + state)
// Optional: --prefill N puts N files in the folders first (plan/scan cost
// grows with the tree); --profile DIR runs both agents under --cpu-prof.
//   node bench/profile-latency.mjs [--probes 40] [--prefill 0] [--profile DIR]
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Bench, median, now, pct, seedTree, sleep, until, writeTree } from './lib/harness.mjs';

const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? args[i + 1] : d;
};
const PROBES = Number(opt('probes', 40));
const PREFILL = Number(opt('prefill', 0));
const profDir = opt('profile', null) ? resolve(opt('profile')) : null;
if (profDir) mkdirSync(profDir, { recursive: true });

const b = new Bench({ profDir });
const server = await b.startServer();
try {
  const A = b.path('A');
  const B = b.path('B');
  const envA = b.env(b.path('sA'), { SYNCD_LOG_LEVEL: 'debug' });
  const envB = b.env(b.path('sB'), { SYNCD_LOG_LEVEL: 'debug' });
  if (PREFILL) {
    const spec = Array.from({ length: PREFILL }, (_, i) => ({ path: `pre/d${i % 100}/p${i}.txt`, size: 100, index: i }));
    writeTree(b.path('pre-src'), spec, 9);
    await seedTree(server, server.token('live', 'seed'), b.path('pre-src'), spec);
  }
  b.cli(envA, 'init', A, '--server', server.url, '--token', server.token('live', 'A'));
  b.cli(envB, 'init', B, '--server', server.url, '--token', server.token('live', 'B'));
  if (PREFILL) {
    b.cli(envA, 'sync', A);
    b.cli(envB, 'sync', B);
  }
  const a = b.agent(envA, 'watch', A);
  const bb = b.agent(envB, 'watch', B);
  await Promise.all([b.waitIdle(envA, A), b.waitIdle(envB, B)]);
  await sleep(500);
  const probes = [];
  for (let i = 0; i < PROBES; i++) {
    const name = `probe-${i}.txt`;
    const markA = a.out().length;
    const markB = bb.out().length;
    const t0 = Date.now();
    const p0 = now();
    writeFileSync(join(A, name), `probe ${i}\n`);
    await until(() => existsSync(join(B, name)), 30_000, 1, name);
    const total = now() - p0;
    const t3 = t0 + total;
    await sleep(150);
    const at = (out, re) => {
      for (const line of out.split('\n')) {
        const m = /^(\S+Z) DEBUG (.*)$/.exec(line);
        if (m && re.test(m[2])) return Date.parse(m[1]);
      }
      return NaN;
    };
    const aRound = at(a.out().slice(markA), /^round .*ops=[1-9]/);
    const bWake = at(bb.out().slice(markB), /^longpoll answered changes=true/);
    const bRound = at(bb.out().slice(markB), /^round .*ops=[1-9]/);
    if (i >= 3) probes.push({ total, aSees: aRound - t0, upload: bWake - aRound, bPlans: bRound - bWake, bPlaces: t3 - bRound });
    await sleep(50);
  }
  const rows = ['total', 'aSees', 'upload', 'bPlans', 'bPlaces'];
  const names = { total: 'write A → present in B', aSees: 'A: event+debounce+pull+scan+plan', upload: 'A: PUT+commit → B woken', bPlans: 'B: debounce+pull+scan+plan', bPlaces: 'B: download+fsync+place' };
  console.log(`${probes.length} probes${PREFILL ? `, ${PREFILL} files already synced` : ''} (ms; phases from log timestamps, ±1 ms)`);
  for (const k of rows) {
    const xs = probes.map((p) => p[k]).filter(Number.isFinite);
    console.log(`${names[k].padEnd(36)} p50 ${median(xs).toFixed(1).padStart(6)}  p90 ${pct(xs, 90).toFixed(1).padStart(6)}  max ${Math.max(...xs).toFixed(1).padStart(6)}`);
  }
  await Promise.all([b.stop(a), b.stop(bb)]);
} finally {
  await server.close();
  await b.cleanup();
}
