// A fresh state DB file per test, and copies of the fixtures (SQLite writes beside a DB it opens).
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StateStore } from '../../../../src/client/state/store.js';
import { replayable } from '../../../helpers/plan-random.js';
import { rng, type Rng } from '../../../helpers/rng.js';

export const FIXTURES = join(__dirname, '..', '..', '..', '..', 'fixtures', 'state-db');

export function tempDbFile(): string {
  return join(mkdtempSync(join(tmpdir(), 'syncd-state-')), 'state.db');
}

export function fixtureCopy(name: string): string {
  const file = tempDbFile();
  copyFileSync(join(FIXTURES, name), file);
  return file;
}

/**
 * Randomized runs over one real state DB: each run starts from empty trees
 * and no plan base; a failing run's error names its seed and how to replay it.
 */
export function randomRunsOverStateDb(runs: number, seed0: number, replay: { runsVar: string; file: string }, body: (r: Rng, store: StateStore) => void): void {
  const store = new StateStore(tempDbFile());
  store.db.pragma('synchronous = OFF'); // durability is not what these test
  try {
    for (let run = 0; run < runs; run++) {
      const seed = (seed0 + run) >>> 0;
      try {
        store.db.exec('DELETE FROM remote; DELETE FROM synced; DELETE FROM local; DELETE FROM plan_base; DELETE FROM plan_seeds; DELETE FROM plan_memo;');
        body(rng(seed), store);
      } catch (err) {
        throw replayable(err, seed, replay.runsVar, replay.file);
      }
    }
  } finally {
    store.close();
  }
}
