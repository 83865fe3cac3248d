// npm run soak -- --minutes N [--seed S]: the randomized suites with fresh
// seeds until the time is up. Every failure prints its seed and the command
// that replays it (the tests print them).
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const minutes = Number(arg('minutes', '10'));
const fixedSeed = arg('seed', undefined);
const end = Date.now() + minutes * 60_000;
const statsFile = join(tmpdir(), `syncd-soak-sim-${process.pid}.jsonl`);
const suites = [
  { name: 'plan.property', file: 'test/unit/core/plan.property.test.ts', env: { SYNCD_PLAN_RUNS: '20000' }, runs: 20000 },
  // the engine simulation takes its base seed from SYNCD_SIM_BASE (SYNCD_SEED would replay one seed)
  { name: 'engine-sim', file: 'test/sim/engine-sim.test.ts', env: { SYNCD_SIM_RUNS: '40', SYNCD_SIM_STATS: statsFile }, runs: 40, baseVar: 'SYNCD_SIM_BASE' },
  { name: 'random-workload', file: 'test/e2e/random-workload.test.ts', env: { SYNCD_WORKLOAD_RUNS: '3' }, runs: 3 },
];
let rounds = 0, failures = 0;
const seeds = Object.fromEntries(suites.map((s) => [s.name, 0]));
while (Date.now() < end) {
  for (const s of suites) {
    if (Date.now() >= end) break;
    const seed = fixedSeed ?? String(Math.floor(Math.random() * 2 ** 31));
    const r = spawnSync('npx', ['vitest', 'run', s.file], { cwd: root, env: { ...process.env, ...s.env, [s.baseVar ?? 'SYNCD_SEED']: seed }, encoding: 'utf8' });
    rounds++;
    seeds[s.name] += s.runs;
    if (r.status !== 0) {
      failures++;
      const line = (r.stdout + r.stderr).split('\n').find((l) => /seed \d+/.test(l) && /fail|replay/i.test(l)) ?? `base seed ${seed}`;
      process.stdout.write(`FAIL ${s.file}: ${line.trim()}\n`);
    }
  }
}
process.stdout.write(`soak: ${rounds} suite runs, seeds explored ${JSON.stringify(seeds)}, ${failures} failing runs\n`);
if (existsSync(statsFile)) {
  // faults the engine simulation injected, summed over its runs
  const runs = readFileSync(statsFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const sum = {};
  for (const r of runs) for (const [k, v] of Object.entries(r)) if (k !== 'seed') sum[k] = (sum[k] ?? 0) + v;
  const per = Object.fromEntries(Object.entries(sum).map(([k, v]) => [k, Math.round((v / runs.length) * 10) / 10]));
  process.stdout.write(`engine simulation: ${runs.length} runs; per run on average ${JSON.stringify(per)}\n`);
  rmSync(statsFile);
}
process.exit(failures ? 1 : 0);
