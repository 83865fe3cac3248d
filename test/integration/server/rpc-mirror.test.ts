// Every SyncService RPC, through Connect (HTTP/1.1), gRPC (HTTP/2 cleartext,
// prior knowledge) and gRPC-Web (HTTP/1.1), gives what the REST endpoint
// gives on the same port: the same entries, cursors, results and errors.

import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SyncService } from '../../../src/gen/syncd/v1/sync_service_pb.js';
import { ErrorDetailSchema, OpSchema } from '../../../src/gen/syncd/v1/types_pb.js';
import { changesFromProto, listFromProto, opResultFromProto, statusFromProto } from '../../../src/protocol/proto-convert.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

let srv: TestServer;
let api: Api;
let token: string;
beforeAll(async () => {
  srv = await startTestServer();
  token = await srv.addDevice('mirror', 'laptop');
  api = new Api(srv.url, token);
});
afterAll(() => srv.close());

const TRANSPORTS: Array<{ name: string; make: (url: string) => Transport }> = [
  { name: 'Connect over HTTP/1.1', make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '1.1' }) },
  { name: 'gRPC over HTTP/2 cleartext', make: (baseUrl) => createGrpcTransport({ baseUrl }) },
  { name: 'gRPC-Web over HTTP/1.1', make: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: '1.1' }) },
  { name: 'Connect over HTTP/2 cleartext', make: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: '2' }) },
];

const auth = (t = token): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${t}` } });
const last_seen_free = (s: any): any => ({ ...s, devices: s.devices.map((d: any) => ({ ...d, last_seen: null })) });

async function rpcError(p: Promise<unknown>): Promise<{ code: Code; detail: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const e = ConnectError.from(err);
    const [d] = e.findDetails(ErrorDetailSchema);
    return { code: e.code, detail: d ? { error: d.error, message: d.message, ...(d.reason === undefined ? {} : { reason: d.reason }) } : {} };
  }
  throw new Error('expected the RPC to fail');
}

describe.each(TRANSPORTS)('SyncService via $name mirrors REST', ({ make }) => {
  let client: Client<typeof SyncService>;
  beforeAll(() => {
    client = createClient(SyncService, make(srv.url));
  });

  it('Commit: ok, replay, name_taken, conflict and blob_missing results equal REST', async () => {
    const content = `mirror ${randomUUID()}`;
    const { hash } = await api.putBlob(content);
    const dir = await api.mkdir(`dir-${randomUUID()}`);
    const ops = [
      { op_id: randomUUID(), op: 'create', parent: dir.id, name: 'a.txt', kind: 'file', hash, size: content.length, mtime: 7, exec: true },
      { op_id: randomUUID(), op: 'create', parent: dir.id, name: 'A.TXT', kind: 'dir' },
      { op_id: randomUUID(), op: 'move', id: dir.id, base_rev: 9, parent: 'root', name: 'x' },
      { op_id: randomUUID(), op: 'create', parent: dir.id, name: 'l', kind: 'symlink', target: 'a.txt' },
      { op_id: randomUUID(), op: 'create', parent: dir.id, name: 'm', kind: 'file', hash: sha256('never'), size: 5 },
    ] as const;
    const rest = await api.request('POST', '/v1/commit', { body: JSON.stringify({ ops }) });
    expect(rest.status).toBe(200);
    const protoOps = ops.map((o) =>
      create(OpSchema, {
        opId: o.op_id,
        op: o.op,
        ...('id' in o ? { id: o.id, baseRev: BigInt(o.base_rev) } : {}),
        ...('parent' in o ? { parent: o.parent } : {}),
        ...('name' in o ? { name: o.name } : {}),
        ...('kind' in o ? { kind: o.kind } : {}),
        ...('hash' in o ? { hash: o.hash, size: BigInt(o.size) } : {}),
        ...('mtime' in o ? { mtime: BigInt(o.mtime), exec: o.exec } : {}),
        ...('target' in o ? { target: o.target } : {}),
      }),
    );
    // the same op_ids: the ok ones replay their first result, the failed ones are judged afresh
    const viaRpc = await client.commit({ ops: protoOps }, auth());
    expect(viaRpc.results.map(opResultFromProto)).toEqual(rest.body.results);
    expect(rest.body.results.map((r: any) => r.status)).toEqual(['ok', 'error', 'conflict', 'ok', 'error']);
  });

  it('List: every page equals REST, page tokens included', async () => {
    const rest1 = await api.get('/v1/list?limit=2');
    const rpc1 = listFromProto(await client.list({ limit: 2 }, auth()));
    expect(rpc1).toEqual(rest1.body);
    const rest2 = await api.get(`/v1/list?limit=2&page_token=${encodeURIComponent(rest1.body.page_token)}`);
    const rpc2 = listFromProto(await client.list({ limit: 2, pageToken: rpc1.page_token! }, auth()));
    expect(rpc2).toEqual(rest2.body);
  });

  it('GetChanges equals REST from the same cursor', async () => {
    const start = (await api.get('/v1/list?limit=1')).body;
    await api.mkdir(`later-${randomUUID()}`);
    const rest = await api.get(`/v1/changes?cursor=${encodeURIComponent(start.cursor)}&limit=3`);
    const rpc = changesFromProto(await client.getChanges({ cursor: start.cursor, limit: 3 }, auth()));
    expect(rpc).toEqual(rest.body);
    const first = await api.get('/v1/status');
    const fromZero = changesFromProto(await client.getChanges({ cursor: (await api.get('/v1/list')).body.cursor }, auth()));
    expect(fromZero.entries).toEqual([]);
    expect(fromZero.head).toBe(first.body.head);
  });

  it('GetStatus equals REST', async () => {
    const rest = await api.get('/v1/status');
    const rpc = statusFromProto(await client.getStatus({}, auth()));
    expect(last_seen_free(rpc)).toEqual(last_seen_free(rest.body));
  });

  it('WaitForChange answers at once behind the head, and wakes on a commit', async () => {
    const head = (await api.get('/v1/list')).body.cursor;
    await api.mkdir(`wake-${randomUUID()}`);
    expect(await client.waitForChange({ cursor: head, timeout: 5 }, auth())).toMatchObject({ changes: true });
    const now = (await api.get('/v1/list')).body.cursor;
    const waiting = client.waitForChange({ cursor: now, timeout: 30 }, auth());
    await new Promise((r) => setTimeout(r, 200));
    await api.mkdir(`wake-${randomUUID()}`);
    expect(await waiting).toMatchObject({ changes: true });
  });

  it('Subscribe sends the current head first, then each advance', async () => {
    const { cursor, seq } = (await api.get('/v1/list')).body;
    const abort = new AbortController();
    const stream = client.subscribe({ cursor }, { ...auth(), signal: abort.signal });
    const it = stream[Symbol.asyncIterator]();
    const first = await it.next();
    expect(first.value).toMatchObject({ head: BigInt(seq), heartbeat: false });
    const { seq: next } = await api.mkdir(`sub-${randomUUID()}`);
    const second = await it.next();
    expect(second.value).toMatchObject({ head: BigInt(next), heartbeat: false });
    abort.abort();
  });

  it.each([
    {
      description: 'a forged cursor: FAILED_PRECONDITION with the reset detail',
      rpc: (c: Client<typeof SyncService>) => c.getChanges({ cursor: 'forged' }, auth()),
      rest: '/v1/changes?cursor=forged',
      code: Code.FailedPrecondition,
    },
    {
      description: 'a limit out of range: INVALID_ARGUMENT',
      rpc: (c: Client<typeof SyncService>) => c.list({ limit: 20000 }, auth()),
      rest: '/v1/list?limit=20000',
      code: Code.InvalidArgument,
    },
    {
      description: 'an unknown token: UNAUTHENTICATED',
      rpc: (c: Client<typeof SyncService>) => c.getStatus({}, auth('x'.repeat(40))),
      rest: '/v1/status',
      restToken: 'x'.repeat(40),
      code: Code.Unauthenticated,
    },
    {
      description: 'a forged cursor on the stream: FAILED_PRECONDITION',
      rpc: async (c: Client<typeof SyncService>) => {
        for await (const _ of c.subscribe({ cursor: 'forged' }, auth())) break;
      },
      rest: '/v1/longpoll?cursor=forged',
      code: Code.FailedPrecondition,
    },
  ])('errors: $description, carrying the REST error body', async ({ rpc, rest, code, restToken }) => {
    const r = await new Api(srv.url, restToken ?? token).get(rest);
    const e = await rpcError(rpc(client));
    expect(e.code).toBe(code);
    expect(e.detail).toEqual(r.body);
  });
});

describe('shutdown', () => {
  it.each(TRANSPORTS)('close() ends open Subscribe streams via $name and returns', async ({ make }) => {
    const own = await startTestServer({ shutdownGraceMs: 30_000 });
    const tok = await own.addDevice('bye', 'laptop');
    const { cursor } = (await new Api(own.url, tok).get('/v1/list')).body;
    const client = createClient(SyncService, make(own.url));
    const got: bigint[] = [];
    const ended = (async () => {
      try {
        for await (const m of client.subscribe({ cursor }, auth(tok))) got.push(m.head);
        return 'ended';
      } catch (err) {
        return `failed: ${ConnectError.from(err).code}`;
      }
    })();
    while (got.length === 0) await new Promise((r) => setTimeout(r, 20));
    await own.close();
    // the server ends the stream cleanly, well before the 30 s grace would cut it
    expect(await ended).toBe('ended');
  });
});
