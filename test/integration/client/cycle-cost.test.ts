// Issue #17: a cycle's work follows the change, not the folder. Over a
// real server and a real folder of ~10,000 files, one change (on the
// server, or in the folder) costs a cycle a number of tree rows read from
// the state DB (StateDB.rowsRead, counted in the state layer) that depends
// on the changed file's directory, not on the whole tree.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { folderModePlan } from '../../../src/cli/mode-plan.js';
import { loadConfig } from '../../../src/client/state/config.js';
import { folderStatePaths } from '../../../src/client/state/paths.js';
import { LIMITS } from '../../../src/protocol/types.js';
import { setRetention, trim } from '../../../src/server/admin.js';
import { linkAgent, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

const DIRS = 20;
const FILES = 500;
/**
 * The rows one change may cost: two plan rounds (the op, then the empty
 * plan that ends the cycle), each reading the changed file's directory and
 * the top level in the three trees, and some slack. Loading the trees
 * whole reads 3 × 10,020 rows a round.
 */
const BUDGET = 2 * 3 * (FILES + DIRS) + 200;

let server: TestServer;
let api: Api;
let agent: TestAgent;
let dir: string;
const dirIds: string[] = [];

beforeAll(async () => {
  await useTempStateDir();
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'writer'));
  const { hash, size } = await api.putBlob('same content');
  for (let d = 0; d < DIRS; d++) dirIds.push((await api.mkdir(`d${d}`)).id);
  const ops = dirIds.flatMap((parent) => Array.from({ length: FILES }, (_, f) => ({ op: 'create' as const, parent, name: `f${f}.txt`, kind: 'file' as const, hash, size })));
  for (let i = 0; i < ops.length; i += LIMITS.commitMaxOps) await api.commit(ops.slice(i, i + LIMITS.commitMaxOps));
  dir = await mkdtemp(join(tmpdir(), 'syncd-folder-'));
  agent = await linkAgent(server, dir, 'reader');
  await agent.sync();
}, 240_000);

afterAll(async () => {
  await agent?.close();
  await server?.close();
});

/** Cycles until converged, starting as an idle agent does (its in-memory trees let go); the rows the state layer read meanwhile. */
async function rowsOfCycles(): Promise<number> {
  agent.db.dropCaches();
  const before = agent.db.rowsRead;
  for (let i = 0; i < 5; i++) if ((await agent.engine.cycle()).converged) return agent.db.rowsRead - before;
  throw new Error('did not converge');
}

describe('a cycle in a folder of 10,000 files', () => {
  it('a full rescan right after the mirror reads Local and plans nothing (the directories filled by the downloads are no change)', async () => {
    agent.engine.rescan();
    // the Local rows the scan compares with, and not one more: no plan round
    expect(await rowsOfCycles()).toBe(DIRS * FILES + DIRS);
  });

  it(`reads fewer than ${BUDGET} tree rows for one new file on the server`, async () => {
    await api.file('new.txt', 'news', dirIds[7]);
    agent.engine.requestPull();
    const rows = await rowsOfCycles();
    expect(await readFile(join(dir, 'd7', 'new.txt'), 'utf8')).toBe('news');
    expect(rows).toBeLessThan(BUDGET);
  });

  it(`reads fewer than ${BUDGET} tree rows for one edited file in the folder`, async () => {
    await writeFile(join(dir, 'd3', 'f9.txt'), 'edited here');
    agent.engine.markDirty('d3/f9.txt');
    const rows = await rowsOfCycles();
    const list = await api.listAll();
    const f9 = list.nodes.find((n) => n.name === 'f9.txt' && n.parent === dirIds[3])!;
    expect(f9.size).toBe('edited here'.length);
    expect(rows).toBeLessThan(BUDGET);
  });

  it(`\`syncd status\`'s plan (pending, differences) reads fewer than ${BUDGET} tree rows after a change`, async () => {
    await writeFile(join(dir, 'd5', 'f2.txt'), 'not synced yet');
    agent.engine.markDirty('d5/f2.txt');
    await rowsOfCycles();
    // a file the agent has not looked at yet is not pending; one it has, is
    await writeFile(join(dir, 'd6', 'f4.txt'), 'seen, not sent');
    agent.db.tx(() => agent.db.putLocal({ path: 'd6/f4.txt', diskPath: 'd6/f4.txt', kind: 'file', size: 14, mtimeMs: Date.now(), ino: 1, hash: 'h', exec: false, target: null }));
    agent.db.dropCaches();
    const before = agent.db.rowsRead;
    const p = folderModePlan(folderStatePaths(dir), agent.db, loadConfig(dir), null);
    expect(agent.db.rowsRead - before).toBeLessThan(BUDGET);
    expect(p.ops.map((op) => [op.type, 'path' in op ? op.path : ''])).toEqual([['update', 'd6/f4.txt']]);
    // the agent catches up (the file goes up), so the next case starts in agreement
    agent.engine.markDirty('d6/f4.txt');
    await rowsOfCycles();
    await rowsOfCycles();
  });

  it('an idle cycle with nothing new reads no tree rows', async () => {
    agent.engine.requestPull();
    expect(await rowsOfCycles()).toBe(0);
  });

  // the budget of one change, with d8's ten new files read in its three trees in both rounds
  const RESET_BUDGET = BUDGET + 2 * 3 * 10;
  it(`a reset (the server trimmed its journal past the cursor) with ten new files reads fewer than ${RESET_BUDGET} tree rows`, async () => {
    await setRetention(server.dataDir, { maxEntries: 5 });
    for (let i = 0; i < 10; i++) await api.file(`reset-${i}.txt`, `r${i}`, dirIds[8]);
    await trim(server.dataDir);
    agent.engine.requestPull();
    const rows = await rowsOfCycles();
    // the listing replaced Remote; the plan base stood, seeded with what the listing changed
    expect(agent.db.meta.get('last_reset_reason')).toMatch(/expired/);
    for (let i = 0; i < 10; i++) expect(await readFile(join(dir, 'd8', `reset-${i}.txt`), 'utf8')).toBe(`r${i}`);
    expect(rows).toBeLessThan(RESET_BUDGET);
  });
});
