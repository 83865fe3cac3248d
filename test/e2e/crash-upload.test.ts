// kill -9 the agent in the middle of a large file's upload (issue 14: "a
// crash in the middle of an upload"): the restarted agent sends only the
// chunks the server still lacks, and the server ends with the file whole.
// A byte-counting TCP relay between agent and server measures what went up.

import { randomBytes } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { cli, cliAsync, start, startServerProc, type Proc } from '../helpers/procs.js';
import { Api, sha256 } from '../helpers/server.js';

let work: string;
let server: { proc: Proc; url: string };
let relay: Server;
let relayUrl: string;
/** bytes the agent sent towards the server, headers included */
let up = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-crash-upload-'));
  server = await startServerProc(join(work, 'server'));
  const target = new URL(server.url);
  relay = createServer((client) => {
    const srv = createConnection({ host: target.hostname, port: Number(target.port) });
    client.on('data', (d: Buffer) => (up += d.length));
    client.pipe(srv).pipe(client);
    const close = (): void => {
      client.destroy();
      srv.destroy();
    };
    client.on('error', close).on('close', close);
    srv.on('error', close).on('close', close);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
  relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
});

afterAll(async () => {
  relay?.close();
  await server.proc.kill('SIGTERM');
});

describe('upload crash safety (real processes)', () => {
  it('SIGKILL halfway through a 24 MiB upload: the restart sends only what is missing, the server has the file whole', async () => {
    const data = join(work, 'server');
    const env = { SYNCD_STATE_DIR: join(work, 'state') };
    const readerToken = cli(['server', 'add-device', '--data', data, '--namespace', 'up', '--label', 'reader']).stdout.trim();
    const reader = new Api(server.url, readerToken);
    const token = cli(['server', 'add-device', '--data', data, '--namespace', 'up', '--label', 'agent']).stdout.trim();
    const folder = join(work, 'folder');
    // cliAsync: the relay runs in this process, so its event loop must stay free
    expect((await cliAsync(['init', folder, '--server', relayUrl, '--token', token], env)).code).toBe(0);
    const size = 24 * 1024 * 1024;
    const content = randomBytes(size);
    await writeFile(join(folder, 'big.bin'), content);

    // slowed to 2 MiB/s the upload takes ~12 s: killed once a third is up;
    // with 2 transfers at once, at most 2 chunks are cut mid-request
    up = 0;
    let agent = start(['watch', folder], { ...env, SYNCD_BANDWIDTH_LIMIT: '2M', SYNCD_CONCURRENCY: '2' });
    await waitFor(() => up > size / 3, 60_000, 'a third of the file to go up');
    await agent.kill('SIGKILL');
    const before = up;
    expect(before).toBeLessThan(size); // it died mid-upload
    const listed = async () => (await reader.listAll()).nodes.find((n) => n.name === 'big.bin');
    expect(await listed()).toBeUndefined();

    up = 0;
    agent = start(['watch', folder], env);
    try {
      const w = await cliAsync(['wait', folder, '--timeout', '90'], env);
      expect(w.code, w.stderr).toBe(0);
    } finally {
      await agent.kill('SIGTERM');
    }
    const after = up;
    const node = await listed();
    expect(node?.hash).toBe(sha256(content));
    // the server serves it whole (assembled from the chunks of both runs)
    const got = await fetch(`${server.url}/v1/blobs/${node!.hash}`, { headers: { authorization: `Bearer ${readerToken}` } });
    expect(got.status).toBe(200);
    expect(sha256(Buffer.from(await got.arrayBuffer()))).toBe(sha256(content));
    // resumed, not restarted: the second run sends what the first did not,
    // plus at most the 2 chunks cut by the kill (≤ 4 MiB each) and overhead
    expect(after).toBeLessThan(size - before + 8.5 * 1024 * 1024);
    expect(after).toBeLessThan(size * 0.9);
  }, 180_000);
});
