// A tiny programmable HTTP server for tests of lying and broken servers.
//
//   const fake = await startFakeServer();
//   fake.on('GET', '/v1/status', { json: {...} });                   // every GET /v1/status
//   fake.on('GET', '/v1/changes', { status: 409, json: {...} }, { json: page });  // 1st request, then the 2nd forever
//   fake.on('GET', /^\/v1\/blobs\//, { body: bytes, dropAfterBytes: 100 });     // cut the connection mid-body
//   fake.on('POST', '/v1/commit', async (req, res) => { ...; return { json } }); // compute a reply
//   ... new RemoteClient({ server: fake.url, token: 't' }) ...
//   fake.requests  // every request seen, with its body
//   await fake.close();
//
// Each route holds a queue of replies: each request takes the next one and the
// last one repeats. A later `on()` for the same method and path replaces the
// route. Unmatched requests get the protocol's 404 JSON. Bind: 127.0.0.1,
// port 0.

import { createServer, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  method: string;
  /** path without the query string */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** the whole request body */
  body: Buffer;
}

/** A pause inside a streamed body. */
export interface FakeDelay {
  delayMs: number;
}

export interface FakeReply {
  /** default 200 */
  status?: number;
  headers?: Record<string, string | number | string[]>;
  /** JSON body (sets content-type: application/json unless headers say otherwise) */
  json?: unknown;
  /** raw body */
  body?: string | Buffer;
  /** body sent piece by piece (each piece one write), with optional pauses between */
  chunks?: Array<string | Buffer | FakeDelay>;
  /**
   * Content-Length header: 'auto' (default) = the full body length for
   * json/body, none for chunks (chunked encoding); a number to lie; 'none'
   * for chunked encoding.
   */
  contentLength?: number | 'auto' | 'none';
  /** wait before sending the status line */
  delayMs?: number;
  /** send only this many body bytes, then destroy the socket (a dropped connection) */
  dropAfterBytes?: number;
  /** destroy the socket without any reply */
  destroy?: boolean;
  /** never answer (the socket is destroyed at close()) */
  hang?: boolean;
}

/** Computes a reply, or writes to `res` itself and returns nothing. */
export type FakeHandler = (req: FakeRequest, res: ServerResponse) => FakeReply | void | Promise<FakeReply | void>;

interface Route {
  method: string;
  path: string | RegExp;
  queue: Array<FakeReply | FakeHandler>;
}

export class FakeServer {
  readonly url: string;
  readonly requests: FakeRequest[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #routes: Route[] = [];

  constructor(server: Server, url: string) {
    this.#server = server;
    this.url = url;
    server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
    server.on('request', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('error', () => {});
      req.on('end', () => {
        const u = new URL(req.url ?? '/', 'http://x');
        const fr: FakeRequest = { method: req.method ?? 'GET', path: u.pathname, query: u.searchParams, headers: req.headers, body: Buffer.concat(chunks) };
        this.requests.push(fr);
        this.#serve(fr, res).catch((e: unknown) => {
          if (!res.headersSent) {
            res.statusCode = 500;
            res.end(JSON.stringify({ error: 'fake_server_bug', message: String(e) }));
          } else {
            res.destroy();
          }
        });
      });
    });
  }

  /** Replies for `method path` (a RegExp matches the path without query). */
  on(method: string, path: string | RegExp, ...replies: Array<FakeReply | FakeHandler>): this {
    if (replies.length === 0) throw new Error('fake.on needs at least one reply');
    this.#routes = this.#routes.filter((r) => !(r.method === method && String(r.path) === String(path)));
    this.#routes.unshift({ method, path, queue: [...replies] });
    return this;
  }

  /** Requests seen for a path (string = exact, RegExp = test). */
  seen(method: string, path: string | RegExp): FakeRequest[] {
    return this.requests.filter((r) => r.method === method && (typeof path === 'string' ? r.path === path : path.test(r.path)));
  }

  /** Forget all routes and recorded requests. */
  reset(): void {
    this.#routes = [];
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #serve(req: FakeRequest, res: ServerResponse): Promise<void> {
    const route = this.#routes.find((r) => r.method === req.method && (typeof r.path === 'string' ? r.path === req.path : r.path.test(req.path)));
    if (!route) {
      send(res, { status: 404, json: { error: 'not_found', message: `no fake route for ${req.method} ${req.path}` } });
      return;
    }
    const next = route.queue.length > 1 ? (route.queue.shift() as FakeReply | FakeHandler) : (route.queue[0] as FakeReply | FakeHandler);
    const reply = typeof next === 'function' ? await next(req, res) : next;
    if (reply) await send(res, reply);
  }
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function send(res: ServerResponse, r: FakeReply): Promise<void> {
  if (r.delayMs) await wait(r.delayMs);
  if (r.destroy) {
    res.socket?.destroy();
    return;
  }
  if (r.hang) return;
  const headers: Record<string, string | number | string[]> = { ...r.headers };
  const has = (k: string): boolean => Object.keys(headers).some((h) => h.toLowerCase() === k);
  let whole: Buffer | undefined;
  if (r.json !== undefined) {
    whole = Buffer.from(JSON.stringify(r.json));
    if (!has('content-type')) headers['content-type'] = 'application/json';
  } else if (r.body !== undefined) {
    whole = Buffer.isBuffer(r.body) ? r.body : Buffer.from(r.body);
  }
  const pieces: Array<Buffer | FakeDelay> = whole !== undefined ? [whole] : (r.chunks ?? []).map((c) => (typeof c === 'string' ? Buffer.from(c) : c));
  const total = pieces.reduce((n, p) => n + (Buffer.isBuffer(p) ? p.length : 0), 0);
  const cl = r.contentLength ?? 'auto';
  if (typeof cl === 'number') headers['content-length'] = cl;
  else if (cl === 'auto' && r.chunks === undefined) headers['content-length'] = total;
  res.writeHead(r.status ?? 200, headers);
  res.flushHeaders();
  let budget = r.dropAfterBytes ?? Infinity;
  for (const p of pieces) {
    if (!Buffer.isBuffer(p)) {
      await wait(p.delayMs);
      continue;
    }
    const part = p.length > budget ? p.subarray(0, budget) : p;
    if (part.length > 0) await new Promise<void>((resolve) => res.write(part, () => resolve()));
    budget -= part.length;
    if (budget <= 0 && r.dropAfterBytes !== undefined) {
      res.socket?.destroy();
      return;
    }
  }
  if (r.dropAfterBytes !== undefined) {
    res.socket?.destroy();
    return;
  }
  res.end();
}

export async function startFakeServer(): Promise<FakeServer> {
  const server = createServer({ keepAlive: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return new FakeServer(server, `http://127.0.0.1:${port}`);
}

/** A URL nobody listens on (connection refused). */
export async function refusedUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
