// Engine simulation (issue: reliability harness). Each run is one seeded
// world (test/sim/world.ts); a failure prints its seed and the command that
// replays it. SYNCD_SIM_RUNS sets how many seeds run (from SYNCD_SIM_BASE, or
// a random base with SYNCD_RANDOM=1); SYNCD_SEED replays one; SYNCD_SIM_STEPS
// lengthens the stormy phase of the converging runs (default 1500 steps);
// SYNCD_SIM_BATCHES=N plans every round without a plan base in batches of N nodes.

import { appendFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { baseSeed } from '../helpers/rng.js';
import { runSim, type SimResult } from './world.js';

const RUNS = Number(process.env.SYNCD_SIM_RUNS ?? 24);
const base = process.env.SYNCD_SIM_BASE ? Number(process.env.SYNCD_SIM_BASE) : baseSeed(1000);
/**
 * Seeds that once found a bug, run besides the range (each names what it found):
 * 1122: a symlink placed where Local still held a directory the disk had lost kept that directory's entries under it
 * 1159: an empty folder at an excluded path stays (reported): the check had called it a leak
 * 1569: a conflict rename replaced a file the user wrote at its target after the executor looked (content lost)
 * 1833: a receive-only revert read a Synced path collision unlike the planner, and deleted and re-placed a folder (into the trash) for ever
 */
const REGRESSIONS = [1122, 1159, 1569, 1833];
const seeds = process.env.SYNCD_SEED ? [base] : [...new Set([...Array.from({ length: RUNS }, (_, i) => base + i), ...REGRESSIONS])];

function replay(seed: number): string {
  return `SYNCD_SEED=${seed} npx vitest run test/sim/engine-sim.test.ts`;
}

const ran: SimResult['stats'][] = [];

describe('engine simulation', () => {
  test.each(seeds)('seed %i: converges, loses nothing, tears nothing', async (seed) => {
    const r = await runSim({ seed, steps: process.env.SYNCD_SIM_STEPS ? Number(process.env.SYNCD_SIM_STEPS) : undefined });
    ran.push(r.stats);
    if (process.env.SYNCD_SIM_VERBOSE) console.log(JSON.stringify({ seed, ...r.stats }));
    // the soak sums these: faults injected per run
    if (process.env.SYNCD_SIM_STATS) appendFileSync(process.env.SYNCD_SIM_STATS, JSON.stringify({ seed, ...r.stats }) + '\n');
    expect(r.violations, `replay: ${replay(seed)}`).toEqual([]);
  }, 120_000);

  test('large files (every sixth seed) travel as chunks through the simulated transport', async () => {
    const seed = base + ((6 - (base % 6)) % 6);
    const r = await runSim({ seed });
    expect(r.violations, `replay: ${replay(seed)}`).toEqual([]);
    expect(r.stats.bigWrites).toBeGreaterThan(0);
    expect(r.stats.chunkCalls).toBeGreaterThan(0);
  }, 120_000);

  test('a receive-only device (seeds ≡ 3 mod 5): its writes never reach the server, and after its revert they are in its trash', async () => {
    const seed = base + ((8 - (base % 5)) % 5);
    const r = await runSim({ seed, devices: 2 });
    expect(r.violations, `replay: ${replay(seed)}`).toEqual([]);
    expect(r.stats.roWrites).toBeGreaterThan(0);
    expect(r.stats.roTrashed).toBeGreaterThan(0);
  }, 120_000);

  test('a device excluding docs/ (seeds ≡ 4 mod 5) ends equal to the server without it, while the others sync it', async () => {
    const seed = base + ((9 - (base % 5)) % 5);
    const r = await runSim({ seed, devices: 3 });
    expect(r.violations, `replay: ${replay(seed)}`).toEqual([]);
    expect(r.stats.excludedServerPaths).toBeGreaterThan(0);
  }, 120_000);

  test('plans without a base in batches of 3 nodes (linked where Synced spans top-level names): converges, loses nothing', async () => {
    // seeds from the base until two of them planned in batches with Synced (after a mode change,
    // a revert, a rolled-back state DB); about two seeds in three do
    let linked = 0;
    for (let seed = base; seed < base + 10 && linked < 2; seed++) {
      const r = await runSim({ seed, batchNodes: 3 });
      expect(r.violations, `replay: SYNCD_SIM_BATCHES=3 ${replay(seed)}`).toEqual([]);
      if (r.stats.linkedBatchPasses > 0) linked++;
    }
    expect(linked).toBe(2);
  }, 240_000);

  test('the same seed twice gives the same final state', async () => {
    const seed = base + 7;
    const a = await runSim({ seed });
    const b = await runSim({ seed });
    expect(a.violations).toEqual([]);
    expect(b.fingerprint, `replay: ${replay(seed)}`).toBe(a.fingerprint);
    expect(b.stats).toEqual(a.stats);
  }, 240_000);

  test('the seeds follow the server both ways, through every notification fault', () => {
    const sum = (k: keyof SimResult['stats']): number => ran.reduce((a, r) => a + r[k], 0);
    // a single replayed seed shows what it shows; a batch must cover both channels and every fault
    if (seeds.length < 12) return;
    expect(ran.filter((r) => r.streamDevices > 0).length).toBeGreaterThan(0);
    expect(ran.filter((r) => r.streamDevices === 0).length).toBeGreaterThan(0);
    for (const k of ['streamMessages', 'streamsCut', 'streamsStalled', 'fallbacks', 'longpollAnswers', 'notificationsDropped', 'notificationsDuplicated'] as const) {
      expect(sum(k), k).toBeGreaterThan(0);
    }
  });

  test.each([
    ['every stream stalls: the devices fall back to the longpoll', { stallStream: 1 }],
    ['streams are cut half the time and messages doubled', { stallStream: 0, dropNotification: 0.5, duplicateNotification: 0.5 }],
  ] as const)('on the stream, %s, and still converge', async (_, faults) => {
    const seed = base + 11;
    const r = await runSim({ seed, notify: 'stream', ...faults });
    expect(r.violations, `replay: SYNCD_SEED=${seed} with ${JSON.stringify(faults)}`).toEqual([]);
    if (faults.stallStream === 1) {
      expect(r.stats.streamMessages).toBe(0);
      expect(r.stats.fallbacks).toBeGreaterThanOrEqual(r.stats.streamDevices);
      expect(r.stats.longpollAnswers).toBeGreaterThan(0);
    } else {
      expect(r.stats.streamsCut).toBeGreaterThan(0);
      expect(r.stats.notificationsDropped).toBeGreaterThan(0);
      expect(r.stats.notificationsDuplicated).toBeGreaterThan(0);
    }
  }, 120_000);
});
