// The content layer over HTTP on a real server: chunk upload and the
// "missing" question, assembly with whole-file verification, chunk lists,
// reads of assembled files through the old blob API (Range, batch fetch),
// namespace isolation, and the content collector including a pass that
// crashed between moving a blob aside and deciding on it.

import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { copyFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkLengths } from '../../../src/core/chunker.js';
import { gcTrashDir } from '../../../src/server/gc.js';
import { MAX_CHUNK_BYTES } from '../../../src/server/routes/chunks.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

interface Chunked {
  hash: string;
  size: number;
  data: Buffer;
  chunks: Array<{ hash: string; size: number; data: Buffer }>;
}

function chunked(data: Buffer): Chunked {
  let off = 0;
  const chunks = chunkLengths(data).map((len) => {
    const part = data.subarray(off, (off += len));
    return { hash: sha256(part), size: len, data: part };
  });
  return { hash: sha256(data), size: data.length, data, chunks };
}

const json = { 'content-type': 'application/json' };
const missing = (api: Api, hashes: string[]) => api.request('POST', '/v1/chunks/missing', { body: JSON.stringify({ hashes }), headers: json });
const assemble = (api: Api, f: { hash: string; size: number; chunks: Array<{ hash: string; size: number }> }) =>
  api.request('POST', `/v1/files/${f.hash}`, { body: JSON.stringify({ size: f.size, chunks: f.chunks.map((c) => ({ hash: c.hash, size: c.size })) }), headers: json });
async function upload(api: Api, f: Chunked): Promise<void> {
  for (const c of f.chunks) {
    const r = await api.request('PUT', `/v1/chunks/${c.hash}`, { body: c.data });
    expect([200, 201]).toContain(r.status);
  }
  expect((await assemble(api, f)).status).toBe(201);
}

describe('chunk endpoints', () => {
  let srv: TestServer;
  let api: Api;
  let eve: Api;
  const file = chunked(randomBytes(6 * 1024 * 1024 + 12345));

  beforeEach(async () => {
    srv = await startTestServer({ gcIntervalMs: 0 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    eve = new Api(srv.url, await srv.addDevice('eve'));
  });
  afterEach(() => srv.close());

  it('upload only the missing chunks, assemble, commit by the file hash, read it back every way', async () => {
    expect(file.chunks.length).toBeGreaterThan(2);
    const all = file.chunks.map((c) => c.hash);
    expect((await missing(api, all)).body).toEqual({ missing: all });
    // a killed upload: the first chunk made it, the question names only the rest
    await api.request('PUT', `/v1/chunks/${file.chunks[0]!.hash}`, { body: file.chunks[0]!.data });
    expect((await missing(api, all)).body).toEqual({ missing: all.slice(1) });
    for (const c of file.chunks.slice(1)) expect((await api.request('PUT', `/v1/chunks/${c.hash}`, { body: c.data })).status).toBe(201);
    expect((await missing(api, all)).body).toEqual({ missing: [] });
    expect((await assemble(api, file)).status).toBe(201);
    expect((await assemble(api, file)).status).toBe(200);
    const node = (await api.one({ op: 'create', kind: 'file', parent: 'root', name: 'big.bin', hash: file.hash, size: file.size, mtime: 1 })).node;
    expect(node.hash).toBe(file.hash);

    const whole = await fetch(`${srv.url}/v1/blobs/${file.hash}`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(Buffer.from(await whole.arrayBuffer()).equals(file.data)).toBe(true);
    // a range across the first chunk boundary
    const b = file.chunks[0]!.size;
    const part = await fetch(`${srv.url}/v1/blobs/${file.hash}`, { headers: { authorization: `Bearer ${api.token}`, range: `bytes=${b - 10}-${b + 9}` } });
    expect(part.status).toBe(206);
    expect(Buffer.from(await part.arrayBuffer()).equals(file.data.subarray(b - 10, b + 10))).toBe(true);
    const batch = await fetch(`${srv.url}/v1/blobs/fetch`, { method: 'POST', headers: { authorization: `Bearer ${api.token}`, ...json }, body: JSON.stringify({ hashes: [file.hash] }) });
    const raw = Buffer.from(await batch.arrayBuffer());
    const header = `${file.hash} ${file.size}\n`;
    expect(raw.subarray(0, header.length).toString()).toBe(header);
    expect(raw.subarray(header.length).equals(file.data)).toBe(true);

    let offset = 0;
    expect((await api.get(`/v1/files/${file.hash}`)).body).toEqual({
      hash: file.hash,
      size: file.size,
      chunks: file.chunks.map((c) => ({ hash: c.hash, size: c.size, offset: (offset += c.size) - c.size })),
    });
    const c1 = file.chunks[1]!;
    const chunk = await fetch(`${srv.url}/v1/chunks/${c1.hash}`, { headers: { authorization: `Bearer ${api.token}`, range: 'bytes=5-14' } });
    expect(Buffer.from(await chunk.arrayBuffer()).equals(c1.data.subarray(5, 15))).toBe(true);
    // the server kept chunks only: no second copy of the file
    expect(existsSync(join(srv.dataDir, 'blobs', file.hash.slice(0, 2), file.hash.slice(2, 4), file.hash))).toBe(false);
  });

  it('assembly reads ahead with reused buffers: chunks of different sizes, repeated, in any order, assemble to exactly their bytes', async () => {
    // 11 chunks (more than the read-ahead), a small one between large ones, one repeated: a buffer
    // reused too early or sized for the wrong chunk would change the hash
    const parts = [file.chunks[0]!, file.chunks[1]!, file.chunks[0]!, file.chunks[2]!, file.chunks[1]!, file.chunks[0]!, file.chunks[2]!, file.chunks[0]!, file.chunks[1]!, file.chunks[2]!, file.chunks[0]!];
    const data = Buffer.concat(parts.map((c) => c.data));
    const f = { hash: sha256(data), size: data.length, chunks: parts.map((c) => ({ hash: c.hash, size: c.size })) };
    for (const c of file.chunks.slice(0, 3)) await api.request('PUT', `/v1/chunks/${c.hash}`, { body: c.data });
    expect((await assemble(api, f)).status).toBe(201);
    const back = await fetch(`${srv.url}/v1/blobs/${f.hash}`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(Buffer.from(await back.arrayBuffer()).equals(data)).toBe(true);
  });

  it('edited versions assemble from the states of earlier ones (hash-resume.ts): a right hash is taken, a wrong one still refused', async () => {
    await upload(api, file);
    const extra = randomBytes(300_000);
    const xHash = sha256(extra);
    expect((await api.request('PUT', `/v1/chunks/${xHash}`, { body: extra })).status).toBe(201);
    const x = { hash: xHash, size: extra.length, data: extra };
    // the last chunk replaced, then one appended, then the middle one dropped: each shares a start with the one before
    const versions = [
      [...file.chunks.slice(0, -1), x],
      [...file.chunks.slice(0, -1), x, file.chunks[0]!],
      [file.chunks[0]!, ...file.chunks.slice(2, -1), x, file.chunks[0]!],
    ];
    for (const parts of versions) {
      const data = Buffer.concat(parts.map((c) => c.data));
      const f = { hash: sha256(data), size: data.length, chunks: parts };
      // a lying client: the same chunks named with another content's hash
      const lie = await assemble(api, { ...f, hash: sha256(Buffer.concat([data, Buffer.from('!')])) });
      expect(lie.status).toBe(400);
      expect(lie.body.error).toBe('hash_mismatch');
      expect((await assemble(api, f)).status).toBe(201);
      const back = await fetch(`${srv.url}/v1/blobs/${f.hash}`, { headers: { authorization: `Bearer ${api.token}` } });
      expect(Buffer.from(await back.arrayBuffer()).equals(data)).toBe(true);
    }
  });

  it('a file uploaded whole has a one-chunk list: itself', async () => {
    const b = await api.putBlob('small content');
    expect((await api.get(`/v1/files/${b.hash}`)).body).toEqual({ hash: b.hash, size: b.size, chunks: [{ hash: b.hash, size: b.size, offset: 0 }] });
  });

  it('another namespace learns nothing: its chunks are missing, unreadable and cannot be assembled', async () => {
    await upload(api, file);
    const all = file.chunks.map((c) => c.hash);
    expect((await missing(eve, all)).body).toEqual({ missing: all });
    expect((await eve.get(`/v1/chunks/${all[0]}`)).status).toBe(404);
    expect((await eve.get(`/v1/files/${file.hash}`)).status).toBe(404);
    expect((await eve.get(`/v1/blobs/${file.hash}`)).status).toBe(404);
    const r = await assemble(eve, file);
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ error: 'chunks_missing', missing: all });
    expect((await eve.commit([{ op: 'create', kind: 'file', parent: 'root', name: 'x', hash: file.hash, size: file.size, mtime: 0 }]))[0]).toMatchObject({ error: 'blob_missing' });
  });

  it.each([
    ['chunks that do not assemble to the hash', (f: Chunked) => ({ ...f, hash: sha256('something else') }), 400, 'hash_mismatch'],
    ['chunks in the wrong order', (f: Chunked) => ({ ...f, chunks: [...f.chunks].reverse() }), 400, 'hash_mismatch'],
    ['sizes that do not add up', (f: Chunked) => ({ ...f, size: f.size + 1 }), 400, 'bad_request'],
    ['a chunk declared with a wrong size', (f: Chunked) => ({ ...f, size: f.size + 1, chunks: [{ ...f.chunks[0]!, size: f.chunks[0]!.size + 1 }, ...f.chunks.slice(1)] }), 400, 'bad_request'],
    ['a chunk larger than the limit', (f: Chunked) => ({ ...f, chunks: [{ hash: f.hash, size: MAX_CHUNK_BYTES + 1 }] }), 400, 'bad_request'],
  ])('assembly refuses %s and stores nothing', async (_d, mutate, status, error) => {
    for (const c of file.chunks) await api.request('PUT', `/v1/chunks/${c.hash}`, { body: c.data });
    const bad = mutate(file);
    const r = await assemble(api, bad);
    expect(r.status).toBe(status);
    expect(r.body.error).toBe(error);
    expect((await api.get(`/v1/files/${bad.hash}`)).status).toBe(404);
  });

  it.each([
    ['not JSON', 'nope'],
    ['no hashes', '{}'],
    ['a bad hash', '{"hashes":["abc"]}'],
  ])('missing: %s is a 400', async (_d, body) => {
    expect((await api.request('POST', '/v1/chunks/missing', { body, headers: json })).status).toBe(400);
  });

  it("a tenant whose assemblies take minutes holds at most two of the four slots, queues at most eight more, and a client gone stops its own", async () => {
    // eve uploads one 8 MiB chunk and asks for files naming it 20,000 times:
    // 160 GiB to hash each (minutes), for a 1.7 MB request
    const eight = randomBytes(MAX_CHUNK_BYTES);
    const h = sha256(eight);
    expect((await eve.request('PUT', `/v1/chunks/${h}`, { body: eight })).status).toBe(201);
    const body = JSON.stringify({ size: MAX_CHUNK_BYTES * 20_000, chunks: Array.from({ length: 20_000 }, () => ({ hash: h, size: MAX_CHUNK_BYTES })) });
    const cancel = new AbortController();
    const statuses: Array<number | 'gone'> = [];
    const hostile = Array.from({ length: 11 }, (_, i) =>
      fetch(`${srv.url}/v1/files/${sha256(Buffer.from(`not this file ${i}`))}`, { method: 'POST', headers: { authorization: `Bearer ${eve.token}`, ...json }, body, signal: cancel.signal }).then(
        async (r) => {
          statuses.push(r.status);
          return r;
        },
        () => void statuses.push('gone'),
      ),
    );
    // two run, eight wait: the eleventh is refused, before any of them ends
    const first = await Promise.race(hostile);
    expect(first?.status).toBe(429);
    expect(((await first!.json()) as { error: string }).error).toBe('rate_limited');
    expect(first!.headers.get('retry-after')).not.toBeNull();
    // another tenant's assembly runs beside eve's: a slot of its own at once
    await upload(api, file);
    expect(statuses).toEqual([429]);
    // eve's clients go away: their assemblies stop, the waiting ones never start,
    // and eve's next assembly gets a slot (without the stop it would wait minutes)
    cancel.abort();
    await Promise.all(hostile);
    const small = chunked(randomBytes(5 * 1024 * 1024));
    await upload(eve, small);
  });

  it('a chunk above the chunk limit is 413', async () => {
    const big = Buffer.alloc(MAX_CHUNK_BYTES + 1);
    expect((await api.request('PUT', `/v1/chunks/${sha256(big)}`, { body: big })).status).toBe(413);
  });
});

describe('content collector', () => {
  let srv: TestServer;
  let api: Api;
  const blobPath = (dir: string, h: string) => join(dir, 'blobs', h.slice(0, 2), h.slice(2, 4), h);

  afterEach(() => srv.close());

  it('keeps the content of a deleted file that the version period still holds, after the journal floor passed it', async () => {
    srv = await startTestServer({ gcIntervalMs: 0, gcUploadGraceMs: 0, gcOrphanGraceMs: 0, retentionEntries: 1 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    const kept = chunked(randomBytes(5 * 1024 * 1024));
    await upload(api, kept);
    const k = (await api.one({ op: 'create', kind: 'file', parent: 'root', name: 'kept', hash: kept.hash, size: kept.size, mtime: 0 })).node;
    await api.one({ op: 'delete', id: k.id, base_rev: 1 });
    await api.mkdir('later');
    await srv.server.trim();
    const report = await srv.server.gc();
    expect(report.deleted).toBe(0);
    for (const c of kept.chunks) expect(existsSync(blobPath(srv.dataDir, c.hash))).toBe(true);
  });

  it('deletes uncommitted uploads and content of trimmed history, keeps what live nodes and retained entries need', async () => {
    // keepVersionsDays 0: versions are kept only back to the journal floor, so a trim lets them go
    srv = await startTestServer({ gcIntervalMs: 0, gcUploadGraceMs: 0, gcOrphanGraceMs: 0, retentionEntries: 1, keepVersionsDays: 0 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    const live = chunked(randomBytes(5 * 1024 * 1024));
    const gone = chunked(randomBytes(5 * 1024 * 1024));
    const stray = await api.putBlob('never committed');
    await upload(api, live);
    await upload(api, gone);
    await api.one({ op: 'create', kind: 'file', parent: 'root', name: 'live', hash: live.hash, size: live.size, mtime: 0 });
    const g = (await api.one({ op: 'create', kind: 'file', parent: 'root', name: 'gone', hash: gone.hash, size: gone.size, mtime: 0 })).node;
    await api.one({ op: 'delete', id: g.id, base_rev: 1 });
    // the deleted file is still in the retained journal: kept
    let report = await srv.server.gc();
    expect(report.deleted).toBe(1); // the stray upload only
    expect(existsSync(blobPath(srv.dataDir, stray.hash))).toBe(false);
    expect(existsSync(blobPath(srv.dataDir, gone.chunks[0]!.hash))).toBe(true);
    // once trimmed out of the journal it goes
    await api.mkdir('later');
    await srv.server.trim();
    report = await srv.server.gc();
    expect(report.deleted).toBe(gone.chunks.length);
    for (const c of gone.chunks) expect(existsSync(blobPath(srv.dataDir, c.hash))).toBe(false);
    for (const c of live.chunks) expect(existsSync(blobPath(srv.dataDir, c.hash))).toBe(true);
    const back = await fetch(`${srv.url}/v1/blobs/${live.hash}`, { headers: { authorization: `Bearer ${api.token}` } });
    expect(Buffer.from(await back.arrayBuffer()).equals(live.data)).toBe(true);
    expect((await api.get(`/v1/blobs/${gone.hash}`)).status).toBe(404);
  });

  it('within the grace periods nothing is deleted', async () => {
    srv = await startTestServer({ gcIntervalMs: 0, gcUploadGraceMs: 0 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    const stray = await api.putBlob('unneeded but recent');
    const report = await srv.server.gc();
    expect(report).toMatchObject({ droppedRefs: 1, deleted: 0, orphans: 1 });
    expect(existsSync(blobPath(srv.dataDir, stray.hash))).toBe(true);
  });

  it('a pass that crashed after moving blobs aside: the next pass restores what is needed and deletes the rest', async () => {
    srv = await startTestServer({ gcIntervalMs: 0, gcOrphanGraceMs: 3_600_000 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    const kept = await api.file('kept', 'needed content');
    const unneeded = Buffer.from('nobody needs this');
    const trash = gcTrashDir(srv.dataDir);
    await mkdir(trash, { recursive: true });
    // the crash: the needed blob sits in gc-trash instead of its place; an unneeded one too
    await copyFile(blobPath(srv.dataDir, kept.hash!), join(trash, kept.hash!));
    const { unlink, writeFile } = await import('node:fs/promises');
    await unlink(blobPath(srv.dataDir, kept.hash!));
    await writeFile(join(trash, sha256(unneeded)), unneeded);
    await srv.server.gc();
    expect(existsSync(join(trash, kept.hash!))).toBe(false);
    expect(existsSync(join(trash, sha256(unneeded)))).toBe(false);
    expect((await api.get(`/v1/blobs/${kept.hash}`)).text).toBe('needed content');
  });

  it('a server settles gc-trash at start and runs its first full pass only gcFirstDelayMs later', async () => {
    const { mkdtemp } = await import('node:fs/promises');
    const dataDir = await mkdtemp(join(tmpdir(), 'syncd-server-'));
    srv = await startTestServer({ dataDir, gcIntervalMs: 0, gcUploadGraceMs: 0, gcOrphanGraceMs: 0 });
    api = new Api(srv.url, await srv.addDevice('ns'));
    const kept = await api.file('kept', 'needed content');
    const stray = await api.putBlob('uploaded, never committed');
    await srv.close();
    // a crashed pass left the needed blob in gc-trash
    const trash = gcTrashDir(dataDir);
    await mkdir(trash, { recursive: true });
    await copyFile(blobPath(dataDir, kept.hash!), join(trash, kept.hash!));
    const { unlink } = await import('node:fs/promises');
    await unlink(blobPath(dataDir, kept.hash!));
    // started and stopped before its first pass (close waits for what runs): gc-trash settled, nothing collected
    const early = await startTestServer({ dataDir, gcIntervalMs: 3_600_000, gcFirstDelayMs: 3_600_000, gcUploadGraceMs: 0, gcOrphanGraceMs: 0 });
    await early.close();
    expect(existsSync(blobPath(dataDir, kept.hash!))).toBe(true);
    expect(existsSync(join(trash, kept.hash!))).toBe(false);
    expect(existsSync(blobPath(dataDir, stray.hash))).toBe(true);
    // the first pass comes by itself once its delay is over
    srv = await startTestServer({ dataDir, gcIntervalMs: 3_600_000, gcFirstDelayMs: 50, gcUploadGraceMs: 0, gcOrphanGraceMs: 0 });
    for (let i = 0; i < 200 && existsSync(blobPath(dataDir, stray.hash)); i++) await new Promise((r) => setTimeout(r, 25));
    expect(existsSync(blobPath(dataDir, stray.hash))).toBe(false);
    expect(existsSync(blobPath(dataDir, kept.hash!))).toBe(true);
  });
});
