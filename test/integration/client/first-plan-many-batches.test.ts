// Issue #17: a first plan of more batches than a cycle's MAX_ROUNDS (at
// 1,000,000 files in batches of 5,000 there are 200 of them) still
// converges in one cycle, which is what `syncd sync` runs: each batch
// begun gives the cycle one more round (roundLimit). Before, the 1,000,000-
// file mirror stopped with "not in agreement yet: 3334 operations left".

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/client/agent/engine.js';
import { MAX_ROUNDS } from '../../../src/core/policy/cycle.js';
import { LIMITS } from '../../../src/protocol/types.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

/** top-level files: with batches of one node, more batches than MAX_ROUNDS */
const FILES = MAX_ROUNDS + 30;

let server: TestServer;
let agent: TestAgent;
let dir: string;

beforeAll(async () => {
  await useTempStateDir();
  server = await startTestServer();
  const api = new Api(server.url, await server.addDevice('default', 'writer'));
  const ops = [];
  for (let f = 0; f < FILES; f++) {
    const { hash, size } = await api.putBlob(`file ${f}\n`);
    ops.push({ op: 'create' as const, parent: 'root', name: `f${f}.txt`, kind: 'file' as const, hash, size });
  }
  for (let i = 0; i < ops.length; i += LIMITS.commitMaxOps) await api.commit(ops.slice(i, i + LIMITS.commitMaxOps));
  dir = await mkdtemp(join(tmpdir(), 'syncd-folder-'));
  agent = await linkAgent(server, dir, 'new-device');
}, 120_000);

afterAll(async () => {
  await agent?.close();
  await server?.close();
});

describe('a first plan of more batches than a cycle has rounds', () => {
  it(`${FILES} batches converge in one cycle`, async () => {
    const engine = new Engine({ folder: dir, db: agent.db, remote: agent.remote, firstPlanBatchNodes: 1, firstPlanWholeMax: 1 });
    const r = await engine.cycle();
    expect(r.converged).toBe(true);
    expect(r.rounds).toBeGreaterThan(MAX_ROUNDS);
    const snap = await snapshot(dir);
    expect(Object.keys(snap).filter((k) => snap[k] !== 'dir')).toHaveLength(FILES);
    expect(snap['f7.txt']).toBe('file 7\n');
  }, 120_000);
});
