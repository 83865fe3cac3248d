// How every failure a server or the network can produce comes out of
// RemoteClient: always a RemoteError with a stable code, never an undici
// error or a TypeError.

import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { isRetryable, parseRetryAfter, RemoteError, translateNetworkError, type RemoteErrorCode } from '../../../../src/client/remote/errors.js';
import { SyncdError } from '../../../../src/protocol/errors.js';
import { refusedUrl, startFakeServer, type FakeReply, type FakeServer } from '../../../helpers/fake-server.js';

const HASH = 'ab'.repeat(32);

let fake: FakeServer;
let client: RemoteClient;

beforeEach(async () => {
  fake = await startFakeServer();
  client = new RemoteClient({ server: fake.url, token: 'tok' });
});
afterEach(async () => {
  await client.close();
  await fake.close();
});

async function failure(p: Promise<unknown>): Promise<RemoteError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(RemoteError);
    expect(e).toBeInstanceOf(SyncdError);
    return e as RemoteError;
  }
  throw new Error('expected the call to fail');
}

const err = (status: number, error: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): FakeReply => ({
  status,
  headers,
  json: { error, message: `server says ${error}`, ...extra },
});

interface Case {
  name: string;
  reply: FakeReply;
  code: RemoteErrorCode;
  fields?: Partial<Pick<RemoteError, 'status' | 'reason' | 'retryAfterS' | 'serverCode'>>;
  message?: RegExp;
}

const CASES: Case[] = [
  { name: '401 unknown token', reply: err(401, 'unauthorized'), code: 'unauthorized', fields: { status: 401 }, message: /token.*(wrong|revoked).*add-device/s },
  { name: '403 is treated as a rejected token', reply: err(403, 'forbidden'), code: 'unauthorized', fields: { status: 403 } },
  { name: '409 reset invalid', reply: err(409, 'reset', { reason: 'invalid' }), code: 'reset', fields: { reason: 'invalid', status: 409 } },
  { name: '409 reset expired', reply: err(409, 'reset', { reason: 'expired' }), code: 'reset', fields: { reason: 'expired' } },
  { name: '409 reset future', reply: err(409, 'reset', { reason: 'future' }), code: 'reset', fields: { reason: 'future' } },
  { name: '409 reset epoch', reply: err(409, 'reset', { reason: 'epoch' }), code: 'reset', fields: { reason: 'epoch' } },
  { name: '409 reset with an unknown reason still resets', reply: err(409, 'reset', { reason: 'cosmic-rays' }), code: 'reset', fields: { reason: 'invalid' }, message: /cosmic-rays/ },
  { name: '409 reset with no reason', reply: err(409, 'reset'), code: 'reset', fields: { reason: 'invalid' } },
  { name: '409 conflict', reply: err(409, 'conflict'), code: 'conflict', fields: { serverCode: 'conflict' } },
  { name: '429 with Retry-After seconds', reply: err(429, 'rate_limited', {}, { 'retry-after': '7' }), code: 'rate_limited', fields: { retryAfterS: 7, status: 429 } },
  { name: '429 without Retry-After defaults to 5 s', reply: err(429, 'rate_limited'), code: 'rate_limited', fields: { retryAfterS: 5 } },
  { name: '503 with Retry-After', reply: err(503, 'unavailable', {}, { 'retry-after': '12' }), code: 'unavailable', fields: { retryAfterS: 12, status: 503 } },
  { name: '503 with garbage Retry-After defaults to 5 s', reply: err(503, 'unavailable', {}, { 'retry-after': 'soon' }), code: 'unavailable', fields: { retryAfterS: 5 } },
  { name: '503 from a proxy, HTML body', reply: { status: 503, body: '<html>down</html>' }, code: 'unavailable', fields: { retryAfterS: 5 } },
  { name: '500', reply: err(500, 'internal'), code: 'server_error', fields: { status: 500 } },
  { name: '502 HTML from a proxy', reply: { status: 502, body: '<h1>Bad Gateway</h1>' }, code: 'server_error', fields: { status: 502 } },
  { name: '404', reply: err(404, 'not_found'), code: 'not_found', fields: { status: 404 } },
  { name: '413', reply: err(413, 'too_large'), code: 'too_large', fields: { status: 413 } },
  { name: '400 bad_request', reply: err(400, 'bad_request'), code: 'bad_request', fields: { status: 400, serverCode: 'bad_request' } },
  { name: '405', reply: { status: 405, body: '' }, code: 'bad_request', fields: { status: 405 } },
  { name: 'a redirect is not followed', reply: { status: 302, headers: { location: 'http://elsewhere/' }, body: '' }, code: 'protocol' },
  { name: '204 where JSON is due', reply: { status: 204 }, code: 'protocol' },
  { name: '200 that is not JSON', reply: { body: '<html>hello</html>' }, code: 'protocol', message: /not JSON/ },
  { name: '200 with an empty body', reply: { body: '' }, code: 'protocol', message: /empty body/ },
  { name: '200 with truncated JSON', reply: { body: '{"entries": [' }, code: 'protocol' },
  { name: 'connection dropped mid-body', reply: { json: { entries: [], cursor: 'c', has_more: false, head: 0, pad: 'x'.repeat(5000) }, dropAfterBytes: 100 }, code: 'network', message: /unreachable/ },
  { name: 'connection dropped before any reply', reply: { destroy: true }, code: 'network' },
  { name: 'error message with control characters is sanitised', reply: { status: 400, json: { error: 'bad_request', message: 'line1\nline2\u0000' } }, code: 'bad_request', message: /line1 line2/ },
];

describe('error translation (GET /v1/changes)', () => {
  test.each(CASES)('$name', async (c) => {
    fake.on('GET', '/v1/changes', c.reply);
    const e = await failure(client.changes('cur'));
    expect(e.code).toBe(c.code);
    expect(e.server).toBe(fake.url);
    if (c.fields) expect(e).toMatchObject(c.fields);
    if (c.message) expect(e.message).toMatch(c.message);
    expect(e.message).not.toMatch(/\n/);
  });
});

describe('network failures', () => {
  test('connection refused names the server and says it is unreachable', async () => {
    const url = await refusedUrl();
    const c = new RemoteClient({ server: url, token: 't' });
    try {
      const e = await failure(c.status());
      expect(e.code).toBe('network');
      expect(e.message).toContain(url);
      expect(e.message).toMatch(/unreachable \(connection refused\)/);
      expect(isRetryable(e)).toBe(true);
    } finally {
      await c.close();
    }
  });

  test('a connection dropped before any reply is retried once on a fresh connection, with the same body', async () => {
    fake.on('POST', '/v1/commit', { destroy: true }, { json: { results: [{ status: 'error', error: 'not_found', message: 'x' }] } });
    const ops = [{ op_id: 'op-00000001', op: 'delete' as const, id: 'n_1', base_rev: 1 }];
    const r = await client.commit(ops);
    expect(r).toEqual([{ status: 'error', error: 'not_found', message: 'x' }]);
    const seen = fake.seen('POST', '/v1/commit');
    expect(seen).toHaveLength(2);
    expect(seen[1]!.body.equals(seen[0]!.body)).toBe(true);
  });

  test('an upload dropped before any reply is replayed from a fresh stream', async () => {
    const { Readable } = await import('node:stream');
    fake.on('PUT', `/v1/blobs/${HASH}`, { destroy: true }, { status: 201, body: '' });
    let opened = 0;
    const r = await client.putBlob(HASH, 3, () => {
      opened++;
      return Readable.from([Buffer.from('abc')]);
    });
    expect(r).toBe('created');
    expect(opened).toBe(2);
    expect(fake.seen('PUT', `/v1/blobs/${HASH}`).map((q) => q.body.toString())).toEqual(['abc', 'abc']);
  });

  test('only once: a server that keeps dropping gives network', async () => {
    fake.on('GET', '/v1/status', { destroy: true });
    await expect(client.status()).rejects.toMatchObject({ code: 'network' });
    expect(fake.seen('GET', '/v1/status')).toHaveLength(2);
  });

  test('no reply within the headers timeout', async () => {
    fake.on('GET', '/v1/status', { hang: true });
    const c = new RemoteClient({ server: fake.url, token: 't', headersTimeoutMs: 200 });
    try {
      const e = await failure(c.status());
      expect(e.code).toBe('network');
      expect(e.message).toMatch(/no reply within the timeout/);
    } finally {
      await c.close();
    }
  });

  test('a body that stalls past the body timeout', async () => {
    fake.on('GET', '/v1/status', { chunks: ['{"namespace":', { delayMs: 5000 }, '"x"}'] });
    const c = new RemoteClient({ server: fake.url, token: 't', bodyTimeoutMs: 200 });
    try {
      const e = await failure(c.status());
      expect(e.code).toBe('network');
      expect(e.message).toMatch(/stalled/);
    } finally {
      await c.close();
    }
  });

  test('a closed client fails with network, not an undici error', async () => {
    await client.close();
    const e = await failure(client.status());
    expect(e.code).toBe('network');
    expect(e.message).toMatch(/closed/);
  });

  test('an aborted longpoll rejects with the abort, untranslated', async () => {
    fake.on('GET', '/v1/longpoll', { hang: true });
    const ac = new AbortController();
    const p = client.longpoll('cur', 30, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await expect(p).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('upload errors', () => {
  test('400 hash_mismatch from PUT', async () => {
    fake.on('PUT', `/v1/blobs/${HASH}`, err(400, 'hash_mismatch'));
    const e = await failure(client.putBlob(HASH, 3, () => (async function* () { yield Buffer.from('abc'); })() as never));
    expect(e.code).toBe('hash_mismatch');
  });

  test('413 from PUT', async () => {
    fake.on('PUT', `/v1/blobs/${HASH}`, err(413, 'too_large'));
    const { Readable } = await import('node:stream');
    const e = await failure(client.putBlob(HASH, 3, () => Readable.from([Buffer.from('abc')])));
    expect(e.code).toBe('too_large');
  });

  test('an unexpected 2xx status from PUT is a protocol error', async () => {
    fake.on('PUT', `/v1/blobs/${HASH}`, { status: 202, body: '' });
    const { Readable } = await import('node:stream');
    const e = await failure(client.putBlob(HASH, 3, () => Readable.from([Buffer.from('abc')])));
    expect(e.code).toBe('protocol');
  });
});

describe('parseRetryAfter', () => {
  const NOW = Date.parse('2025-01-01T00:00:00Z');
  test.each([
    { raw: undefined, want: 5, why: 'absent' },
    { raw: '0', want: 0, why: 'zero' },
    { raw: '42', want: 42, why: 'seconds' },
    { raw: ' 42 ', want: 42, why: 'padded' },
    { raw: '-3', want: 5, why: 'negative is unusable' },
    { raw: '1.5', want: 5, why: 'fraction is unusable' },
    { raw: '99999999', want: 3600, why: 'clamped to an hour' },
    { raw: 'Wed, 01 Jan 2025 00:02:00 GMT', want: 120, why: 'HTTP date' },
    { raw: 'Tue, 31 Dec 2024 23:00:00 GMT', want: 0, why: 'date in the past' },
    { raw: ['9', '10'], want: 9, why: 'repeated header: first wins' },
    { raw: 'soon', want: 5, why: 'garbage' },
  ])('$why: $raw → $want', ({ raw, want }) => {
    expect(parseRetryAfter(raw, NOW)).toBe(want);
  });
});

describe('translateNetworkError', () => {
  test.each([
    { code: 'ECONNRESET', want: 'network' },
    { code: 'ENOTFOUND', want: 'network' },
    { code: 'EAI_AGAIN', want: 'network' },
    { code: 'UND_ERR_CONNECT_TIMEOUT', want: 'network' },
    { code: 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', want: 'protocol' },
  ])('$code → $want', ({ code, want }) => {
    const e = Object.assign(new Error('x'), { code });
    const t = translateNetworkError(e, 'http://s');
    expect(t).toBeInstanceOf(RemoteError);
    expect((t as RemoteError).code).toBe(want);
    expect((t as RemoteError).cause).toBe(e);
  });

  test('an AggregateError of connect failures uses its first error', () => {
    const e = new AggregateError([Object.assign(new Error('a'), { code: 'ECONNREFUSED' })], 'all failed');
    expect((translateNetworkError(e, 'http://s') as RemoteError).message).toMatch(/connection refused/);
  });

  test.each([
    { name: 'a local file error', e: Object.assign(new Error('nope'), { code: 'ENOENT' }) },
    { name: 'a bug', e: new TypeError('x is undefined') },
    { name: 'an abort', e: Object.assign(new Error('aborted'), { name: 'AbortError' }) },
  ])('$name passes through unchanged', ({ e }) => {
    expect(translateNetworkError(e, 'http://s')).toBe(e);
  });
});
