// The history CLI's adapter against lying and broken servers: it shares the
// agent's Sender, so an endless reply, a silent server, a malformed reply
// and escape sequences in names all end in a clear error or safe text.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HistoryApi } from '../../../../src/client/history/api.js';
import { startFakeServer, type FakeServer } from '../../../helpers/fake-server.js';

const H = 'a'.repeat(64);
const node = { id: 'n1', parent: 'root', name: 'a.txt', kind: 'file', rev: 1, size: 3, hash: H, mtime: 0, exec: false, seq: 4 };

let fake: FakeServer;
let api: HistoryApi;
beforeEach(async () => {
  fake = await startFakeServer();
  api = new HistoryApi({ server: fake.url, token: 't', userAgent: 'test', headersTimeoutMs: 500, bodyTimeoutMs: 500, maxJsonBytes: 64 * 1024 });
});
afterEach(async () => {
  await fake.close();
});

describe('HistoryApi', () => {
  it('reads a history reply and sends the token and path', async () => {
    fake.on('GET', '/v1/history', { json: { node: { id: 'n1', path: 'a.txt', kind: 'file', deleted: false }, versions: [{ rev: 1, seq: 4, op: 'create', time: 5, device: 'd', device_label: 'laptop', node }] } });
    const h = await api.history('dir/a b.txt');
    expect(h.versions[0]!.node.hash).toBe(H);
    expect(fake.requests[0]!.query.get('path')).toBe('dir/a b.txt');
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer t');
  });

  it('a busy server (429, 503) is asked again after its Retry-After; one still busy after five more tries is said so', async () => {
    let calls = 0;
    fake.on('GET', '/v1/history', (_req, res) => {
      calls++;
      if (calls <= 2) {
        res.writeHead(calls === 1 ? 429 : 503, { 'content-type': 'application/json', 'retry-after': '0' });
        res.end(JSON.stringify({ error: calls === 1 ? 'rate_limited' : 'unavailable', message: 'busy' }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ node: { id: 'n1', path: 'a.txt', kind: 'file', deleted: false }, versions: [{ rev: 1, seq: 4, op: 'create', time: 5, device: 'd', device_label: 'laptop', node }] }));
    });
    expect((await api.history('a.txt')).versions).toHaveLength(1);
    expect(calls).toBe(3);
    let busy = 0;
    fake.on('GET', '/v1/deleted', (_req, res) => {
      busy++;
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '0' });
      res.end(JSON.stringify({ error: 'rate_limited', message: 'busy' }));
    });
    await expect(api.deleted('')).rejects.toMatchObject({ code: 'rate_limited' });
    expect(busy).toBe(6);
  });

  it('an endless reply stops at the size cap with a protocol error', async () => {
    fake.on('GET', '/v1/activity', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const piece = Buffer.alloc(16 * 1024, 0x20);
      const pump = (): void => {
        while (!res.destroyed && res.write(piece));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.write('{"entries":[');
      pump();
    });
    await expect(api.activity('', 10)).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/exceeds 65536 bytes/) });
  });

  it('a server that never answers times out instead of hanging the command', async () => {
    fake.on('GET', '/v1/deleted', { hang: true });
    await expect(api.deleted('')).rejects.toMatchObject({ code: 'network', message: expect.stringMatching(/no reply within the timeout/) });
  });

  it('a reply of the wrong shape names the bad field', async () => {
    fake.on('GET', '/v1/history', { json: { node: { id: 'n1', path: 'a', kind: 'file', deleted: false }, versions: [{ rev: 0, seq: 1, node }] } });
    await expect(api.history('a')).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/reply\.versions\[0\]\.rev/) });
  });

  it('escape sequences and bidi controls in names come back printable', async () => {
    fake.on('GET', '/v1/deleted', { json: { entries: [{ id: 'x', path: 'evil\u001b[2J\u202e.txt', kind: 'file', rev: 2, seq: 3, time: null, device: 'd', device_label: 'bad\u0007' }] } });
    const [d] = await api.deleted('');
    expect(d!.path).toBe('evil\ufffd[2J\ufffd.txt');
    expect(d!.device_label).toBe('bad\ufffd');
  });

  it("the server's error code and message reach the user; an old server is named as such", async () => {
    fake.on('POST', '/v1/restore', { status: 404, json: { error: 'not_found', message: 'rev 99 is not in the kept history' } });
    await expect(api.restore('a', { rev: 99 })).rejects.toMatchObject({ code: 'not_found', message: expect.stringMatching(/rev 99 is not in the kept history/) });
    fake.on('POST', '/v1/rewind', { status: 404, json: { error: 'not_found', message: 'no such endpoint: /v1/rewind' } });
    await expect(api.rewind('', 1, true)).rejects.toMatchObject({ code: 'server_too_old' });
  });

  it('download checks the hash and leaves nothing behind when it does not match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'syncd-hist-'));
    try {
      const body = Buffer.from('hello');
      const good = createHash('sha256').update(body).digest('hex');
      fake.on('GET', `/v1/blobs/${good}`, { body });
      await api.download(good, join(dir, 'ok'), 0o644);
      expect(readFileSync(join(dir, 'ok'), 'utf8')).toBe('hello');
      fake.on('GET', `/v1/blobs/${H}`, { body });
      await expect(api.download(H, join(dir, 'bad'), 0o644)).rejects.toMatchObject({ code: 'hash_mismatch' });
      expect(() => readFileSync(join(dir, 'bad'))).toThrow();
      await expect(api.download('b'.repeat(64), join(dir, 'gone'), 0o644)).rejects.toMatchObject({ code: 'blob_missing' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
