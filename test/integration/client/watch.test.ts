// A watching agent (engine.watch) on a real folder and a real server: what
// the folder watcher reports is enough for every change to reach the server,
// with no periodic full scan to fall back on (the safety scan is 5 min away).

import { appendFile, mkdir, mkdtemp, rename, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { linkAgent, useTempStateDir, waitFor, type TestAgent } from '../../helpers/agent.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let api: Api;
let agent: TestAgent;
let dir: string;
let stop: () => Promise<void>;

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'observer'));
  dir = await mkdtemp(join(tmpdir(), 'syncd-watched-'));
  await mkdir(join(dir, 'photos', 'raw'), { recursive: true });
  await writeFile(join(dir, 'photos', 'a.jpg'), 'a');
  await writeFile(join(dir, 'photos', 'raw', 'b.cr2'), 'b');
  agent = await linkAgent(server, dir, 'watcher');
  // idle agents let go of their trees: here after 150 ms, so every test also
  // runs cycles that reload them from the state DB
  agent.engine.o.releaseIdleMs = 150;
  const ac = new AbortController();
  const running = agent.engine.watch(ac.signal);
  stop = async () => {
    ac.abort();
    await running;
  };
  await waitFor(async () => (await serverTree())['photos/raw/b.cr2'] === sha256('b'), 10_000, 'the first sync');
});

afterEach(async () => {
  await stop();
  await agent.close();
  await server.close();
});

/** the server's tree as path → content hash ('dir' for directories) */
async function serverTree(): Promise<Record<string, string>> {
  const { nodes } = await api.listAll();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const pathOf = (id: string): string => {
    const n = byId.get(id)!;
    return n.parent === 'root' ? n.name : `${pathOf(n.parent)}/${n.name}`;
  };
  return Object.fromEntries(nodes.map((n) => [pathOf(n.id), n.kind === 'dir' ? 'dir' : n.kind === 'symlink' ? `-> ${n.target}` : n.hash!]));
}

async function serverHas(what: string, cond: (t: Record<string, string>) => boolean): Promise<Record<string, string>> {
  let last: Record<string, string> = {};
  await waitFor(async () => cond((last = await serverTree())), 10_000, what).catch((err) => {
    throw new Error(`${(err as Error).message}; server has ${JSON.stringify(last)}`);
  });
  return last;
}

describe('a watching agent', () => {
  it('a renamed directory, then an edit inside it under the new name: one move, then the edit', async () => {
    const before = (await api.listAll()).seq;
    await rename(join(dir, 'photos'), join(dir, 'album'));
    await serverHas('the rename', (t) => t['album/raw/b.cr2'] === sha256('b') && !('photos' in t));
    expect((await api.listAll()).seq - before).toBe(1);
    await appendFile(join(dir, 'album', 'raw', 'b.cr2'), '+edit');
    await writeFile(join(dir, 'album', 'new.jpg'), 'n');
    const t = await serverHas('the edit under the new name', (t) => t['album/raw/b.cr2'] === sha256('b+edit') && t['album/new.jpg'] === sha256('n'));
    expect(Object.keys(t).filter((p) => p.startsWith('photos'))).toEqual([]);
  });

  it('nested directories created in one go, files in them, and a symlink: all reach the server', async () => {
    await mkdir(join(dir, 'x', 'y', 'z'), { recursive: true });
    await writeFile(join(dir, 'x', 'y', 'z', 'deep.txt'), 'deep');
    await writeFile(join(dir, 'x', 'top.txt'), 'top');
    await symlink('x/top.txt', join(dir, 'link'));
    await serverHas('the new tree', (t) => t['x/y/z/deep.txt'] === sha256('deep') && t['x/top.txt'] === sha256('top') && t.link === '-> x/top.txt');
    // and the new directories are watched: a later file in the deepest one arrives too
    await writeFile(join(dir, 'x', 'y', 'z', 'later.txt'), 'later');
    await serverHas('a later file', (t) => t['x/y/z/later.txt'] === sha256('later'));
  });

  it('an idle agent lets go of its in-memory trees, and the next change still syncs from reloaded ones', async () => {
    const released = vi.spyOn(agent.db, 'dropCaches');
    await waitFor(() => released.mock.calls.length > 0, 5_000, 'the idle release');
    await writeFile(join(dir, 'photos', 'after-idle.jpg'), 'i');
    await rename(join(dir, 'photos', 'a.jpg'), join(dir, 'photos', 'a-renamed.jpg'));
    const t = await serverHas('the changes after the release', (t) => t['photos/after-idle.jpg'] === sha256('i') && t['photos/a-renamed.jpg'] === sha256('a'));
    expect(t['photos/a.jpg']).toBeUndefined();
  });

  it('syncd\'s own names are never uploaded', async () => {
    await writeFile(join(dir, '.syncd-tmp-mine'), 'temp');
    await writeFile(join(dir, 'real.txt'), 'r');
    const t = await serverHas('real.txt', (t) => t['real.txt'] === sha256('r'));
    expect(Object.keys(t).filter((p) => p.includes('.syncd'))).toEqual([]);
  });
});
