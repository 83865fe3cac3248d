// One port for every protocol. Cleartext: each connection's first bytes
// decide: the HTTP/2 connection preface (gRPC's h2c "prior knowledge") goes
// to an http2 server, anything else to the http1 server (REST, Connect and
// gRPC-Web over HTTP/1.1). With TLS, ALPN decides inside one http2 secure
// server that also speaks HTTP/1.1 (allowHTTP1).

import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer as createHttp2Server,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';

export type AnyRequest = IncomingMessage | Http2ServerRequest;
export type AnyResponse = ServerResponse | Http2ServerResponse;
export type RequestListener = (req: AnyRequest, res: AnyResponse) => void;

export interface ListenerOptions {
  tls?: { cert: Buffer | string; key: Buffer | string };
  /** abort an HTTP/1.1 connection whose request headers take longer, ms */
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  onClientError: (err: Error & { code?: string }, socket: Socket) => void;
  /** open TCP connections before new ones are refused (server.maxConnections) */
  maxConnections?: number;
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The listening side; `listen` binds, `close*` mirror node:http's. */
export interface Listener {
  readonly secure: boolean;
  listen(port: number, host: string): Promise<number>;
  /** stops accepting; resolves once every connection is gone */
  close(): Promise<void>;
  /** open TCP connections right now */
  connections(): Promise<number>;
  closeIdleConnections(): void;
  closeAllConnections(): void;
}

/**
 * Hands the socket on once its first bytes show which protocol it speaks.
 * The bytes read so far are put back (unshift) so the chosen server sees
 * the connection from its first byte.
 */
export function sniffPreface(socket: Socket, route: (kind: 'h2' | 'h1') => void): void {
  let buf: Buffer = Buffer.alloc(0);
  const done = (kind: 'h2' | 'h1'): void => {
    socket.off('data', onData);
    socket.off('end', onEnd);
    socket.pause();
    if (buf.length > 0) socket.unshift(buf);
    route(kind);
  };
  const onData = (chunk: Buffer): void => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    const n = Math.min(buf.length, PREFACE.length);
    const prefix = buf.subarray(0, n).equals(PREFACE.subarray(0, n));
    if (prefix && buf.length < PREFACE.length) return;
    done(prefix ? 'h2' : 'h1');
  };
  // a connection that closes before deciding goes to http1, which handles a half request
  const onEnd = (): void => done('h1');
  socket.on('data', onData);
  socket.on('end', onEnd);
}

export function createListener(opts: ListenerOptions, onRequest: RequestListener): Listener {
  const sessions = new Set<Http2Session>();
  const tlsSockets = new Set<Socket>();
  const track = (server: Http2Server | Http2SecureServer): void => {
    server.on('session', (s: Http2Session) => {
      sessions.add(s);
      s.on('close', () => sessions.delete(s));
    });
  };
  const h1Options = {
    requestTimeout: 0,
    headersTimeout: opts.headersTimeoutMs,
    keepAliveTimeout: opts.keepAliveTimeoutMs,
    // node checks the headers timeout only this often: a fraction of it, so a half-sent request goes in time
    connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(opts.headersTimeoutMs / 4))),
  };

  let front: NetServer | Http2SecureServer;
  let h1: Http1Server | null = null;
  if (opts.tls) {
    const secure = createSecureServer({ cert: opts.tls.cert, key: opts.tls.key, allowHTTP1: true }, onRequest as never);
    secure.on('clientError' as never, opts.onClientError as never);
    // HTTP/1.1 over TLS has no closeAllConnections here: keep the sockets to cut them
    secure.on('secureConnection', (socket: Socket) => {
      tlsSockets.add(socket);
      socket.on('close', () => tlsSockets.delete(socket));
    });
    track(secure);
    front = secure;
  } else {
    h1 = createHttp1Server(h1Options, onRequest as never);
    h1.on('clientError', opts.onClientError);
    // node starts its headers-timeout sweep on 'listening'; this server never
    // listens (the front socket hands it connections), so start it here
    h1.emit('listening');
    const h2 = createHttp2Server({}, onRequest as never);
    track(h2);
    const http1 = h1;
    front = createNetServer((socket) => {
      // a socket that never sends enough to tell HTTP/2 from HTTP/1.1 is a
      // half-sent request too: it gets the same headers timeout, then goes
      const silent = setTimeout(() => socket.destroy(), opts.headersTimeoutMs);
      silent.unref();
      sniffPreface(socket, (kind) => {
        clearTimeout(silent);
        // http2 takes over the socket's handle and reads the put-back bytes
        // itself (resuming here would race it); http1 reads through the stream
        if (kind === 'h2') {
          h2.emit('connection', socket);
        } else {
          http1.emit('connection', socket);
          socket.resume();
        }
      });
    });
  }
  const server = front;
  if (opts.maxConnections !== undefined) server.maxConnections = opts.maxConnections;
  const closeSessions = (graceful: boolean): void => {
    for (const s of sessions) {
      if (graceful) s.close();
      else s.destroy();
    }
  };
  return {
    secure: opts.tls !== undefined,
    listen: (port, host) =>
      new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once('error', onError);
        server.listen(port, host, () => {
          server.off('error', onError);
          const addr = server.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // the http1 server never listened: its connections end through closeIdle/All
        closeSessions(true);
      }),
    connections: () => new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n)))),
    closeIdleConnections: () => {
      h1?.closeIdleConnections();
      closeSessions(true);
    },
    closeAllConnections: () => {
      h1?.closeAllConnections();
      closeSessions(false);
      for (const s of tlsSockets) s.destroy();
    },
  };
}
