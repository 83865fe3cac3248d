// Large files through two real agents and a real server: the agent uploads
// them as chunks, the other agent rebuilds each new version from the
// previous one, and the server stores only the chunks an edit changed.
// A large download cut short by a crash resumes from the temp file it left
// (kept as a partial at start-up), partials never outlive a converged cycle
// nor keep a deleted directory, and the chunk index forgets the files
// Local forgets.

import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { countFetches, linkAgent, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

const MiB = 1024 * 1024;
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

describe('chunks from any local file the state DB knows', () => {
  it('a copy at a new path, and a new file sharing most of the content, download with only the differing chunks fetched', async () => {
    const v1 = randomBytes(14 * 1024 * 1024);
    await writeFile(join(dirA, 'big.bin'), v1);
    await a.sync();
    await b.sync();
    const fetched = countFetches(b);
    const v2 = Buffer.concat([randomBytes(4096), v1.subarray(0, 7 * 1024 * 1024), randomBytes(100), v1.subarray(7 * 1024 * 1024)]);
    await writeFile(join(dirA, 'copy.bin'), v1);
    await mkdir(join(dirA, 'sub'));
    await writeFile(join(dirA, 'sub', 'other.bin'), v2);
    await a.sync();
    await b.sync();
    expect(sha256(await readFile(join(dirB, 'copy.bin')))).toBe(sha256(v1));
    expect(sha256(await readFile(join(dirB, 'sub', 'other.bin')))).toBe(sha256(v2));
    // copy.bin: nothing; other.bin: the chunks around its two edits (4 MiB max each, a neighbour each at most)
    expect(fetched.bytes).toBeLessThanOrEqual(4 * 4 * 1024 * 1024);
    expect(fetched.bytes).toBeLessThan(v2.length / 2);
  });

  it('a known file changed since its chunks were recorded is not trusted: the chunks are fetched and the file is right', async () => {
    const v1 = randomBytes(10 * 1024 * 1024);
    await writeFile(join(dirA, 'big.bin'), v1);
    await a.sync();
    await b.sync();
    // b's big.bin changes in place, keeping size, mtime and inode: only the hash check can tell
    const st = await stat(join(dirB, 'big.bin'));
    const fd = await open(join(dirB, 'big.bin'), 'r+');
    await fd.write(randomBytes(v1.length), 0, v1.length, 0);
    await fd.close();
    await utimes(join(dirB, 'big.bin'), st.atime, st.mtime);
    const fetched = countFetches(b);
    await writeFile(join(dirA, 'copy.bin'), v1);
    await a.sync();
    await b.sync(6);
    expect(sha256(await readFile(join(dirB, 'copy.bin')))).toBe(sha256(v1));
    expect(fetched.bytes).toBe(v1.length);
  });
});

/** syncd's names left in a directory, besides the root marker and the local trash */
async function leftovers(d: string): Promise<string[]> {
  return (await readdir(d)).filter((n) => n.startsWith('.syncd') && n !== '.syncd' && n !== '.syncd-trash');
}

async function sparse(p: string, size: number): Promise<void> {
  await writeFile(p, '');
  await truncate(p, size);
}

describe('a large download cut short by a crash', () => {
  it('restarted, the agent keeps the temp file it left and fetches only the chunks it lacks; nothing of it is left after', async () => {
    const data = randomBytes(14 * MiB);
    await mkdir(join(dirA, 'sub'));
    await writeFile(join(dirA, 'sub', 'big.bin'), data);
    await a.sync();
    const list = (await new Api(server.url, await server.addDevice('default', 'reader')).get(`/v1/files/${sha256(data)}`)).body as { chunks: { hash: string; offset: number; size: number }[] };
    const half = Math.floor(list.chunks.length / 2);
    expect(half).toBeGreaterThan(2);
    // what a killed agent leaves: the first half of the chunks at their offsets, in a temp file beside the target
    await mkdir(join(dirB, 'sub'));
    const fh = await open(join(dirB, 'sub', '.syncd-tmp-crashed-1'), 'wx', 0o600);
    for (const c of list.chunks.slice(0, half)) await fh.write(data, c.offset, c.size, c.offset);
    await fh.close();
    const fetched = countFetches(b);
    await b.sync();
    expect(sha256(await readFile(join(dirB, 'sub', 'big.bin')))).toBe(sha256(data));
    expect(fetched.bytes).toBe(list.chunks.slice(half).reduce((s, c) => s + c.size, 0));
    expect(await leftovers(join(dirB, 'sub'))).toEqual([]);
  });
});

describe('partials never linger', () => {
  it('one no download resumes is removed once the cycle converges', async () => {
    await mkdir(join(dirB, 'sub'));
    await sparse(join(dirB, 'sub', '.syncd-part-orphan'), 5 * MiB);
    await sparse(join(dirB, '.syncd-tmp-big'), 6 * MiB);
    await b.sync();
    expect(await leftovers(join(dirB, 'sub'))).toEqual([]);
    expect(await leftovers(dirB)).toEqual([]);
  });

  it('a directory the server deletes goes, though a partial was left in it (it is not uploaded again)', async () => {
    await mkdir(join(dirA, 'd'));
    await writeFile(join(dirA, 'd', 'f.txt'), 'f');
    await a.sync();
    await b.sync();
    await sparse(join(dirB, 'd', '.syncd-part-left'), 5 * MiB);
    await rm(join(dirA, 'd'), { recursive: true });
    await a.sync();
    await b.sync();
    await a.sync();
    expect(await readdir(dirB)).not.toContain('d');
    expect(await readdir(dirA)).not.toContain('d');
  });
});

describe('the chunk index follows Local', () => {
  it('a large file deleted or renamed here loses its rows, a rename from the server carries them along, and the start-up prune drops orphans', async () => {
    for (const n of ['gone.bin', 'renamed.bin', 'remote.bin']) await writeFile(join(dirA, n), randomBytes(5 * MiB));
    await a.sync();
    await b.sync();
    for (const n of ['gone.bin', 'renamed.bin', 'remote.bin']) expect(b.db.chunkedIdentity(n), n).not.toBeNull();
    const remoteId = b.db.chunkedIdentity('remote.bin');

    await rm(join(dirB, 'gone.bin'));
    await rename(join(dirB, 'renamed.bin'), join(dirB, 'moved.bin'));
    await b.sync();
    expect(b.db.chunkedIdentity('gone.bin')).toBeNull();
    expect(b.db.chunkedIdentity('renamed.bin')).toBeNull();

    await a.sync();
    await rename(join(dirA, 'remote.bin'), join(dirA, 'r.bin'));
    await a.sync();
    await b.sync();
    expect(b.db.chunkedIdentity('remote.bin')).toBeNull();
    expect(b.db.chunkedIdentity('r.bin')).toEqual(remoteId);

    b.db.recordChunks('ghost.bin', 'f'.repeat(64), { size: 1, mtimeMs: 1, ino: 1 }, [{ hash: 'e'.repeat(64), offset: 0, size: 1 }]);
    await b.engine.prepare();
    expect(b.db.chunkedIdentity('ghost.bin')).toBeNull();
    expect(b.db.chunkedIdentity('r.bin')).toEqual(remoteId);
  });
});
