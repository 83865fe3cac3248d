// The blob folder shared by several processes (--blobs): each process
// uploads through its own temp folder, a starting process never clears
// another's uploads in flight, and stale temp files of crashed processes go.

import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobStore } from '../../../src/server/blobs.js';
import { resolveOptions } from '../../../src/server/options.js';
import { sha256 } from '../../helpers/server.js';

let dir: string;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function* chunks(parts: string[], pause?: Promise<void>): AsyncIterable<Buffer> {
  for (const [i, p] of parts.entries()) {
    if (i === 1 && pause) await pause;
    yield Buffer.from(p);
  }
}

describe('shared blob folder', () => {
  it('a process starting mid-upload leaves the other process’s temp file alone; both store the same content', async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncd-shared-blobs-'));
    const a = await BlobStore.open(dir, { shared: true });
    const content = ['first half, ', 'second half'];
    const hash = sha256(content.join(''));
    let release!: () => void;
    const paused = new Promise<void>((r) => (release = r));
    const upload = a.put(chunks(content, paused), hash, 1 << 20);
    await new Promise((r) => setTimeout(r, 50));
    expect(await a.tempCount()).toBe(1);
    const b = await BlobStore.open(dir, { shared: true });
    expect(await a.tempCount()).toBe(1);
    expect(await b.tempCount()).toBe(0);
    release();
    expect(await upload).toEqual({ ok: true, size: content.join('').length });
    expect(await b.put(chunks(content), hash, 1 << 20)).toMatchObject({ ok: true });
    expect(await b.size(hash)).toBe(content.join('').length);
    expect((await readdir(join(dir, 'tmp'))).length).toBe(2);
  });

  it('stale temp files of a crashed process are removed at start, with their folder; fresh ones stay', async () => {
    dir = await mkdtemp(join(tmpdir(), 'syncd-shared-blobs-'));
    await BlobStore.open(dir, { shared: true });
    const [crashed] = await readdir(join(dir, 'tmp'));
    const old = join(dir, 'tmp', crashed!, 'abc.partial');
    await writeFile(old, 'left behind');
    const longAgo = new Date(Date.now() - 3 * 86_400_000);
    await utimes(old, longAgo, longAgo);
    await utimes(join(dir, 'tmp', crashed!), longAgo, longAgo);
    const live = await BlobStore.open(dir, { shared: true });
    const fresh = (await readdir(join(dir, 'tmp'))).find((d) => d !== crashed)!;
    await writeFile(join(dir, 'tmp', fresh, 'in-flight'), 'x');
    await BlobStore.open(dir, { shared: true });
    await expect(stat(old)).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(stat(join(dir, 'tmp', crashed!))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await stat(join(dir, 'tmp', fresh, 'in-flight'))).size).toBe(1);
    // a process whose idle temp folder was swept recreates it on its next upload
    await rm(join(dir, 'tmp', fresh), { recursive: true });
    expect(await live.put(chunks(['again']), sha256('again'), 100)).toMatchObject({ ok: true });
    await live.probe();
  });
});

describe('server options for scale-out', () => {
  it.each([
    [{}, /dataDir is required/],
    [{ db: 'mysql://x/y', blobsDir: '/b' }, /postgres:\/\/ or postgresql:\/\//],
    [{ db: 'postgres://x/y' }, /blobsDir is required/],
    [{ db: 'postgres://x/y', dataDir: '/d' }, /exclusive/],
    [{ dataDir: '/d', nats: 'nats://127.0.0.1:4222' }, /nats needs db/],
    [{ db: 'postgres://x/y', blobsDir: '/b', nats: 'redis://x' }, /nats:\/\/host:port/],
  ])('%j is refused', (o, message) => {
    expect(() => resolveOptions(o)).toThrow(message);
  });

  it('blobs default to the data folder; db takes blobsDir and nats', () => {
    expect(resolveOptions({ dataDir: '/d' })).toMatchObject({ dataDir: '/d', blobsDir: '/d', db: undefined });
    expect(resolveOptions({ db: 'postgresql://u@h/db', blobsDir: '/b', nats: 'nats://a:1,nats://b:2' })).toMatchObject({
      blobsDir: '/b',
      nats: 'nats://a:1,nats://b:2',
      dbPoolSize: 10,
      busPollMs: 1000,
    });
  });
});
