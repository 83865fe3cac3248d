// syncd.v1.SyncService over the same operations as the REST routes
// (service/sync.ts): each RPC authenticates from the `authorization`
// metadata, converts its message to the REST form the validators know,
// calls the operation and converts the reply. Served by connect-node for
// gRPC (HTTP/2), gRPC-Web and Connect (HTTP/1.1 or 2) on the REST port.

import { Code, ConnectError, createContextKey, createContextValues, type ConnectRouter, type ContextValues, type HandlerContext } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { GetChangesResponseSchema, SyncService, WaitForChangeResponseSchema, SubscribeResponseSchema, CommitResponseSchema } from '../../gen/syncd/v1/sync_service_pb.js';
import { ErrorDetailSchema } from '../../gen/syncd/v1/types_pb.js';
import { badRequest } from '../../protocol/errors.js';
import { listToProto, entryToProto, opResultToProto, opToJson, statusToProto } from '../../protocol/proto-convert.js';
import { rpcCodeOf, rpcMessage } from '../../protocol/rpc-errors.js';
import type { JournalEntry } from '../../protocol/types.js';
import { parseCommitRequest, parseLimit, parseLongpollTimeout } from '../../protocol/validate.js';
import type { ServerContext } from '../context.js';
import type { FollowSink } from '../events.js';
import { authenticateHeader } from '../http/auth.js';
import type { DeviceIdentity } from '../store/types.js';
import { asHttpError } from '../service/errors.js';
import type { AnyRequest } from '../http/listener.js';
import { admitStream, changesPage, commitOps, followFrom, listPage, namespaceStatus, waitForChange } from '../service/sync.js';

const caller = (ctx: ServerContext, hc: HandlerContext): Promise<DeviceIdentity> =>
  authenticateHeader(ctx, hc.requestHeader.get('authorization') ?? undefined);

/** What a Subscribe stream's messages are written into: the HTTP/2 stream, or the HTTP/1.1 connection (Connect, gRPC-Web). */
const SINK = createContextKey<FollowSink | null>(null, { description: 'syncd stream sink' });

/** The adapter's per-request context values: the sink, so Subscribe can watch its backpressure (events.ts follow()). */
export function rpcContextValues(req: AnyRequest): ContextValues {
  return createContextValues().set(SINK, 'stream' in req ? req.stream : req.socket);
}

/** proto3 has no "absent" int: 0 stands for "the default", as an omitted query parameter does in REST. */
const orDefault = (n: number): string | null => (n === 0 ? null : String(n));

export function syncServiceRoutes(ctx: ServerContext): (router: ConnectRouter) => void {
  // every RPC counts in the same requests metric as REST, labelled by its path and status code
  const count = (method: string, code: Code | 0): void =>
    ctx.metrics.requests.inc({ route: `/${SyncService.typeName}/${method}`, method: 'RPC', code: code === 0 ? 'ok' : Code[code] });
  const unary =
    <I, O>(method: string, fn: (req: I, hc: HandlerContext) => Promise<O>) =>
    async (req: I, hc: HandlerContext): Promise<O> => {
      try {
        const out = await fn(req, hc);
        count(method, 0);
        return out;
      } catch (err) {
        const e = toConnectError(err, method, ctx.opts.log);
        count(method, e.code);
        throw e;
      }
    };
  return (router) =>
    router.service(SyncService, {
      list: unary('List', async (req, hc) => {
        const device = await caller(ctx, hc);
        const limit = parseLimit(orDefault(req.limit));
        return listToProto(await listPage(ctx, device, limit, req.pageToken === '' ? null : req.pageToken));
      }),
      getChanges: unary('GetChanges', async (req, hc) => {
        const device = await caller(ctx, hc);
        if (req.cursor === '') throw badRequest('cursor is required');
        const page = await changesPage(ctx, device, req.cursor, parseLimit(orDefault(req.limit)));
        return create(GetChangesResponseSchema, {
          entries: page.entries.map((e) => entryToProto(JSON.parse(e.json) as JournalEntry)),
          cursor: page.cursor,
          hasMore: page.has_more,
          head: BigInt(page.head),
        });
      }),
      commit: unary('Commit', async (req, hc) => {
        const device = await caller(ctx, hc);
        const ops = parseCommitRequest({ ops: req.ops.map(opToJson) });
        return create(CommitResponseSchema, { results: (await commitOps(ctx, device, ops)).map(opResultToProto) });
      }),
      getStatus: unary('GetStatus', async (_req, hc) => statusToProto(await namespaceStatus(ctx, await caller(ctx, hc)))),
      waitForChange: unary('WaitForChange', async (req, hc) => {
        const device = await caller(ctx, hc);
        if (req.cursor === '') throw badRequest('cursor is required');
        const timeout = parseLongpollTimeout(orDefault(req.timeout));
        const reply = await waitForChange(ctx, device, req.cursor, timeout, hc.signal);
        if (!reply) throw new ConnectError('the client went away', Code.Canceled);
        return create(WaitForChangeResponseSchema, reply);
      }),
      async *subscribe(req, hc) {
        let started;
        try {
          const device = await caller(ctx, hc);
          if (req.cursor === '') throw badRequest('cursor is required');
          const from = await followFrom(ctx, device, req.cursor);
          const owner = { ns: device.namespace.name, deviceId: device.deviceId };
          admitStream(ctx, owner);
          started = ctx.events.follow(owner, from.after, from.head, hc.signal, hc.values.get(SINK));
          count('Subscribe', 0);
        } catch (err) {
          const e = toConnectError(err, 'Subscribe', ctx.opts.log);
          count('Subscribe', e.code);
          throw e;
        }
        for await (const m of started) yield create(SubscribeResponseSchema, { head: BigInt(m.head), heartbeat: m.heartbeat });
      },
    });
}

/** Our errors become a status code plus a syncd.v1.ErrorDetail; anything else an opaque INTERNAL. */
export function toConnectError(err: unknown, method: string, log: (line: string) => void): ConnectError {
  if (err instanceof ConnectError) return err;
  const e = asHttpError(err);
  if (!e) {
    log(`syncd: rpc ${method} failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return new ConnectError('internal server error', Code.Internal);
  }
  const reason = typeof e.details.reason === 'string' ? e.details.reason : undefined;
  const detail = create(ErrorDetailSchema, { error: e.code, message: e.message, reason, retryAfter: e.retryAfter });
  return new ConnectError(rpcMessage(e.code, e.message, reason), rpcCodeOf(e.code), undefined, [{ desc: ErrorDetailSchema, value: detail }]);
}
