// A lying server: hostile names, orphans, cycles, a blob whose bytes do not
// match its hash, and a seq gap. Nothing may be written outside the folder,
// no bad content may land, the gap must trigger a reset, and the agent keeps
// going with the problems recorded for `status`.

import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engineFor, initFolder } from '../../../src/cli/client-commands.js';
import { silentLog } from '../../../src/client/agent/log.js';
import type { WireNode } from '../../../src/protocol/types.js';
import { useTempStateDir } from '../../helpers/agent.js';
import { startFakeServer, type FakeServer } from '../../helpers/fake-server.js';
import { sha256 } from '../../helpers/server.js';

let fake: FakeServer;
let outer: string;
let dir: string;

const GOOD = 'good content';
const EVIL = 'evil content';
const file = (id: string, parent: string, name: string, content: string, seq: number): WireNode =>
  ({ id, parent, name, kind: 'file', rev: 1, size: Buffer.byteLength(content), hash: sha256(content), mtime: 0, exec: false, seq });
const dirNode = (id: string, parent: string, name: string, seq: number): WireNode => ({ id, parent, name, kind: 'dir', rev: 1, mtime: 0, exec: false, seq });

const hostile: WireNode[] = [
  file('n1', 'root', '../escape.txt', EVIL, 1),
  file('n2', 'root', '/etc/passwd', EVIL, 2),
  file('n3', 'root', 'nul\u0000byte', EVIL, 3),
  dirNode('n4', 'root', '..', 4),
  file('n4c', 'n4', 'through-dotdot.txt', EVIL, 4),
  dirNode('n5', 'root', '.', 5),
  file('n6', 'root', 'x'.repeat(300), EVIL, 6),
  file('n7', 'ghost-parent', 'orphan.txt', EVIL, 7),
  dirNode('c1', 'c2', 'cycle-a', 8),
  dirNode('c2', 'c1', 'cycle-b', 8),
  file('c3', 'c1', 'in-cycle.txt', EVIL, 8),
  file('n8', 'root', '.syncd-tmp-planted', EVIL, 9),
  file('n9', 'root', 'mismatch.txt', 'the bytes it should have', 9),
  file('n10', 'root', 'good.txt', GOOD, 10),
];

beforeAll(async () => {
  await useTempStateDir();
  outer = await mkdtemp(join(tmpdir(), 'syncd-lying-'));
  dir = join(outer, 'inside', 'folder');
  fake = await startFakeServer();
  fake.on('GET', '/v1/status', { json: { namespace: 'ns', epoch: 'e1', head: 10, floor: 1, retention: { max_age_s: null, max_entries: null }, devices: [{ id: 'd1', label: 'me', cursor_seq: 0, lag: 10, last_seen: 0 }], device: 'd1' } });
  fake.on('GET', '/v1/list', { json: { entries: hostile, cursor: 'c-at-10', seq: 10, has_more: false } });
  fake.on('GET', '/v1/changes',
    // a page that skips seq 11: corruption → reset
    { json: { entries: [{ seq: 12, op: 'create', node: file('n11', 'root', 'after-gap.txt', GOOD, 12), device: 'd2' }], cursor: 'c-at-12', has_more: false, head: 12 } },
    { json: { entries: [], cursor: 'c-at-10', has_more: false, head: 10 } });
  fake.on('POST', '/v1/blobs/fetch', { status: 404, json: { error: 'not_found', message: 'no batch here' } });
  fake.on('GET', /^\/v1\/blobs\//, (req) => {
    const hash = req.path.split('/').pop();
    // honest for good.txt; for everything else, other bytes of the same length
    if (hash === sha256(GOOD)) return { body: Buffer.from(GOOD) };
    return { body: Buffer.from('the bytes it should NOT have').subarray(0, 24) };
  });
  await initFolder(dir, fake.url, 'token');
});

afterAll(async () => {
  await fake.close();
});

describe('a lying server', () => {
  it('writes nothing outside the folder, places no bad content, resets on a gap, and reports problems', async () => {
    const { db, remote, engine } = engineFor(dir, {}, silentLog);
    try {
      await engine.prepare();
      for (let i = 0; i < 3; i++) await engine.cycle();
      // the gap made it rebuild from a listing
      expect(db.meta.get('last_reset_reason')).toBe('journal gap');
      // outside the folder: nothing new anywhere above it
      expect(await readdir(outer)).toEqual(['inside']);
      expect(await readdir(join(outer, 'inside'))).toEqual(['folder']);
      // inside: only the honest file, with the right bytes
      const names = (await readdir(dir)).sort();
      expect(names).toEqual(['.syncd', 'good.txt']);
      expect(await readFile(join(dir, 'good.txt'), 'utf8')).toBe(GOOD);
      const codes = new Set(db.problems().map((p) => p.code));
      // orphans and the cycle are dropped after the listing (reported once); bad names are reported by the planner
      for (const c of ['remote_invalid_name', 'remote_orphan', 'hash_mismatch']) expect(codes).toContain(c);
    } finally {
      await remote.close();
      db.close();
    }
  });
});

describe('a listing paged across a directory delete', () => {
  it('leaves no orphan behind once the pull has caught up', async () => {
    const { StateDB } = await import('../../../src/client/state/db.js');
    const db = new StateDB(join(await mkdtemp(join(tmpdir(), 'syncd-orphans-')), 'state.db'));
    const base = { rev: 1, size: null, hash: null, mtime: 0, exec: false, target: null } as const;
    db.replaceRemote([
      { id: 'kept', parent: 'root', name: 'kept', kind: 'dir', ...base },
      { id: 'child', parent: 'kept', name: 'c', kind: 'dir', ...base },
      { id: 'stray', parent: 'deleted-dir', name: 'x', kind: 'dir', ...base },
      { id: 'stray2', parent: 'stray', name: 'y', kind: 'dir', ...base },
    ]);
    expect(db.pruneRemoteOrphans()).toBe(2);
    expect([...db.loadRemote().keys()].sort()).toEqual(['child', 'kept']);
    db.close();
  });
});
