// kill -9 the agent in the middle of a large file's upload (issue 14: "a
// crash in the middle of an upload"): the restarted agent sends only the
// chunks the server still lacks, and the server ends with the file whole.
// And in the middle of a large file's download: the restarted agent keeps
// the temp file the killed one was filling (as a `.syncd-part-*`) and
// fetches only the chunks it lacks. A byte-counting TCP relay between
// agent and server measures what went up and what came down.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { cli, cliAsync, start, startServerProc, type Proc } from '../helpers/procs.js';
import { Api, sha256 } from '../helpers/server.js';
import { RemoteClient } from '../../src/client/remote/remote.js';
import { uploadFile } from '../../src/client/transfer/upload.js';

let work: string;
let server: { proc: Proc; url: string };
let relay: Server;
let relayUrl: string;
/** bytes the agent sent towards the server, headers included */
let up = 0;
/** bytes the server sent towards the agent, headers included */
let down = 0;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-crash-upload-'));
  server = await startServerProc(join(work, 'server'));
  const target = new URL(server.url);
  relay = createServer((client) => {
    const srv = createConnection({ host: target.hostname, port: Number(target.port) });
    client.on('data', (d: Buffer) => (up += d.length));
    srv.on('data', (d: Buffer) => (down += d.length));
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

/** namespace `ns` with another device (its token, straight to the server) and the agent's folder, linked through the relay */
async function linked(ns: string): Promise<{ env: NodeJS.ProcessEnv; other: string; folder: string }> {
  const data = join(work, 'server');
  const env = { SYNCD_STATE_DIR: join(work, `state-${ns}`) };
  const other = cli(['server', 'add-device', '--data', data, '--namespace', ns, '--label', 'other']).stdout.trim();
  const token = cli(['server', 'add-device', '--data', data, '--namespace', ns, '--label', 'agent']).stdout.trim();
  const folder = join(work, `folder-${ns}`);
  // cliAsync: the relay runs in this process, so its event loop must stay free
  expect((await cliAsync(['init', folder, '--server', relayUrl, '--token', token], env)).code).toBe(0);
  return { env, other, folder };
}

/** the agent started again, without limits, until `wait` says it has synced */
async function restartAndWait(folder: string, env: NodeJS.ProcessEnv): Promise<void> {
  const agent = start(['watch', folder], env);
  try {
    const w = await cliAsync(['wait', folder, '--timeout', '90'], env);
    expect(w.code, w.stderr).toBe(0);
  } finally {
    await agent.kill('SIGTERM');
  }
}

describe('upload crash safety (real processes)', () => {
  it('SIGKILL halfway through a 24 MiB upload: the restart sends only what is missing, the server has the file whole', async () => {
    const { env, other: readerToken, folder } = await linked('up');
    const reader = new Api(server.url, readerToken);
    const size = 24 * 1024 * 1024;
    const content = randomBytes(size);
    await writeFile(join(folder, 'big.bin'), content);

    // slowed to 2 MiB/s the upload takes ~12 s: killed once a third is up;
    // with 2 transfers at once, at most 2 chunks are cut mid-request
    up = 0;
    const agent = start(['watch', folder], { ...env, SYNCD_BANDWIDTH_LIMIT: '2M', SYNCD_CONCURRENCY: '2' });
    await waitFor(() => up > size / 3, 60_000, 'a third of the file to go up');
    await agent.kill('SIGKILL');
    const before = up;
    expect(before).toBeLessThan(size); // it died mid-upload
    const listed = async () => (await reader.listAll()).nodes.find((n) => n.name === 'big.bin');
    expect(await listed()).toBeUndefined();

    up = 0;
    await restartAndWait(folder, env);
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

describe('download crash safety (real processes)', () => {
  it('SIGKILL halfway through a 24 MiB download: the restart fetches only the chunks the killed agent had not written', async () => {
    const { env, other: writerToken, folder } = await linked('down');
    const writer = new Api(server.url, writerToken);
    const size = 24 * 1024 * 1024;
    const content = randomBytes(size);
    // the other device uploads it as chunks, the way an agent does
    const remote = new RemoteClient({ server: server.url, token: writerToken });
    try {
      const p = join(work, 'down-src.bin');
      await writeFile(p, content);
      const st = await stat(p);
      const upd = await uploadFile(remote, p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
      await writer.one({ op: 'create', parent: 'root', name: 'big.bin', kind: 'file', hash: upd.hash, size: upd.size, op_id: `down-${upd.hash.slice(0, 8)}` });
    } finally {
      await remote.close();
    }
    const { chunks } = (await writer.get(`/v1/files/${sha256(content)}`)).body as { chunks: { hash: string; offset: number; size: number }[] };

    // slowed to 2 MiB/s the download takes ~12 s: killed once the temp file reaches half the size
    const agent = start(['watch', folder], { ...env, SYNCD_BANDWIDTH_LIMIT: '2M', SYNCD_CONCURRENCY: '2' });
    const temp = async () => (await readdir(folder)).find((n) => n.startsWith('.syncd-tmp-'));
    await waitFor(async () => {
      const t = await temp();
      return t !== undefined && ((await stat(join(folder, t)).catch(() => null))?.size ?? 0) > size / 2;
    }, 60_000, 'half of the temp file to be written');
    await agent.kill('SIGKILL');
    expect(await readdir(folder)).not.toContain('big.bin'); // it died mid-download
    // what the killed agent had written: the chunks that hash right at their offsets
    const held = await readFile(join(folder, (await temp())!));
    const written = chunks.filter((c) => c.offset + c.size <= held.length && sha256(held.subarray(c.offset, c.offset + c.size)) === c.hash).reduce((n, c) => n + c.size, 0);
    expect(written).toBeGreaterThan(size / 3);

    down = 0;
    await restartAndWait(folder, env);
    const after = down;
    expect(sha256(await readFile(join(folder, 'big.bin')))).toBe(sha256(content));
    // resumed, not restarted: the second run fetches the chunks the first had
    // not written, plus the replies' overhead (headers, the chunk list, status)
    expect(after).toBeGreaterThanOrEqual(size - written);
    expect(after).toBeLessThan(size - written + 1024 * 1024);
    // the partial was taken over and placed: nothing of it is left
    expect((await readdir(folder)).filter((n) => n.startsWith('.syncd-tmp-') || n.startsWith('.syncd-part-'))).toEqual([]);
  }, 180_000);
});
