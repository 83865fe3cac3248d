// A seeded random workload on two agents (real processes) with kill -9
// restarts and offline periods. After quiescence both folders equal the
// server's tree, and every content the test wrote is still present unless
// the test itself overwrote or deleted it where it could see it.
// Replay: SYNCD_SEED=<seed> npx vitest run test/e2e/random-workload.test.ts

import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, waitFor } from '../helpers/agent.js';
import { cli, start, startServerProc, type Proc } from '../helpers/procs.js';
import { baseSeed, pick, rng, type Rng } from '../helpers/rng.js';

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

interface Side {
  name: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  agent: Proc | null;
}

async function walk(root: string, rel = ''): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  let ents;
  try {
    ents = await readdir(join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const d of ents) {
    if (d.name.startsWith('.syncd')) continue;
    const p = rel ? `${rel}/${d.name}` : d.name;
    out.push({ path: p, dir: d.isDirectory() });
    if (d.isDirectory()) out.push(...(await walk(root, p)));
  }
  return out;
}

async function contentsUnder(root: string, p: string): Promise<string[]> {
  const abs = join(root, p);
  const st = await stat(abs).catch(() => null);
  if (!st) return [];
  if (st.isFile()) return [await readFile(abs, 'utf8').catch(() => '')];
  const out: string[] = [];
  for (const e of await walk(root, p)) if (!e.dir) out.push(await readFile(join(root, e.path), 'utf8').catch(() => ''));
  return out;
}

const NAMES = ['a.txt', 'b.txt', 'C.txt', 'c.txt', 'notes', 'docs', 'é.md', 'x'];

async function step(r: Rng, side: Side, written: Set<string>, superseded: Set<string>, tag: string): Promise<void> {
  const items = await walk(side.dir);
  const dirs = ['', ...items.filter((i) => i.dir).map((i) => i.path)];
  const files = items.filter((i) => !i.dir).map((i) => i.path);
  const parent = pick(r, dirs);
  const target = (parent ? parent + '/' : '') + pick(r, NAMES);
  const k = r();
  try {
    if (k < 0.35) {
      const content = `${tag}`;
      if (existsSync(join(side.dir, target))) {
        if ((await stat(join(side.dir, target))).isDirectory()) return;
        superseded.add(await readFile(join(side.dir, target), 'utf8'));
      }
      await writeFile(join(side.dir, target), content);
      written.add(content);
    } else if (k < 0.45) {
      if (!existsSync(join(side.dir, target))) await mkdir(join(side.dir, target));
    } else if (k < 0.7 && items.length) {
      const from = pick(r, items).path;
      if (existsSync(join(side.dir, target)) || target === from || target.startsWith(from + '/')) return;
      await rename(join(side.dir, from), join(side.dir, target));
    } else if (k < 0.85 && files.length) {
      const f = pick(r, files);
      for (const c of await contentsUnder(side.dir, f)) superseded.add(c);
      await rm(join(side.dir, f), { force: true });
    } else if (items.length) {
      const d = pick(r, items).path;
      for (const c of await contentsUnder(side.dir, d)) superseded.add(c);
      await rm(join(side.dir, d), { recursive: true, force: true });
    }
  } catch (err) {
    // the agent moved something under our feet: that is fine, skip the step
    if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

async function converge(sides: Side[], seed: number): Promise<void> {
  for (const s of sides) if (!s.agent) s.agent = start(['watch', s.dir], s.env);
  try {
    await waitFor(async () => {
      for (const s of sides) if (cli(['wait', s.dir, '--timeout', '10'], s.env).code !== 0) return false;
      const snaps = await Promise.all(sides.map((s) => snapshot(s.dir)));
      return snaps.every((x) => JSON.stringify(x) === JSON.stringify(snaps[0]));
    }, 60_000, `convergence (seed ${seed})`);
  } catch (err) {
    for (const s of sides) {
      process.stderr.write(`--- ${s.name}\n${JSON.stringify(await snapshot(s.dir))}\n${cli(['status', s.dir, '--json'], s.env).stdout}\n${s.agent?.output.join('').slice(-3000)}\n`);
    }
    throw err;
  }
}

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
      const written = new Set<string>();
      const superseded = new Set<string>();
      try {
        for (let i = 0; i < STEPS; i++) {
          const side = pick(r, sides);
          await step(r, side, written, superseded, `${side.name}-${seed}-${i}`);
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
        const final = await snapshot(sides[0]!.dir);
        const present = new Set(Object.values(final));
        const lost = [...written].filter((c) => !superseded.has(c) && !present.has(c));
        expect(lost, `seed ${seed}: contents lost`).toEqual([]);
      } finally {
        for (const s of sides) await s.agent?.kill('SIGTERM');
      }
    }, 180_000);
  }
});
