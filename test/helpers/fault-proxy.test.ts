// The fault proxy itself: transparent when every rate is 0 (bodies streamed
// both ways, statuses and headers kept), each fault really happens when its
// rate is up, and one seed gives one sequence of decisions.

import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAULT_KINDS, startFaultProxy, type FaultKind, type FaultProxy, type FaultRates } from './fault-proxy.js';

const SEED = Number(process.env.SYNCD_SEED ?? 42) >>> 0;
const BIG = randomBytes(5 * 1024 * 1024 + 17);

interface Upstream {
  url: string;
  server: Server;
  /** requests the upstream saw to the end, by method and path */
  seen: string[];
  /** releases the second half of GET /slow */
  release(): void;
}

let up: Upstream;

/** A stand-in server: echo, a big download, a held reply, a longpoll and a committed counter. */
async function startUpstream(): Promise<Upstream> {
  const seen: string[] = [];
  let release = (): void => {};
  let commits = 0;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen.push(`${req.method} ${path}`);
      const body = Buffer.concat(chunks);
      if (path === '/echo') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-sha': createHash('sha256').update(body).digest('hex'), 'content-length': body.length });
        res.end(body);
      } else if (path === '/big') {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length });
        res.end(BIG);
      } else if (path === '/slow') {
        // a streamed reply without a length: the first half must reach the client before the second exists
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('first ');
        release = () => res.end('second');
      } else if (path === '/busy') {
        res.writeHead(429, { 'retry-after': '7', 'content-type': 'application/json' });
        res.end('{"error":"rate_limited","message":"slow down"}');
      } else if (path === '/v1/longpoll') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ changes: false, n: seen.length }));
      } else if (path === '/v1/commit') {
        commits++;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ commits, pad: 'x'.repeat(2000) }));
      } else {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end('{"error":"not_found","message":"no"}');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen, release: () => release() };
}

interface Got {
  status: number;
  headers: IncomingMessage['headers'];
  body: Buffer;
  ms: number;
}

/** One request on a fresh connection; rejects when the connection dies. */
function call(base: string, method: string, path: string, body?: Buffer, onFirstChunk?: (c: Buffer) => void): Promise<Got> {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const req = request(base + path, { method, agent: false, headers: body ? { 'content-length': body.length } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => {
        if (chunks.length === 0) onFirstChunk?.(c);
        chunks.push(c);
      });
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks), ms: Date.now() - t0 }));
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('reply aborted')));
    });
    req.on('error', reject);
    req.end(body);
  });
}

async function withProxy<T>(faults: FaultRates, fn: (p: FaultProxy) => Promise<T>, seed = SEED): Promise<T> {
  const p = await startFaultProxy({ target: up.url, seed, faults, delayMs: [100, 150] });
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
}

const only = (stats: Record<FaultKind, number>, kinds: FaultKind[]): Record<string, number> =>
  Object.fromEntries(FAULT_KINDS.filter((k) => !kinds.includes(k) && stats[k] !== 0).map((k) => [k, stats[k]]));

beforeAll(async () => {
  up = await startUpstream();
});

afterAll(async () => {
  up.server.closeAllConnections();
  up.server.close();
});

describe(`fault proxy (seed ${SEED}; replay: SYNCD_SEED=${SEED} npx vitest run test/helpers/fault-proxy.test.ts)`, () => {
  it('with every rate 0 it is transparent: streamed bodies both ways, statuses and headers kept, no faults', async () => {
    await withProxy({}, async (p) => {
      const echo = await call(p.url, 'PUT', '/echo', BIG);
      expect(echo.status).toBe(200);
      expect(echo.headers['x-sha']).toBe(createHash('sha256').update(BIG).digest('hex'));
      expect(echo.body.equals(BIG)).toBe(true);
      const big = await call(p.url, 'GET', '/big');
      expect(big.body.equals(BIG)).toBe(true);
      expect(big.headers['content-length']).toBe(String(BIG.length));
      const busy = await call(p.url, 'GET', '/busy');
      expect([busy.status, busy.headers['retry-after'], JSON.parse(busy.body.toString()).error]).toEqual([429, '7', 'rate_limited']);
      expect((await call(p.url, 'GET', '/nope')).status).toBe(404);
      // streaming, not buffering: the first half arrives while the upstream still holds the second
      const slow = call(p.url, 'GET', '/slow', undefined, () => up.release());
      expect((await slow).body.toString()).toBe('first second');
      for (let i = 0; i < 20; i++) expect((await call(p.url, 'GET', '/v1/longpoll?cursor=c&timeout=1')).status).toBe(200);
      expect(p.stats.requests).toBe(25);
      expect(only(p.stats.faults, [])).toEqual({});
    });
  });

  const cases: { name: string; faults: FaultRates; kinds: FaultKind[]; path: string; method?: string; check: (r: Got | Error, upstreamSaw: number) => void }[] = [
    {
      name: 'reset: the connection dies, before the request is forwarded or after the server answered (a commit applied, its reply lost)',
      faults: { reset: 1 },
      kinds: ['resetBefore', 'resetAfter'],
      path: '/v1/commit',
      method: 'POST',
      check: (r) => expect(r).toBeInstanceOf(Error),
    },
    {
      name: 'delay: the request or the reply is held for the configured time',
      faults: { delay: 1 },
      kinds: ['delay'],
      path: '/echo',
      method: 'PUT',
      check: (r, saw) => {
        expect((r as Got).status).toBe(200);
        expect((r as Got).ms).toBeGreaterThanOrEqual(95);
        expect(saw).toBe(1);
      },
    },
    {
      name: 'unavailable: 503 with Retry-After 0 or 1, never forwarded',
      faults: { unavailable: 1 },
      kinds: ['unavailable'],
      path: '/v1/commit',
      method: 'POST',
      check: (r, saw) => {
        const g = r as Got;
        expect(g.status).toBe(503);
        expect(['0', '1']).toContain(g.headers['retry-after']);
        expect(JSON.parse(g.body.toString()).error).toBe('unavailable');
        expect(saw).toBe(0);
      },
    },
    {
      name: 'serverError: 500 or 502, either never forwarded or the server did the work',
      faults: { serverError: 1 },
      kinds: ['serverError'],
      path: '/v1/commit',
      method: 'POST',
      check: (r) => expect([500, 502]).toContain((r as Got).status),
    },
    {
      name: 'longpollDuplicate: a longpoll is answered at once by an earlier reply again or a spurious {"changes":true}',
      faults: { longpollDuplicate: 0.6 },
      kinds: ['longpollReplay', 'longpollSpurious'],
      path: '/v1/longpoll?cursor=c&timeout=5',
      check: (r) => expect((r as Got).status).toBe(200),
    },
  ];

  for (const c of cases) {
    it(c.name, async () => {
      await withProxy(c.faults, async (p) => {
        for (let i = 0; i < 16; i++) {
          const before = up.seen.length;
          const r = await call(p.url, c.method ?? 'GET', c.path, c.method === 'GET' || !c.method ? undefined : Buffer.from(`body ${i}`)).catch((e: Error) => e);
          await new Promise((res) => setTimeout(res, 5)); // let the upstream log a request cut after its answer
          c.check(r, up.seen.length - before);
        }
        for (const k of c.kinds) expect(p.stats.faults[k], `${k} in ${JSON.stringify(p.stats)}`).toBeGreaterThan(0);
        expect(only(p.stats.faults, c.kinds)).toEqual({});
      });
    });
  }

  it('a reset after forwarding happens after the server processed the request', async () => {
    await withProxy({ reset: 1 }, async (p) => {
      let after = 0;
      for (let i = 0; i < 20; i++) {
        const before = up.seen.length;
        const kindsBefore = p.stats.faults.resetAfter;
        await expect(call(p.url, 'POST', '/v1/commit', Buffer.from('{}'))).rejects.toThrow();
        await new Promise((res) => setTimeout(res, 5));
        if (p.stats.faults.resetAfter > kindsBefore) {
          after++;
          expect(up.seen.length - before, 'the server saw the request the client lost').toBe(1);
        } else expect(up.seen.length - before, 'a reset before forwarding never reaches the server').toBe(0);
      }
      expect(after).toBeGreaterThan(0);
      expect(after).toBeLessThan(20);
    });
  });

  it('a reset after the answer can cut a big download inside its body', async () => {
    await withProxy({ reset: 1 }, async (p) => {
      let midBody = 0;
      for (let i = 0; i < 16; i++) {
        let got = 0;
        const r = await call(p.url, 'GET', '/big', undefined, (c) => (got += c.length)).catch((e: Error) => e);
        expect(r).toBeInstanceOf(Error);
        if (got > 0) midBody++;
      }
      expect(midBody).toBeGreaterThan(0);
    });
  });

  it('a replayed longpoll reply is byte for byte an earlier one', async () => {
    await withProxy({ longpollDuplicate: 0.5 }, async (p) => {
      const bodies = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const before = up.seen.length;
        const replays = p.stats.faults.longpollReplay;
        const r = await call(p.url, 'GET', '/v1/longpoll?cursor=c&timeout=5');
        const text = r.body.toString();
        if (up.seen.length > before) bodies.add(text);
        else if (p.stats.faults.longpollReplay > replays) expect(bodies.has(text), text).toBe(true);
        else expect(JSON.parse(text)).toEqual({ changes: true });
      }
      expect(p.stats.faults.longpollReplay).toBeGreaterThan(0);
    });
  });

  it('one seed, one sequence of decisions', async () => {
    const outcomes = async (seed: number): Promise<string[]> =>
      withProxy({ reset: 0.2, unavailable: 0.2, serverError: 0.2, longpollDuplicate: 0.2 }, async (p) => {
        const out: string[] = [];
        for (let i = 0; i < 40; i++) {
          const r = await call(p.url, 'GET', '/v1/longpoll?cursor=c&timeout=5').catch(() => null);
          out.push(r ? `${r.status}` : 'reset');
        }
        return out;
      }, seed);
    const a = await outcomes(SEED);
    expect(await outcomes(SEED)).toEqual(a);
    expect(await outcomes(SEED + 1)).not.toEqual(a);
  });

  it('rejects rates outside [0, 1]', async () => {
    await expect(startFaultProxy({ target: up.url, seed: 1, faults: { reset: 2 } })).rejects.toThrow(RangeError);
  });
});
