// A namespace holding a directory chain whose paths are longer than any disk
// allows (made before the server refused them, or by a server without the
// limit): `sync` ends with an error that says what was left out, and
// `status` still works. (The 100,000-level chain that overflowed the stack
// of the recursive path walk is in test/unit/core/tree.test.ts.)

import { randomUUID } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initFolder, runSync } from '../../../src/cli/client-commands.js';
import { folderStatus } from '../../../src/cli/status-report.js';
import { addDeviceToStore } from '../../../src/server/admin.js';
import { newNodeId } from '../../../src/server/ids.js';
import { SqliteStore } from '../../../src/server/store/sqlite/store.js';
import { useTempStateDir } from '../../helpers/agent.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

const DEPTH = 300;
const NAME = 'd'.repeat(100); // 41 levels fit in 4096 bytes
let srv: TestServer;
let token: string;

beforeAll(async () => {
  await useTempStateDir();
  const dataDir = await mkdtemp(join(tmpdir(), 'syncd-deep-'));
  // the chain goes straight into the store, past the server's depth limit
  const store = new SqliteStore(join(dataDir, 'syncd.db'));
  token = (await addDeviceToStore(store, 'deep', 'maker')).token;
  const ns = (await store.namespaces())[0]!;
  const limits = { maxDepth: DEPTH + 10, maxPathBytes: 1_000_000 };
  let parent = 'root';
  for (let i = 0; i < DEPTH; i++) {
    const r = await store.commitOp(ns, { op_id: randomUUID(), op: 'create', kind: 'dir', parent, name: NAME }, { deviceId: 'd_x', now: 1, newNodeId, limits });
    if (r.result.status !== 'ok') throw new Error(JSON.stringify(r.result));
    parent = r.result.node.id;
  }
  await store.close();
  srv = await startTestServer({ dataDir });
}, 120_000);
afterAll(async () => {
  await srv?.close();
});

describe(`a ${DEPTH}-level chain of 100-byte names on the server`, () => {
  it('sync ends with an error naming what was left out, and status works', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'syncd-deep-folder-')), 'f');
    await initFolder(dir, srv.url, token);
    const err = await runSync(dir, {}).then(
      () => null,
      (e: unknown) => e,
    );
    expect((err as { code?: string } | null)?.code).toBe('incomplete');
    expect((err as Error).message).toMatch(/path longer than 4096 bytes/);
    const st = await folderStatus(dir);
    expect(st.last_error).not.toBe(null);
  }, 120_000);
});
