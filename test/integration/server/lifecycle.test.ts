// Server behaviour that needs its own configuration or a look inside the
// data folder: shutdown, overload, crowds, aborted uploads, size limits,
// reset reasons, retention shared with the admin CLI, metrics.

import { request } from 'node:http';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { CursorCodec } from '../../../src/protocol/cursor.js';
import { trim as adminTrim } from '../../../src/server/admin.js';
import { Api, sha256, startTestServer } from '../../helpers/server.js';

function codecOf(dataDir: string): CursorCodec {
  const db = new Database(join(dataDir, 'syncd.db'), { readonly: true });
  const { value } = db.prepare("SELECT value FROM server_meta WHERE key = 'cursor_key'").get() as { value: string };
  db.close();
  return new CursorCodec(Buffer.from(value, 'hex'));
}

async function metric(url: string, name: string): Promise<string[]> {
  const text = await (await fetch(`${url}/metrics`)).text();
  return text.split('\n').filter((l) => l.startsWith(name));
}

describe('shutdown', () => {
  it('answers open longpolls with backoff, ends event streams, then closes', async () => {
    const srv = await startTestServer();
    const api = new Api(srv.url, await srv.addDevice());
    const c = encodeURIComponent(await api.startCursor());
    const polls = [1, 2, 3].map(() => api.get(`/v1/longpoll?cursor=${c}&timeout=60`));
    const sse = await fetch(`${srv.url}/v1/events?cursor=${c}`, { headers: { authorization: `Bearer ${api.token}` } });
    const sseText = sse.text();
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(srv.url, 'syncd_longpoll_waiters ')).toEqual(['syncd_longpoll_waiters 3']);
    await srv.close();
    for (const p of await Promise.all(polls)) {
      expect(p.status).toBe(200);
      expect(p.body.changes).toBe(false);
      expect(p.body.backoff).toBeGreaterThanOrEqual(1);
    }
    expect(await sseText).toContain('retry:');
  });
});

describe('events', () => {
  it('sends heartbeat comments on a quiet stream', async () => {
    const srv = await startTestServer({ eventsHeartbeatMs: 50 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c = encodeURIComponent(await api.startCursor());
      const ac = new AbortController();
      const res = await fetch(`${srv.url}/v1/events?cursor=${c}`, { headers: { authorization: `Bearer ${api.token}` }, signal: ac.signal });
      const reader = res.body!.getReader();
      let text = '';
      while ((text.match(/: heartbeat\n\n/g) ?? []).length < 2) text += Buffer.from((await reader.read()).value!).toString();
      expect(text).not.toContain('event: advanced');
      ac.abort();
      await waitFor(async () => (await metric(srv.url, 'syncd_sse_streams '))[0] === 'syncd_sse_streams 0');
    } finally {
      await srv.close();
    }
  });
});

describe('longpoll crowds and overload', () => {
  it('wakes 300 waiters of one namespace on one commit; frees aborted ones', async () => {
    // one device holds them all: lift its per-device cap
    const srv = await startTestServer({ maxLongpollsPerDevice: 1000 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c = encodeURIComponent(await api.startCursor());
      const polls = Array.from({ length: 300 }, () => api.get(`/v1/longpoll?cursor=${c}&timeout=60`));
      const ac = new AbortController();
      const gone = fetch(`${srv.url}/v1/longpoll?cursor=${c}&timeout=60`, { headers: { authorization: `Bearer ${api.token}` }, signal: ac.signal }).catch(() => 'aborted');
      await waitFor(async () => (await metric(srv.url, 'syncd_longpoll_waiters '))[0] === 'syncd_longpoll_waiters 301');
      ac.abort();
      expect(await gone).toBe('aborted');
      await waitFor(async () => (await metric(srv.url, 'syncd_longpoll_waiters '))[0] === 'syncd_longpoll_waiters 300');
      await api.mkdir('wake');
      const replies = await Promise.all(polls);
      expect(replies.every((r) => r.body.changes === true)).toBe(true);
      expect(await metric(srv.url, 'syncd_longpoll_waiters ')).toEqual(['syncd_longpoll_waiters 0']);
    } finally {
      await srv.close();
    }
  });

  it('answers backoff at once beyond maxLongpollWaiters', async () => {
    const srv = await startTestServer({ maxLongpollWaiters: 2 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c = encodeURIComponent(await api.startCursor());
      const held = [api.get(`/v1/longpoll?cursor=${c}&timeout=60`), api.get(`/v1/longpoll?cursor=${c}&timeout=60`)];
      await waitFor(async () => (await metric(srv.url, 'syncd_longpoll_waiters '))[0] === 'syncd_longpoll_waiters 2');
      const r = await api.get(`/v1/longpoll?cursor=${c}&timeout=60`);
      expect(r.body.changes).toBe(false);
      expect(r.body.backoff).toBeGreaterThanOrEqual(5);
      await api.mkdir('x');
      expect((await Promise.all(held)).map((h) => h.body)).toEqual([{ changes: true }, { changes: true }]);
    } finally {
      await srv.close();
    }
  });
});

describe('uploads', () => {
  it('a client that aborts mid-upload leaves no temp file and no blob', async () => {
    const srv = await startTestServer();
    try {
      const token = await srv.addDevice();
      const hash = sha256('x'.repeat(1 << 20));
      const url = new URL(`${srv.url}/v1/blobs/${hash}`);
      await new Promise<void>((resolve) => {
        const req = request(url, { method: 'PUT', headers: { authorization: `Bearer ${token}`, 'content-length': String(1 << 20) } });
        req.on('error', () => resolve());
        req.write(Buffer.alloc(64 * 1024, 'x'));
        setTimeout(() => {
          req.destroy();
          resolve();
        }, 100);
      });
      await waitFor(async () => readdirSync(join(srv.dataDir, 'tmp')).length === 0);
      const api = new Api(srv.url, token);
      expect((await api.get(`/v1/blobs/${hash}`)).status).toBe(404);
      expect(srv.logs).toEqual([]);
    } finally {
      await srv.close();
    }
  });

  it('413 too_large beyond maxBlobBytes, declared or streamed', async () => {
    const srv = await startTestServer({ maxBlobBytes: 1000 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const big = Buffer.alloc(1001, 'a');
      const declared = await api.request('PUT', `/v1/blobs/${sha256(big)}`, { body: big });
      expect(declared.status).toBe(413);
      expect(declared.body.error).toBe('too_large');
      // chunked: no content-length, the limit is found while streaming
      const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = request(new URL(`${srv.url}/v1/blobs/${sha256(big)}`), {
          method: 'PUT',
          headers: { authorization: `Bearer ${api.token}`, 'transfer-encoding': 'chunked' },
        });
        req.on('response', (res) => {
          let body = '';
          res.on('data', (d) => (body += d));
          res.on('end', () => resolve({ status: res.statusCode!, body }));
        });
        req.on('error', reject);
        req.write(big.subarray(0, 600));
        setTimeout(() => req.end(big.subarray(600)), 20);
      });
      expect(streamed.status).toBe(413);
      expect(JSON.parse(streamed.body).error).toBe('too_large');
      expect(readdirSync(join(srv.dataDir, 'tmp'))).toEqual([]);
    } finally {
      await srv.close();
    }
  });
});

describe('reset reasons', () => {
  it('future and epoch for cursors this server signed but cannot serve; counted in metrics', async () => {
    const srv = await startTestServer();
    try {
      const api = new Api(srv.url, await srv.addDevice('resets'));
      await api.mkdir('a');
      const st = (await api.get('/v1/status')).body;
      const codec = codecOf(srv.dataDir);
      const future = codec.encodeCursor({ namespace: 'resets', epoch: st.epoch, seq: 2 });
      const epoch = codec.encodeCursor({ namespace: 'resets', epoch: 'e_old', seq: 1 });
      const ok = codec.encodeCursor({ namespace: 'resets', epoch: st.epoch, seq: 1 });
      for (const [cursor, reason] of [
        [future, 'future'],
        [epoch, 'epoch'],
      ] as const) {
        for (const path of ['changes', 'longpoll', 'events']) {
          const r = await api.get(`/v1/${path}?cursor=${encodeURIComponent(cursor)}&timeout=1`);
          expect(r.status, path).toBe(409);
          expect(r.body).toMatchObject({ error: 'reset', reason });
        }
      }
      expect((await api.get(`/v1/changes?cursor=${encodeURIComponent(ok)}`)).status).toBe(200);
      const lines = await metric(srv.url, 'syncd_cursor_resets_total');
      expect(lines).toContain('syncd_cursor_resets_total{reason="future"} 3');
      expect(lines).toContain('syncd_cursor_resets_total{reason="epoch"} 3');
    } finally {
      await srv.close();
    }
  });
});

describe('retention', () => {
  it('count cap: trim raises the floor, old cursors get expired, status and metrics show it', async () => {
    const srv = await startTestServer({ retentionEntries: 3, retentionAgeS: 0, keepVersionsDays: 0 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c0 = await api.startCursor();
      for (let i = 0; i < 10; i++) await api.mkdir(`d${i}`);
      const report = await srv.server.trim();
      expect(report.namespaces[0]).toMatchObject({ newFloor: 8, head: 10, dropped: 7 });
      const r = await api.get(`/v1/changes?cursor=${encodeURIComponent(c0)}`);
      expect(r.body).toMatchObject({ error: 'reset', reason: 'expired' });
      const st = (await api.get('/v1/status')).body;
      expect(st).toMatchObject({ floor: 8, head: 10, retention: { max_entries: 3, max_age_s: null } });
      // a listing's cursor is at the head and served
      const l = await api.listAll();
      expect(l.nodes).toHaveLength(10);
      expect((await api.changesAll(l.cursor)).entries).toEqual([]);
      expect(await metric(srv.url, 'syncd_journal_floor')).toContain('syncd_journal_floor{namespace="default"} 8');
    } finally {
      await srv.close();
    }
  });

  it('the admin trim (another connection) applies the stored policy; the running server serves that floor', async () => {
    const srv = await startTestServer({ retentionEntries: 2 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c0 = await api.startCursor();
      for (let i = 0; i < 6; i++) await api.mkdir(`d${i}`);
      const report = await adminTrim(srv.dataDir);
      expect(report.namespaces[0]).toMatchObject({ newFloor: 5 });
      expect((await api.get(`/v1/changes?cursor=${encodeURIComponent(c0)}`)).body.reason).toBe('expired');
    } finally {
      await srv.close();
    }
  });

  it('the count cap forcing an active device behind the floor counts a retention miss', async () => {
    const srv = await startTestServer({ retentionEntries: 2 });
    try {
      const api = new Api(srv.url, await srv.addDevice());
      const c0 = await api.startCursor();
      await api.mkdir('a');
      await api.changesAll(c0); // device now at seq 0 → applied position recorded, active
      for (let i = 0; i < 5; i++) await api.mkdir(`d${i}`);
      await srv.server.trim();
      expect(await metric(srv.url, 'syncd_retention_misses_total')).toContain('syncd_retention_misses_total 1');
    } finally {
      await srv.close();
    }
  });
});

describe('metrics', () => {
  it('counts requests by route and code, conflicts, device lag and the oldest cursor', async () => {
    const srv = await startTestServer();
    try {
      const api = new Api(srv.url, await srv.addDevice('m'));
      const c0 = await api.startCursor();
      const d = await api.mkdir('a');
      await api.commit([{ op: 'delete', id: d.id, base_rev: 9 }]);
      await api.get(`/v1/changes?cursor=${encodeURIComponent(c0)}`);
      await api.mkdir('b');
      await api.get('/v1/nope');
      await waitFor(async () => (await metric(srv.url, 'syncd_device_cursor_lag')).some((l) => l.endsWith(' 2')), 3000);
      expect(await metric(srv.url, 'syncd_commit_conflicts_total')).toContain('syncd_commit_conflicts_total 1');
      const req = await metric(srv.url, 'syncd_http_requests_total');
      expect(req).toContain('syncd_http_requests_total{route="/v1/commit",method="POST",code="200"} 3');
      expect(req).toContain('syncd_http_requests_total{route="other",method="GET",code="404"} 1');
      expect(await metric(srv.url, 'syncd_oldest_device_cursor')).toContain('syncd_oldest_device_cursor{namespace="m"} 0');
      expect(await metric(srv.url, 'syncd_journal_head')).toContain('syncd_journal_head{namespace="m"} 2');
    } finally {
      await srv.close();
    }
  });
});

async function waitFor(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
