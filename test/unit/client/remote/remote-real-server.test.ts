// RemoteClient and transfer against the real server (in-process, port 0):
// the client and the server agree on the wire.

import { randomUUID } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { downloadManyToTemp, downloadToTemp } from '../../../../src/client/transfer/transfer.js';
import { uploadFile } from '../../../../src/client/transfer/upload.js';
import type { OpResult, WireNode } from '../../../../src/protocol/types.js';
import { sha256, startTestServer, type TestServer } from '../../../helpers/server.js';

let srv: TestServer;
let client: RemoteClient;
let dir: string;

beforeAll(async () => {
  srv = await startTestServer();
  client = new RemoteClient({ server: srv.url, token: await srv.addDevice('ns1', 'laptop') });
  dir = await mkdtemp(join(tmpdir(), 'syncd-remote-real-'));
});
afterAll(async () => {
  await client?.close();
  await srv?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const opId = (): string => randomUUID();
const body = (s: string | Buffer) => () => Readable.from([Buffer.from(s)]);

async function text(r: Readable): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of r) out.push(c as Buffer);
  return Buffer.concat(out).toString();
}

function ok(r: OpResult | undefined): WireNode {
  if (!r || r.status !== 'ok') throw new Error(`expected ok, got ${JSON.stringify(r)}`);
  return r.node;
}

describe('RemoteClient against the real server', () => {
  let start: string; // cursor of the empty namespace
  const HELLO = 'hello world';

  test('status of a fresh namespace', async () => {
    const s = await client.status();
    expect(s.namespace).toBe('ns1');
    expect(s.head).toBe(0);
    expect(s.devices.map((d) => d.label)).toContain('laptop');
  });

  test('list of an empty namespace gives the start cursor', async () => {
    const l = await client.list();
    expect(l).toMatchObject({ entries: [], seq: 0, has_more: false });
    start = l.cursor;
  });

  test('putBlob: created, then exists; a wrong hash is refused', async () => {
    expect(await client.putBlob(sha256(HELLO), HELLO.length, body(HELLO))).toBe('created');
    expect(await client.putBlob(sha256(HELLO), HELLO.length, body(HELLO))).toBe('exists');
    await expect(client.putBlob(sha256('other'), HELLO.length, body(HELLO))).rejects.toMatchObject({ code: 'hash_mismatch' });
  });

  test('commit, list and changes agree', async () => {
    const results = await client.commit([
      { op_id: opId(), op: 'create', parent: 'root', name: 'docs', kind: 'dir' },
      { op_id: opId(), op: 'create', parent: 'root', name: 'hello.txt', kind: 'file', hash: sha256(HELLO), size: HELLO.length, mtime: 1, exec: false },
      { op_id: opId(), op: 'create', parent: 'root', name: 'link', kind: 'symlink', target: 'hello.txt' },
      { op_id: opId(), op: 'create', parent: 'root', name: 'x', kind: 'file', hash: 'ff'.repeat(32), size: 1 },
    ]);
    expect(results.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'error']);
    expect(results[3]).toMatchObject({ status: 'error', error: 'blob_missing' });
    const docs = ok(results[0]);
    expect(ok(results[1])).toMatchObject({ name: 'hello.txt', kind: 'file', hash: sha256(HELLO), size: HELLO.length });
    expect(ok(results[2])).toMatchObject({ kind: 'symlink', target: 'hello.txt' });

    const l = await client.list({ limit: 2 });
    expect(l.has_more).toBe(true);
    const l2 = await client.list({ limit: 2, pageToken: l.page_token! });
    expect([...l.entries, ...l2.entries].map((n) => n.name).sort()).toEqual(['docs', 'hello.txt', 'link']);

    const c = await client.changes(start);
    expect(c.entries.map((e) => [e.seq, e.op, e.node.name])).toEqual([
      [1, 'create', 'docs'],
      [2, 'create', 'hello.txt'],
      [3, 'create', 'link'],
    ]);
    expect(c.head).toBe(3);
    const paged = await client.changes(start, 1);
    expect(paged).toMatchObject({ has_more: true, head: 3 });
    expect(paged.entries).toHaveLength(1);
    const conflict = await client.commit([{ op_id: opId(), op: 'move', id: docs.id, base_rev: docs.rev + 5, parent: 'root', name: 'docs2' }]);
    expect(conflict[0]).toMatchObject({ status: 'conflict', current: { id: docs.id } });
  });

  test('a tampered cursor → reset invalid; a bad token → unauthorized', async () => {
    await expect(client.changes('not-a-cursor')).rejects.toMatchObject({ code: 'reset', reason: 'invalid' });
    const bad = new RemoteClient({ server: srv.url, token: 'wrong' });
    try {
      await expect(bad.status()).rejects.toMatchObject({ code: 'unauthorized' });
    } finally {
      await bad.close();
    }
  });

  test('a bad limit → bad_request', async () => {
    await expect(client.changes(start, 0)).rejects.toMatchObject({ code: 'bad_request', status: 400 });
  });

  test('longpoll wakes on a commit', async () => {
    const head = await client.changes(start, 10_000);
    const p = client.longpoll(head.cursor, 30);
    // give the longpoll time to park on the server; a commit before that also answers changes: true
    await new Promise((r) => setTimeout(r, 50));
    await client.commit([{ op_id: opId(), op: 'create', parent: 'root', name: 'woke', kind: 'dir' }]);
    expect(await p).toMatchObject({ changes: true });
  });

  test('longpoll with nothing new times out with changes: false', async () => {
    const head = await client.changes(start, 10_000);
    expect(await client.longpoll(head.cursor, 1)).toMatchObject({ changes: false });
  });

  test('the event stream reports the head after a commit', async () => {
    const head = await client.changes(start, 10_000);
    const ac = new AbortController();
    const seen: number[] = [];
    let wake: () => void = () => {};
    const advanced = new Promise<void>((r) => (wake = r));
    const done = client.events(head.cursor, (h) => {
      seen.push(h);
      wake();
    }, ac.signal);
    await new Promise((r) => setTimeout(r, 50));
    await client.commit([{ op_id: opId(), op: 'create', parent: 'root', name: 'sse', kind: 'dir' }]);
    await advanced;
    ac.abort();
    await expect(done).resolves.toBeUndefined();
    expect(seen).toEqual([head.head + 1]);
  });

  test('getBlob whole and with Range', async () => {
    const whole = await client.getBlob(sha256(HELLO));
    expect(whole.status).toBe(200);
    expect(whole.total).toBe(HELLO.length);
    expect(await text(whole.body)).toBe(HELLO);
    const part = await client.getBlob(sha256(HELLO), { start: 6 });
    expect(part.status).toBe(206);
    expect(part.total).toBe(HELLO.length);
    expect(await text(part.body)).toBe('world');
    await expect(client.getBlob('ab'.repeat(32))).rejects.toMatchObject({ code: 'not_found' });
  });

  test('fetchBlobs: frames for present, missing and empty blobs', async () => {
    const big = Buffer.alloc(300_000, 'z');
    await client.putBlob(sha256(big), big.length, body(big));
    await client.putBlob(sha256(''), 0, body(''));
    const seen: Array<[string, number, number]> = [];
    const hashes = [sha256(HELLO), 'ab'.repeat(32), sha256(''), sha256(big)];
    await client.fetchBlobs(hashes, async (h, size, b) => {
      seen.push([h, size, size === -1 ? -1 : (await text(b)).length]);
    });
    expect(seen).toEqual([
      [sha256(HELLO), HELLO.length, HELLO.length],
      ['ab'.repeat(32), -1, -1],
      [sha256(''), 0, 0],
      [sha256(big), big.length, big.length],
    ]);
    expect(client.supportsBatchFetch).toBe(true);
  });

  test('another namespace cannot read this one\'s blobs', async () => {
    const other = new RemoteClient({ server: srv.url, token: await srv.addDevice('ns2', 'x') });
    try {
      await expect(other.getBlob(sha256(HELLO))).rejects.toMatchObject({ code: 'not_found' });
      const sizes: number[] = [];
      await other.fetchBlobs([sha256(HELLO)], async (_h, size) => void sizes.push(size));
      expect(sizes).toEqual([-1]);
    } finally {
      await other.close();
    }
  });
});

describe('transfer against the real server', () => {
  test('uploadFile, then downloadToTemp and downloadManyToTemp bring back the same bytes', async () => {
    const contents = [Buffer.alloc(5 * 1024 * 1024, 'L'), Buffer.from('small one'), Buffer.from('small two'), Buffer.from('small one')];
    const hashes: string[] = [];
    for (const [i, c] of contents.entries()) {
      const p = join(dir, `up${i}`);
      writeFileSync(p, c);
      const st = statSync(p);
      const r = await uploadFile(client, p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
      expect(r).toMatchObject({ hash: sha256(c), size: c.length }); // large files also carry their chunk list
      hashes.push(r.hash);
    }
    const one = await downloadToTemp(client, { hash: hashes[1]!, size: contents[1]!.length, dirAbs: dir });
    expect(readFileSync(one).equals(contents[1]!)).toBe(true);

    const res = await downloadManyToTemp(client, contents.map((c, i) => ({ hash: hashes[i]!, size: c.length, dirAbs: dir })));
    res.forEach((r, i) => {
      expect(r.ok, `item ${i}`).toBe(true);
      if (r.ok) expect(readFileSync(r.path).equals(contents[i]!)).toBe(true);
    });
  });

  test('a size the server does not have is a hash_mismatch, not a file', async () => {
    const e = await downloadToTemp(client, { hash: sha256('hello world'), size: 3, dirAbs: dir }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(RemoteError);
    expect((e as RemoteError).code).toBe('hash_mismatch');
  });
});
