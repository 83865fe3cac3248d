// Partials of large downloads cut short (src/client/transfer/partials.ts and
// the resume in chunked-download.ts), against the real server (in-process,
// port 0): a partial holding some of a file's chunks at their offsets is
// taken over by the next download in its directory, which fetches only the
// chunks it lacks; a chunk of the partial that does not hash right is
// fetched, a download cut short leaves its own partial, a lying chunk list
// leaves none. And the registry: what it keeps, drops and lets rmdir pass.

import { link, mkdir, mkdtemp, open, readdir, readFile, rm, stat, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PART_PREFIX } from '../../../../src/core/syncd-names.js';
import { nodeFsys } from '../../../../src/client/disk/fsys.js';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { Partials, rmdirPastPartials } from '../../../../src/client/transfer/partials.js';
import type { BlobRemote } from '../../../../src/client/transfer/temp-files.js';
import { downloadToTemp } from '../../../../src/client/transfer/transfer.js';
import { uploadFile } from '../../../../src/client/transfer/upload.js';
import { baseSeed, seededBytes } from '../../../helpers/rng.js';
import { sha256, startTestServer, type TestServer } from '../../../helpers/server.js';

const seed = baseSeed(15);
console.log(`partials seed=${seed} (replay: SYNCD_SEED=${seed})`);
const MiB = 1024 * 1024;

const bytes = seededBytes;

let srv: TestServer;
let client: RemoteClient;
let dir: string;

beforeAll(async () => {
  srv = await startTestServer({ gcIntervalMs: 0 });
  client = new RemoteClient({ server: srv.url, token: await srv.addDevice('ns', 'laptop') });
  dir = await mkdtemp(join(tmpdir(), 'syncd-partials-'));
});
afterAll(async () => {
  await client?.close();
  await srv?.close();
  await rm(dir, { recursive: true, force: true });
});

type Chunk = { hash: string; offset: number; size: number };

/** `data` on the server as chunks; its chunk list */
async function onServer(data: Buffer, name: string): Promise<Chunk[]> {
  const p = join(dir, `up-${name}`);
  await writeFile(p, data);
  const st = await stat(p);
  await uploadFile(client, p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
  return (await client.fileChunks(sha256(data))).chunks;
}

/** a remote that counts the chunk bytes it fetches, and fails (network) after `failAfter` chunks */
function counting(failAfter = Infinity) {
  const n = { bytes: 0, chunks: 0 };
  const getChunk: BlobRemote['getChunk'] = async (h, max, signal) => {
    if (n.chunks >= failAfter) throw new RemoteError('network', 'cut short', { server: srv.url });
    n.chunks++;
    const buf = await client.getChunk(h, max, signal);
    n.bytes += buf.length;
    return buf;
  };
  // the calls a chunked download makes, the chunk fetches counted
  const remote: BlobRemote = { getBlob: (...a) => client.getBlob(...a), fetchBlobBuffers: (...a) => client.fetchBlobBuffers(...a), putBlob: (...a) => client.putBlob(...a), fileChunks: (h) => client.fileChunks(h), getChunk };
  return { remote, n };
}

/** a partial in `at` holding `data`'s chunks `keep` at their offsets, the rest holes up to `length` */
async function partialOf(at: string, data: Buffer, chunks: readonly Chunk[], keep: (i: number) => boolean, length = data.length): Promise<string> {
  await mkdir(at, { recursive: true });
  const p = join(at, `${PART_PREFIX}${Math.random().toString(36).slice(2)}`);
  const fh = await open(p, 'wx');
  for (const [i, c] of chunks.entries()) if (keep(i)) await fh.write(data, c.offset, c.size, c.offset);
  await fh.truncate(length);
  await fh.close();
  return p;
}

async function offered(paths: string[]): Promise<Partials> {
  const partials = new Partials(nodeFsys, () => Date.now());
  await partials.met(await Promise.all(paths.map(async (p) => ({ path: p, size: (await stat(p)).size, mtimeMs: (await stat(p)).mtimeMs }))), true);
  return partials;
}

const sum = (cs: readonly Chunk[]) => cs.reduce((s, c) => s + c.size, 0);
const syncdNames = async (d: string) => (await readdir(d)).filter((n) => n.startsWith('.syncd'));

describe('a large download resumes from a partial beside it', () => {
  it('the first half of the chunks written, the rest holes: only the missing chunks are fetched, the partial is taken over', async () => {
    const data = bytes(seed, 12 * MiB + 77);
    const chunks = await onServer(data, 'half');
    expect(chunks.length).toBeGreaterThan(6);
    const half = Math.floor(chunks.length / 2);
    const at = join(dir, 'half');
    const p = await partialOf(at, data, chunks, (i) => i < half);
    const partials = await offered([p]);
    const { remote, n } = counting();
    const tmp = await downloadToTemp(remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials, fsync: false });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    expect(n.bytes).toBe(sum(chunks.slice(half)));
    expect(partials.size).toBe(0);
    expect(await syncdNames(at)).toEqual([tmp.slice(at.length + 1)]); // the partial became the temp file
  });

  it('without partials, the same download fetches every chunk (what the resume saves)', async () => {
    const data = bytes(seed, 12 * MiB + 77);
    const chunks = await onServer(data, 'half');
    const at = join(dir, 'none');
    await partialOf(at, data, chunks, (i) => i < chunks.length / 2);
    const { remote, n } = counting();
    await downloadToTemp(remote, { hash: sha256(data), size: data.length, dirAbs: at }, { fsync: false });
    expect(n.bytes).toBe(data.length);
  });

  it('a chunk of the partial that does not hash right is fetched, never used: the file is right', async () => {
    const data = bytes(seed + 1, 10 * MiB);
    const chunks = await onServer(data, 'flipped');
    const at = join(dir, 'flipped');
    const p = await partialOf(at, data, chunks, () => true);
    // one bit of chunk 2 flipped in place (a torn write, or bytes planted for us to take)
    const fh = await open(p, 'r+');
    const one = Buffer.alloc(1);
    await fh.read(one, 0, 1, chunks[2]!.offset + 5);
    one[0] = one[0]! ^ 1;
    await fh.write(one, 0, 1, chunks[2]!.offset + 5);
    await fh.close();
    const { remote, n } = counting();
    const tmp = await downloadToTemp(remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials: await offered([p]), fsync: false });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    expect(n.bytes).toBe(chunks[2]!.size);
  });

  it("a partial without the first chunk of the file (another file's, or cut short before it) is not taken over", async () => {
    const data = bytes(seed + 2, 9 * MiB);
    const chunks = await onServer(data, 'other');
    const at = join(dir, 'other');
    const p = await partialOf(at, data, chunks, (i) => i > 0);
    const longer = await partialOf(at, data, chunks, () => true, data.length + 1);
    const partials = await offered([p, longer]);
    const { remote, n } = counting();
    const tmp = await downloadToTemp(remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials, fsync: false });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    expect(n.bytes).toBe(data.length);
    expect(partials.size).toBe(2); // still offered: the next download may be theirs
    expect((await stat(p)).size).toBe(data.length);
  });

  it('a partial with a second link (to a file elsewhere) is never written in place: that file stays as it was', async () => {
    const data = bytes(seed + 6, 9 * MiB);
    const chunks = await onServer(data, 'linked');
    const at = join(dir, 'linked');
    const elsewhere = await partialOf(join(dir, 'elsewhere'), data, chunks, (i) => i < 2);
    const before = sha256(await readFile(elsewhere));
    await mkdir(at);
    const p = join(at, `${PART_PREFIX}linked`);
    await link(elsewhere, p);
    const { remote, n } = counting();
    const tmp = await downloadToTemp(remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials: await offered([p]), fsync: false });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    expect(sha256(await readFile(elsewhere))).toBe(before);
    expect((await stat(elsewhere)).nlink).toBe(1);
    expect(n.bytes).toBe(data.length);
  });

  it('a download cut short leaves a partial of what it wrote; the next attempt fetches only the rest', async () => {
    const data = bytes(seed + 3, 14 * MiB);
    const chunks = await onServer(data, 'cut');
    const at = join(dir, 'cut');
    await mkdir(at);
    const partials = new Partials(nodeFsys, () => Date.now());
    const first = counting(Math.floor(chunks.length / 2));
    await expect(downloadToTemp(first.remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials, fsync: false, retries: 0 })).rejects.toMatchObject({ code: 'network' });
    const left = await syncdNames(at);
    expect(left).toHaveLength(1);
    expect(left[0]!.startsWith(PART_PREFIX)).toBe(true);
    expect(partials.size).toBe(1);
    // what it holds at the right offsets is what the resume must not fetch again
    const held = await readFile(join(at, left[0]!));
    const kept = chunks.filter((c) => c.offset + c.size <= held.length && sha256(held.subarray(c.offset, c.offset + c.size)) === c.hash);
    expect(sum(kept)).toBeGreaterThan(data.length / 4);
    const again = counting();
    const tmp = await downloadToTemp(again.remote, { hash: sha256(data), size: data.length, dirAbs: at }, { partials, fsync: false });
    expect(sha256(await readFile(tmp))).toBe(sha256(data));
    expect(again.n.bytes).toBe(data.length - sum(kept));
  });

  it('a lying chunk list (chunks that do not make the file) fails the download and leaves no partial', async () => {
    const data = bytes(seed + 4, 9 * MiB);
    const other = bytes(seed + 5, 9 * MiB);
    await onServer(data, 'true');
    const otherChunks = await onServer(other, 'lie');
    const at = join(dir, 'lie');
    // a partial that fits the lie: it is taken over, and goes with the wrong file
    const p = await partialOf(at, other, otherChunks, (i) => i < 3);
    const partials = await offered([p]);
    const { remote } = counting();
    // the server answers the file's chunk list with another file's chunks, each of which it serves faithfully
    const liar: BlobRemote = { ...remote, fileChunks: async (h) => ({ ...(await client.fileChunks(sha256(other))), hash: h }) };
    await expect(downloadToTemp(liar, { hash: sha256(data), size: data.length, dirAbs: at }, { partials, fsync: false, retries: 0 })).rejects.toMatchObject({ code: 'hash_mismatch' });
    expect(await syncdNames(at)).toEqual([]);
    expect(partials.size).toBe(0);
  });
});

describe('the registry', () => {
  const big = 5 * MiB;
  async function file(at: string, name: string, size: number, hoursAgo = 0): Promise<string> {
    await mkdir(at, { recursive: true });
    const p = join(at, name);
    await writeFile(p, '');
    await truncate(p, size);
    const t = new Date(Date.now() - hoursAgo * 3_600_000);
    await utimes(p, t, t);
    return p;
  }

  it('a temp file cut short is kept when above one chunk; a smaller one is left to the caller to remove', async () => {
    const at = join(dir, 'reg-keep');
    const partials = new Partials(nodeFsys, () => Date.now());
    const small = await file(at, '.syncd-tmp-small', 4 * MiB);
    const large = await file(at, '.syncd-tmp-large', big);
    expect(await partials.keep(small)).toBe(false);
    expect(await partials.keep(large)).toBe(true);
    const names = await syncdNames(at);
    expect(names.filter((n) => n.startsWith(PART_PREFIX))).toHaveLength(1);
    expect(names).toContain('.syncd-tmp-small');
    expect(partials.candidates(at, big)).toEqual([join(at, names.find((n) => n.startsWith(PART_PREFIX))!)]);
    expect(partials.candidates(at, big - 1)).toEqual([]); // longer than the file: not it
    expect(partials.candidates(join(dir, 'elsewhere'), big)).toEqual([]);
  });

  it('a partial older than a day met by the start-up scan is removed; a scan of the whole folder forgets those it did not meet', async () => {
    const at = join(dir, 'reg-age');
    const old = await file(at, `${PART_PREFIX}old`, big, 25);
    const fresh = await file(at, `${PART_PREFIX}fresh`, big, 1);
    const partials = new Partials(nodeFsys, () => Date.now());
    const met = async (ps: string[], whole: boolean) => partials.met(await Promise.all(ps.map(async (p) => ({ path: p, size: big, mtimeMs: (await stat(p)).mtimeMs }))), whole);
    await met([old, fresh], true);
    expect(await syncdNames(at)).toEqual([`${PART_PREFIX}fresh`]);
    expect(partials.size).toBe(1);
    await met([], true);
    expect(partials.size).toBe(0);
    await met([fresh], false);
    expect(await partials.dropAll()).toBe(1);
    expect(await syncdNames(at)).toEqual([]);
  });

  it('rmdir passes a directory that holds nothing but partials; anything else there still keeps it', async () => {
    const only = join(dir, 'rm-only');
    await file(only, `${PART_PREFIX}a`, big);
    await rmdirPastPartials(nodeFsys, only);
    await expect(stat(only)).rejects.toMatchObject({ code: 'ENOENT' });
    const mixed = join(dir, 'rm-mixed');
    await file(mixed, `${PART_PREFIX}a`, big);
    await file(mixed, 'user.txt', 3);
    await expect(rmdirPastPartials(nodeFsys, mixed)).rejects.toMatchObject({ code: 'ENOTEMPTY' });
    expect((await readdir(mixed)).sort()).toEqual([`${PART_PREFIX}a`, 'user.txt']);
  });
});
