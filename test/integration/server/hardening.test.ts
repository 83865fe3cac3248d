// Issue 13, server side over real sockets: one tenant or one anonymous
// socket must not hurt the server or other tenants. Each case fails
// without its fix (caps, revocation, hygiene, rate limits, fairness).

import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { addDevice, revokeDevice } from '../../../src/server/admin.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

const open: TestServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const s of open.splice(0)) await s.close();
});

async function server(opts: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  const s = await startTestServer(opts);
  open.push(s);
  return s;
}

function raw(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), hostname, () => resolve(s));
    s.on('error', reject);
    sockets.push(s);
  });
}

/** Sends `text` and collects what comes back until the peer closes (or `ms` passes). */
function exchange(s: Socket, text: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    let got = '';
    const done = (): void => resolve(got);
    s.on('data', (d) => (got += d.toString()));
    s.on('close', done);
    s.on('end', done);
    setTimeout(done, ms);
    s.write(text);
  });
}

async function until(cond: () => Promise<boolean> | boolean, ms = 5000): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return cond();
}

/** An event stream that is opened and never read: the status line only. */
async function openStream(url: string, token: string, cursor: string): Promise<{ status: number; socket: Socket }> {
  const s = await raw(url);
  const { host } = new URL(url);
  return new Promise((resolve) => {
    s.once('data', (d) => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(d.toString())?.[1] ?? 0), socket: s }));
    s.write(`GET /v1/events?cursor=${encodeURIComponent(cursor)} HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${token}\r\n\r\n`);
  });
}

describe('event streams and longpolls', () => {
  it('caps open event streams per device with 429 rate_limited and Retry-After', async () => {
    const srv = await server({ maxStreamsPerDevice: 2 });
    const token = await srv.addDevice('a');
    const c = await new Api(srv.url, token).startCursor();
    expect((await openStream(srv.url, token, c)).status).toBe(200);
    expect((await openStream(srv.url, token, c)).status).toBe(200);
    const r = await new Api(srv.url, token).get(`/v1/events?cursor=${encodeURIComponent(c)}`);
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('rate_limited');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThan(0);
    // another tenant is not affected
    const other = await srv.addDevice('b');
    expect((await openStream(srv.url, other, await new Api(srv.url, other).startCursor())).status).toBe(200);
  });

  it('ends a revoked device’s open event stream and longpoll', async () => {
    const srv = await server({ authRecheckMs: 100 });
    const { token, deviceId } = await addDevice(srv.dataDir, 'a', 'victim');
    const api = new Api(srv.url, token);
    const c = await api.startCursor();
    const stream = await openStream(srv.url, token, c);
    const closed = new Promise<void>((r) => stream.socket.on('close', () => r()));
    stream.socket.resume();
    const poll = api.get(`/v1/longpoll?cursor=${encodeURIComponent(c)}&timeout=60`);
    await new Promise((r) => setTimeout(r, 200));
    await revokeDevice(srv.dataDir, deviceId);
    const answered = await Promise.race([poll, new Promise((r) => setTimeout(() => r('still open'), 5000))]);
    expect((answered as { status: number }).status).toBe(401);
    expect(await Promise.race([closed.then(() => 'closed'), new Promise((r) => setTimeout(() => r('still open'), 5000))])).toBe('closed');
  });

  it('gives a device past its longpoll cap backoff, not other tenants', async () => {
    const srv = await server({ maxLongpollsPerDevice: 2 });
    const greedy = new Api(srv.url, await srv.addDevice('a'));
    const c = encodeURIComponent(await greedy.startCursor());
    const held = [greedy.get(`/v1/longpoll?cursor=${c}&timeout=2`), greedy.get(`/v1/longpoll?cursor=${c}&timeout=2`)];
    await new Promise((r) => setTimeout(r, 200));
    const third = await greedy.get(`/v1/longpoll?cursor=${c}&timeout=2`);
    expect(third.body.backoff).toBeGreaterThan(0);
    const other = new Api(srv.url, await srv.addDevice('b'));
    const started = Date.now();
    const theirs = await other.get(`/v1/longpoll?cursor=${encodeURIComponent(await other.startCursor())}&timeout=1`);
    expect(theirs.body).toEqual({ changes: false });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    await Promise.all(held);
  });
});

describe('connection hygiene', () => {
  it('destroys a socket that sent half its headers once the headers timeout passes', async () => {
    const srv = await server({ headersTimeoutMs: 300 });
    const socks = await Promise.all(Array.from({ length: 20 }, () => raw(srv.url)));
    for (const s of socks) {
      s.on('data', () => undefined);
      s.on('error', () => undefined);
      s.write('GET /v1/status HTTP/1.1\r\nhost: x\r\n'); // never finished
    }
    expect(await until(async () => (await srv.server.connections()) === 20, 2000)).toBe(true);
    // the clients never close their side: only the server's destroy frees the descriptors
    expect(await until(async () => (await srv.server.connections()) === 0, 5000)).toBe(true);
  });

  it('refuses connections beyond maxConnections', async () => {
    const srv = await server({ maxConnections: 3 });
    const socks = await Promise.all(Array.from({ length: 6 }, () => raw(srv.url)));
    for (const s of socks) s.on('error', () => undefined);
    await new Promise((r) => setTimeout(r, 200));
    expect(await srv.server.connections()).toBeLessThanOrEqual(3);
  });

  it('cuts a commit body trickled slower than its deadline', async () => {
    const srv = await server({ bodyDeadlineMs: 500, bodyIdleMs: 5000 });
    const token = await srv.addDevice('a');
    const s = await raw(srv.url);
    const body = JSON.stringify({ ops: [] });
    s.write(`POST /v1/commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    for (let i = 0; i < body.length - 1 && !closed; i++) {
      s.write(body[i]!);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(closed).toBe(true);
  });

  it('cuts an upload slower than the minimum body rate', async () => {
    const srv = await server({ minBodyBytesPerS: 1000, bodyRateGraceMs: 300, bodyIdleMs: 5000 });
    const token = await srv.addDevice('a');
    const s = await raw(srv.url);
    s.write(`PUT /v1/blobs/${'a'.repeat(64)} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-length: 100000\r\n\r\n`);
    let closed = false;
    s.on('close', () => (closed = true));
    s.on('error', () => undefined);
    for (let i = 0; i < 40 && !closed; i++) {
      s.write('x');
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(closed).toBe(true);
  });

  const early = [
    { desc: 'a 401 before the body', auth: 'Bearer unknown-token-unknown-token' },
    { desc: 'a 400 on a bad hash before the body', auth: 'good', path: '/v1/blobs/nothex' },
  ];
  for (const c of early) {
    it(`closes the connection after ${c.desc} (the unread body is not a next request)`, async () => {
      const srv = await server();
      const token = await srv.addDevice('a');
      const auth = c.auth === 'good' ? `Bearer ${token}` : c.auth;
      const s = await raw(srv.url);
      // the body is a complete request of its own: a server that keeps the connection would answer it
      const smuggled = 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n';
      const text = await exchange(
        s,
        `PUT ${c.path ?? `/v1/blobs/${'a'.repeat(64)}`} HTTP/1.1\r\nhost: x\r\nauthorization: ${auth}\r\ncontent-length: ${smuggled.length + 100000}\r\n\r\n${smuggled}`,
      );
      expect(text).toMatch(/^HTTP\/1\.1 40[01]/);
      expect(text.toLowerCase()).toContain('connection: close');
      expect(text).not.toContain('"status":"ok"');
    });
  }
});

/** A Connect commit over HTTP/1.1: `hold` one declaring `bytes` and sending one, `status` what a whole one of `bytes` is answered */
function rpcCommit(url: string) {
  const head = (token: string, bytes: number): string =>
    `POST /syncd.v1.SyncService/Commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n`;
  const status = async (token: string, bytes: number): Promise<number> => {
    const body = '{"ops":[{"opId":"12345678","op":"create","kind":"KIND_DIR","parent":"root","name":"d"}]}'.padEnd(bytes, ' ');
    const text = await exchange(await raw(url), head(token, bytes).replace('\r\n\r\n', '\r\nconnection: close\r\n\r\n') + body);
    return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0);
  };
  /** a commit of `bytes` whose first byte only is sent: it holds what it was given */
  const hold = async (token: string, bytes: number): Promise<Socket> => {
    const s = await raw(url);
    s.on('error', () => undefined);
    s.write(head(token, bytes) + '{');
    return s;
  };
  return { hold, status };
}

describe('request bodies held at once', () => {
  /** A commit that declares `bytes` of body and sends only its first byte: it holds its reservation. */
  async function heldCommit(url: string, token: string, bytes: number): Promise<Socket> {
    const s = await raw(url);
    s.on('error', () => undefined);
    s.write(`POST /v1/commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${bytes}\r\n\r\n{`);
    return s;
  }
  /** The status of a commit of `bytes` (one mkdir, padded with spaces; again, it is a replay). */
  async function commitOf(url: string, token: string, bytes: number): Promise<{ status: number; text: string }> {
    const body = '{"ops":[{"op_id":"12345678","op":"create","kind":"dir","parent":"root","name":"d"}]}'.padEnd(bytes, ' ');
    const s = await raw(url);
    const text = await exchange(s, `POST /v1/commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
    return { status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1] ?? 0), text };
  }

  it("a namespace past its share of the body budget gets 429, the server past its whole budget 503, and the others go on", async () => {
    const KiB = 1024;
    const srv = await server({ bodyBudgetBytes: 300 * KiB, bodyBudgetPerNamespaceBytes: 200 * KiB, bodyIdleMs: 30_000 });
    const evil = await srv.addDevice('evil');
    const good = await srv.addDevice('good');
    const third = await srv.addDevice('third');
    // evil holds two bodies of 100 KiB, sending nothing more: its whole share
    const held = [await heldCommit(srv.url, evil, 100 * KiB), await heldCommit(srv.url, evil, 100 * KiB)];
    expect(await until(async () => (await commitOf(srv.url, evil, 50 * KiB)).status === 429)).toBe(true);
    const refused = await commitOf(srv.url, evil, 50 * KiB);
    expect(refused.text).toMatch(/retry-after: 2/i);
    expect(refused.text).toContain('"error":"rate_limited"');
    // another tenant's commit goes through beside them
    expect((await commitOf(srv.url, good, 50 * KiB)).status).toBe(200);
    // a third tenant holding the rest of the server's budget: now every new body is 503
    held.push(await heldCommit(srv.url, third, 100 * KiB));
    expect(await until(async () => (await commitOf(srv.url, good, 50 * KiB)).status === 503)).toBe(true);
    // the held bodies go away: their bytes come back
    for (const h of held) h.destroy();
    expect(await until(async () => (await commitOf(srv.url, evil, 150 * KiB)).status === 200)).toBe(true);
  });

  it("the RPC routes (Connect, gRPC) take their bodies from the same budget before reading them, on their namespace's share", async () => {
    const KiB = 1024;
    const srv = await server({ bodyBudgetBytes: 300 * KiB, bodyBudgetPerNamespaceBytes: 200 * KiB, bodyIdleMs: 30_000 });
    const evil = await srv.addDevice('evil');
    const good = await srv.addDevice('good');
    const { hold, status } = rpcCommit(srv.url);
    const held = [await hold(evil, 100 * KiB), await hold(evil, 100 * KiB)];
    expect(await until(async () => (await status(evil, 50 * KiB)) === 429)).toBe(true);
    expect([429, 503]).not.toContain(await status(good, 50 * KiB));
    for (const h of held) h.destroy();
    expect(await until(async () => ![429, 503].includes(await status(evil, 50 * KiB)))).toBe(true);
  });

  it('RPC bodies sent with made-up tokens all share one share: they never take the budget from the tenants', async () => {
    const KiB = 1024;
    const srv = await server({ bodyBudgetBytes: 300 * KiB, bodyBudgetPerNamespaceBytes: 100 * KiB, bodyIdleMs: 30_000 });
    const good = await srv.addDevice('good');
    const { hold, status } = rpcCommit(srv.url);
    // six anonymous bodies of 100 KiB each with its own made-up token, held half sent: 600 KiB asked, the server has 300
    const held: Socket[] = [];
    for (let i = 0; i < 6; i++) held.push(await hold(`made-up-token-${i}-0123456789abcdef`, 100 * KiB));
    // the first took the anonymous share; the others are refused (429), not held
    expect(await until(async () => (await status('made-up-token-x-0123456789abcdef', 10 * KiB)) === 429)).toBe(true);
    // a tenant still has its share: its RPC request is read (not 429/503), its REST commit goes through
    expect([429, 503]).not.toContain(await status(good, 50 * KiB));
    const commit = '{"ops":[{"op_id":"87654321","op":"create","kind":"dir","parent":"root","name":"e"}]}';
    const rest = await exchange(
      await raw(srv.url),
      `POST /v1/commit HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${good}\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${commit.length}\r\n\r\n${commit}`,
    );
    expect(rest).toMatch(/^HTTP\/1\.1 200/);
    for (const h of held) h.destroy();
  });
});

/** a server whose namespace `big` holds `n` folders, written straight into the table: each history request reads them all */
async function bigNamespace(n: number, opts: Parameters<typeof startTestServer>[0] = {}): Promise<{ srv: TestServer; big: string; small: string }> {
  const srv = await server(opts);
  const big = await srv.addDevice('big');
  const small = await srv.addDevice('small');
  const db = new Database(join(srv.dataDir, 'syncd.db'));
  const ns = (db.prepare("SELECT id FROM namespaces WHERE name = 'big'").get() as { id: number }).id;
  const ins = db.prepare("INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, target, mtime, exec, seq, deleted) VALUES (?, ?, 'root', ?, ?, 'dir', 1, NULL, NULL, NULL, 1, 0, 1, 0)");
  db.transaction(() => {
    for (let i = 0; i < n; i++) ins.run(ns, `n_${String(i).padStart(8, '0')}`, `d${i}`, `d${i}`);
    db.prepare('UPDATE namespaces SET head = 1 WHERE id = ?').run(ns);
  })();
  db.close();
  return { srv, big, small };
}

describe('requests that read a whole namespace (version history)', () => {
  it("one of a namespace's runs at a time, four wait, the rest get 429; another namespace is served meanwhile", async () => {
    const { srv, big, small } = await bigNamespace(50_000);
    const ask = (token: string): Promise<Response> => fetch(`${srv.url}/v1/activity`, { headers: { authorization: `Bearer ${token}` } });
    const replies = await Promise.all([...Array.from({ length: 9 }, () => ask(big)), ask(small)]);
    const statuses = replies.map((r) => r.status);
    expect(statuses.filter((x) => x === 200).length).toBe(6); // big: one running + four waiting; small: its own
    expect(statuses.filter((x) => x === 429).length).toBe(4);
    expect(statuses.at(-1)).toBe(200);
    const refused = replies.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(((await refused.json()) as { error: string }).error).toBe('rate_limited');
  });

  it('a namespace has at most two snapshot, deleted, restore or rewind replies in the works: the next gets 429 at once', async () => {
    const { srv, big, small } = await bigNamespace(50_000);
    const ask = (token: string, path: string): Promise<Response> => fetch(`${srv.url}${path}`, { headers: { authorization: `Bearer ${token}` } });
    const replies = await Promise.all([ask(big, '/v1/snapshot'), ask(big, '/v1/deleted'), ask(big, '/v1/snapshot'), ask(small, '/v1/snapshot')]);
    const statuses = replies.map((r) => r.status);
    expect(statuses.slice(0, 3).sort()).toEqual([200, 200, 429]);
    expect(statuses[3]).toBe(200);
    const refused = replies.find((r) => r.status === 429)!;
    expect(refused.headers.get('retry-after')).toBe('2');
    expect(((await refused.json()) as { error: string }).error).toBe('rate_limited');
    for (const r of replies.slice(0, 3)) {
      if (r.status !== 200) continue;
      const body = (await r.json()) as { entries: unknown[] };
      expect(body.entries.length).toBe(r.url.endsWith('/v1/snapshot') ? 50_000 : 0);
    }
  });

  it('a snapshot reader that stops reading is cut, and its place is freed', async () => {
    const { srv, big } = await bigNamespace(100_000, { replyStallMs: 300 });
    const { host } = new URL(srv.url);
    // two readers that never read hold the namespace's two places
    const stuck: Socket[] = [];
    for (let i = 0; i < 2; i++) {
      const s = await raw(srv.url);
      s.write(`GET /v1/snapshot HTTP/1.1\r\nhost: ${host}\r\nauthorization: Bearer ${big}\r\n\r\n`);
      s.pause();
      stuck.push(s);
    }
    const ask = (): Promise<Response> => fetch(`${srv.url}/v1/snapshot?path=d7`, { headers: { authorization: `Bearer ${big}` } });
    expect(await until(async () => (await ask()).status === 429)).toBe(true);
    // once the server gave up on them (0.3 s without progress), the namespace is served again
    let r: Response | undefined;
    expect(await until(async () => (r = await ask()).status === 200, 30_000)).toBe(true);
    expect(((await r!.json()) as { entries: unknown[] }).entries.length).toBe(1);
    // the stuck replies were cut, not finished: what they got ends without the chunked body's last chunk
    for (const s of stuck) {
      let got = '';
      s.on('data', (d: Buffer) => (got += d.toString('latin1')));
      const closed = new Promise<void>((res) => s.on('close', () => res()));
      s.resume();
      await closed;
      expect(got.startsWith('HTTP/1.1 200')).toBe(true);
      expect(got.endsWith('0\r\n\r\n')).toBe(false);
    }
  }, 60_000);
});

describe('downloads to slow readers', () => {
  it('a download whose client takes nothing is cut; one read slowly goes on to the end', async () => {
    const srv = await server({ replyStallMs: 1000 });
    const token = await srv.addDevice('dl');
    const api = new Api(srv.url, token);
    // 24 MiB: far more than the socket buffers on both sides hold
    const content = Buffer.alloc(24 << 20, 7);
    const { hash } = await api.putBlob(content);
    const small = Buffer.alloc(3 << 20, 9);
    const { hash: smallHash } = await api.putBlob(small);
    const get = async (h: string): Promise<Socket> => {
      const s = await raw(srv.url);
      s.on('error', () => undefined);
      s.write(`GET /v1/blobs/${h} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${token}\r\n\r\n`);
      return s;
    };
    // never read: cut once the server saw no progress for 1 s (the socket closes under it)
    const stuck = await get(hash);
    stuck.pause();
    const closed = new Promise<void>((r) => stuck.on('close', () => r()));
    await new Promise((r) => setTimeout(r, 3000));
    let got = 0;
    stuck.on('data', (d: Buffer) => (got += d.length));
    stuck.resume();
    await closed;
    expect(got).toBeLessThan(content.length);
    // read steadily but slowly (~1 MB/s, a pause after every read): never cut, bytes keep going
    const slow = await get(smallHash);
    let bytes = 0;
    const done = new Promise<void>((resolve, reject) => {
      slow.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes >= small.length) return resolve();
        slow.pause();
        setTimeout(() => slow.resume(), d.length / 1000);
      });
      slow.on('close', () => (bytes >= small.length ? resolve() : reject(new Error(`cut after ${bytes} bytes`))));
    });
    await done;
    expect(bytes).toBeGreaterThanOrEqual(small.length);
    slow.destroy();
  }, 30_000);
});

describe('rate limits', () => {
  it('answers 429 rate_limited with Retry-After past a device’s bucket, and spares other devices', async () => {
    const srv = await server({ rateDevice: 1, burstDevice: 5 });
    const api = new Api(srv.url, await srv.addDevice('a'));
    const codes: number[] = [];
    for (let i = 0; i < 8; i++) codes.push((await api.get('/v1/status')).status);
    expect(codes.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    const r = await api.get('/v1/status');
    expect(r.status).toBe(429);
    expect(r.body.error).toBe('rate_limited');
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    const other = new Api(srv.url, await srv.addDevice('a', 'second'));
    expect((await other.get('/v1/status')).status).toBe(200);
  });

  it('limits a namespace as a whole', async () => {
    const srv = await server({ rateNamespace: 1, burstNamespace: 3 });
    const a1 = new Api(srv.url, await srv.addDevice('a', 'one'));
    const a2 = new Api(srv.url, await srv.addDevice('a', 'two'));
    const b = new Api(srv.url, await srv.addDevice('b'));
    const codes = [];
    for (const api of [a1, a2, a1, a2]) codes.push((await api.get('/v1/status')).status);
    expect(codes).toEqual([200, 200, 200, 429]);
    expect((await b.get('/v1/status')).status).toBe(200);
  });
});

describe('fairness', () => {
  it('serves another tenant while a 1000-op commit runs', async () => {
    const srv = await server();
    const bulk = new Api(srv.url, await srv.addDevice('bulk'));
    const small = new Api(srv.url, await srv.addDevice('small'));
    const ops = Array.from({ length: 1000 }, (_, i) => ({ op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `d${i}` }));
    const order: string[] = [];
    // the bulk commit starts first; the probe goes once the bulk tenant's first op is journaled
    const c = encodeURIComponent(await bulk.startCursor());
    const commit = bulk.commitRaw(ops).then(() => order.push('bulk'));
    await bulk.get(`/v1/longpoll?cursor=${c}&timeout=30`);
    await small.get('/v1/status').then(() => order.push('small'));
    await commit;
    expect(order).toEqual(['small', 'bulk']);
  });
});

describe('smaller points', () => {
  it('reuses the /healthz probe instead of writing on every call', async () => {
    const srv = await server({ healthCacheMs: 60_000 });
    const { readdirSync, statSync } = await import('node:fs');
    const { join } = await import('node:path');
    const wal = join(srv.dataDir, 'syncd.db-wal');
    await fetch(`${srv.url}/healthz`);
    const before = statSync(wal).mtimeMs + ':' + statSync(wal).size;
    const replies = await Promise.all(Array.from({ length: 20 }, () => fetch(`${srv.url}/healthz`).then((r) => r.status)));
    expect(replies.every((s) => s === 200)).toBe(true);
    expect(statSync(wal).mtimeMs + ':' + statSync(wal).size).toBe(before);
    expect(readdirSync(join(srv.dataDir, 'tmp'))).toEqual([]);
  });

  it('answers invalid UTF-8 in a commit body with 400, not U+FFFD names', async () => {
    const srv = await server();
    const api = new Api(srv.url, await srv.addDevice('a'));
    const body = Buffer.concat([
      Buffer.from('{"ops":[{"op_id":"5f0e3a52-8d6b-4c1e-9a4f-0d3b2c1a0f9e","op":"create","kind":"dir","parent":"root","name":"a'),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('"}]}'),
    ]);
    const r = await api.request('POST', '/v1/commit', { body, headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(400);
    expect(r.body.error).toBe('bad_request');
    expect((await api.listAll()).nodes).toEqual([]);
  });

  it('serves /metrics on its own listener when metricsPort is given, and not on the API port', async () => {
    const srv = await server({ metricsPort: 0 });
    expect(srv.server.metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const m = await fetch(`${srv.server.metricsUrl}/metrics`);
    expect(m.status).toBe(200);
    expect(await m.text()).toContain('syncd_journal_head');
    expect((await fetch(`${srv.url}/metrics`)).status).toBe(404);
  });

  it('never moves a device’s recorded position backwards', async () => {
    const srv = await server({ activityFlushMs: 0 });
    const api = new Api(srv.url, await srv.addDevice('a'));
    const c0 = await api.startCursor();
    await api.mkdir('x');
    await api.mkdir('y');
    const { cursor } = await api.changesAll(c0);
    await api.get(`/v1/changes?cursor=${encodeURIComponent(cursor)}`);
    await api.get(`/v1/changes?cursor=${encodeURIComponent(c0)}`); // an old cursor again
    const st = await api.get('/v1/status');
    expect(st.body.devices[0].cursor_seq).toBe(2);
  });
});
