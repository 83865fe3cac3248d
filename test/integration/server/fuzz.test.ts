// Hostile input: random bodies, queries, cursors, headers, paths, methods and
// raw malformed HTTP. Nothing may answer 5xx, crash the server, or change data.

import { connect } from 'node:net';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

const seed = Number(process.env.SYNCD_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
let srv: TestServer;
let api: Api;
let baseline: string;

beforeAll(async () => {
  console.log(`fuzz seed: ${seed} (replay with SYNCD_FUZZ_SEED=${seed})`);
  srv = await startTestServer();
  api = new Api(srv.url, await srv.addDevice('fuzz'));
  await api.mkdir('keep');
  await api.file('data.txt', 'content');
  baseline = await snapshot();
});
afterAll(() => srv.close());

async function snapshot(): Promise<string> {
  const l = await api.listAll();
  return JSON.stringify({ nodes: l.nodes, seq: l.seq });
}

function expectClientError(status: number, text: string, what: string): void {
  expect(status, `${what} → ${status} ${text.slice(0, 200)}`).toBeLessThan(500);
  if (status >= 400) {
    const body = JSON.parse(text);
    expect(typeof body.error, what).toBe('string');
    expect(typeof body.message, what).toBe('string');
  }
}

const pathArb = fc.oneof(
  fc.constantFrom('/v1/list', '/v1/changes', '/v1/longpoll', '/v1/events', '/v1/commit', '/v1/status', '/v1/blobs/fetch', '/healthz', '/metrics', '/v1/blobs/'),
  fc.string({ maxLength: 40 }).map((s) => `/v1/${encodeURIComponent(s)}`),
  fc.string({ maxLength: 70 }).map((s) => `/v1/blobs/${encodeURIComponent(s)}`),
);
const queryArb = fc.array(
  fc.tuple(fc.constantFrom('limit', 'cursor', 'page_token', 'timeout', 'x'), fc.oneof(fc.string({ maxLength: 30 }), fc.integer().map(String), fc.constantFrom('1', '0', '-1', '481', 'c1.AAAA.BBBB', 'p1..', '%zz'))),
  { maxLength: 4 },
);

describe('fuzz', () => {
  it('random requests to every route never get a 5xx and never change data', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS'),
        pathArb,
        queryArb,
        fc.oneof(fc.constant(undefined), fc.string({ maxLength: 200 }), fc.json({ maxDepth: 3 }), fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a))),
        fc.constantFrom('good', 'none', 'bad', 'weird'),
        async (method, path, query, body, auth) => {
          const qs = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&');
          // timeout is clamped to 1 s so a valid longpoll cannot stall the run
          const url = `${srv.url}${path}${qs ? `?${qs}` : ''}`.replace(/timeout=[^&]*/, (m) => (/^timeout=(\d+)$/.test(m) ? 'timeout=1' : m));
          const headers: Record<string, string> = {};
          if (auth === 'good') headers.authorization = `Bearer ${api.token}`;
          if (auth === 'bad') headers.authorization = 'Bearer syncd_' + 'x'.repeat(43);
          if (auth === 'weird') headers.authorization = 'Bearer \u00ff\u00fe';
          const ac = new AbortController();
          const timer = setTimeout(() => ac.abort(), 3000);
          try {
            const res = await fetch(url, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body, signal: ac.signal });
            const text = path === '/v1/events' && res.status === 200 ? '' : await res.text();
            if (path === '/v1/events') ac.abort();
            if (method !== 'HEAD') expectClientError(res.status, text, `${method} ${url}`);
            else expect(res.status).toBeLessThan(500);
          } catch (err) {
            // fetch itself refuses some header bytes; an abort ends an SSE stream
            if (!(err instanceof TypeError) && (err as Error).name !== 'AbortError') throw err;
          } finally {
            clearTimeout(timer);
          }
        },
      ),
      { numRuns: 300, seed },
    );
    expect(await snapshot()).toBe(baseline);
    expect(srv.logs).toEqual([]);
  });

  it('random commit bodies never get a 5xx and never change data', async () => {
    const opArb = fc.record(
      {
        op_id: fc.oneof(fc.string(), fc.uuid()),
        op: fc.constantFrom('create', 'update', 'move', 'delete', 'nope'),
        kind: fc.constantFrom('file', 'dir', 'symlink', 'x'),
        parent: fc.oneof(fc.constant('n_nothere'), fc.string({ maxLength: 70 })),
        id: fc.oneof(fc.constant('n_nothere'), fc.string()),
        name: fc.oneof(fc.string({ maxLength: 300 }), fc.integer()),
        base_rev: fc.oneof(fc.integer(), fc.double(), fc.string()),
        hash: fc.oneof(fc.string(), fc.stringMatching(/^[0-9a-f]{64}$/)),
        size: fc.oneof(fc.integer(), fc.double()),
        target: fc.string({ maxLength: 50 }),
      },
      { requiredKeys: ['op'] },
    );
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.record({ ops: fc.array(opArb, { maxLength: 5 }) }), fc.anything()), async (body) => {
        let json: string;
        try {
          json = JSON.stringify(body) ?? 'null';
        } catch {
          return;
        }
        const r = await api.request('POST', '/v1/commit', { body: json });
        expectClientError(r.status, r.text, json.slice(0, 200));
        if (r.status === 200) for (const res of r.body.results) expect(res.status).not.toBe('ok');
      }),
      { numRuns: 300, seed },
    );
    expect(await snapshot()).toBe(baseline);
  });

  it.each([
    ['garbage request line', 'HELLO\r\n\r\n'],
    ['bad header line', 'GET /v1/status HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n'],
    ['header with a control byte', 'GET /v1/status HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n'],
    ['huge header', `GET /v1/status HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`],
    ['bad content-length', 'POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n'],
    ['conflicting lengths', 'POST /v1/commit HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['bad chunk', 'POST /v1/commit HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['absolute-form target', 'GET http://evil.example/v1/status HTTP/1.1\r\nHost: x\r\n\r\n'],
    ['asterisk target', 'OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'],
  ])('raw malformed HTTP: %s → 4xx JSON', async (_d, raw) => {
    const reply = await rawRequest(raw);
    const m = /^HTTP\/1\.1 (\d{3})/.exec(reply);
    expect(m, reply.slice(0, 200)).not.toBeNull();
    const status = Number(m![1]);
    expect(status).toBeGreaterThanOrEqual(400);
    expect(status).toBeLessThan(500);
    const body = reply.slice(reply.indexOf('\r\n\r\n') + 4);
    expect(JSON.parse(body)).toMatchObject({ error: expect.any(String), message: expect.any(String) });
  });

  it('the server still serves after all of it', async () => {
    expect((await fetch(`${srv.url}/healthz`)).status).toBe(200);
    expect(await snapshot()).toBe(baseline);
  });
});

function rawRequest(raw: string): Promise<string> {
  const { hostname, port } = new URL(srv.url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname);
    let out = '';
    sock.on('data', (d) => (out += d.toString('latin1')));
    sock.on('end', () => resolve(out));
    sock.on('close', () => resolve(out));
    sock.on('error', (e) => (out ? resolve(out) : reject(e)));
    sock.setTimeout(3000, () => sock.destroy());
    sock.end(Buffer.from(raw, 'latin1'));
  });
}
