// The namespace server: wires the journal store, blob store, notifier bus,
// longpoll hub, SSE streams, metrics and routes onto one node:http server.
// `startServer` is what `syncd serve` calls and what tests call in-process.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { admitRpcBody, BodyBudget } from './http/body-budget.js';
import { namespaceOfHeader } from './http/auth.js';
import { SyncService } from '../gen/syncd/v1/sync_service_pb.js';
import { CursorCodec } from '../protocol/cursor.js';
import { HttpError } from '../protocol/errors.js';
import { LIMITS } from '../protocol/types.js';
import { ActivityRecorder } from './activity.js';
import { updateRetention } from './admin.js';
import { BlobStore } from './blobs.js';
import { LocalBus, type Notifier } from './bus.js';
import { openClusterBus } from './bus/open.js';
import type { ServerContext } from './context.js';
import { EventStreams } from './events.js';
import { Query, sendError, sendJson } from './http/io.js';
import { createListener, type AnyRequest, type AnyResponse } from './http/listener.js';
import { Router } from './http/router.js';
import { LongpollHub } from './longpoll.js';
import { ServerMetrics } from './metrics.js';
import { RateLimiter } from './ratelimit.js';
import { resolveOptions, type ServerOptions } from './options.js';
import { blobRoutes } from './routes/blobs.js';
import { chunkRoutes } from './routes/chunks.js';
import { collectGarbage, gcTrashDir, recoverGcTrash, type GcReport } from './gc.js';
import { commitRoutes } from './routes/commit.js';
import { historyRoutes } from './routes/history.js';
import { notifyRoutes } from './routes/notify.js';
import { metricsRoute, statusRoutes } from './routes/status.js';
import { treeRoutes } from './routes/tree.js';
import { rpcContextValues, syncServiceRoutes } from './rpc/service.js';
import { asHttpError } from './service/errors.js';
import { openDataDirStore } from './store/open.js';
import { PostgresStore } from './store/postgres/store.js';
import type { TrimReport } from './store/types.js';

export type { ServerOptions } from './options.js';

export interface RunningServer {
  /** http://HOST:PORT (https:// with TLS), no trailing slash */
  url: string;
  port: number;
  /** answers open longpolls with backoff, ends event streams, waits for requests, closes the store */
  close(): Promise<void>;
  /** one retention trim now (also runs periodically) */
  trim(): Promise<TrimReport>;
  /** one content collector pass now (also runs periodically) */
  gc(): Promise<GcReport>;
  /** http://HOST:PORT of the separate /metrics listener, when metricsPort was given */
  metricsUrl?: string;
  /** open TCP connections of the API listener (tests and the descriptor figure of the bench) */
  connections(): Promise<number>;
}

const LONG_ROUTES = new Set(['/v1/longpoll', '/v1/events']);
/** where connect-node serves SyncService (gRPC, gRPC-Web, Connect) */
const RPC_PREFIX = `/${SyncService.typeName}/`;

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const opts = resolveOptions(options);
  const store =
    opts.store ??
    (opts.db !== undefined ? await PostgresStore.open(opts.db, { max: opts.dbPoolSize, log: opts.log }) : openDataDirStore(opts.dataDir!));
  let bus: Notifier | null = null;
  try {
    if (opts.retentionEntries !== undefined || opts.retentionAgeS !== undefined || opts.keepVersionsDays !== undefined) {
      await updateRetention(store, {
        maxEntries: opts.retentionEntries,
        maxAgeS: opts.retentionAgeS,
        keepVersionsS: opts.keepVersionsDays === undefined ? undefined : opts.keepVersionsDays * 86_400,
      });
    }
    // a store shared with other processes gets a bus shared with them
    const shared = store instanceof PostgresStore;
    const blobs = await BlobStore.open(opts.blobsDir, { shared });
    const codec = new CursorCodec(await store.cursorKey());
    bus = shared ? await openClusterBus(store, { nats: opts.nats, pollMs: opts.busPollMs, log: opts.log }) : new LocalBus();
    const hub = new LongpollHub(bus, {
      spreadMaxMs: opts.longpollSpreadMaxMs,
      spreadPerWaiterMs: 0.1,
      maxWaiters: opts.maxLongpollWaiters,
      maxPerDevice: opts.maxLongpollsPerDevice,
      maxPerNamespace: opts.maxLongpollsPerNamespace,
    });
    const events = new EventStreams(bus, {
      heartbeatMs: opts.eventsHeartbeatMs,
      perDevice: opts.maxStreamsPerDevice,
      perNamespace: opts.maxStreamsPerNamespace,
      total: opts.maxStreams,
      stallMs: opts.eventsStallMs,
    });
    const limits = {
      device: new RateLimiter({ rate: opts.rateDevice, burst: opts.burstDevice }),
      namespace: new RateLimiter({ rate: opts.rateNamespace, burst: opts.burstNamespace }),
    };
    const metrics = new ServerMetrics(store, { longpollWaiters: () => hub.size, sseStreams: () => events.size });
    const activity = new ActivityRecorder(store, opts.activityFlushMs, (err) => opts.log(`syncd: recording device activity failed: ${String(err)}`));
    const bodies = new BodyBudget(opts.bodyBudgetBytes, opts.bodyBudgetPerNamespaceBytes);
    const ctx: ServerContext = { store, blobs, bus, hub, events, metrics, codec, activity, opts, limits, bodies, now: () => Date.now() };

    const router = new Router();
    treeRoutes(router, ctx);
    commitRoutes(router, ctx);
    notifyRoutes(router, ctx);
    blobRoutes(router, ctx);
    chunkRoutes(router, ctx);
    const separateMetrics = opts.metricsPort !== undefined;
    statusRoutes(router, ctx, { metrics: !separateMetrics });
    historyRoutes(router, ctx);

    // Connect's JSON form writes zeros and false too (alwaysEmitImplicit), so it reads like the REST reply
    const rpc = connectNodeAdapter({
      routes: syncServiceRoutes(ctx),
      readMaxBytes: LIMITS.commitMaxBytes,
      jsonOptions: { alwaysEmitImplicit: true },
      contextValues: rpcContextValues,
    });
    // requestTimeout off (listener.ts): uploads of big blobs and 480 s longpolls
    // must live; bodies that stall are cut by bodyIdleMs, bodyDeadlineMs and minBodyBytesPerS instead.
    const server = createListener(
      { tls: opts.tls, headersTimeoutMs: opts.headersTimeoutMs, keepAliveTimeoutMs: 5_000, onClientError, maxConnections: opts.maxConnections },
      (req: AnyRequest, res: AnyResponse) => {
        if (req.url?.startsWith(RPC_PREFIX)) {
          admitRpcBody(bodies, req, res, LIMITS.commitMaxBytes, (h) => namespaceOfHeader(ctx, h)).then(
            (go) => go && rpc(req, res),
            () => req.destroy(),
          );
        }
        else void handle(ctx, router, req as IncomingMessage, res as ServerResponse);
      },
    );
    const port = await server.listen(opts.port, opts.host);
    const host = urlHost(opts.host);
    let metricsServer: Server | null = null;
    let metricsUrl: string | undefined;
    if (separateMetrics) {
      const mRouter = new Router();
      metricsRoute(mRouter, ctx);
      metricsServer = newHttpServer(ctx, mRouter);
      await listen(metricsServer, opts.metricsHost!, opts.metricsPort!).catch(async (err) => {
        server.close();
        throw err;
      });
      metricsUrl = `http://${urlHost(opts.metricsHost!)}:${boundPort(metricsServer, opts.metricsPort!)}`;
    }

    // a device revoked by the admin CLI (another process) must not keep its open streams and longpolls
    let rechecking = false;
    const recheck = setInterval(() => {
      const ids = [...new Set([...events.devices(), ...hub.devices()])];
      if (ids.length === 0 || rechecking) return;
      rechecking = true;
      store
        .revokedAmong(ids)
        .then((gone) => {
          if (gone.length === 0) return;
          const n = events.endDevices(gone) + hub.endDevices(gone);
          if (n > 0) metrics.streamsEnded.inc(n);
        })
        .catch((err) => opts.log(`syncd: checking open streams for revoked devices failed: ${String(err)}`))
        .finally(() => (rechecking = false));
    }, opts.authRecheckMs);
    recheck.unref();

    let trimming: Promise<TrimReport> | null = null;
    const trim = (): Promise<TrimReport> => {
      trimming ??= (async () => {
        await activity.flush();
        const report = await store.trim(Date.now());
        const misses = report.namespaces.reduce((a, n) => a + n.misses, 0);
        if (misses > 0) metrics.retentionMisses.inc(misses);
        return report;
      })().finally(() => {
        trimming = null;
      });
      return trimming;
    };
    const trimQuietly = (): void => {
      trim().catch((err) => opts.log(`syncd: retention trim failed: ${String(err)}`));
    };
    trimQuietly();
    const trimTimer = opts.trimIntervalMs > 0 ? setInterval(trimQuietly, opts.trimIntervalMs) : null;
    trimTimer?.unref();

    // at start only what a crashed pass left in gc-trash is settled (nothing to do when it is empty);
    // the first full pass comes gcFirstDelayMs later: a restarted server meets its reconnecting
    // devices (and a new device its first mirror) without a walk of every stored blob beside them
    const recovering = recoverGcTrash(store, blobs, gcTrashDir(opts.blobsDir)).catch((err) => {
      opts.log(`syncd: content collection (gc-trash) failed: ${String(err)}`);
    });
    let collecting: Promise<GcReport> | null = null;
    const gc = (): Promise<GcReport> => {
      collecting ??= recovering
        .then(() => collectGarbage(store, blobs, gcTrashDir(opts.blobsDir), Date.now(), {
          uploadGraceMs: opts.gcUploadGraceMs,
          orphanGraceMs: opts.gcOrphanGraceMs,
        }))
        .finally(() => {
          collecting = null;
        });
      return collecting;
    };
    const gcQuietly = (): void => {
      gc().catch((err) => opts.log(`syncd: content collection failed: ${String(err)}`));
    };
    let gcTimer: NodeJS.Timeout | null = null;
    const gcFirst = opts.gcIntervalMs > 0
      ? setTimeout(() => {
        gcQuietly();
        gcTimer = setInterval(gcQuietly, opts.gcIntervalMs);
        gcTimer.unref();
      }, Math.min(opts.gcFirstDelayMs, opts.gcIntervalMs))
      : null;
    gcFirst?.unref();

    let closing: Promise<void> | null = null;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        if (trimTimer) clearInterval(trimTimer);
        if (gcFirst) clearTimeout(gcFirst);
        if (gcTimer) clearInterval(gcTimer);
        clearInterval(recheck);
        if (metricsServer) {
          metricsServer.close();
          metricsServer.closeAllConnections();
        }
        const closed = server.close();
        hub.shutdown();
        events.closeAll();
        // answered longpolls leave keep-alive sockets idle: keep closing them until the server is done
        const sweep = setInterval(() => server.closeIdleConnections(), 20);
        server.closeIdleConnections();
        const cut = setTimeout(() => server.closeAllConnections(), opts.shutdownGraceMs);
        await closed;
        clearInterval(sweep);
        clearTimeout(cut);
        await trimming?.catch(() => undefined);
        await recovering;
        await collecting?.catch(() => undefined);
        await activity.close().catch((err) => opts.log(`syncd: saving device activity failed: ${String(err)}`));
        await bus!.close();
        await store.close();
      })();
      return closing;
    };
    return { url: `${server.secure ? 'https' : 'http'}://${host}:${port}`, port, close, trim, gc, metricsUrl, connections: server.connections };
  } catch (err) {
    await bus?.close();
    await store.close();
    throw err;
  }
}

/** A plain HTTP/1.1 server (the separate /metrics listener). */
function newHttpServer(ctx: ServerContext, router: Router): Server {
  const opts = ctx.opts;
  const server = createServer(
    {
      // requestTimeout off: uploads of big blobs and 480 s longpolls must live;
      // bodies that stall are cut by bodyIdleMs, bodyDeadlineMs and minBodyBytesPerS instead.
      requestTimeout: 0,
      headersTimeout: opts.headersTimeoutMs,
      // node checks the headers timeout only this often: a fraction of it, so a half-sent request goes in time
      connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(opts.headersTimeoutMs / 4))),
      keepAliveTimeout: 5_000,
    },
    (req, res) => void handle(ctx, router, req, res),
  );
  server.maxConnections = opts.maxConnections;
  server.on('clientError', onClientError);
  return server;
}

function boundPort(server: Server, fallback: number): number {
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : fallback;
}

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

async function handle(ctx: ServerContext, router: Router, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const started = performance.now();
  let route = 'other';
  res.on('finish', () => {
    ctx.metrics.requests.inc({ route, method: req.method ?? '?', code: String(res.statusCode) });
    if (!LONG_ROUTES.has(route)) ctx.metrics.duration.observe({ route }, (performance.now() - started) / 1000);
  });
  try {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://syncd.invalid');
    } catch {
      throw new HttpError('bad_request', 'malformed request target');
    }
    route = router.label(url.pathname);
    const match = router.match(req.method ?? '', url.pathname);
    route = match.route;
    await match.handler({ req, res, query: new Query(url.searchParams), param: match.param });
  } catch (err) {
    if (res.destroyed) return;
    const httpErr = asHttpError(err);
    if (res.headersSent) {
      // a streamed reply failed midway: the only honest signal left is a cut connection
      res.destroy();
      if (!httpErr) ctx.opts.log(`syncd: ${req.method} ${route} failed after the reply started: ${String(err)}`);
      return;
    }
    if (httpErr) {
      const headers: Record<string, string> = {};
      if (httpErr.code === 'method_not_allowed') headers.allow = String(httpErr.details.allow ?? '');
      // an unread body would be parsed as the next request on this connection: close it after the reply
      if (!req.complete) headers.connection = 'close';
      sendError(res, httpErr, headers);
      return;
    }
    if (req.destroyed || (err as NodeJS.ErrnoException | null)?.code === 'ECONNRESET') return;
    ctx.opts.log(`syncd: ${req.method} ${route} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    sendJson(res, 500, { error: 'internal', message: 'internal server error' });
  }
}

function onClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const [status, text, code] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'too_large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'bad_request']
        : [400, 'Bad Request', 'bad_request'];
  const body = JSON.stringify({ error: code, message: `malformed HTTP request (${err.code ?? err.message})` });
  // end() alone only half-closes: a peer that never closes its side would hold the descriptor forever
  const cut = setTimeout(() => socket.destroy(), 1000);
  cut.unref();
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    () => {
      clearTimeout(cut);
      socket.destroy();
    },
  );
}
