// The agent follows the server over the Subscribe stream, falls back to the
// longpoll against a server without it (here: a proxy that answers 404 for
// the RPC paths, as a syncd before the stream does), says which in `syncd
// status`, and `syncd status` never loads the RPC stack.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { BIN, cli, cliAsync, start, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let oldServer: Server;
let oldUrl: string;
let env: NodeJS.ProcessEnv;
const agents: Proc[] = [];

/** A server from before the stream: every /syncd.v1.SyncService/ path is a REST 404. */
function startOldServerProxy(upstream: string): Promise<{ server: Server; url: string }> {
  const up = new URL(upstream);
  const s = createServer((req, res) => {
    if (req.url?.startsWith('/syncd.v1.')) {
      res.writeHead(404, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ error: 'not_found', message: `no such endpoint: ${req.url}` }));
      return;
    }
    const u = request({ host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    u.on('error', () => res.destroy());
    req.pipe(u);
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve({ server: s, url: `http://127.0.0.1:${(s.address() as { port: number }).port}` })));
}

// async: the old-server proxy lives in this process and must keep serving while the CLI runs
const status = async (dir: string): Promise<any> => JSON.parse((await cliAsync(['status', dir, '--json'], env)).stdout);

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-notify-'));
  env = { SYNCD_STATE_DIR: join(work, 'state') };
  server = await startServerProc(join(work, 'srv'));
  ({ server: oldServer, url: oldUrl } = await startOldServerProxy(server.url));
});

afterAll(async () => {
  for (const a of agents) await a.kill('SIGTERM');
  await server.proc.kill('SIGTERM');
  oldServer.closeAllConnections();
  oldServer.close();
  rmSync(work, { recursive: true, force: true });
});

async function link(name: string, url: string): Promise<string> {
  const token = cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', name]).stdout.trim();
  const dir = join(work, name);
  const r = await cliAsync(['init', dir, '--server', url, '--token', token], env);
  expect(r.code, r.stderr).toBe(0);
  return dir;
}

describe('the agent’s notification channel', () => {
  it.each([
    { description: 'a current server: the Subscribe stream', viaOld: false, channel: 'stream', text: 'channel    stream (Subscribe)' },
    { description: 'a server without Subscribe: the longpoll', viaOld: true, channel: 'longpoll', text: 'channel    longpoll' },
  ])('$description, shown by status, and changes arrive', async ({ viaOld, channel, text }) => {
    const name = viaOld ? 'old' : 'new';
    const dir = await link(`${name}-watcher`, viaOld ? oldUrl : server.url);
    const writer = await link(`${name}-writer`, server.url);
    const agent = start(['watch', dir], env);
    agents.push(agent);
    await waitFor(async () => (await status(dir)).channel === channel, 30_000, `channel ${channel}`);
    expect((await cliAsync(['status', dir], env)).stdout).toContain(text);
    // a change from another device reaches the watcher through its channel (the safety pull is minutes away)
    writeFileSync(join(writer, `${name}.txt`), `from the writer of ${name}`);
    expect(cli(['sync', writer], env).code).toBe(0);
    await waitFor(() => existsSync(join(dir, `${name}.txt`)), 30_000, `${name}.txt on the watcher`);
    expect(readFileSync(join(dir, `${name}.txt`), 'utf8')).toBe(`from the writer of ${name}`);
  });

  it('with no agent running, status shows no channel', async () => {
    const dir = await link('idle', server.url);
    expect((await status(dir)).channel).toBeNull();
  });

  it('syncd status does not load the RPC stack (a direct import of the stream client does)', () => {
    const dir = join(work, 'new-watcher');
    const run = (args: string[]): string[] => {
      const log = join(work, `modules-${Math.random().toString(36).slice(2)}.log`);
      execFileSync(process.execPath, ['--import', join(import.meta.dirname, '../helpers/module-log.mjs'), ...args], {
        env: { ...process.env, ...env, SYNCD_MODULE_LOG: log },
        stdio: 'ignore',
      });
      return readFileSync(log, 'utf8').split('\n').filter(Boolean);
    };
    const rpc = (urls: string[]): string[] => urls.filter((u) => /@connectrpc|@bufbuild|\/gen\/syncd\//.test(u));
    const statusModules = run([BIN, 'status', dir, '--json']);
    expect(statusModules.some((u) => u.includes('status-report'))).toBe(true);
    expect(rpc(statusModules)).toEqual([]);
    const control = run(['-e', `import(${JSON.stringify(join(import.meta.dirname, '../../dist/client/remote/subscribe.js'))})`]);
    expect(rpc(control).length).toBeGreaterThan(0);
  });
});
