#!/usr/bin/env node
// Summarises a V8 .heapsnapshot (e.g. from an agent started with
// NODE_OPTIONS=--heapsnapshot-signal=SIGUSR2, then `kill -USR2 <pid>`):
// total self size, and the top object groups by self size and count.
//   node --max-old-space-size=4096 bench/heap-summary.mjs FILE.heapsnapshot [--top 25]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const i = args.indexOf('--top');
const TOP = i >= 0 ? Number(args[i + 1]) : 25;
const snap = JSON.parse(readFileSync(file, 'utf8'));
const meta = snap.snapshot.meta;
const F = meta.node_fields.length;
const iType = meta.node_fields.indexOf('type');
const iName = meta.node_fields.indexOf('name');
const iSize = meta.node_fields.indexOf('self_size');
const types = meta.node_types[iType];
const groups = new Map();
let total = 0;
const nodes = snap.nodes;
for (let k = 0; k < nodes.length; k += F) {
  const type = types[nodes[k + iType]];
  const size = nodes[k + iSize];
  total += size;
  let name = snap.strings[nodes[k + iName]];
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)';
  else if (type === 'number') name = '(heap numbers)';
  else if (type === 'code') name = '(compiled code)';
  else if (name.length > 60) name = `${name.slice(0, 57)}...`;
  const key = `${type}: ${name}`;
  const g = groups.get(key) ?? { size: 0, count: 0 };
  g.size += size;
  g.count++;
  groups.set(key, g);
}
const mib = (b) => (b / 2 ** 20).toFixed(1).padStart(7);
console.log(`${file}\nV8 heap (self sizes): ${mib(total)} MiB in ${(nodes.length / F).toLocaleString('en-US')} objects\n`);
console.log('    MiB      count  group');
for (const [k, g] of [...groups].sort((a, b) => b[1].size - a[1].size).slice(0, TOP)) {
  console.log(`${mib(g.size)} ${String(g.count).padStart(10)}  ${k}`);
}
