// Chunked transfers against the real server (in-process, port 0): one read
// gives the file hash and its chunks; only chunks the server lacks are sent,
// so an upload killed halfway resumes, and an edit re-sends only the chunks
// around it; a server without the content layer gets the whole blob.
// Downloads copy the chunks the previous version holds and fetch the rest.
// Replay: SYNCD_SEED=<seed> npx vitest run test/unit/client/transfer/chunked-upload.test.ts

import { mkdtemp, open, readdir, readFile, rm, writeFile, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { Readable } from 'node:stream';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkLengths } from '../../../../src/core/chunker.js';
import { LIMITS } from '../../../../src/protocol/types.js';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { nodeFsys, type FsHandle, type Fsys } from '../../../../src/client/disk/fsys.js';
import { chunkHandle } from '../../../../src/client/transfer/chunk-file.js';
import { OFF_THREAD_MIN } from '../../../../src/client/transfer/file-hasher.js';
import { downloadManyToTemp, downloadToTemp } from '../../../../src/client/transfer/transfer.js';
import { requestSlots } from '../../../../src/client/transfer/throttle.js';
import type { BlobRemote } from '../../../../src/client/transfer/temp-files.js';
import { hashFile, uploadFile } from '../../../../src/client/transfer/upload.js';
import { baseSeed, seededBytes } from '../../../helpers/rng.js';
import { Api, sha256, startTestServer, type TestServer } from '../../../helpers/server.js';

const seed = baseSeed(14);
console.log(`chunked upload seed=${seed} (replay: SYNCD_SEED=${seed})`);

const bytes = seededBytes;

let srv: TestServer;
let client: RemoteClient;
let dir: string;
let token: string;

beforeAll(async () => {
  srv = await startTestServer({ gcIntervalMs: 0 });
  token = await srv.addDevice('ns', 'laptop');
  client = new RemoteClient({ server: srv.url, token });
  dir = await mkdtemp(join(tmpdir(), 'syncd-chunked-'));
});
afterAll(async () => {
  await client?.close();
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

/** counts the chunk bytes a remote sends, and can fail after `failAfter` chunks (a killed upload) */
function counting(failAfter = Infinity) {
  const stats = { chunkBytes: 0, chunks: 0, blobBytes: 0 };
  const remote: BlobRemote = {
    getBlob: client.getBlob.bind(client),
    fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
    putBlob: async (h, s, o) => {
      stats.blobBytes += s;
      return client.putBlob(h, s, o);
    },
    missingChunks: client.missingChunks.bind(client),
    assembleFile: client.assembleFile.bind(client),
    putChunk: async (h, s, o) => {
      if (stats.chunks >= failAfter) throw new RemoteError('network', 'killed', { server: srv.url });
      stats.chunks++;
      stats.chunkBytes += s;
      return client.putChunk(h, s, o);
    },
  };
  return { remote, stats };
}

async function put(remote: BlobRemote, path: string) {
  const st = await stat(path);
  return uploadFile(remote, path, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
}

describe('chunkHandle', () => {
  it.each([
    ['empty', 0],
    ['below min', 1000],
    ['several chunks, not a multiple of the read size', 9 * 1024 * 1024 + 333],
    ['several chunks, hashed on the worker thread', 9 * 1024 * 1024 + 333, OFF_THREAD_MIN],
    ['empty, on the worker thread', 0, OFF_THREAD_MIN],
    ['just above the worker threshold', OFF_THREAD_MIN + 1],
    ['just below the worker threshold', OFF_THREAD_MIN - 1],
  ])('%s: the file hash and the chunks of chunkLengths, with offsets', async (_d, n, sizeHint = n) => {
    const data = bytes(seed + n, n);
    const p = join(dir, `ch-${n}`);
    await writeFile(p, data);
    const fh = await nodeFsys.openRead(p);
    try {
      const got = await chunkHandle(fh, sizeHint);
      expect(got.hash).toBe(sha256(data));
      expect(got.size).toBe(n);
      let off = 0;
      expect(got.chunks).toEqual(chunkLengths(data).map((len) => ({ hash: sha256(data.subarray(off, off + len)), offset: (off += len) - len, size: len })));
    } finally {
      await fh.close();
    }
  });
});

describe('a large file hashed by the scan, then uploaded', () => {
  /** nodeFsys, counting the bytes read through it */
  function countingFs() {
    const n = { read: 0 };
    const fs: Fsys = {
      ...nodeFsys,
      openRead: async (p) => {
        const fh = await nodeFsys.openRead(p);
        return Object.assign(Object.create(fh) as FsHandle, {
          read: async (buf: Buffer, off: number, len: number, pos: number) => {
            const r = await fh.read(buf, off, len, pos);
            n.read += r.bytesRead;
            return r;
          },
          stat: () => fh.stat(),
          close: () => fh.close(),
        });
      },
    };
    return { fs, n };
  }
  const idOf = async (p: string) => {
    const st = await stat(p);
    return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
  };

  it('the upload takes the chunk list the scan made in its read (no second read), once; a changed identity reads again', async () => {
    const data = bytes(seed + 40, 9 * 1024 * 1024 + 7);
    const p = join(dir, 'scanned.bin');
    await writeFile(p, data);
    await put(counting().remote, p); // the server has every chunk: an upload reads only to hash
    const { fs, n } = countingFs();
    expect(await hashFile(p, fs)).toEqual({ hash: sha256(data), size: data.length });
    expect(n.read).toBe(data.length);
    n.read = 0;
    const got = await uploadFile(counting().remote, p, await idOf(p), undefined, fs);
    expect(got.hash).toBe(sha256(data));
    expect(n.read).toBe(0);
    // taken once: the next upload reads the file
    await uploadFile(counting().remote, p, await idOf(p), undefined, fs);
    expect(n.read).toBe(data.length);
    // remembered, then the file's mtime moves: not used
    await hashFile(p, fs);
    await utimes(p, 1_600_000_000, 1_600_000_000);
    n.read = 0;
    await uploadFile(counting().remote, p, await idOf(p), undefined, fs);
    expect(n.read).toBe(data.length);
  });
});

describe('uploadFile in chunks', () => {
  const size = 24 * 1024 * 1024;
  const original = bytes(seed, size);

  it('a killed upload resumes: the second attempt sends only the chunks the first did not, and the server has the file', async () => {
    const p = join(dir, 'big.bin');
    await writeFile(p, original);
    const first = counting(5);
    await expect(put(first.remote, p)).rejects.toMatchObject({ code: 'network' });
    expect(first.stats.chunks).toBe(5);
    const second = counting();
    const r = await put(second.remote, p);
    expect(r).toMatchObject({ hash: sha256(original), size });
    expect(first.stats.chunkBytes + second.stats.chunkBytes).toBe(size); // each byte once in all
    expect(second.stats.blobBytes).toBe(0);
    const got = await fetch(`${srv.url}/v1/blobs/${r.hash}`, { headers: { authorization: `Bearer ${token}` } });
    expect(Buffer.from(await got.arrayBuffer()).equals(original)).toBe(true);
  });

  it.each([
    ['one byte changed in the middle', (b: Buffer) => { const c = Buffer.from(b); const i = c.length >> 1; c[i] = c[i]! ^ 0xff; return c; }],
    ['4 KiB inserted at the start', (b: Buffer) => Buffer.concat([bytes(seed + 1, 4096), b])],
  ])('%s: only the chunks around the edit are sent again', async (_d, edit) => {
    const p = join(dir, 'edit.bin');
    await writeFile(p, original);
    await put(counting().remote, p);
    const changed = edit(original);
    await writeFile(p, changed);
    const again = counting();
    const r = await put(again.remote, p);
    expect(r.hash).toBe(sha256(changed));
    // the edited chunk and at most one neighbour (4 MiB max each)
    expect(again.stats.chunkBytes).toBeLessThanOrEqual(2 * 4 * 1024 * 1024 + 4096);
    expect(again.stats.chunkBytes).toBeGreaterThan(0);
    const list = (await new Api(srv.url, token).get(`/v1/files/${r.hash}`)).body;
    expect(list.size).toBe(changed.length);
  });

  it('a server without the content layer (404 on the chunk question) gets the whole blob', async () => {
    const p = join(dir, 'old-server.bin');
    const data = bytes(seed + 7, 6 * 1024 * 1024);
    await writeFile(p, data);
    const { remote, stats } = counting();
    remote.missingChunks = async () => {
      throw new RemoteError('not_found', 'no such endpoint', { server: srv.url, status: 404 });
    };
    await put(remote, p);
    expect(stats).toMatchObject({ chunks: 0, blobBytes: data.length });
  });

  it('files up to 4 MiB stay one blob', async () => {
    const p = join(dir, 'small.bin');
    await writeFile(p, bytes(seed + 9, 4 * 1024 * 1024));
    const { remote, stats } = counting();
    await put(remote, p);
    expect(stats).toMatchObject({ chunks: 0, blobBytes: 4 * 1024 * 1024 });
  });
});

describe('downloadToTemp in chunks', () => {
  const size = 20 * 1024 * 1024;
  const v1 = bytes(seed + 20, size);

  function countingFetch() {
    const stats = { fetched: 0, blob: 0 };
    const remote: BlobRemote = {
      getBlob: async (h, o) => {
        stats.blob++;
        return client.getBlob(h, o);
      },
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: client.fileChunks.bind(client),
      getChunk: async (h, max, signal) => {
        const b = await client.getChunk(h, max, signal);
        stats.fetched += b.length;
        return b;
      },
    };
    return { remote, stats };
  }

  it.each([
    ['no previous version: every chunk fetched', (b: Buffer) => b, false, size],
    ['one byte changed: the previous version gives all but the edited chunk', (b: Buffer) => { const c = Buffer.from(b); const i = c.length >> 1; c[i] = c[i]! ^ 1; return c; }, true, 4 * 1024 * 1024],
    ['4 KiB inserted at the start: the rest comes from the previous version', (b: Buffer) => Buffer.concat([bytes(seed + 21, 4096), b]), true, 4 * 1024 * 1024 + 4096],
  ])('%s', async (_d, edit, withPrevious, maxFetched) => {
    const v2 = edit(v1);
    const src = join(dir, 'dl-src.bin');
    await writeFile(src, v2);
    const up = await put(counting().remote, src);
    const target = join(dir, 'dl-target.bin');
    if (withPrevious) await writeFile(target, v1);
    else await rm(target, { force: true });
    const { remote, stats } = countingFetch();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [target] });
    try {
      expect((await readFile(tmp)).equals(v2)).toBe(true);
      expect(stats.blob).toBe(0);
      expect(stats.fetched).toBeLessThanOrEqual(maxFetched);
      expect(stats.fetched).toBeGreaterThan(0);
    } finally {
      await rm(tmp, { force: true });
    }
  });

  it('a known local file changed in place (same size, mtime and inode): the whole-file hash catches it, the chunks are checked one by one and the bad one fetched', async () => {
    const src = join(dir, 'inplace-src.bin');
    await writeFile(src, v1);
    const up = await put(counting().remote, src);
    const local = join(dir, 'inplace-local.bin');
    await writeFile(local, v1);
    const list = await client.fileChunks(up.hash);
    expect(list.chunks.length).toBeGreaterThan(3);
    const bad = list.chunks[2]!;
    // another byte inside chunk 2, then the old mtime back: the identity does not show it
    await utimes(local, 1_700_000_000, 1_700_000_000);
    const before = await stat(local);
    const fh = await open(local, 'r+');
    await fh.write(Buffer.from([v1[bad.offset + 10]! ^ 0xff]), 0, 1, bad.offset + 10);
    await fh.close();
    await utimes(local, 1_700_000_000, 1_700_000_000);
    const after = await stat(local);
    const id = { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino };
    expect(id).toEqual({ size: before.size, mtimeMs: before.mtimeMs, ino: before.ino });
    const known = {
      places: (hashes: readonly string[]) => new Map(list.chunks.filter((c) => hashes.includes(c.hash)).map((c) => [c.hash, [{ abs: local, offset: c.offset, size: c.size, identity: id }]])),
      identityOf: (abs: string) => (abs === local ? id : null),
    };
    const { remote, stats } = countingFetch();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [local] }, { known });
    try {
      expect((await readFile(tmp)).equals(v1)).toBe(true);
      expect(stats.fetched).toBe(bad.size);
    } finally {
      await rm(tmp, { force: true });
    }
  });

  it('a local file of other bytes is never used: every chunk is fetched and the file is right', async () => {
    const src = join(dir, 'dl-src2.bin');
    await writeFile(src, v1);
    const up = await put(counting().remote, src);
    const decoy = join(dir, 'decoy.bin');
    await writeFile(decoy, bytes(seed + 22, size));
    const { remote, stats } = countingFetch();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [decoy, join(dir, 'does-not-exist')] });
    expect((await readFile(tmp)).equals(v1)).toBe(true);
    expect(stats.fetched).toBe(size);
    await rm(tmp, { force: true });
  });
});

describe('chunks that recur in a file', () => {
  // a run of zeros (a disk image, a preallocated database) or a block repeated
  // (an archive) makes chunks the file holds more than once: each is fetched once
  function countingChunks() {
    const stats = { fetched: 0, requests: 0 };
    const remote: BlobRemote = {
      getBlob: client.getBlob.bind(client),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: client.fileChunks.bind(client),
      getChunk: async (h, max, signal, into) => {
        const b = await client.getChunk(h, max, signal, into);
        stats.fetched += b.length;
        stats.requests++;
        return b;
      },
    };
    return { remote, stats };
  }
  const distinctBytes = (chunks: readonly { hash: string; size: number }[]): number => {
    const seen = new Map(chunks.map((c) => [c.hash, c.size]));
    return [...seen.values()].reduce((a, b) => a + b, 0);
  };

  it('a run of zeros: its chunk is fetched once, the file is right and has a hole where the zeros are', async () => {
    const v = Buffer.concat([bytes(seed + 40, 2 * 1024 * 1024), Buffer.alloc(32 * 1024 * 1024), bytes(seed + 41, 2 * 1024 * 1024)]);
    const src = join(dir, 'zeros-src.bin');
    await writeFile(src, v);
    const up = await put(counting().remote, src);
    const list = await client.fileChunks(up.hash);
    const distinct = distinctBytes(list.chunks);
    expect(list.chunks.length - new Set(list.chunks.map((c) => c.hash)).size).toBeGreaterThan(2);
    const { remote, stats } = countingChunks();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [] });
    try {
      expect((await readFile(tmp)).equals(v)).toBe(true);
      expect(stats.fetched).toBe(distinct);
      expect(stats.fetched).toBeLessThan(16 * 1024 * 1024);
      // the zeros take no blocks (ext4, tmpfs, xfs, btrfs all make holes)
      const st = await stat(tmp);
      expect(st.size).toBe(v.length);
      expect(st.blocks * 512).toBeLessThan(v.length - 24 * 1024 * 1024);
    } finally {
      await rm(tmp, { force: true });
    }
  });

  it('zeros at the end: the file still gets its whole length', async () => {
    const v = Buffer.concat([bytes(seed + 42, 3 * 1024 * 1024), Buffer.alloc(20 * 1024 * 1024)]);
    const src = join(dir, 'zeros-tail-src.bin');
    await writeFile(src, v);
    const up = await put(counting().remote, src);
    const { remote } = countingChunks();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [] });
    try {
      expect((await stat(tmp)).size).toBe(v.length);
      expect((await readFile(tmp)).equals(v)).toBe(true);
    } finally {
      await rm(tmp, { force: true });
    }
  });

  it('a block repeated five times: each of its chunks is fetched once and the file is right', async () => {
    const block = bytes(seed + 43, 6 * 1024 * 1024);
    const v = Buffer.concat([block, block, block, block, block]);
    const src = join(dir, 'repeat-src.bin');
    await writeFile(src, v);
    const up = await put(counting().remote, src);
    const list = await client.fileChunks(up.hash);
    const distinct = distinctBytes(list.chunks);
    expect(distinct).toBeLessThan(v.length / 2);
    const { remote, stats } = countingChunks();
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir, reuse: [] });
    try {
      expect((await readFile(tmp)).equals(v)).toBe(true);
      expect(stats.fetched).toBe(distinct);
      expect(stats.requests).toBe(new Set(list.chunks.map((c) => c.hash)).size);
    } finally {
      await rm(tmp, { force: true });
    }
  });
});

describe('a download assembly that fails', () => {
  // (a kill -9 mid-assembly leaves a .syncd-tmp- file that the next scan clears (exec/detach.ts removeLeftovers); the target is never written before placement)
  it('a chunk fetch that fails for good: no temp file is left and the previous version is untouched', async () => {
    const v1 = bytes(seed + 30, 12 * 1024 * 1024);
    const v2 = Buffer.concat([bytes(seed + 31, 4096), v1]);
    const src = join(dir, 'die-src.bin');
    await writeFile(src, v2);
    const up = await put(counting().remote, src);
    const sub = await mkdtemp(join(dir, 'die-'));
    const target = join(sub, 'target.bin');
    await writeFile(target, v1);
    const remote: BlobRemote = {
      getBlob: client.getBlob.bind(client),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: client.fileChunks.bind(client),
      getChunk: async () => {
        throw new Error('the process died here');
      },
    };
    await expect(downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: sub, reuse: [target] })).rejects.toThrow('the process died here');
    expect((await readdir(sub)).sort()).toEqual(['target.bin']);
    expect((await readFile(target)).equals(v1)).toBe(true);
  });
});

describe('the concurrency budget: every chunk request of every file takes one of `concurrency` slots', () => {
  /** a remote whose chunk requests each stay open a moment, counting how many are open at once */
  function gauged() {
    const g = { open: 0, max: 0 };
    const hold = async <T>(fn: () => Promise<T>): Promise<T> => {
      g.open++;
      g.max = Math.max(g.max, g.open);
      try {
        await new Promise((r) => setTimeout(r, 25));
        return await fn();
      } finally {
        g.open--;
      }
    };
    const remote: BlobRemote = {
      getBlob: client.getBlob.bind(client),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: (h, s, o) => hold(() => client.putBlob(h, s, o)),
      missingChunks: client.missingChunks.bind(client),
      assembleFile: client.assembleFile.bind(client),
      putChunk: (h, s, o) => hold(() => client.putChunk(h, s, o)),
      fileChunks: client.fileChunks.bind(client),
      getChunk: (h, max, signal) => hold(() => client.getChunk(h, max, signal)),
    };
    return { remote, g };
  }

  async function files(n: number, tag: number): Promise<{ path: string; hash: string; size: number }[]> {
    const out = [];
    for (let i = 0; i < n; i++) {
      const p = join(dir, `budget-${tag}-${i}.bin`);
      await writeFile(p, bytes(seed + 100 + tag * 10 + i, 16 * 1024 * 1024));
      out.push({ path: p, ...(await put(counting().remote, p)) });
    }
    return out;
  }

  it.each([
    ['one large file uses all 8 slots (more than a fixed per-file limit)', 1, 8],
    ['three large files share 2 slots', 3, 2],
  ])('downloads: %s', async (_d, n, concurrency) => {
    const fs = await files(n, n);
    const { remote, g } = gauged();
    const sub = await mkdtemp(join(dir, 'budget-'));
    const got = await downloadManyToTemp(remote, fs.map((f) => ({ hash: f.hash, size: f.size, dirAbs: sub })), { concurrency });
    expect(got.every((r) => r.ok)).toBe(true);
    expect(g.max).toBe(concurrency);
    await rm(sub, { recursive: true, force: true });
  });

  it.each([
    ['one large file uses all 8 slots', 1, 8],
    ['three large files share 2 slots', 3, 2],
  ])('uploads: %s', async (_d, n, concurrency) => {
    const paths = [];
    for (let i = 0; i < n; i++) {
      const p = join(dir, `budget-up-${n}-${i}.bin`);
      await writeFile(p, bytes(seed + 200 + n * 10 + i, 16 * 1024 * 1024));
      paths.push(p);
    }
    const { remote, g } = gauged();
    const slots = requestSlots(concurrency);
    await Promise.all(paths.map(async (p) => {
      const st = await stat(p);
      await uploadFile(remote, p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino }, undefined, nodeFsys, slots);
    }));
    expect(g.max).toBe(concurrency);
  });
});

describe('the whole-file hash of a chunked download (fed in order as chunks land, no read-back)', () => {
  it('a chunk list whose chunks are right but make other bytes than the file hash: hash_mismatch, no temp file left', async () => {
    const real = bytes(seed + 40, 9 * 1024 * 1024);
    const other = Buffer.from(real);
    other[123] = other[123]! ^ 1;
    const chunkOf = new Map<string, Buffer>();
    let off = 0;
    const chunks = chunkLengths(other).map((len) => {
      const b = other.subarray(off, off + len);
      chunkOf.set(sha256(b), b);
      return { hash: sha256(b), offset: (off += len) - len, size: len };
    });
    const remote: BlobRemote = {
      getBlob: client.getBlob.bind(client),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: async (hash) => ({ hash, size: real.length, chunks }),
      getChunk: async (h) => chunkOf.get(h)!,
    };
    const sub = await mkdtemp(join(dir, 'liar-'));
    await expect(downloadToTemp(remote, { hash: sha256(real), size: real.length, dirAbs: sub })).rejects.toMatchObject({ code: 'hash_mismatch' });
    expect(await readdir(sub)).toEqual([]);
  });

  it('a file stored whole (its own one chunk, larger than any chunk the API takes) is streamed, never held in memory', async () => {
    const data = bytes(seed + 47, LIMITS.chunkMaxBytes + 5);
    const h = sha256(data);
    await client.putBlob(h, data.length, () => Readable.from([data]));
    const asked: string[] = [];
    const remote: BlobRemote = {
      getBlob: (hash, o) => (asked.push('blob'), client.getBlob(hash, o)),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: (hash) => (asked.push('list'), client.fileChunks(hash)),
      getChunk: (hash, max, signal, into) => (asked.push('chunk'), client.getChunk(hash, max, signal, into)),
    };
    const sub = await mkdtemp(join(dir, 'whole-'));
    const p = await downloadToTemp(remote, { hash: h, size: data.length, dirAbs: sub });
    expect((await readFile(p)).equals(data)).toBe(true);
    expect(asked).toEqual(['list', 'blob']);
  });

  it('a server announcing one chunk of a terabyte gets no buffer of that size: the file is asked for as a stream', async () => {
    const size = 2 ** 40;
    const hash = sha256('a terabyte, supposedly');
    const asked: string[] = [];
    const remote: BlobRemote = {
      getBlob: async () => {
        asked.push('blob');
        throw new RemoteError('not_found', 'no such blob', { server: srv.url });
      },
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: async () => ({ hash, size, chunks: [{ hash, offset: 0, size }] }),
      getChunk: async () => {
        asked.push('chunk');
        throw new Error('never');
      },
    };
    const sub = await mkdtemp(join(dir, 'tera-'));
    await expect(downloadToTemp(remote, { hash, size, dirAbs: sub }, { retries: 0 })).rejects.toMatchObject({ code: 'not_found' });
    expect(asked).toEqual(['blob']);
    expect(await readdir(sub)).toEqual([]);
  });

  it('many chunks completing out of order still hash in file order', async () => {
    const data = bytes(seed + 41, 40 * 1024 * 1024);
    const src = join(dir, 'order-src.bin');
    await writeFile(src, data);
    const up = await put(counting().remote, src);
    let n = 0;
    const remote: BlobRemote = {
      getBlob: client.getBlob.bind(client),
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: client.putBlob.bind(client),
      fileChunks: client.fileChunks.bind(client),
      // every third chunk is slow: the ones after it finish first
      getChunk: async (h, max, signal) => {
        const b = await client.getChunk(h, max, signal);
        if (n++ % 3 === 0) await new Promise((r) => setTimeout(r, 30));
        return b;
      },
    };
    const tmp = await downloadToTemp(remote, { hash: up.hash, size: up.size, dirAbs: dir }, { slots: requestSlots(8) });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    await rm(tmp, { force: true });
  });
});

describe('a download assembly from a previous version: new chunks first, the disk flushed along the way', () => {
  it("the edited chunk is fetched before the local chunks around it are copied, and a temp to fsync is flushed as it is written", async () => {
    const { downloadChunked } = await import('../../../../src/client/transfer/chunked-download.js');
    const size = 24 * 1024 * 1024;
    const v1 = bytes(seed + 40, size);
    const v2 = Buffer.from(v1);
    v2[size - 100] = v2[size - 100]! ^ 1; // near the end: its turn comes last
    const src = join(dir, 'early-src.bin');
    await writeFile(src, v2);
    const up = await put(counting().remote, src);
    const prev = join(dir, 'early-prev.bin');
    await writeFile(prev, v1);
    const events: string[] = [];
    const remote = {
      fileChunks: client.fileChunks.bind(client),
      getChunk: async (h: string, max: number, signal?: AbortSignal) => {
        events.push('fetch');
        return client.getChunk(h, max, signal);
      },
    };
    const fs: Fsys = {
      ...nodeFsys,
      createNew: async (p) => {
        const fh = await nodeFsys.createNew(p);
        const wrapped: FsHandle = {
          stat: () => fh.stat(),
          read: (...a) => fh.read(...a),
          write: async (...a) => {
            events.push('write');
            return fh.write(...a);
          },
          truncate: (n) => fh.truncate(n),
          sync: async () => {
            events.push('sync');
            return fh.sync();
          },
          chmod: (m) => fh.chmod(m),
          utimes: (a, m) => fh.utimes(a, m),
          close: () => fh.close(),
        };
        return wrapped;
      },
    };
    const out = join(dir, 'early-out.bin');
    const got = await downloadChunked(remote, { hash: up.hash, size: up.size, path: out, reuse: [prev] }, { fs, fsync: true, retries: 0, writebackEvery: 4 * 1024 * 1024 });
    try {
      expect((await readFile(out)).equals(v2)).toBe(true);
      expect(got?.chunks.length).toBeGreaterThan(8);
      expect(events.filter((e) => e === 'fetch')).toHaveLength(1);
      // the one fetch started before any chunk was written
      expect(events.indexOf('fetch')).toBeLessThan(events.indexOf('write'));
      // flushed while writing (a sync before the last write), and once more at the end
      const syncs = events.flatMap((e, i) => (e === 'sync' ? [i] : []));
      expect(syncs.length).toBeGreaterThanOrEqual(2);
      expect(syncs[0]!).toBeLessThan(events.lastIndexOf('write'));
      expect(events.at(-1)).toBe('sync');
    } finally {
      await rm(out, { force: true });
    }
  });
});
