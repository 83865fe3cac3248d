// The HTTP contract of shared/PROTOCOL.md, as one suite that runs against
// any server implementation: pass a factory that starts a fresh server
// (SQLite: sqlite.test.ts; PostgreSQL: postgres.test.ts) and can add devices to it.

import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, sha256 } from '../helpers/server.js';
import { EMPTY_SHA256 as EMPTY_HASH } from '../../src/server/store/decide.js';
import type { ChangesReply, ListReply, WireNode } from '../../src/protocol/types.js';
import names from '../../fixtures/server/names.json' with { type: 'json' };

export interface ContractServer {
  url: string;
  addDevice(namespace?: string, label?: string): Promise<string>;
  close(): Promise<void>;
}

export type ServerFactory = () => Promise<ContractServer>;

const NFC = 'caf\u00e9';
const NFD = 'cafe\u0301';

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error).toBe(code);
  expect(typeof r.body.message).toBe('string');
}

export function serverContract(name: string, factory: ServerFactory, opts: { skip?: boolean } = {}): void {
  (opts.skip ? describe.skip : describe)(`server contract: ${name}`, () => {
    let srv: ContractServer;
    let nsCount = 0;
    /** a device in a fresh namespace, so tests never see each other's data */
    const fresh = async (): Promise<Api> => new Api(srv.url, await srv.addDevice(`ns${++nsCount}-${randomUUID().slice(0, 8)}`, 'dev'));

    beforeAll(async () => {
      srv = await factory();
    });
    afterAll(async () => {
      await srv?.close();
    });

    describe('auth and routing', () => {
      it.each([
        ['no header', {}],
        ['not Bearer', { authorization: 'Basic abc' }],
        ['malformed token', { authorization: 'Bearer x' }],
        ['unknown token', { authorization: `Bearer syncd_${'A'.repeat(43)}` }],
      ])('401 unauthorized: %s', async (_d, headers) => {
        const r = await fetch(`${srv.url}/v1/status`, { headers });
        expectError({ status: r.status, body: await r.json() }, 401, 'unauthorized');
      });

      it('404 not_found for an unknown route, 405 with Allow for a wrong method', async () => {
        const api = await fresh();
        expectError(await api.get('/v1/nope'), 404, 'not_found');
        const r = await api.request('DELETE', '/v1/list');
        expectError(r, 405, 'method_not_allowed');
        expect(r.headers.get('allow')).toBe('GET');
      });

      it('/healthz answers 200 without a token; /metrics serves Prometheus text', async () => {
        const h = await fetch(`${srv.url}/healthz`);
        expect(h.status).toBe(200);
        const m = await fetch(`${srv.url}/metrics`);
        expect(m.status).toBe(200);
        const text = await m.text();
        for (const metric of [
          'syncd_http_requests_total',
          'syncd_longpoll_waiters',
          'syncd_cursor_resets_total',
          'syncd_commit_conflicts_total',
          'syncd_journal_head',
          'syncd_journal_floor',
          'syncd_device_cursor_lag',
          'syncd_oldest_device_cursor',
          'syncd_retention_misses_total',
        ]) {
          expect(text).toContain(metric);
        }
      });
    });

    describe('blobs', () => {
      it('PUT: 201 when new to the namespace, 200 when it had it, 201 again in another namespace', async () => {
        const a = await fresh();
        const b = await fresh();
        const content = `blob ${randomUUID()}`;
        expect((await a.putBlob(content)).status).toBe(201);
        expect((await a.putBlob(content)).status).toBe(200);
        expect((await b.putBlob(content)).status).toBe(201);
      });

      it('PUT with the wrong hash: 400 hash_mismatch, nothing stored', async () => {
        const api = await fresh();
        const hash = sha256('the real content');
        const r = await api.request('PUT', `/v1/blobs/${hash}`, { body: 'other content' });
        expectError(r, 400, 'hash_mismatch');
        expectError(await api.get(`/v1/blobs/${hash}`), 404, 'not_found');
      });

      it('400 for a path that is not a SHA-256', async () => {
        const api = await fresh();
        expectError(await api.request('PUT', '/v1/blobs/ABC', { body: 'x' }), 400, 'bad_request');
        expectError(await api.get(`/v1/blobs/${'A'.repeat(64)}`), 400, 'bad_request');
      });

      it('GET returns the bytes; another namespace gets 404 even knowing the hash', async () => {
        const a = await fresh();
        const b = await fresh();
        const content = Buffer.from(`secret ${randomUUID()}`);
        const { hash } = await a.putBlob(content);
        const r = await a.get(`/v1/blobs/${hash}`);
        expect(r.status).toBe(200);
        expect(r.text).toBe(content.toString());
        expect(r.headers.get('content-length')).toBe(String(content.length));
        expect(r.headers.get('accept-ranges')).toBe('bytes');
        expectError(await b.get(`/v1/blobs/${hash}`), 404, 'not_found');
      });

      it.each([
        ['bytes=2-5', 206, '2345', 'bytes 2-5/10'],
        ['bytes=7-', 206, '789', 'bytes 7-9/10'],
        ['bytes=-3', 206, '789', 'bytes 7-9/10'],
        ['bytes=8-100', 206, '89', 'bytes 8-9/10'],
        ['bytes=0-1,4-5', 200, '0123456789', null],
        ['items=0-1', 200, '0123456789', null],
      ])('Range %s → %i', async (range, status, body, contentRange) => {
        const api = await fresh();
        const { hash } = await api.putBlob('0123456789');
        const r = await api.get(`/v1/blobs/${hash}`, { range });
        expect(r.status).toBe(status);
        expect(r.text).toBe(body);
        expect(r.headers.get('content-range')).toBe(contentRange);
      });

      it('Range past the end: 416 range_not_satisfiable with Content-Range */size', async () => {
        const api = await fresh();
        const { hash } = await api.putBlob('0123456789');
        const r = await api.get(`/v1/blobs/${hash}`, { range: 'bytes=10-20' });
        expectError(r, 416, 'range_not_satisfiable');
        expect(r.headers.get('content-range')).toBe('bytes */10');
      });

      it('HEAD gives the size without a body', async () => {
        const api = await fresh();
        const { hash } = await api.putBlob('abc');
        const r = await api.request('HEAD', `/v1/blobs/${hash}`);
        expect(r.status).toBe(200);
        expect(r.headers.get('content-length')).toBe('3');
        expect(r.text).toBe('');
      });

      it('the empty blob is readable and referenceable without an upload', async () => {
        const api = await fresh();
        const empty = sha256('');
        const r = await api.get(`/v1/blobs/${empty}`);
        expect(r.status).toBe(200);
        expect(r.text).toBe('');
        const [res] = await api.commit([{ op: 'create', kind: 'file', parent: 'root', name: 'empty', hash: empty, size: 0 }]);
        expect(res!.status).toBe('ok');
      });

      it('POST /v1/blobs/fetch frames each hash, -1 for those the namespace may not read', async () => {
        const a = await fresh();
        const b = await fresh();
        const x = await a.putBlob('first blob');
        const y = await a.putBlob('second\nblob with newline');
        const foreign = await b.putBlob(`b only ${randomUUID()}`);
        const r = await fetch(`${srv.url}/v1/blobs/fetch`, {
          method: 'POST',
          headers: { authorization: `Bearer ${a.token}` },
          // the empty content is readable by everyone without a ref
          body: JSON.stringify({ hashes: [x.hash, foreign.hash, y.hash, x.hash, EMPTY_HASH] }),
        });
        expect(r.status).toBe(200);
        expect(r.headers.get('content-type')).toBe('application/octet-stream');
        const buf = Buffer.from(await r.arrayBuffer());
        const frames: Array<[string, number, string]> = [];
        let off = 0;
        while (off < buf.length) {
          const nl = buf.indexOf(10, off);
          const [h, s] = buf.subarray(off, nl).toString().split(' ') as [string, string];
          const size = Number(s);
          off = nl + 1;
          const data = size > 0 ? buf.subarray(off, off + size).toString() : '';
          off += Math.max(0, size);
          frames.push([h, size, data]);
        }
        expect(frames).toEqual([
          [x.hash, 10, 'first blob'],
          [foreign.hash, -1, ''],
          [y.hash, 24, 'second\nblob with newline'],
          [x.hash, 10, 'first blob'],
          [EMPTY_HASH, 0, ''],
        ]);
      });

      it('POST /v1/blobs/fetch rejects bad bodies (400) and more than 1000 hashes (413)', async () => {
        const api = await fresh();
        const post = (body: string) => api.request('POST', '/v1/blobs/fetch', { body });
        expectError(await post('{"hashes":"x"}'), 400, 'bad_request');
        expectError(await post('{"hashes":[]}'), 400, 'bad_request');
        expectError(await post('{"hashes":["nothex"]}'), 400, 'bad_request');
        expectError(await post('not json'), 400, 'bad_request');
        expectError(await post(JSON.stringify({ hashes: Array(1001).fill(sha256('')) })), 413, 'too_large');
      });
    });

    describe('commit', () => {
      it('creates a file, a directory and a symlink with the documented node fields', async () => {
        const api = await fresh();
        const b = await api.putBlob('hello');
        const [f, d, l] = await api.commit([
          { op: 'create', kind: 'file', parent: 'root', name: 'a.txt', hash: b.hash, size: 5, mtime: 1763700000000, exec: true },
          { op: 'create', kind: 'dir', parent: 'root', name: 'docs', mtime: 5 },
          { op: 'create', kind: 'symlink', parent: 'root', name: 'link', target: 'docs/x' },
        ]);
        expect(f).toMatchObject({ status: 'ok', seq: 1 });
        const fn = (f as { node: WireNode }).node;
        expect(fn).toEqual({
          id: fn.id,
          parent: 'root',
          name: 'a.txt',
          kind: 'file',
          rev: 1,
          size: 5,
          hash: b.hash,
          mtime: 1763700000000,
          exec: true,
          seq: 1,
        });
        expect(fn.id).toMatch(/^n_[A-Za-z0-9_-]{16,}$/);
        expect((d as { node: WireNode }).node).toMatchObject({ kind: 'dir', rev: 1, seq: 2, exec: false, mtime: 5 });
        expect((d as { node: WireNode }).node).not.toHaveProperty('hash');
        expect((l as { node: WireNode }).node).toMatchObject({ kind: 'symlink', target: 'docs/x', seq: 3 });
        expect((l as { node: WireNode }).node).not.toHaveProperty('size');
      });

      it('blob_missing for a hash the namespace never uploaded (even if another did) or a wrong size', async () => {
        const a = await fresh();
        const b = await fresh();
        const theirs = await b.putBlob(`theirs ${randomUUID()}`);
        const mine = await a.putBlob('mine');
        const res = await a.commit([
          { op: 'create', kind: 'file', parent: 'root', name: 'x', hash: theirs.hash, size: theirs.size },
          { op: 'create', kind: 'file', parent: 'root', name: 'y', hash: mine.hash, size: 99 },
          { op: 'create', kind: 'file', parent: 'root', name: 'z', hash: sha256('never'), size: 5 },
        ]);
        expect(res.map((r) => (r as { error?: string }).error)).toEqual(['blob_missing', 'blob_missing', 'blob_missing']);
      });

      it.each([
        ...names.invalid.map((n) => [n.name, n.why]),
        ['x'.repeat(256), '256 bytes'],
        ['é'.repeat(128), '256 UTF-8 bytes'],
      ])('invalid_name: %j (%s)', async (name) => {
        const api = await fresh();
        const [r] = await api.commit([{ op: 'create', kind: 'dir', parent: 'root', name }]);
        expect(r).toMatchObject({ status: 'error', error: 'invalid_name' });
      });

      it.each(names.valid.map((v) => [v.name, v.why]))('accepts %j (%s) as given', async (name) => {
        const api = await fresh();
        expect((await api.mkdir(name)).name).toBe(name);
        expect((await api.listAll()).nodes.map((n) => n.name)).toEqual([name]);
      });

      it('accepts a 255-byte name and stores names in NFC', async () => {
        const api = await fresh();
        const d = await api.mkdir('y'.repeat(255));
        expect(d.name.length).toBe(255);
        const n = await api.mkdir(NFD);
        expect(n.name).toBe(NFC);
      });

      it.each(names.twins.map((t) => [t.a, t.b, t.why]))('name_taken for a twin: %s vs %s (%s)', async (first, second) => {
        const api = await fresh();
        await api.mkdir(first);
        const [r] = await api.commit([{ op: 'create', kind: 'dir', parent: 'root', name: second }]);
        expect(r).toMatchObject({ status: 'error', error: 'name_taken' });
      });

      it('parent_not_found (unknown or deleted parent) and not_a_directory', async () => {
        const api = await fresh();
        const f = await api.file('f');
        const d = await api.mkdir('d');
        await api.one({ op: 'delete', id: d.id, base_rev: 1 });
        const res = await api.commit([
          { op: 'create', kind: 'dir', parent: 'n_doesnotexist', name: 'x' },
          { op: 'create', kind: 'dir', parent: d.id, name: 'x' },
          { op: 'create', kind: 'dir', parent: f.id, name: 'x' },
        ]);
        expect(res.map((r) => (r as { error?: string }).error)).toEqual(['parent_not_found', 'parent_not_found', 'not_a_directory']);
      });

      it('update: rev + 1, new content; stale base_rev → conflict with the current node', async () => {
        const api = await fresh();
        const f = await api.file('f.txt', 'v1');
        const v2 = await api.putBlob('version 2');
        const up = await api.one({ op: 'update', id: f.id, base_rev: 1, hash: v2.hash, size: v2.size, mtime: 9, exec: true });
        expect(up.node).toMatchObject({ rev: 2, hash: v2.hash, size: v2.size, mtime: 9, exec: true, seq: up.seq, name: 'f.txt' });
        const [c] = await api.commit([{ op: 'update', id: f.id, base_rev: 1, mtime: 10 }]);
        expect(c).toEqual({ status: 'conflict', current: up.node });
      });

      it('update ignores fields that do not apply to the kind; a symlink gets a new target', async () => {
        const api = await fresh();
        const d = await api.mkdir('d');
        const up = await api.one({ op: 'update', id: d.id, base_rev: 1, mtime: 7, exec: true, target: 'x' });
        expect(up.node).toEqual({ ...d, rev: 2, mtime: 7, seq: up.seq });
        const l = (await api.one({ op: 'create', kind: 'symlink', parent: 'root', name: 'l', target: 'a' })).node;
        const ul = await api.one({ op: 'update', id: l.id, base_rev: 1, target: 'b' });
        expect(ul.node.target).toBe('b');
      });

      it('update with an unknown hash → blob_missing; unknown node → not_found', async () => {
        const api = await fresh();
        const f = await api.file('f');
        const res = await api.commit([
          { op: 'update', id: f.id, base_rev: 1, hash: sha256('nope'), size: 4 },
          { op: 'update', id: 'n_unknown', base_rev: 1, mtime: 1 },
        ]);
        expect(res.map((r) => (r as { error?: string }).error)).toEqual(['blob_missing', 'not_found']);
      });

      it('move: rename, case-only rename of the same node, name_taken, cycle', async () => {
        const api = await fresh();
        const a = await api.mkdir('a');
        const b = await api.mkdir('b', a.id);
        const c = await api.mkdir('c', b.id);
        await api.mkdir('other');
        const m1 = await api.one({ op: 'move', id: a.id, base_rev: 1, parent: 'root', name: 'A' });
        expect(m1.node).toMatchObject({ name: 'A', rev: 2, parent: 'root' });
        const res = await api.commit([
          { op: 'move', id: a.id, base_rev: 2, parent: 'root', name: 'OTHER' },
          { op: 'move', id: a.id, base_rev: 2, parent: a.id, name: 'x' },
          { op: 'move', id: a.id, base_rev: 2, parent: c.id, name: 'x' },
          { op: 'move', id: a.id, base_rev: 2, parent: 'root', name: 'bad/name' },
          { op: 'move', id: a.id, base_rev: 1, parent: 'root', name: 'z' },
        ]);
        expect(res.map((r) => (r as { error?: string }).error ?? r.status)).toEqual([
          'name_taken',
          'cycle',
          'cycle',
          'invalid_name',
          'conflict',
        ]);
        // moving a child up is fine, and keeps its id
        const up = await api.one({ op: 'move', id: c.id, base_rev: 1, parent: 'root', name: 'c' });
        expect(up.node).toMatchObject({ id: c.id, parent: 'root', rev: 2 });
      });

      it('deleting a directory is ONE entry; its subtree is gone; the name is free again', async () => {
        const api = await fresh();
        const cur = await api.startCursor();
        const d = await api.mkdir('d');
        const sub = await api.mkdir('sub', d.id);
        const f = await api.file('f', 'x', sub.id);
        const del = await api.one({ op: 'delete', id: d.id, base_rev: 1 });
        expect(del.node).toMatchObject({ id: d.id, rev: 2, seq: del.seq });
        const ch = await api.changesAll(cur);
        expect(ch.entries.map((e) => e.op)).toEqual(['create', 'create', 'create', 'delete']);
        expect((await api.listAll()).nodes).toEqual([]);
        const res = await api.commit([
          { op: 'update', id: f.id, base_rev: 1, mtime: 3 },
          { op: 'delete', id: sub.id, base_rev: 1 },
          { op: 'delete', id: d.id, base_rev: 2 },
          { op: 'create', kind: 'dir', parent: sub.id, name: 'x' },
          { op: 'create', kind: 'dir', parent: 'root', name: 'D' },
        ]);
        expect(res.map((r) => (r as { error?: string }).error ?? r.status)).toEqual([
          'not_found',
          'not_found',
          'not_found',
          'parent_not_found',
          'ok',
        ]);
      });

      it('a retried op_id returns its first result and writes nothing; a failed op is judged afresh', async () => {
        const api = await fresh();
        const opId = randomUUID();
        const op = { op_id: opId, op: 'create' as const, kind: 'dir' as const, parent: 'root', name: 'once' };
        const [first] = await api.commit([op]);
        const [again] = await api.commit([op]);
        expect(again).toEqual(first);
        const st = await api.get('/v1/status');
        expect(st.body.head).toBe(1);
        // a failure is not remembered
        const b = await api.putBlob('later');
        const fop = { op_id: randomUUID(), op: 'create' as const, kind: 'file' as const, parent: 'root', name: 'f', hash: sha256('later!'), size: 6 };
        expect((await api.commit([fop]))[0]).toMatchObject({ error: 'blob_missing' });
        const fixed = { ...fop, hash: b.hash, size: b.size };
        expect((await api.commit([fixed]))[0]).toMatchObject({ status: 'ok', seq: 2 });
      });

      it.each([
        ['not JSON', '{nope', 400, 'bad_request'],
        ['empty body', '', 400, 'bad_request'],
        ['array body', '[]', 400, 'bad_request'],
        ['no ops', '{"ops":[]}', 400, 'bad_request'],
        ['unknown op', '{"ops":[{"op_id":"12345678","op":"chmod"}]}', 400, 'bad_request'],
        ['file without hash', '{"ops":[{"op_id":"12345678","op":"create","kind":"file","parent":"root","name":"x"}]}', 400, 'bad_request'],
        ['bad base_rev', '{"ops":[{"op_id":"12345678","op":"delete","id":"n_x","base_rev":0}]}', 400, 'bad_request'],
        ['dup op_id', '{"ops":[{"op_id":"12345678","op":"delete","id":"n_x","base_rev":1},{"op_id":"12345678","op":"delete","id":"n_y","base_rev":1}]}', 400, 'bad_request'],
      ])('400 for a malformed commit: %s', async (_d, body, status, code) => {
        const api = await fresh();
        expectError(await api.request('POST', '/v1/commit', { body }), status, code);
      });

      it('413 too_large for more than 1000 ops or a body over 4 MiB', async () => {
        const api = await fresh();
        const ops = Array.from({ length: 1001 }, (_, i) => ({ op_id: `op-${i}-xxxxxx`, op: 'delete', id: 'n_x', base_rev: 1 }));
        expectError(await api.request('POST', '/v1/commit', { body: JSON.stringify({ ops }) }), 413, 'too_large');
        const big = JSON.stringify({ ops: [], pad: 'x'.repeat(4 * 1024 * 1024 + 10) });
        expectError(await api.request('POST', '/v1/commit', { body: big }), 413, 'too_large');
        expect((await api.get('/v1/status')).body.head).toBe(0);
      });
    });

    describe('list', () => {
      it('pages by node id with one pinned seq and cursor, even with commits between pages', async () => {
        const api = await fresh();
        for (let i = 0; i < 7; i++) await api.mkdir(`d${i}`);
        let extra = 0;
        const listed = await api.listAll(2, async () => {
          await api.mkdir(`late${extra++}`);
        });
        expect(listed.pages).toBeGreaterThanOrEqual(4); // late nodes with ids past the walk are listed too
        expect(listed.seq).toBe(7);
        const ids = listed.nodes.map((n) => n.id);
        expect([...ids].sort()).toEqual(ids);
        // every node that existed at S is listed
        const names = new Set(listed.nodes.map((n) => n.name));
        for (let i = 0; i < 7; i++) expect(names.has(`d${i}`)).toBe(true);
        // the listing's cursor continues at S + 1
        const ch = await api.get<ChangesReply>(`/v1/changes?cursor=${encodeURIComponent(listed.cursor)}`);
        expect(ch.body.entries[0]!.seq).toBe(8);
        expect(ch.body.head).toBe(7 + extra);
      });

      it('has no page_token on the last page; an empty namespace lists at seq 0', async () => {
        const api = await fresh();
        const r = await api.get<ListReply>('/v1/list');
        expect(r.body).toMatchObject({ entries: [], seq: 0, has_more: false });
        expect(r.body.page_token).toBeUndefined();
      });

      it.each(['0', '10001', 'abc', '1.5', '-1', ''])('400 for limit=%j', async (limit) => {
        const api = await fresh();
        expectError(await api.get(`/v1/list?limit=${limit}`), 400, 'bad_request');
      });

      it('400 for a malformed, tampered or foreign page_token', async () => {
        const a = await fresh();
        const b = await fresh();
        for (let i = 0; i < 3; i++) await b.mkdir(`x${i}`);
        const page = await b.get<ListReply>('/v1/list?limit=1');
        const tok = page.body.page_token!;
        expectError(await a.get('/v1/list?page_token=garbage'), 400, 'bad_request');
        expectError(await b.get(`/v1/list?page_token=${encodeURIComponent(tok.slice(0, -2) + 'AA')}`), 400, 'bad_request');
        expectError(await a.get(`/v1/list?page_token=${encodeURIComponent(tok)}`), 400, 'bad_request');
      });
    });

    describe('changes', () => {
      it('returns entries in seq order, pages with has_more, and the same cursor when nothing is new', async () => {
        const api = await fresh();
        const c0 = await api.startCursor();
        for (let i = 0; i < 5; i++) await api.mkdir(`d${i}`);
        const p1 = await api.get<ChangesReply>(`/v1/changes?cursor=${encodeURIComponent(c0)}&limit=2`);
        expect(p1.body.entries.map((e) => e.seq)).toEqual([1, 2]);
        expect(p1.body).toMatchObject({ has_more: true, head: 5 });
        expect(p1.body.entries[0]).toMatchObject({ op: 'create', device: expect.stringMatching(/^d_/) });
        const rest = await api.changesAll(p1.body.cursor, 2);
        expect(rest.entries.map((e) => e.seq)).toEqual([3, 4, 5]);
        const empty = await api.get<ChangesReply>(`/v1/changes?cursor=${encodeURIComponent(rest.cursor)}`);
        expect(empty.body).toEqual({ entries: [], cursor: rest.cursor, has_more: false, head: 5 });
      });

      it('409 reset/invalid for a garbage, tampered or foreign cursor', async () => {
        const a = await fresh();
        const b = await fresh();
        const cb = await b.startCursor();
        const ca = await a.startCursor();
        for (const bad of ['garbage', ca.slice(0, -1) + (ca.endsWith('A') ? 'B' : 'A'), cb]) {
          const r = await a.get(`/v1/changes?cursor=${encodeURIComponent(bad)}`);
          expectError(r, 409, 'reset');
          expect(r.body.reason).toBe('invalid');
        }
      });

      it('400 for a missing cursor, a bad limit or a repeated parameter', async () => {
        const api = await fresh();
        const c = encodeURIComponent(await api.startCursor());
        expectError(await api.get('/v1/changes'), 400, 'bad_request');
        expectError(await api.get(`/v1/changes?cursor=${c}&limit=0`), 400, 'bad_request');
        expectError(await api.get(`/v1/changes?cursor=${c}&cursor=${c}`), 400, 'bad_request');
      });
    });

    describe('longpoll and events', () => {
      it('answers at once when the head is past the cursor', async () => {
        const api = await fresh();
        const c = await api.startCursor();
        await api.mkdir('x');
        const r = await api.get(`/v1/longpoll?cursor=${encodeURIComponent(c)}&timeout=5`);
        expect(r.body).toEqual({ changes: true });
      });

      it('wakes on a commit', async () => {
        const api = await fresh();
        const c = await api.startCursor();
        const poll = api.get(`/v1/longpoll?cursor=${encodeURIComponent(c)}&timeout=30`);
        await new Promise((r) => setTimeout(r, 100));
        await api.mkdir('wake');
        expect((await poll).body).toEqual({ changes: true });
      });

      it('times out with changes:false, not before the timeout', async () => {
        const api = await fresh();
        const c = await api.startCursor();
        const t0 = Date.now();
        const r = await api.get(`/v1/longpoll?cursor=${encodeURIComponent(c)}&timeout=1`);
        expect(r.body).toEqual({ changes: false });
        expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
      });

      it.each(['0', '481', 'x', '2.5'])('400 for timeout=%j; 409 reset for a bad cursor', async (timeout) => {
        const api = await fresh();
        const c = encodeURIComponent(await api.startCursor());
        expectError(await api.get(`/v1/longpoll?cursor=${c}&timeout=${timeout}`), 400, 'bad_request');
        expectError(await api.get('/v1/longpoll?cursor=nope'), 409, 'reset');
      });

      it('events: SSE sends advanced at once when behind, then on each commit', async () => {
        const api = await fresh();
        const c = await api.startCursor();
        await api.mkdir('one');
        const ac = new AbortController();
        const res = await fetch(`${srv.url}/v1/events?cursor=${encodeURIComponent(c)}`, {
          headers: { authorization: `Bearer ${api.token}` },
          signal: ac.signal,
        });
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toContain('text/event-stream');
        const reader = res.body!.getReader();
        let buf = '';
        const next = async (): Promise<unknown> => {
          for (;;) {
            const m = /event: advanced\ndata: (.*)\n\n/.exec(buf);
            if (m) {
              buf = buf.slice(m.index + m[0].length);
              return JSON.parse(m[1]!);
            }
            const { value, done } = await reader.read();
            if (done) throw new Error('stream ended');
            buf += Buffer.from(value).toString();
          }
        };
        expect(await next()).toEqual({ head: 1 });
        await api.mkdir('two');
        expect(await next()).toEqual({ head: 2 });
        ac.abort();
        expectError(await api.get('/v1/events?cursor=bad'), 409, 'reset');
      });
    });

    describe('status and isolation', () => {
      it('reports namespace, head, floor, retention, devices with cursor and lag, the caller and protocol', async () => {
        const api = await fresh();
        await api.mkdir('a');
        await api.mkdir('b');
        const list = await api.get<ListReply>('/v1/list');
        await api.mkdir('c');
        await api.get(`/v1/changes?cursor=${encodeURIComponent(list.body.cursor)}`);
        const st = await api.get('/v1/status');
        expect(st.status).toBe(200);
        expect(st.body).toMatchObject({
          head: 3,
          floor: 1,
          protocol: 1,
          device: expect.stringMatching(/^d_/),
          server_version: expect.any(String),
          epoch: expect.any(String),
          namespace: expect.any(String),
        });
        expect(st.body.retention).toHaveProperty('max_age_s');
        expect(st.body.retention).toHaveProperty('max_entries');
        const me = st.body.devices.find((d: { id: string }) => d.id === st.body.device);
        expect(me).toMatchObject({ label: 'dev', cursor_seq: 2, lag: 1, last_seen: expect.any(Number) });
      });

      it('a token acts only on its own namespace', async () => {
        const a = await fresh();
        const b = await fresh();
        const secret = await a.file('secret.txt', `secret ${randomUUID()}`);
        expect((await b.listAll()).nodes).toEqual([]);
        const res = await b.commit([
          { op: 'update', id: secret.id, base_rev: 1, mtime: 1 },
          { op: 'delete', id: secret.id, base_rev: 1 },
          { op: 'create', kind: 'file', parent: 'root', name: 'steal', hash: secret.hash, size: secret.size },
        ]);
        expect(res.map((r) => (r as { error?: string }).error)).toEqual(['not_found', 'not_found', 'blob_missing']);
        expect((await a.listAll()).nodes).toEqual([secret]);
      });
    });
  });
}
