// A real `syncd watch` agent whose requests alternate between two server
// processes (a per-request round-robin proxy in front of them) converges
// with the namespace: local and remote changes, while it runs, both ways.

import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { WireNode } from '../../../src/protocol/types.js';
import { snapshot, waitFor, type Snapshot } from '../../helpers/agent.js';
import { describePg } from '../../helpers/pg.js';
import { start } from '../../helpers/procs.js';
import { Api, ensureBuilt } from '../../helpers/server.js';
import { cliAsync, roundRobinProxy, startCluster, type Cluster } from './cluster.js';

/** The namespace as path → content, in the form of helpers/agent.ts snapshot(). */
async function serverSnapshot(api: Api): Promise<Snapshot> {
  const { nodes } = await api.listAll();
  const byId = new Map<string, WireNode>(nodes.map((n) => [n.id, n]));
  const path = (n: WireNode): string => (n.parent === 'root' ? n.name : `${path(byId.get(n.parent)!)}/${n.name}`);
  const out: Snapshot = {};
  for (const n of nodes) {
    if (n.kind === 'dir') out[`${path(n)}/`] = 'dir';
    else if (n.kind === 'symlink') out[path(n)] = `-> ${n.target}`;
    else out[path(n)] = (await api.get(`/v1/blobs/${n.hash}`)).text;
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describePg('a syncd watch agent behind a round-robin proxy over two server processes', () => {
  let c: Cluster;
  let proxy: Awaited<ReturnType<typeof roundRobinProxy>>;
  let work: string;
  beforeAll(async () => {
    ensureBuilt();
    c = await startCluster(2);
    proxy = await roundRobinProxy(c.procs.map((p) => p.url));
    work = await mkdtemp(join(tmpdir(), 'syncd-scale-watch-'));
  });
  afterAll(async () => {
    await proxy?.close();
    await c?.close();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('converges: local files go up, remote changes come down, through either process', async () => {
    const env = { SYNCD_STATE_DIR: join(work, 'state') };
    const folder = join(work, 'folder');
    const token = c.device('home', 'laptop');
    const writer = new Api(c.procs[1]!.url, c.device('home', 'phone'));
    await mkdir(join(folder, 'docs'), { recursive: true });
    await writeFile(join(folder, 'docs', 'local-1.txt'), 'written before init');
    const init = await cliAsync(['init', folder, '--server', proxy.url, '--token', token], env);
    expect(init.code, init.stderr).toBe(0);
    const remoteDir = await writer.mkdir('photos');
    await writer.file('remote-1.txt', 'made on the phone', remoteDir.id);

    const agent = start(['watch', folder], env);
    try {
      const want: Snapshot = {
        'docs/': 'dir',
        'docs/local-1.txt': 'written before init',
        'photos/': 'dir',
        'photos/remote-1.txt': 'made on the phone',
      };
      const converged = async (): Promise<boolean> => {
        const [disk, server] = [await snapshot(folder).catch(() => ({})), await serverSnapshot(writer)];
        return isDeepStrictEqual(disk, want) && isDeepStrictEqual(server, want);
      };
      await waitFor(converged, 30_000, 'the first convergence');

      // while it runs: changes on both sides, remote ones through the other process than the last
      for (let i = 0; i < 6; i++) {
        await writeFile(join(folder, 'docs', `live-${i}.txt`), `local ${i}`);
        want[`docs/live-${i}.txt`] = `local ${i}`;
        const api = new Api(c.procs[i % 2]!.url, writer.token);
        await api.file(`remote-live-${i}.txt`, `remote ${i}`, remoteDir.id);
        want[`photos/remote-live-${i}.txt`] = `remote ${i}`;
        await new Promise((r) => setTimeout(r, 100));
      }
      await waitFor(converged, 30_000, 'convergence after live changes').catch(async (err: Error) => {
        const detail = { disk: await snapshot(folder), server: await serverSnapshot(writer), agent: agent.output.join('').slice(-4000) };
        throw new Error(`${err.message}\n${JSON.stringify(detail, null, 1)}`);
      });
      const w = await cliAsync(['wait', folder, '--timeout', '30'], env);
      expect(w.code, w.stderr).toBe(0);
      const st = JSON.parse((await cliAsync(['status', folder, '--json'], env)).stdout);
      expect(st).toMatchObject({ lag: 0, conflicts: 0 });
      // the agent's requests really went to both processes
      expect(Math.min(...proxy.counts)).toBeGreaterThan(5);
    } finally {
      await agent.kill('SIGTERM');
    }
    expect(agent.output.join('')).not.toMatch(/FATAL|Unhandled|TypeError/);
  });
});
