// An agent restarted on a folder it had brought in sync: it remembers that
// the trees planned to nothing (the plan memo) and skips planning while
// nothing changed, but every change made while it was stopped (on disk, on
// the server, in the state DB, in the ignore rules) is still found; and the
// start-up scan removes download temp files a crash left behind.

import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { engineFor } from '../../../src/cli/client-commands.js';
import { silentLog } from '../../../src/client/agent/log.js';
import { TEMP_PREFIX } from '../../../src/core/syncd-names.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let api: Api;
let agent: TestAgent;
let dir: string;

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'other'));
  dir = await mkdtemp(join(tmpdir(), 'syncd-restart-'));
  await mkdir(join(dir, 'd'));
  await writeFile(join(dir, 'd', 'a.txt'), 'A');
  await writeFile(join(dir, 'b.txt'), 'B');
  agent = await linkAgent(server, dir, 'restarting');
  await agent.sync();
  await agent.close();
});

afterEach(async () => {
  await agent?.close().catch(() => {});
  await server.close();
});

/** A new process's engine on the same folder and state: prepare, then one cycle. */
async function restart(): Promise<{ converged: boolean }> {
  const { db, remote, engine } = engineFor(dir, {}, silentLog);
  agent = { dir, db, remote, engine, sync: async () => {}, close: async () => { await remote.close(); db.close(); } };
  await engine.prepare();
  return engine.cycle();
}

async function serverFiles(): Promise<string[]> {
  return (await api.listAll()).nodes.filter((n) => n.kind === 'file').map((n) => n.name).sort();
}

describe('restart on a synced folder', () => {
  it('with nothing changed it is in sync at once, and the memo of the empty plan is kept', async () => {
    const r = await restart();
    expect(r).toMatchObject({ converged: true, rounds: 1, pending: 0 });
    expect(agent.db.planMemo()).not.toBeNull();
    expect(agent.db.meta.get('state')).toBe('idle');
    expect(agent.db.meta.get('pending')).toBe(0);
  });

  it('a file edited and one created while stopped are uploaded', async () => {
    await writeFile(join(dir, 'd', 'a.txt'), 'A, edited while stopped');
    await writeFile(join(dir, 'new.txt'), 'N');
    expect((await restart()).converged).toBe(true);
    expect(await serverFiles()).toEqual(['a.txt', 'b.txt', 'new.txt']);
    const a = (await api.listAll()).nodes.find((n) => n.name === 'a.txt')!;
    expect(a.size).toBe('A, edited while stopped'.length);
  });

  it('a change another device committed while stopped is downloaded', async () => {
    await api.file('from-elsewhere.txt', 'E');
    expect((await restart()).converged).toBe(true);
    expect(await readFile(join(dir, 'from-elsewhere.txt'), 'utf8')).toBe('E');
  });

  it('a state DB tree changed while stopped (a crash mid-round) is planned again, not trusted', async () => {
    // as if a crash came between an executed op and the rest of its round: Synced lost a row
    const { db } = engineFor(dir, {}, silentLog);
    const id = [...db.loadSynced().values()].find((n) => n.name === 'b.txt')!.id;
    expect(db.planMemo()).not.toBeNull();
    db.deleteSynced(id);
    expect(db.planMemo()).toBeNull();
    db.close();
    expect((await restart()).converged).toBe(true);
    expect(agent.db.loadSynced().get(id)?.name).toBe('b.txt'); // re-adopted: the plan ran
  });

  it('a new .syncignore rule is planned with, not skipped', async () => {
    await writeFile(join(dir, '.syncignore'), 'ignored-*\n');
    await writeFile(join(dir, 'ignored-1.txt'), 'I');
    await writeFile(join(dir, 'kept.txt'), 'K');
    expect((await restart()).converged).toBe(true);
    expect(await serverFiles()).toEqual(['.syncignore', 'a.txt', 'b.txt', 'kept.txt']);
  });

  it('download temp files a crash left behind are removed by the start-up scan; nothing else is', async () => {
    await writeFile(join(dir, `${TEMP_PREFIX}crashed`), 'half a download');
    await writeFile(join(dir, 'd', `${TEMP_PREFIX}deeper`), 'half a download');
    await mkdir(join(dir, `${TEMP_PREFIX}dir`));
    expect((await restart()).converged).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(['.syncd', `${TEMP_PREFIX}dir`, 'b.txt', 'd']);
    expect(await snapshot(dir)).toEqual({ 'b.txt': 'B', 'd/': 'dir', 'd/a.txt': 'A' });
  });
});
