#!/usr/bin/env node
// Summarises V8 .cpuprofile files (from `npm run bench -- --profile DIR`, or
// `node --cpu-prof bin/syncd …`): wall time covered, idle share, and the top
// functions by self time and by inclusive time (a function counts once per
// sample however deep it recurses), plus self time per source file.
// --timeline MS prints, per MS-wide slice of wall time, how busy the process
// was and the dist/ functions (inclusive) it spent that slice in: a phase
// split without timestamps in the code.
//   node bench/profile-summary.mjs FILE.cpuprofile [--top 25] [--match substring] [--timeline 250]
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(`--${n}`);
  return i >= 0 ? args[i + 1] : d;
};
const TOP = Number(opt('top', 25));
const MATCH = opt('match', null);
const SLICE = Number(opt('timeline', 0));
const files = args.filter((a, i) => !a.startsWith('--') && !(i > 0 && args[i - 1].startsWith('--')));
const root = fileURLToPath(new URL('..', import.meta.url));

function where(cf) {
  let url = cf.url || '';
  if (url.startsWith('file://')) url = relative(root, fileURLToPath(url));
  return url ? `${url}:${cf.lineNumber + 1}` : '';
}
function label(cf) {
  const name = cf.functionName || '(anonymous)';
  return `${name} ${where(cf)}`.trim();
}
function fileOf(cf) {
  let url = cf.url || '';
  if (url.startsWith('file://')) url = relative(root, fileURLToPath(url));
  if (!url) return cf.functionName.startsWith('(') ? cf.functionName : '(native)';
  if (url.includes('node_modules/')) return `node_modules/${url.split('node_modules/').pop().split('/')[0]}`;
  if (url.startsWith('node:')) return 'node: (core)';
  return url;
}

for (const file of files) {
  const prof = JSON.parse(readFileSync(file, 'utf8'));
  const byId = new Map(prof.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const self = new Map();
  const incl = new Map();
  const perFile = new Map();
  let total = 0;
  let idle = 0;
  const dt = prof.timeDeltas;
  const slices = [];
  let clock = 0;
  for (let i = 0; i < prof.samples.length; i++) {
    const us = dt[i + 1] ?? dt[i] ?? 0;
    const n = byId.get(prof.samples[i]);
    clock += dt[i] ?? 0;
    total += us;
    const name = n.callFrame.functionName;
    let sl = null;
    if (SLICE) {
      const k = Math.floor(clock / 1000 / SLICE);
      sl = slices[k] ??= { busy: 0, all: 0, fns: new Map() };
      sl.all += us;
    }
    if (name === '(idle)') {
      idle += us;
      continue;
    }
    if (sl) {
      sl.busy += us;
      const seen = new Set();
      for (let id = n.id; id !== undefined; id = parent.get(id)) {
        const cf = byId.get(id).callFrame;
        const k = `${cf.functionName || '(anonymous)'}|${where(cf).replace(/^dist\//, '').replace(/:\d+$/, '')}`;
        if (!where(cf).startsWith('dist/') || seen.has(k)) continue;
        seen.add(k);
        sl.fns.set(k, (sl.fns.get(k) ?? 0) + us);
      }
      if (seen.size === 0) {
        const k = name === '(garbage collector)' || name === '(program)' ? `${name}|` : `[${fileOf(n.callFrame)}]|`;
        sl.fns.set(k, (sl.fns.get(k) ?? 0) + us);
      }
    }
    const l = label(n.callFrame);
    self.set(l, (self.get(l) ?? 0) + us);
    const f = fileOf(n.callFrame);
    perFile.set(f, (perFile.get(f) ?? 0) + us);
    const seen = new Set();
    for (let id = n.id; id !== undefined; id = parent.get(id)) {
      const k = label(byId.get(id).callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + us);
    }
  }
  const ms = (us) => (us / 1000).toFixed(0).padStart(7);
  const pc = (us) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const top = (m, filter = () => true) => [...m].filter(([k]) => filter(k)).sort((a, b) => b[1] - a[1]).slice(0, TOP);
  console.log(`\n# ${file}\nprofiled ${(total / 1e6).toFixed(2)} s, idle ${(idle / 1e6).toFixed(2)} s (${((100 * idle) / total).toFixed(0)}%: waiting on I/O, the network or the thread pool)`);
  console.log('\n## self time by file');
  for (const [k, v] of top(perFile)) console.log(`${ms(v)} ms ${pc(v)}  ${k}`);
  console.log('\n## self time by function');
  for (const [k, v] of top(self)) console.log(`${ms(v)} ms ${pc(v)}  ${k}`);
  if (SLICE) {
    console.log(`\n## timeline (${SLICE} ms slices: busy %, then the deepest-spending dist/ functions, inclusive ms)`);
    const skip = /^(cycle|watch|withAgent|main|run|step|tx|\(anonymous\))\|/;
    slices.forEach((sl, k) => {
      if (!sl) return;
      const fns = [...sl.fns].filter(([f]) => !skip.test(f)).sort((a, b) => b[1] - a[1]).slice(0, 4);
      console.log(`${String(k * SLICE).padStart(6)} ms ${String(Math.round((100 * sl.busy) / Math.max(1, sl.all))).padStart(3)}%  ${fns.map(([f, v]) => `${f.replace(/\|$/, '').replace('|', ' @')} ${(v / 1000).toFixed(0)}`).join(', ')}`);
    });
  }
  console.log(`\n## inclusive time${MATCH ? ` (matching "${MATCH}")` : ' (dist/ functions)'}`);
  for (const [k, v] of top(incl, (k) => (MATCH ? k.includes(MATCH) : k.includes('dist/')))) console.log(`${ms(v)} ms ${pc(v)}  ${k}`);
}
