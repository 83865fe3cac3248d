// A local actor swaps a parent directory for a symlink to somewhere outside
// the folder after the executor checked the path and before the download
// is placed. The file must not land outside the folder; the path is
// reported as a problem.

import { existsSync, mkdirSync, readdirSync, renameSync, symlinkSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFor, initFolder } from '../../../src/cli/client-commands.js';
import { silentLog } from '../../../src/client/agent/log.js';
import type { WireNode } from '../../../src/protocol/types.js';
import { useTempStateDir } from '../../helpers/agent.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server.js';
import { sha256 } from '../../helpers/server.js';

const CONTENT = 'delivered content';
const nodes: WireNode[] = [
  { id: 'd', parent: 'root', name: 'd', kind: 'dir', rev: 1, mtime: 0, exec: false, seq: 1 },
  { id: 'f', parent: 'd', name: 'f.txt', kind: 'file', rev: 1, size: CONTENT.length, hash: sha256(CONTENT), mtime: 0, exec: false, seq: 2 },
];

let fake: FakeServer;
let outer: string;
let dir: string;
let outside: string;

beforeAll(async () => {
  await useTempStateDir();
  outer = await mkdtemp(join(tmpdir(), 'syncd-swap-'));
  dir = join(outer, 'folder');
  outside = join(outer, 'outside');
  mkdirSync(outside);
  fake = await startFakeServer();
  fake.on('GET', '/v1/status', { json: { namespace: 'ns', epoch: 'e1', head: 2, floor: 1, retention: { max_age_s: null, max_entries: null }, devices: [], device: 'd1' } });
  fake.on('GET', '/v1/list', { json: { entries: nodes, cursor: 'c2', seq: 2, has_more: false } });
  fake.on('GET', '/v1/changes', { json: { entries: [], cursor: 'c2', has_more: false, head: 2 } });
  fake.on('POST', '/v1/blobs/fetch', { status: 404, json: { error: 'not_found', message: 'no batch here' } });
  fake.on('GET', /^\/v1\/blobs\//, () => {
    // the swap, while the bytes are on their way
    if (existsSync(join(dir, 'd')) && !existsSync(join(dir, 'd.real'))) {
      renameSync(join(dir, 'd'), join(dir, 'd.real'));
      symlinkSync(outside, join(dir, 'd'));
    }
    return { body: Buffer.from(CONTENT) };
  });
  await initFolder(dir, fake.url, 'token');
});
afterAll(async () => {
  await fake.close();
});

describe('a parent swapped for a symlink during a download', () => {
  it('is reported and never written through', async () => {
    const { db, remote, engine } = engineFor(dir, {}, silentLog);
    try {
      await engine.prepare();
      await engine.cycle();
      expect(readdirSync(outside)).toEqual([]);
      expect(db.problems().map((p) => [p.path, p.code])).toContainEqual(['d/f.txt', 'unsafe_path']);
    } finally {
      await remote.close();
      db.close();
    }
  });
});
