// `syncd sync` tells the truth: it fails (and `status` shows why) when the
// server's nodes could not all be placed, and when it gave up on a server
// that keeps forcing resets.

import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { initFolder, runSync } from '../../../src/cli/client-commands.js';
import { folderStatus } from '../../../src/cli/status-report.js';
import type { WireNode } from '../../../src/protocol/types.js';
import { useTempStateDir } from '../../helpers/agent.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server.js';

const dirNode = (id: string, parent: string, name: string, seq: number): WireNode => ({ id, parent, name, kind: 'dir', rev: 1, mtime: 0, exec: false, seq });
const STATUS = { namespace: 'ns', epoch: 'e1', head: 2, floor: 1, retention: { max_age_s: null, max_entries: null }, devices: [], device: 'd1' };

let fake: FakeServer;
beforeAll(async () => {
  await useTempStateDir();
  fake = await startFakeServer();
});
afterAll(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

async function linkedFolder(): Promise<string> {
  fake.on('GET', '/v1/status', { json: STATUS });
  const dir = join(await mkdtemp(join(tmpdir(), 'syncd-outcome-')), 'folder');
  await initFolder(dir, fake.url, 'token');
  return dir;
}

describe('syncd sync outcome', () => {
  const cases = [
    { desc: 'an orphan (its parent never comes)', nodes: [dirNode('ok', 'root', 'ok', 1), dirNode('lost', 'ghost', 'lost', 2)] },
    { desc: 'a name no disk may take', nodes: [dirNode('ok', 'root', 'ok', 1), dirNode('bad', 'root', '..', 2)] },
    { desc: 'a cycle', nodes: [dirNode('ok', 'root', 'ok', 1), dirNode('a', 'b', 'a', 2), dirNode('b', 'a', 'b', 2)] },
  ];
  for (const c of cases) {
    it(`fails with "incomplete" when the server sends ${c.desc}, and status says so`, async () => {
      const dir = await linkedFolder();
      fake.on('GET', '/v1/list', { json: { entries: c.nodes, cursor: 'c2', seq: 2, has_more: false } });
      fake.on('GET', '/v1/changes', { json: { entries: [], cursor: 'c2', has_more: false, head: 2 } });
      await expect(runSync(dir, {})).rejects.toMatchObject({ code: 'incomplete' });
      expect((await folderStatus(dir)).last_error).toMatchObject({ code: 'incomplete' });
    });
  }

  it('records last_error when it gives up on a server that keeps forcing resets', async () => {
    const dir = await linkedFolder();
    fake.on('GET', '/v1/list', { json: { entries: [], cursor: 'c0', seq: 0, has_more: false } });
    fake.on('GET', '/v1/changes', { status: 409, json: { error: 'reset', reason: 'expired', message: 'again' } });
    await expect(runSync(dir, {})).rejects.toMatchObject({ code: 'reset_loop' });
    const st = await folderStatus(dir);
    expect(st.last_error).toMatchObject({ code: 'reset_loop' });
  });

  it('a clean sync says in sync and clears the last error', async () => {
    const dir = await linkedFolder();
    fake.on('GET', '/v1/list', { json: { entries: [dirNode('ok', 'root', 'ok', 1)], cursor: 'c1', seq: 1, has_more: false } });
    fake.on('GET', '/v1/changes', { json: { entries: [], cursor: 'c1', has_more: false, head: 1 } });
    await runSync(dir, {});
    expect((await folderStatus(dir)).last_error).toBe(null);
  });
});
