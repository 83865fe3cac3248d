// Large files through two real agents and a real server: the agent uploads
// them as chunks, the other agent rebuilds each new version from the
// previous one, and the server stores only the chunks an edit changed.

import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { linkAgent, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let a: TestAgent;
let b: TestAgent;
let dirA: string;
let dirB: string;

/** stored blob and chunk files on the server */
function storedCount(dataDir: string): number {
  return readdirSync(join(dataDir, 'blobs'), { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).length;
}

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer({ gcIntervalMs: 0 });
  dirA = await mkdtemp(join(tmpdir(), 'syncd-large-a-'));
  dirB = await mkdtemp(join(tmpdir(), 'syncd-large-b-'));
  a = await linkAgent(server, dirA, 'a');
  b = await linkAgent(server, dirB, 'b');
});

afterEach(async () => {
  await a.close();
  await b.close();
  await server.close();
});

describe('large files', () => {
  it.each([
    ['one byte changed in the middle', (x: Buffer) => { const c = Buffer.from(x); const i = c.length >> 1; c[i] = c[i]! ^ 0xff; return c; }],
    ['4 KiB inserted at the start', (x: Buffer) => Buffer.concat([randomBytes(4096), x])],
  ])('%s: stored as chunks, the other device gets the new version, the server stores only the changed chunks', async (_d, edit) => {
    const v1 = randomBytes(14 * 1024 * 1024);
    await writeFile(join(dirA, 'big.bin'), v1);
    await a.sync();
    await b.sync();
    expect(sha256(await readFile(join(dirB, 'big.bin')))).toBe(sha256(v1));
    const api = new Api(server.url, await server.addDevice('default', 'reader'));
    const list = (await api.get(`/v1/files/${sha256(v1)}`)).body;
    expect(list.chunks.length).toBeGreaterThan(3);
    const before = storedCount(server.dataDir);

    const v2 = edit(v1);
    await writeFile(join(dirA, 'big.bin'), v2);
    await a.sync();
    await b.sync();
    expect(sha256(await readFile(join(dirB, 'big.bin')))).toBe(sha256(v2));
    // the edit cost one or two new chunks on the server, not a second copy
    expect(storedCount(server.dataDir) - before).toBeGreaterThanOrEqual(1);
    expect(storedCount(server.dataDir) - before).toBeLessThanOrEqual(2);
  });
});
