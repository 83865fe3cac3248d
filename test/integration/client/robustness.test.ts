// Robustness fixes from review: an entry we cannot sync in the way, a file
// the server refuses, a resume after a root guard; and from the fault proxy
// (test/e2e/fault-proxy.test.ts): executor problems that outlived their
// cause, and commits whose reply was lost after the server applied them.

import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../../src/client/agent/engine.js';
import { RemoteError } from '../../../src/client/remote/errors.js';
import type { Op } from '../../../src/protocol/types.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { cli } from '../../helpers/procs.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let agent: TestAgent;

beforeAll(async () => {
  await useTempStateDir();
});

/** The agent's next commit reaches the server and is applied, but its reply is lost on the way back. */
function loseNextCommitReply(a: TestAgent): void {
  const commit = a.remote.commit.bind(a.remote);
  let lose = true;
  a.remote.commit = async (ops: Op[]) => {
    const results = await commit(ops);
    if (!lose) return results;
    lose = false;
    throw new RemoteError('network', 'the reply was lost', { server: server.url });
  };
}

afterEach(async () => {
  await agent?.close();
  await server?.close();
});

describe('robustness', () => {
  it('a pipe where the server has a file is reported, not retried in a loop', async () => {
    server = await startTestServer();
    const api = new Api(server.url, await server.addDevice('default', 'w'));
    const dir = await mkdtemp(join(tmpdir(), 'syncd-fifo-'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    agent = await linkAgent(server, dir, 'fifo');
    await api.file('pipe', 'a file on the server');
    await api.file('other.txt', 'fine');
    const r = await agent.engine.cycle();
    expect(r.converged).toBe(false);
    expect(agent.db.problems().map((p) => p.code)).toContain('occupied');
    expect((await readdir(dir)).sort()).toEqual(['.syncd', 'other.txt', 'pipe']);
  });

  it('an executor problem is gone once the folder is in agreement again (it stayed in status forever)', async () => {
    server = await startTestServer();
    const api = new Api(server.url, await server.addDevice('default', 'w'));
    const dir = await mkdtemp(join(tmpdir(), 'syncd-fifo-'));
    execFileSync('mkfifo', [join(dir, 'pipe')]);
    agent = await linkAgent(server, dir, 'fifo');
    await api.file('pipe', 'a file on the server');
    await agent.engine.cycle();
    expect(agent.db.problems().map((p) => p.code)).toContain('occupied');
    await rm(join(dir, 'pipe'));
    await agent.sync();
    expect(agent.db.problems()).toEqual([]);
  });

  it('a replayed commit result older than the pulled journal does not bring a deleted node back', async () => {
    // found by the fault proxy e2e: a create's reply was lost after the server
    // applied it; another device deleted the node; the pull stored both; the
    // retry (same op_id) got the first result back and wrote it into Remote,
    // so the agent believed in a node the server no longer had, for good.
    // (A running agent now re-sends the lost commit before it pulls; a
    // restarted one has nothing parked and takes this path.)
    server = await startTestServer();
    const api = new Api(server.url, await server.addDevice('default', 'other'));
    const dir = await mkdtemp(join(tmpdir(), 'syncd-replay-'));
    agent = await linkAgent(server, dir, 'replay');
    await agent.sync();
    await mkdir(join(dir, 'd'));
    loseNextCommitReply(agent);
    agent.engine.rescan();
    await expect(agent.engine.cycle()).rejects.toThrow('the reply was lost');
    const d = (await api.listAll()).nodes.find((n) => n.name === 'd')!;
    await api.one({ op: 'delete', id: d.id, base_rev: d.rev });
    // a restarted agent (nothing parked in memory) pulls first, then re-plans the same intent
    const engine = new Engine({ folder: dir, db: agent.db, remote: agent.remote });
    for (let i = 0; i < 5 && !(await engine.cycle()).converged; i++);
    expect(agent.db.loadRemote().has(d.id)).toBe(false);
    expect(await snapshot(dir)).toEqual({});
  });

  // found by the fault proxy e2e: a create's reply was lost after the server
  // applied it, then the user renamed or deleted the file before the retry;
  // the re-planned op was a new intent (new op_id), so the server's node
  // looked foreign: a rename became a copy, a deleted file came back
  const afterLostReply: { name: string; change: (dir: string) => Promise<void>; want: Record<string, string> }[] = [
    { name: 'renamed', change: (dir) => rename(join(dir, 'a.txt'), join(dir, 'b.txt')), want: { 'b.txt': 'content' } },
    { name: 'deleted', change: (dir) => rm(join(dir, 'a.txt')), want: {} },
    { name: 'edited', change: (dir) => writeFile(join(dir, 'a.txt'), 'edited'), want: { 'a.txt': 'edited' } },
  ];
  for (const c of afterLostReply) {
    it(`a file ${c.name} after its create's reply was lost is synced as ${c.name}, not copied or brought back`, async () => {
      server = await startTestServer();
      const api = new Api(server.url, await server.addDevice('default', 'other'));
      const dir = await mkdtemp(join(tmpdir(), 'syncd-lost-'));
      agent = await linkAgent(server, dir, 'lost');
      await agent.sync();
      await writeFile(join(dir, 'a.txt'), 'content');
      loseNextCommitReply(agent);
      agent.engine.rescan();
      await expect(agent.engine.cycle()).rejects.toThrow('the reply was lost');
      await c.change(dir);
      await agent.sync();
      expect(await snapshot(dir)).toEqual(c.want);
      const files = (await api.listAll()).nodes.map((n) => n.name).sort();
      expect(files).toEqual(Object.keys(c.want));
    });
  }

  it('a file the server refuses does not hold back the others', async () => {
    server = await startTestServer({ maxBlobBytes: 1000 });
    const api = new Api(server.url, await server.addDevice('default', 'w'));
    const dir = await mkdtemp(join(tmpdir(), 'syncd-big-'));
    await writeFile(join(dir, 'huge.bin'), Buffer.alloc(5000, 1));
    for (let i = 0; i < 5; i++) await writeFile(join(dir, `small${i}.txt`), `s${i}`);
    agent = await linkAgent(server, dir, 'uploader');
    await agent.engine.cycle();
    const names = (await api.listAll()).nodes.map((n) => n.name).sort();
    expect(names).toEqual(['small0.txt', 'small1.txt', 'small2.txt', 'small3.txt', 'small4.txt']);
    const problem = agent.db.problems().find((p) => p.path === 'huge.bin');
    expect(problem?.message).toMatch(/huge\.bin/);
  });

  it('resume after a root guard refuses an empty folder unless --force', async () => {
    server = await startTestServer();
    const dir = await mkdtemp(join(tmpdir(), 'syncd-resume-'));
    agent = await linkAgent(server, dir, 'r');
    for (let i = 0; i < 3; i++) await writeFile(join(dir, `f${i}`), `${i}`);
    await agent.sync();
    for (const n of await readdir(dir)) await rm(join(dir, n), { recursive: true });
    agent.engine.rescan();
    expect((await agent.engine.cycle()).paused?.code).toBe('root_empty');
    const env = { SYNCD_STATE_DIR: process.env.SYNCD_STATE_DIR! };
    const refused = cli(['resume', dir], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/still empty: mount or restore it first/);
    const forced = cli(['resume', '--force', dir], env);
    expect(forced.code).toBe(0);
    expect(agent.db.meta.get('allow_deletes')).toBe(false);
  });
});
