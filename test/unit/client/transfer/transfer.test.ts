// Downloads into verified temp files, uploads by streaming, hashing, and the
// clean-up of leftover temp files, against the programmable fake server.

import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, symlinkSync, writeFileSync, appendFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { downloadManyToTemp, downloadToTemp, syncFiles } from '../../../../src/client/transfer/transfer.js';
import { EMPTY_SHA256, type DownloadItem } from '../../../../src/client/transfer/temp-files.js';
import { hashFile, uploadFile } from '../../../../src/client/transfer/upload.js';
import { TEMP_PREFIX } from '../../../../src/core/syncd-names.js';
import { SyncdError } from '../../../../src/protocol/errors.js';
import { nodeFsys, type Fsys } from '../../../../src/client/disk/fsys.js';
import { startFakeServer, type FakeReply, type FakeRequest, type FakeServer } from '../../../helpers/fake-server.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const bytes = (n: number, seed = 1): Buffer => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed * 17) % 251));
const FAST = { retries: 3, backoff: { baseMs: 1, capMs: 2 } };

let fake: FakeServer;
let client: RemoteClient;
let dir: string;

beforeEach(async () => {
  fake = await startFakeServer();
  client = new RemoteClient({ server: fake.url, token: 't' });
  dir = await mkdtemp(join(tmpdir(), 'syncd-transfer-'));
});
afterEach(async () => {
  await client.close();
  await fake.close();
  await rm(dir, { recursive: true, force: true });
});

/** Everything under `root`, relative, sorted. */
function tree(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(root, '');
  return out.sort();
}

/** Serves blobs like the real server: GET with Range, and the batch route. */
function serveBlobs(blobs: Map<string, Buffer>, opts: { batch?: boolean } = {}): void {
  fake.on('GET', /^\/v1\/blobs\/[0-9a-f]{64}$/, (req) => rangeReply(blobs.get(req.path.slice(10)), req));
  if (opts.batch !== false) fake.on('POST', '/v1/blobs/fetch', (req) => ({ headers: { 'content-type': 'application/octet-stream' }, body: batchBody(blobs, req) }));
}

function rangeReply(content: Buffer | undefined, req: FakeRequest): FakeReply {
  if (!content) return { status: 404, json: { error: 'not_found', message: 'no blob' } };
  const m = /^bytes=(\d+)-$/.exec(String(req.headers.range ?? ''));
  if (!m) return { body: content };
  const start = Number(m[1]);
  return { status: 206, headers: { 'content-range': `bytes ${start}-${content.length - 1}/${content.length}` }, body: content.subarray(start) };
}

function batchBody(blobs: Map<string, Buffer>, req: FakeRequest): Buffer {
  const { hashes } = JSON.parse(req.body.toString()) as { hashes: string[] };
  return Buffer.concat(hashes.map((h) => {
    const c = blobs.get(h);
    return c ? Buffer.concat([Buffer.from(`${h} ${c.length}\n`), c]) : Buffer.from(`${h} -1\n`);
  }));
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

describe('downloadToTemp', () => {
  test('streams, verifies and returns a private temp file in the target directory', async () => {
    const c = bytes(200_000);
    serveBlobs(new Map([[sha(c), c]]));
    const p = await downloadToTemp(client, { hash: sha(c), size: c.length, dirAbs: dir });
    expect(dirname(p)).toBe(dir);
    expect(basename(p).startsWith(TEMP_PREFIX)).toBe(true);
    expect(readFileSync(p).equals(c)).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o600);
    expect(tree(dir)).toEqual([basename(p)]);
  });

  test('a connection dropped half-way is resumed with Range from the bytes already written', async () => {
    const c = bytes(300_000, 2);
    const h = sha(c);
    const half = 150_000;
    fake.on('GET', `/v1/blobs/${h}`, { body: c, dropAfterBytes: half }, (req) => rangeReply(c, req));
    const p = await downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, FAST);
    expect(readFileSync(p).equals(c)).toBe(true);
    const reqs = fake.seen('GET', `/v1/blobs/${h}`);
    expect(reqs).toHaveLength(2);
    expect(reqs[0]!.headers.range).toBeUndefined();
    expect(reqs[1]!.headers.range).toBe(`bytes=${half}-`);
  });

  test('several drops, each resumed where the last one stopped', async () => {
    const c = bytes(100_000, 3);
    const h = sha(c);
    const cutAt = (n: number) => (req: FakeRequest): FakeReply => ({ ...rangeReply(c, req), dropAfterBytes: n });
    fake.on('GET', `/v1/blobs/${h}`, cutAt(10_000), cutAt(20_000), cutAt(30_000), (req) => rangeReply(c, req));
    const p = await downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, { retries: 1, backoff: FAST.backoff });
    expect(readFileSync(p).equals(c)).toBe(true);
    // retries: 1 suffices because every attempt made progress
    expect(fake.seen('GET', `/v1/blobs/${h}`).map((r) => r.headers.range)).toEqual([undefined, 'bytes=10000-', 'bytes=30000-', 'bytes=60000-']);
  });

  test('a server that ignores Range on resume: start again from byte 0', async () => {
    const c = bytes(80_000, 4);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, { body: c, dropAfterBytes: 30_000 }, { body: c });
    const p = await downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, FAST);
    expect(readFileSync(p).equals(c)).toBe(true);
  });

  test('a 206 whose Content-Range starts elsewhere is refused, and leaves no file', async () => {
    const c = bytes(50_000, 5);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, { body: c, dropAfterBytes: 20_000 }, { status: 206, headers: { 'content-range': `bytes 0-49999/50000` }, body: c });
    const e = await rejection(downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, FAST));
    expect(e).toMatchObject({ code: 'protocol' });
    expect(tree(dir)).toEqual([]);
  });

  const LIES: Array<{ name: string; reply: (c: Buffer) => FakeReply; size?: (c: Buffer) => number }> = [
    { name: 'other bytes of the same length', reply: (c) => ({ body: Buffer.from(c).fill(7, 100, 101) }) },
    { name: 'a longer body', reply: (c) => ({ body: Buffer.concat([c, Buffer.from('x')]) }) },
    { name: 'a shorter body', reply: (c) => ({ body: c.subarray(1) }) },
    { name: 'extra bytes without Content-Length', reply: (c) => ({ chunks: [c, 'xx'] }) },
    { name: 'a short chunked body', reply: (c) => ({ chunks: [c.subarray(0, 10)] }) },
    { name: 'the right bytes for a wrong expected size', reply: (c) => ({ body: c }), size: (c) => c.length + 1 },
  ];
  test.each(LIES)('content that fails verification ($name) is never left on disk', async ({ reply, size }) => {
    const c = bytes(40_000, 6);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, reply(c));
    const e = await rejection(downloadToTemp(client, { hash: h, size: size ? size(c) : c.length, dirAbs: dir }, FAST));
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).code).toBe('hash_mismatch');
    expect(tree(dir)).toEqual([]);
  });

  test('404: not_found at once, no retries, no file', async () => {
    const e = await rejection(downloadToTemp(client, { hash: 'ab'.repeat(32), size: 10, dirAbs: dir }, FAST));
    expect(e).toMatchObject({ code: 'not_found' });
    expect(fake.requests).toHaveLength(1);
    expect(tree(dir)).toEqual([]);
  });

  test('bounded retries: a server that always drops fails with network after retries + 1 attempts', async () => {
    const c = bytes(10_000, 7);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, { body: c, dropAfterBytes: 0 });
    const e = await rejection(downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, FAST));
    expect(e).toMatchObject({ code: 'network' });
    expect(fake.requests).toHaveLength(FAST.retries + 1);
    expect(tree(dir)).toEqual([]);
  });

  test('503 with Retry-After, then success', async () => {
    const c = bytes(1000, 8);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, { status: 503, headers: { 'retry-after': '0' }, json: { error: 'unavailable', message: 'busy' } }, { body: c });
    const p = await downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, FAST);
    expect(readFileSync(p).equals(c)).toBe(true);
  });

  test('an empty file needs no request', async () => {
    const p = await downloadToTemp(client, { hash: EMPTY_SHA256, size: 0, dirAbs: dir });
    expect(readFileSync(p).length).toBe(0);
    expect(fake.requests).toHaveLength(0);
  });

  test('size 0 with a non-empty hash is a mismatch', async () => {
    await expect(downloadToTemp(client, { hash: 'ab'.repeat(32), size: 0, dirAbs: dir })).rejects.toMatchObject({ code: 'hash_mismatch' });
    expect(tree(dir)).toEqual([]);
  });

  test('abort mid-download rejects and leaves no file', async () => {
    const c = bytes(100_000, 9);
    const h = sha(c);
    fake.on('GET', `/v1/blobs/${h}`, { chunks: [c.subarray(0, 1000), { delayMs: 30_000 }, c.subarray(1000)] });
    const ac = new AbortController();
    const p = downloadToTemp(client, { hash: h, size: c.length, dirAbs: dir }, { ...FAST, signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    const e = await rejection(p);
    expect(e.name).toBe('AbortError');
    expect(tree(dir)).toEqual([]);
  });

  test('a missing target directory is a local error, not a network one', async () => {
    const e = await rejection(downloadToTemp(client, { hash: 'ab'.repeat(32), size: 3, dirAbs: join(dir, 'nope') }));
    expect((e as NodeJS.ErrnoException).code).toBe('ENOENT');
  });
});

describe('downloadManyToTemp', () => {
  const A = bytes(3000, 11);
  const B = bytes(5000, 12);
  const C = bytes(7000, 13);
  const LARGE = bytes(50_000, 14);
  const MISSING = 'ee'.repeat(32);

  function setup(): { sub: string; items: DownloadItem[] } {
    const sub = join(dir, 'sub');
    mkdirSync(sub);
    serveBlobs(new Map([[sha(A), A], [sha(B), B], [sha(C), C], [sha(LARGE), LARGE]]));
    const items: DownloadItem[] = [
      { hash: sha(A), size: A.length, dirAbs: dir },
      { hash: sha(B), size: B.length, dirAbs: dir },
      { hash: MISSING, size: 10, dirAbs: dir },
      { hash: sha(A), size: A.length, dirAbs: sub }, // same content elsewhere
      { hash: sha(LARGE), size: LARGE.length, dirAbs: sub },
      { hash: sha(C), size: C.length, dirAbs: sub },
      { hash: sha(A), size: A.length, dirAbs: dir }, // same content, same dir
    ];
    return { sub, items };
  }

  const OPTS = { ...FAST, largeFileBytes: 10_000 };

  test('batches small blobs, large ones alone, duplicates fetched once and copied', async () => {
    const { items } = setup();
    const res = await downloadManyToTemp(client, items, OPTS);
    const want = [A, B, null, A, LARGE, C, A];
    res.forEach((r, i) => {
      const w = want[i] as Buffer | null;
      if (w === null) {
        expect(r.ok, `item ${i}`).toBe(false);
        if (!r.ok) expect(r.error).toMatchObject({ code: 'not_found' });
        return;
      }
      expect(r.ok, `item ${i}`).toBe(true);
      if (r.ok) {
        expect(readFileSync(r.path).equals(w), `item ${i}`).toBe(true);
        expect(dirname(r.path)).toBe(items[i]!.dirAbs);
      }
    });
    // the copies are independent files
    const paths = res.flatMap((r) => (r.ok ? [r.path] : []));
    expect(new Set(paths).size).toBe(paths.length);
    const inodes = paths.map((p) => statSync(p).ino);
    expect(new Set(inodes).size).toBe(paths.length);
    // one batch request without duplicates or the large blob; the large blob by GET
    const posts = fake.seen('POST', '/v1/blobs/fetch');
    expect(posts).toHaveLength(1);
    expect(JSON.parse(posts[0]!.body.toString()).hashes).toEqual([sha(A), sha(B), MISSING, sha(C)]);
    expect(fake.seen('GET', `/v1/blobs/${sha(LARGE)}`)).toHaveLength(1);
    // nothing else was left behind
    expect(tree(dir).filter((f) => f.includes(TEMP_PREFIX))).toHaveLength(paths.length);
  });

  test('batches are cut by count and by bytes', async () => {
    const { items } = setup();
    await downloadManyToTemp(client, items, { ...OPTS, maxBatchCount: 2 });
    expect(fake.seen('POST', '/v1/blobs/fetch').map((r) => JSON.parse(r.body.toString()).hashes.length)).toEqual([2, 2]);
    fake.requests.length = 0;
    await downloadManyToTemp(client, items, { ...OPTS, maxBatchBytes: 8000 });
    // A+B = 8000; MISSING(10) would exceed; then MISSING + C
    expect(fake.seen('POST', '/v1/blobs/fetch').map((r) => JSON.parse(r.body.toString()).hashes.length)).toEqual([2, 2]);
  });

  test('a frame with bad content fails only its items and leaves no file for them', async () => {
    const bad = Buffer.from(B).fill(0, 0, 10);
    fake.on('POST', '/v1/blobs/fetch', (req) => ({ body: batchBody(new Map([[sha(A), A], [sha(B), bad], [sha(C), C]]), req) }));
    const items: DownloadItem[] = [A, B, C].map((c) => ({ hash: sha(c), size: c.length, dirAbs: dir }));
    const res = await downloadManyToTemp(client, items, OPTS);
    expect(res.map((r) => r.ok)).toEqual([true, false, true]);
    expect(res[1]).toMatchObject({ ok: false, error: { code: 'hash_mismatch' } });
    expect(tree(dir)).toHaveLength(2);
  });

  test('a frame whose size differs from the expected one is a mismatch', async () => {
    fake.on('POST', '/v1/blobs/fetch', (req) => ({ body: batchBody(new Map([[sha(A), A], [sha(B), B]]), req) }));
    const res = await downloadManyToTemp(client, [{ hash: sha(A), size: A.length + 1, dirAbs: dir }, { hash: sha(B), size: B.length, dirAbs: dir }], OPTS);
    expect(res[0]).toMatchObject({ ok: false, error: { code: 'hash_mismatch' } });
    expect(res[1]!.ok).toBe(true);
    expect(tree(dir)).toHaveLength(1);
  });

  test('a reply dropped mid-batch: the remainder is requested again', async () => {
    const blobs = new Map([[sha(A), A], [sha(B), B], [sha(C), C]]);
    const items: DownloadItem[] = [A, B, C].map((c) => ({ hash: sha(c), size: c.length, dirAbs: dir }));
    fake.on('POST', '/v1/blobs/fetch', (req) => ({ body: batchBody(blobs, req), dropAfterBytes: 65 + A.length + 65 + 100 }), (req) => ({ body: batchBody(blobs, req) }));
    const res = await downloadManyToTemp(client, items, OPTS);
    expect(res.map((r) => r.ok)).toEqual([true, true, true]);
    res.forEach((r, i) => r.ok && expect(readFileSync(r.path).equals([A, B, C][i]!)).toBe(true));
    const asked = fake.seen('POST', '/v1/blobs/fetch').map((r) => JSON.parse(r.body.toString()).hashes);
    expect(asked).toEqual([[sha(A), sha(B), sha(C)], [sha(B), sha(C)]]);
    expect(tree(dir)).toHaveLength(3);
  });

  test('a server that keeps failing: every item gets the error, no files', async () => {
    fake.on('POST', '/v1/blobs/fetch', { status: 500, json: { error: 'internal', message: 'x' } });
    const items: DownloadItem[] = [A, B].map((c) => ({ hash: sha(c), size: c.length, dirAbs: dir }));
    const res = await downloadManyToTemp(client, items, OPTS);
    for (const r of res) expect(r).toMatchObject({ ok: false, error: { code: 'server_error' } });
    expect(fake.seen('POST', '/v1/blobs/fetch')).toHaveLength(FAST.retries + 1);
    expect(tree(dir)).toEqual([]);
  });

  test('a server without the batch route is served by single GETs', async () => {
    const { items } = setup();
    fake.on('POST', '/v1/blobs/fetch', { status: 404, json: { error: 'not_found', message: 'no route' } });
    const res = await downloadManyToTemp(client, items, OPTS);
    expect(res.map((r) => r.ok)).toEqual([true, true, false, true, true, true, true]);
    expect(res[2]).toMatchObject({ ok: false, error: { code: 'not_found' } });
  });

  test('an abort after some blobs landed rejects and removes them', async () => {
    const head = (c: Buffer): Buffer => Buffer.concat([Buffer.from(`${sha(c)} ${c.length}\n`), c]);
    fake.on('POST', '/v1/blobs/fetch', { chunks: [head(A), { delayMs: 30_000 }, head(B)] });
    const ac = new AbortController();
    const p = downloadManyToTemp(client, [A, B].map((c) => ({ hash: sha(c), size: c.length, dirAbs: dir })), { ...OPTS, fsync: false, signal: ac.signal });
    // wait until A's temp file exists, then abort
    while (tree(dir).length === 0) await new Promise((r) => setTimeout(r, 5));
    ac.abort();
    const e = await rejection(p);
    expect(e.name).toBe('AbortError');
    expect(tree(dir)).toEqual([]);
  });

  test('no items, no requests', async () => {
    expect(await downloadManyToTemp(client, [], OPTS)).toEqual([]);
    expect(fake.requests).toHaveLength(0);
  });

  test('fsync: false still delivers verified files, and syncFiles makes them durable later', async () => {
    const { items } = setup();
    const res = await downloadManyToTemp(client, items, { ...OPTS, fsync: false });
    const paths = res.flatMap((r) => (r.ok ? [r.path] : []));
    await syncFiles(paths);
    expect(paths).toHaveLength(6);
  });

  test('fsync: false: a blob of 1 MiB or more is flushed as it is written anyway (the final flush has the small ones left)', async () => {
    const BIG = bytes(1024 * 1024, 15);
    const SMALL = bytes(1024 * 1024 - 1, 16);
    serveBlobs(new Map([[sha(BIG), BIG], [sha(SMALL), SMALL], [sha(A), A]]));
    const flushed = new Map<number, boolean>();
    const fs: Fsys = { ...nodeFsys, writeNew: (p, data, o) => (flushed.set(Buffer.concat(Buffer.isBuffer(data) ? [data] : data).length, o.fsync), nodeFsys.writeNew(p, data, o)) };
    const items = [BIG, SMALL, A].map((b) => ({ hash: sha(b), size: b.length, dirAbs: dir }));
    const res = await downloadManyToTemp(client, items, { ...FAST, fsync: false, fs });
    expect(res.every((r) => r.ok)).toBe(true);
    expect(Object.fromEntries(flushed)).toEqual({ [BIG.length]: true, [SMALL.length]: false, [A.length]: false });
  });

  test('the large blobs start first, the largest first: with one slot they come before the batch', async () => {
    const L2 = bytes(60_000, 17);
    serveBlobs(new Map([[sha(A), A], [sha(LARGE), LARGE], [sha(L2), L2], [sha(B), B]]));
    const items = [A, LARGE, B, L2].map((b) => ({ hash: sha(b), size: b.length, dirAbs: dir }));
    const res = await downloadManyToTemp(client, items, { ...OPTS, concurrency: 1 });
    expect(res.every((r) => r.ok)).toBe(true);
    expect(fake.requests.map((r) => `${r.method} ${r.path}`)).toEqual([`GET /v1/blobs/${sha(L2)}`, `GET /v1/blobs/${sha(LARGE)}`, 'POST /v1/blobs/fetch']);
  });
});

describe('hashFile', () => {
  test.each([0, 1, 1024 * 1024, 3 * 1024 * 1024 + 17])('%i bytes', async (n) => {
    const c = bytes(n, 21);
    const p = join(dir, 'f');
    writeFileSync(p, c);
    expect(await hashFile(p)).toEqual({ hash: sha(c), size: n });
  });

  test('does not follow a symlink', async () => {
    writeFileSync(join(dir, 'real'), 'x');
    symlinkSync(join(dir, 'real'), join(dir, 'link'));
    await expect(hashFile(join(dir, 'link'))).rejects.toMatchObject({ code: 'ELOOP' });
  });

  test('a directory is not a file', async () => {
    await expect(hashFile(dir)).rejects.toMatchObject({ code: expect.stringMatching(/^(not_a_file|EISDIR)$/) });
  });
});

describe('uploadFile', () => {
  function file(name: string, content: Buffer): { path: string; expect: { size: number; mtimeMs: number; ino: number } } {
    const path = join(dir, name);
    writeFileSync(path, content);
    const st = lstatSync(path);
    return { path, expect: { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } };
  }

  test('hashes and PUTs the file by streaming', async () => {
    const c = bytes(300_000, 31);
    fake.on('PUT', `/v1/blobs/${sha(c)}`, { status: 201, body: '' });
    const f = file('a', c);
    expect(await uploadFile(client, f.path, f.expect)).toEqual({ hash: sha(c), size: c.length });
    const put = fake.seen('PUT', `/v1/blobs/${sha(c)}`)[0]!;
    expect(put.body.equals(c)).toBe(true);
    expect(put.headers['content-length']).toBe(String(c.length));
  });

  test('an empty file', async () => {
    fake.on('PUT', `/v1/blobs/${EMPTY_SHA256}`, { status: 200, body: '' });
    const f = file('e', Buffer.alloc(0));
    expect(await uploadFile(client, f.path, f.expect)).toEqual({ hash: EMPTY_SHA256, size: 0 });
    expect(fake.seen('PUT', `/v1/blobs/${EMPTY_SHA256}`)[0]!.headers['content-length']).toBe('0');
  });

  const CHANGES: Array<{ name: string; during: (path: string) => void }> = [
    { name: 'appended to', during: (p) => appendFileSync(p, 'more') },
    { name: 'replaced by rename', during: (p) => { writeFileSync(`${p}.new`, 'other'); renameSync(`${p}.new`, p); } },
    { name: 'deleted', during: (p) => { renameSync(p, `${p}.gone`); } },
  ];
  test.each(CHANGES)('a file $name during the upload → changed_during_upload', async ({ during }) => {
    const c = bytes(20_000, 32);
    const f = file('b', c);
    fake.on('PUT', `/v1/blobs/${sha(c)}`, () => {
      during(f.path);
      return { status: 201, body: '' };
    });
    const e = await rejection(uploadFile(client, f.path, f.expect));
    expect(e).toBeInstanceOf(SyncdError);
    expect((e as SyncdError).code).toBe('changed_during_upload');
  });

  test('a file that is not what the scan saw is not uploaded at all', async () => {
    const f = file('c', bytes(100, 33));
    const e = await rejection(uploadFile(client, f.path, { ...f.expect, mtimeMs: f.expect.mtimeMs - 1000 }));
    expect((e as SyncdError).code).toBe('changed_during_upload');
    expect(fake.requests).toHaveLength(0);
  });

  test('a symlink where the file was → changed_during_upload, never followed', async () => {
    const f = file('d', bytes(100, 34));
    renameSync(f.path, join(dir, 'd.real'));
    symlinkSync(join(dir, 'd.real'), f.path);
    await expect(uploadFile(client, f.path, f.expect)).rejects.toMatchObject({ code: 'changed_during_upload' });
    expect(fake.requests).toHaveLength(0);
  });

  test('the server saw other bytes (hash_mismatch) though size and mtime held → changed_during_upload', async () => {
    const c = bytes(1000, 35);
    const f = file('e', c);
    fake.on('PUT', `/v1/blobs/${sha(c)}`, { status: 400, json: { error: 'hash_mismatch', message: 'x' } });
    await expect(uploadFile(client, f.path, f.expect)).rejects.toMatchObject({ code: 'changed_during_upload' });
  });

  test('a remote failure on an unchanged file stays a RemoteError', async () => {
    const c = bytes(1000, 36);
    const f = file('f', c);
    fake.on('PUT', `/v1/blobs/${sha(c)}`, { status: 401, json: { error: 'unauthorized', message: 'x' } });
    await expect(uploadFile(client, f.path, f.expect)).rejects.toMatchObject({ code: 'unauthorized' });
  });
});

