// In-process agents for integration tests: a real Engine on a real folder,
// talking to a real server over loopback HTTP.

import { mkdtemp, readdir, readFile, readlink, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initFolder, engineFor } from '../../src/cli/client-commands.js';
import type { Engine } from '../../src/client/agent/engine.js';
import { silentLog } from '../../src/client/agent/log.js';
import type { RemoteClient } from '../../src/client/remote/remote.js';
import type { StateDB } from '../../src/client/state/db.js';
import type { TestServer } from './server.js';

export interface TestAgent {
  dir: string;
  db: StateDB;
  remote: RemoteClient;
  engine: Engine;
  /** cycles until converged (or throws after `max` cycles) */
  sync(max?: number): Promise<void>;
  close(): Promise<void>;
}

/** Every test file gets its own state root. */
export async function useTempStateDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'syncd-state-'));
  process.env.SYNCD_STATE_DIR = d;
  return d;
}

export async function linkAgent(server: TestServer, dir: string, label = 'agent', namespace = 'default', env: Record<string, string> = {}): Promise<TestAgent> {
  const token = await server.addDevice(namespace, label);
  await initFolder(dir, server.url, token);
  const saved = { ...process.env };
  Object.assign(process.env, env);
  const { db, remote, engine } = engineFor(dir, {}, silentLog);
  process.env = saved;
  await engine.prepare();
  return {
    dir, db, remote, engine,
    async sync(max = 5) {
      engine.rescan();
      for (let i = 0; i < max; i++) {
        const r = await engine.cycle();
        if (r.paused) throw new Error(`paused: ${r.paused.message}`);
        if (r.converged) return;
      }
      throw new Error(`agent ${label} did not converge`);
    },
    async close() {
      await remote.close();
      db.close();
    },
  };
}

/** Counts the chunk bytes an agent fetches from the server from now on. */
export function countFetches(agent: TestAgent): { bytes: number } {
  const count = { bytes: 0 };
  const real = agent.remote.getChunk.bind(agent.remote);
  agent.remote.getChunk = async (h, max, signal) => {
    const buf = await real(h, max, signal);
    count.bytes += buf.length;
    return buf;
  };
  return count;
}

export type Snapshot = Record<string, string>;

/** The folder as path → content ("dir", "-> target", or the file's text), syncd's own names left out. */
export async function snapshot(root: string, rel = ''): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const name of (await readdir(join(root, rel))).sort()) {
    if (name.startsWith('.syncd')) continue;
    const p = rel ? `${rel}/${name}` : name;
    const st = await lstat(join(root, p));
    if (st.isSymbolicLink()) out[p] = `-> ${await readlink(join(root, p))}`;
    else if (st.isDirectory()) {
      out[p + '/'] = 'dir';
      Object.assign(out, await snapshot(root, p));
    } else out[p] = (await readFile(join(root, p))).toString('utf8');
  }
  return out;
}

export async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`timed out waiting for ${what}`);
}
