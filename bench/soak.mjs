// npm run soak -- --minutes N [--seed S]: the randomized suites with fresh
// seeds until the time is up. Every failure prints its seed and the command
// that replays it (the tests print them).
import { spawnSync } from 'node:child_process';
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
const suites = [
  { file: 'test/unit/core/plan.property.test.ts', env: { SYNCD_PLAN_RUNS: '20000' }, runs: 20000 },
  { file: 'test/e2e/random-workload.test.ts', env: { SYNCD_WORKLOAD_RUNS: '3' }, runs: 3 },
];
let rounds = 0, failures = 0;
const seeds = { 'plan.property': 0, 'random-workload': 0 };
while (Date.now() < end) {
  for (const s of suites) {
    if (Date.now() >= end) break;
    const seed = fixedSeed ?? String(Math.floor(Math.random() * 2 ** 31));
    const r = spawnSync('npx', ['vitest', 'run', s.file], { cwd: root, env: { ...process.env, ...s.env, SYNCD_SEED: seed }, encoding: 'utf8' });
    rounds++;
    seeds[s.file.includes('plan') ? 'plan.property' : 'random-workload'] += s.runs;
    if (r.status !== 0) {
      failures++;
      const line = (r.stdout + r.stderr).split('\n').find((l) => /seed \d+/.test(l) && /fail|replay/i.test(l)) ?? `base seed ${seed}`;
      process.stdout.write(`FAIL ${s.file}: ${line.trim()}\n`);
    }
  }
}
process.stdout.write(`soak: ${rounds} suite runs, seeds explored ${JSON.stringify(seeds)}, ${failures} failing runs\n`);
process.exit(failures ? 1 : 0);
