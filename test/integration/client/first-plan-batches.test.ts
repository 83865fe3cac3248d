// Issue #17: a new device's first plan comes in batches of top-level names
// (core/plan/batches.ts, client/agent/round-trees.ts), so the first mirror
// never holds the whole namespace's plan. Over a real server and folder:
// no round plans more than a batch, a batch's rows come to JS once (its
// confirming plan is left out when SQL finds it settled), and the folder
// ends up whole. The same for a mirrored folder whose plan base no longer
// holds (new ignore rules): batches, with the names a move spans in one.

import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Engine } from '../../../src/client/agent/engine.js';
import { LIMITS } from '../../../src/protocol/types.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

const DIRS = 12;
const FILES = 100;
/** nodes per batch: 2 or 3 of the 101-node directories */
const BATCH = 250;

let server: TestServer;
let api: Api;
let agent: TestAgent;
let dir: string;

beforeAll(async () => {
  await useTempStateDir();
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'writer'));
  const ops = [];
  for (let d = 0; d < DIRS; d++) {
    const parent = (await api.mkdir(`d${String(d).padStart(2, '0')}`)).id;
    for (let f = 0; f < FILES; f++) {
      const { hash, size } = await api.putBlob(`d${d} f${f}\n`);
      ops.push({ op: 'create' as const, parent, name: `f${f}.txt`, kind: 'file' as const, hash, size });
    }
  }
  for (let i = 0; i < ops.length; i += LIMITS.commitMaxOps) await api.commit(ops.slice(i, i + LIMITS.commitMaxOps));
  await api.file('top.txt', 'a file at the top level');
  dir = await mkdtemp(join(tmpdir(), 'syncd-folder-'));
  agent = await linkAgent(server, dir, 'new-device');
}, 240_000);

afterAll(async () => {
  await agent?.close();
  await server?.close();
});

describe('the first sync of a new device', () => {
  it(`plans at most a batch (${BATCH} nodes) a round and mirrors every file`, async () => {
    const planned: number[] = [];
    const engine = new Engine({ folder: dir, db: agent.db, remote: agent.remote, firstPlanBatchNodes: BATCH, firstPlanWholeMax: BATCH, onPlan: (files) => planned.push(files) });
    let converged = false;
    const rows0 = agent.db.rowsRead;
    for (let i = 0; i < 5 && !converged; i++) converged = (await engine.cycle()).converged;
    expect(converged).toBe(true);
    // each batch's rows come to JS once, for its plan: the confirming plan that read them
    // again (with their inodes' holders) is left out once SQL finds the batch settled
    // (1,607 rows here; 7,729 with the confirming plans)
    expect(agent.db.rowsRead - rows0).toBeLessThan(2 * (DIRS * (FILES + 1) + 1));
    const snap = await snapshot(dir);
    expect(Object.keys(snap).filter((k) => snap[k] !== 'dir')).toHaveLength(DIRS * FILES + 1);
    expect(snap['d03/f7.txt']).toBe('d3 f7\n');
    expect(snap['top.txt']).toBe('a file at the top level');
    // every file was planned once, a batch at a time
    expect(planned.reduce((a, b) => a + b, 0)).toBe(DIRS * FILES + 1);
    expect(Math.max(...planned)).toBeLessThanOrEqual(BATCH);
    expect(planned.length).toBeGreaterThanOrEqual(Math.ceil((DIRS * (FILES + 1)) / BATCH));
    // and the agreement is remembered: the next cycle plans nothing
    const again = await engine.cycle();
    expect(again.converged).toBe(true);
    expect(planned.reduce((a, b) => a + b, 0)).toBe(DIRS * FILES + 1);
  });

  it('with selective-sync exclusions set before it (one of them following a server rename into a later batch): batches still, and nothing excluded lands', async () => {
    const { nodes } = await api.listAll();
    const idOf = (path: string): string => {
      const [top, name] = path.split('/');
      const t = nodes.find((n) => n.parent === 'root' && n.name === top)!;
      return name === undefined ? t.id : nodes.find((n) => n.parent === t.id && n.name === name)!.id;
    };
    const d05 = nodes.find((n) => n.parent === 'root' && n.name === 'd05')!;
    const folder = await mkdtemp(join(tmpdir(), 'syncd-folder-'));
    const dev = await linkAgent(server, folder, 'selective-device');
    try {
      dev.db.tx(() => dev.db.meta.set('exclusions', [{ path: 'd02', id: idOf('d02') }, { path: 'd09/f3.txt', id: idOf('d09/f3.txt') }, { path: 'd05', id: d05.id }]));
      // the server renames an excluded folder after the exclusion was made: it lands in the last batch
      await api.one({ op: 'move', id: d05.id, base_rev: d05.rev, parent: 'root', name: 'zz05' });
      // and makes a new folder at its old name, which is not excluded
      await api.file('new.txt', 'fresh', (await api.mkdir('d05')).id);
      const planned: number[] = [];
      const before = (await api.listAll()).nodes;
      const engine = new Engine({ folder, db: dev.db, remote: dev.remote, firstPlanBatchNodes: BATCH, firstPlanWholeMax: BATCH, onPlan: (files) => planned.push(files) });
      let converged = false;
      for (let i = 0; i < 5 && !converged; i++) converged = (await engine.cycle()).converged;
      expect(converged).toBe(true);
      const snap = await snapshot(folder);
      const files = Object.keys(snap).filter((k) => snap[k] !== 'dir');
      expect(files.filter((k) => k.startsWith('d02/') || k.startsWith('zz05/') || k === 'd09/f3.txt')).toEqual([]);
      expect(snap['d05/new.txt']).toBe('fresh');
      expect(files).toHaveLength((DIRS - 2) * FILES - 1 + 2);
      expect(snap['d09/f4.txt']).toBe('d9 f4\n');
      expect(dev.db.meta.get('exclusions')?.map((x) => x.path)).toEqual(['d02', 'd09/f3.txt', 'zz05']);
      // planned a batch at a time, not over the whole trees
      expect(Math.max(...planned)).toBeLessThanOrEqual(BATCH);
      expect(planned.length).toBeGreaterThan(1);
      // a new device changes nothing on the server: every node is still there, as it was
      const after = new Map((await api.listAll()).nodes.map((n) => [n.id, n]));
      expect(before.filter((n) => JSON.stringify(after.get(n.id)) !== JSON.stringify(n)).map((n) => n.name)).toEqual([]);
      expect(after.size).toBe(before.length);
    } finally {
      await dev.close();
    }
  });

  it('a mirrored folder whose ignore rules changed plans in batches, never the whole trees; moves across top-level names stay moves', async () => {
    // the folder of the first case, mirrored; the server moves a file from d01 into d10, the
    // user moves one from d03 into d08 by hand, deletes one, and makes a new ignore rule
    const { nodes } = await api.listAll();
    const at = (top: string, name: string) => nodes.find((n) => n.parent === nodes.find((t) => t.parent === 'root' && t.name === top)!.id && n.name === name)!;
    const serverMoved = at('d01', 'f1.txt');
    const handMoved = at('d03', 'f2.txt');
    await api.one({ op: 'move', id: serverMoved.id, base_rev: serverMoved.rev, parent: nodes.find((t) => t.parent === 'root' && t.name === 'd10')!.id, name: 'f1-from-d01.txt' });
    await rename(join(dir, 'd03/f2.txt'), join(dir, 'd08/f2-from-d03.txt'));
    await rm(join(dir, 'd04/f5.txt'));
    await writeFile(join(dir, 'd06/notes.bak'), 'ignored');
    await writeFile(join(dir, '.syncignore'), '*.bak\n');
    const db = agent.db;
    const loads = [vi.spyOn(db, 'loadRemote'), vi.spyOn(db, 'loadSynced'), vi.spyOn(db, 'loadLocal')];
    try {
      const engine = new Engine({ folder: dir, db, remote: agent.remote, firstPlanBatchNodes: BATCH, firstPlanWholeMax: BATCH });
      let converged = false;
      for (let i = 0; i < 5 && !converged; i++) converged = (await engine.cycle()).converged;
      expect(converged).toBe(true);
      expect(loads.map((l) => l.mock.calls.length), 'whole trees loaded (Remote, Synced, Local)').toEqual([0, 0, 0]);
    } finally {
      for (const l of loads) l.mockRestore();
    }
    const after = (await api.listAll()).nodes;
    const pathOf = (id: string): string => {
      const n = after.find((x) => x.id === id)!;
      return n.parent === 'root' ? n.name : `${pathOf(n.parent)}/${n.name}`;
    };
    // the hand move went up as a move of the same node, the server's came down as one
    expect(pathOf(handMoved.id)).toBe('d08/f2-from-d03.txt');
    const snap = await snapshot(dir);
    expect(snap['d10/f1-from-d01.txt']).toBe('d1 f1\n');
    expect(snap['d01/f1.txt']).toBeUndefined();
    expect(after.some((n) => n.name === 'f5.txt' && pathOf(n.id) === 'd04/f5.txt')).toBe(false);
    expect(after.some((n) => n.name === 'notes.bak')).toBe(false);
    expect(Object.keys(snap).filter((k) => k.includes('conflicted'))).toEqual([]);
    expect(snap['d06/notes.bak']).toBe('ignored');
  });
});
