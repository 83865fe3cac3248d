// A fault-injecting HTTP proxy for real-process tests: it sits on 127.0.0.1
// between agents and a `syncd serve` and, driven by a seeded PRNG, drops
// connections (before forwarding, or after the server processed the request
// so a commit may be applied while the agent sees a dead socket), delays
// requests and replies, answers longpolls with a stale or spurious reply,
// answers 503 + Retry-After and 500/502. Bodies are streamed both ways.
//
// The seed fixes the sequence of fault decisions (one fixed-size draw per
// request, in arrival order); real processes decide the arrival order, so a
// replay is close to, not bit-identical with, the original run.

import { once } from 'node:events';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { seededRandom } from '../../src/client/agent/backoff.js';

/** Per-request probabilities, each in [0, 1]; all default to 0 (a transparent proxy). */
export interface FaultRates {
  /** drop the client's connection: before forwarding, or after the server answered (cut before or inside the reply) */
  reset?: number;
  /** hold the request before forwarding, or the reply before relaying it, for `delayMs` */
  delay?: number;
  /** a longpoll is answered at once, without forwarding, by the last longpoll reply seen again or by a spurious `{"changes":true}` */
  longpollDuplicate?: number;
  /** 503 `unavailable` with `Retry-After: 0|1`, not forwarded */
  unavailable?: number;
  /** 500 or 502: not forwarded, or forwarded and the server's reply replaced (it did the work) */
  serverError?: number;
  /** an open Subscribe stream is cut mid-stream, judged every 0.2–2.2 s (a proxy that drops long requests) */
  streamDrop?: number;
}

export type FaultKind =
  | 'resetBefore'
  | 'resetAfter'
  | 'delay'
  | 'longpollReplay'
  | 'longpollSpurious'
  | 'unavailable'
  | 'serverError'
  | 'streamDrop';

export const FAULT_KINDS: readonly FaultKind[] = ['resetBefore', 'resetAfter', 'delay', 'longpollReplay', 'longpollSpurious', 'unavailable', 'serverError', 'streamDrop'];

export interface FaultProxyOptions {
  /** the server, e.g. `http://127.0.0.1:7420` */
  target: string;
  seed: number;
  faults?: FaultRates;
  /** range of an injected delay, ms (default [20, 400]) */
  delayMs?: [number, number];
}

export interface FaultStats {
  requests: number;
  /** injected faults by kind */
  faults: Record<FaultKind, number>;
  /** injected faults by `kind METHOD /route` (query left out), for messages */
  detail: Record<string, number>;
}

export interface FaultProxy {
  url: string;
  stats: FaultStats;
  /** replaces the rates from the next request on (`{}` turns every fault off) */
  setFaults(f: FaultRates): void;
  close(): Promise<void>;
}

const LONGPOLL = '/v1/longpoll';
const SUBSCRIBE = '/syncd.v1.SyncService/Subscribe';
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function endToEnd(h: IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of Object.entries(h)) if (v !== undefined && !HOP_BY_HOP.has(k)) out[k] = v;
  return out;
}

function checkRates(f: FaultRates): FaultRates {
  for (const [k, v] of Object.entries(f)) {
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`fault rate ${k} must be in [0, 1], got ${v}`);
  }
  return { ...f };
}

/** What happens to one request: decided up front from a fixed number of draws. */
interface Plan {
  kind: 'forward' | 'resetBefore' | 'unavailable' | 'serverError' | 'longpollDuplicate';
  /** after forwarding: cut the reply (`resetAfter`) or replace it with a 5xx (`serverError`) */
  after: 'relay' | 'cut' | 'replace';
  delayRequestMs: number;
  delayReplyMs: number;
  /** a second uniform draw for the chosen fault's details (cut point, 500 vs 502, retry-after, …) */
  u: number;
}

const DRAWS = 6;

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  if (target.protocol !== 'http:') throw new TypeError(`fault proxy target must be http://, got ${opts.target}`);
  const random = seededRandom(opts.seed);
  const [dMin, dMax] = opts.delayMs ?? [20, 400];
  let rates = checkRates(opts.faults ?? {});
  const stats: FaultStats = { requests: 0, faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>, detail: {} };
  let lastLongpoll: Buffer | null = null;

  const count = (kind: FaultKind, req: IncomingMessage): void => {
    stats.faults[kind]++;
    const key = `${kind} ${req.method} ${routeOf(req)}`;
    stats.detail[key] = (stats.detail[key] ?? 0) + 1;
  };

  const decide = (isLongpoll: boolean): Plan => {
    const d = Array.from({ length: DRAWS }, () => random());
    const [pick, delayPick, delayAmount, delaySide, side, u] = d as [number, number, number, number, number, number];
    const delay = delayPick < (rates.delay ?? 0) ? Math.round(dMin + delayAmount * (dMax - dMin)) : 0;
    const plan: Plan = { kind: 'forward', after: 'relay', delayRequestMs: delaySide < 0.5 ? delay : 0, delayReplyMs: delaySide < 0.5 ? 0 : delay, u };
    // one draw picks at most one of the exclusive faults, by cumulative rate
    let acc = 0;
    const table: [keyof FaultRates, () => void][] = [
      ['reset', () => (side < 0.5 ? (plan.kind = 'resetBefore') : (plan.after = 'cut'))],
      ['unavailable', () => (plan.kind = 'unavailable')],
      ['serverError', () => (side < 0.5 ? (plan.kind = 'serverError') : (plan.after = 'replace'))],
      ['longpollDuplicate', () => isLongpoll && (plan.kind = 'longpollDuplicate')],
    ];
    for (const [k, apply] of table) {
      acc += rates[k] ?? 0;
      if (pick < acc) {
        apply();
        break;
      }
    }
    return plan;
  };

  const server = createServer((req, res) => {
    stats.requests++;
    void handle(req, res).catch(() => destroy(req.socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const isLongpoll = routeOf(req) === LONGPOLL && req.method === 'GET';
    const plan = decide(isLongpoll);
    if (plan.delayRequestMs) {
      count('delay', req);
      await sleep(plan.delayRequestMs);
    }
    switch (plan.kind) {
      case 'resetBefore':
        count('resetBefore', req);
        destroy(req.socket);
        return;
      case 'unavailable':
        count('unavailable', req);
        await drain(req);
        return reply(res, 503, { 'retry-after': String(plan.u < 0.5 ? 0 : 1) }, JSON.stringify({ error: 'unavailable', message: 'fault proxy: unavailable' }));
      case 'serverError':
        count('serverError', req);
        await drain(req);
        return badGateway(res, plan.u);
      case 'longpollDuplicate': {
        await drain(req);
        if (lastLongpoll && plan.u < 0.5) {
          count('longpollReplay', req);
          return reply(res, 200, { 'content-type': 'application/json' }, lastLongpoll);
        }
        count('longpollSpurious', req);
        return reply(res, 200, { 'content-type': 'application/json' }, JSON.stringify({ changes: true }));
      }
      case 'forward':
        return forward(req, res, plan, isLongpoll);
    }
  }

  function forward(req: IncomingMessage, res: ServerResponse, plan: Plan, isLongpoll: boolean): Promise<void> {
    return new Promise<void>((resolve) => {
      const up = request({
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...endToEnd(req.headers), host: target.host },
        // a fresh connection per request: a reused keep-alive socket the server
        // just closed would fail here and look like a fault nobody injected
        agent: false,
      });
      // the client went away (aborted longpoll, a reset we injected): so does the upstream request
      res.on('close', () => {
        if (!res.writableFinished) up.destroy();
        resolve();
      });
      up.on('error', () => {
        if (!res.headersSent) reply(res, 502, {}, 'fault proxy: upstream failed');
        else destroy(req.socket);
      });
      up.on('response', (ur) => {
        void (async () => {
          if (plan.delayReplyMs) {
            count('delay', req);
            await sleep(plan.delayReplyMs);
          }
          if (plan.after === 'replace') {
            // the server did the work; the client is told it failed
            await drainUpstream(ur);
            count('serverError', req);
            return badGateway(res, plan.u);
          }
          if (plan.after === 'cut') {
            count('resetAfter', req);
            return cut(req, res, ur, plan.u);
          }
          if (isLongpoll && ur.statusCode === 200) return relayLongpoll(res, ur);
          res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
          ur.pipe(res);
          // a stream lives on past setFaults: it is judged every 0.2–2.2 s against the rates then in force
          if (routeOf(req) === SUBSCRIBE && ur.statusCode === 200) {
            let t: NodeJS.Timeout;
            const judge = (): void => {
              t = setTimeout(() => {
                if (res.writableFinished || res.destroyed) return;
                if (random() < (rates.streamDrop ?? 0)) {
                  count('streamDrop', req);
                  destroy(req.socket);
                } else judge();
              }, 200 + Math.round(random() * 2000));
            };
            judge();
            res.on('close', () => clearTimeout(t));
          }
        })().catch(() => destroy(req.socket));
      });
      req.pipe(up);
    });
  }

  /** Longpoll replies are small: buffered so the proxy can serve them again later. */
  async function relayLongpoll(res: ServerResponse, ur: IncomingMessage): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of ur) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    lastLongpoll = body;
    res.writeHead(200, endToEnd(ur.headers));
    res.end(body);
  }

  /**
   * The server answered; the client gets nothing (u < 0.3, or an empty body)
   * or the headers and a strict prefix of the body, then a reset.
   */
  async function cut(req: IncomingMessage, res: ServerResponse, ur: IncomingMessage, u: number): Promise<void> {
    const declared = Number(ur.headers['content-length']);
    if (u < 0.3 || declared === 0) {
      await drainUpstream(ur);
      destroy(req.socket);
      return;
    }
    let keep = Number.isFinite(declared) ? Math.floor(((u - 0.3) / 0.7) * declared) : -1;
    res.writeHead(ur.statusCode ?? 502, endToEnd(ur.headers));
    res.flushHeaders();
    for await (const c of ur) {
      const chunk = c as Buffer;
      if (keep < 0) keep = Math.floor(((u - 0.3) / 0.7) * chunk.length); // unknown length: a prefix of the first chunk
      if (chunk.length >= keep) {
        if (keep > 0) await new Promise<void>((r) => res.write(chunk.subarray(0, keep), () => r()));
        break;
      }
      keep -= chunk.length;
      if (!res.write(chunk)) await once(res, 'drain');
    }
    ur.destroy();
    destroy(req.socket);
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    stats,
    setFaults(f: FaultRates) {
      rates = checkRates(f);
    },
    async close() {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    },
  };
}

function routeOf(req: IncomingMessage): string {
  const path = (req.url ?? '/').split('?')[0]!;
  return path.startsWith('/v1/blobs/') && path !== '/v1/blobs/fetch' ? '/v1/blobs/{hash}' : path;
}

/** A TCP reset where the platform has one, else a plain close. */
function destroy(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}

function reply(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

/** 500 as JSON, or 502 as a front proxy's plain-text page: either way no server code. */
function badGateway(res: ServerResponse, u: number): void {
  if (u < 0.5) reply(res, 500, { 'content-type': 'application/json' }, JSON.stringify({ error: 'internal', message: 'fault proxy: internal error' }));
  else reply(res, 502, { 'content-type': 'text/html' }, '<html><body><h1>502 Bad Gateway</h1></body></html>');
}

/** Reads and drops a request body, so an early answer leaves the connection usable. */
async function drain(req: IncomingMessage): Promise<void> {
  if (req.readableEnded) return;
  req.resume();
  await Promise.race([once(req, 'end'), once(req, 'close')]).catch(() => undefined);
}

async function drainUpstream(ur: IncomingMessage): Promise<void> {
  ur.resume();
  await Promise.race([once(ur, 'end'), once(ur, 'close')]).catch(() => undefined);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
