// A seeded random workload on two agents (real processes) with kill -9
// restarts and offline periods. After quiescence both folders equal the
// server's tree, and every content the test wrote is still present unless
// the test itself overwrote or deleted it where it could see it.
// Replay: SYNCD_SEED=<seed> npx vitest run test/e2e/random-workload.test.ts

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot } from '../helpers/agent.js';
import { cli, start, startServerProc, type Proc } from '../helpers/procs.js';
import { baseSeed, pick, rng } from '../helpers/rng.js';
import { converge, lostContents, step, type Side, type Written } from '../helpers/workload.js';

const RUNS = Number(process.env.SYNCD_WORKLOAD_RUNS ?? 2);
const STEPS = Number(process.env.SYNCD_WORKLOAD_STEPS ?? 60);

let work: string;
let server: { proc: Proc; url: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-random-'));
  server = await startServerProc(join(work, 'server'));
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('random two-agent workload with kill -9 and offline periods', () => {
  const seed0 = baseSeed(7);
  for (let run = 0; run < RUNS; run++) {
    const seed = seed0 + run;
    it(`seed ${seed} (replay: SYNCD_SEED=${seed} SYNCD_WORKLOAD_RUNS=1 npx vitest run test/e2e/random-workload.test.ts)`, async () => {
      const r = rng(seed);
      const data = join(work, 'server');
      const sides: Side[] = [];
      for (const name of ['alpha', 'beta']) {
        const dir = join(work, `${name}-${seed}`);
        const env = { SYNCD_STATE_DIR: join(work, `state-${name}-${seed}`), SYNCD_MAX_DELETE_SHARE: '1', SYNCD_SAFETY_PULL_INTERVAL: '2' };
        const token = cli(['server', 'add-device', '--data', data, '--namespace', `ns${seed}`, '--label', name]).stdout.trim();
        expect(cli(['init', dir, '--server', server.url, '--token', token], env).code).toBe(0);
        sides.push({ name, dir, env, agent: start(['watch', dir], env) });
      }
      const w: Written = { written: new Set(), superseded: new Set() };
      try {
        for (let i = 0; i < STEPS; i++) {
          const side = pick(r, sides);
          await step(r, side, w, `${side.name}-${seed}-${i}`);
          const k = r();
          if (k < 0.06 && side.agent) {
            await side.agent.kill('SIGKILL'); // crash
            side.agent = start(['watch', side.dir], side.env);
          } else if (k < 0.1 && side.agent) {
            await side.agent.kill('SIGTERM'); // offline for a while
            side.agent = null;
          } else if (k < 0.16 && !side.agent) {
            side.agent = start(['watch', side.dir], side.env);
          }
          await new Promise((res) => setTimeout(res, Math.floor(r() * 40)));
        }
        await converge(sides, seed);
        expect(lostContents(await snapshot(sides[0]!.dir), w), `seed ${seed}: contents lost`).toEqual([]);
      } finally {
        for (const s of sides) await s.agent?.kill('SIGTERM');
      }
    }, 180_000);
  }
});
