// Every JSON reply is checked for shape: a lying server gets a `protocol`
// RemoteError naming the bad field, never a TypeError later on.

import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import type { Op } from '../../../../src/protocol/types.js';
import { startFakeServer, type FakeServer } from '../../../helpers/fake-server.js';

const H = 'cd'.repeat(32);

const FILE = { id: 'n_1', parent: 'root', name: 'a.txt', kind: 'file', rev: 1, size: 3, hash: H, mtime: 1700000000000, exec: false, seq: 1 };
const DIR = { id: 'n_2', parent: 'root', name: 'docs', kind: 'dir', rev: 2, mtime: 0, exec: false, seq: 2 };
const LINK = { id: 'n_3', parent: 'n_2', name: 'l', kind: 'symlink', rev: 1, target: '../a.txt', mtime: 0, exec: false, seq: 3 };

const STATUS = {
  namespace: 'ns',
  epoch: 'e1',
  head: 3,
  floor: 0,
  retention: { max_age_s: null, max_entries: 1000 },
  devices: [{ id: 'd_1', label: 'laptop', cursor_seq: 3, lag: 0, last_seen: 1700000000000 }],
};
const LIST = { entries: [FILE, DIR, LINK], cursor: 'c3', seq: 3, has_more: false };
const CHANGES = { entries: [{ seq: 1, op: 'create', node: FILE, device: 'd_1' }], cursor: 'c1', has_more: false, head: 1 };
const OP: Op = { op_id: 'op-00000001', op: 'create', parent: 'root', name: 'a.txt', kind: 'file', hash: H, size: 3, mtime: 0, exec: false };
const COMMIT = { results: [{ status: 'ok', seq: 4, node: { ...FILE, seq: 4 } }] };

let fake: FakeServer;
let client: RemoteClient;
beforeAll(async () => {
  fake = await startFakeServer();
  client = new RemoteClient({ server: fake.url, token: 'tok' });
});
afterAll(async () => {
  await client.close();
  await fake.close();
});
beforeEach(() => fake.reset());

/** A deep copy with `path` set to `value` (undefined deletes). */
function mutate<T>(base: T, path: (string | number)[], value: unknown): unknown {
  const copy = structuredClone(base) as Record<string | number, unknown>;
  let o: Record<string | number, unknown> = copy;
  for (const k of path.slice(0, -1)) o = o[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete o[last];
  else o[last] = value;
  return copy;
}

type Call = () => Promise<unknown>;
const endpoints: Record<string, { route: [string, string]; base: unknown; call: Call }> = {
  status: { route: ['GET', '/v1/status'], base: STATUS, call: () => client.status() },
  list: { route: ['GET', '/v1/list'], base: LIST, call: () => client.list() },
  changes: { route: ['GET', '/v1/changes'], base: CHANGES, call: () => client.changes('c0') },
  longpoll: { route: ['GET', '/v1/longpoll'], base: { changes: true }, call: () => client.longpoll('c0', 5) },
  commit: { route: ['POST', '/v1/commit'], base: COMMIT, call: () => client.commit([OP]) },
};

interface BadCase {
  name: string;
  endpoint: keyof typeof endpoints;
  /** a whole reply, or a mutation of the endpoint's valid base */
  reply?: unknown;
  path?: (string | number)[];
  value?: unknown;
  /** the message must name this */
  mentions: string;
}

const BAD: BadCase[] = [
  { name: 'reply is an array', endpoint: 'list', reply: [], mentions: 'reply must be an object' },
  { name: 'reply is null', endpoint: 'changes', reply: null, mentions: 'reply must be an object' },
  { name: 'reply is a string', endpoint: 'status', reply: 'ok', mentions: 'reply must be an object' },
  { name: 'entries missing', endpoint: 'list', path: ['entries'], value: undefined, mentions: 'reply.entries must be an array' },
  { name: 'entries an object', endpoint: 'changes', path: ['entries'], value: {}, mentions: 'reply.entries must be an array' },
  { name: 'cursor missing', endpoint: 'list', path: ['cursor'], value: undefined, mentions: 'reply.cursor must be a non-empty string' },
  { name: 'cursor a number', endpoint: 'changes', path: ['cursor'], value: 7, mentions: 'reply.cursor' },
  { name: 'cursor empty', endpoint: 'changes', path: ['cursor'], value: '', mentions: 'reply.cursor' },
  { name: 'has_more a string', endpoint: 'list', path: ['has_more'], value: 'false', mentions: 'reply.has_more must be true or false' },
  { name: 'has_more without page_token', endpoint: 'list', path: ['has_more'], value: true, mentions: 'reply.page_token' },
  { name: 'seq negative', endpoint: 'list', path: ['seq'], value: -1, mentions: 'reply.seq' },
  { name: 'seq fractional', endpoint: 'list', path: ['seq'], value: 1.5, mentions: 'reply.seq' },
  { name: 'head a string', endpoint: 'changes', path: ['head'], value: '9', mentions: 'reply.head' },
  { name: 'head beyond 2^53', endpoint: 'changes', path: ['head'], value: 2 ** 60, mentions: 'reply.head' },
  { name: 'node is null', endpoint: 'list', path: ['entries', 0], value: null, mentions: 'reply.entries[0] must be an object' },
  { name: 'node id missing', endpoint: 'list', path: ['entries', 1, 'id'], value: undefined, mentions: 'reply.entries[1].id' },
  { name: 'node parent a number', endpoint: 'list', path: ['entries', 0, 'parent'], value: 0, mentions: 'reply.entries[0].parent' },
  { name: 'node name a number', endpoint: 'list', path: ['entries', 0, 'name'], value: 5, mentions: 'reply.entries[0].name must be a string' },
  { name: 'node kind unknown', endpoint: 'list', path: ['entries', 0, 'kind'], value: 'fifo', mentions: 'reply.entries[0].kind' },
  { name: 'node rev 0', endpoint: 'list', path: ['entries', 0, 'rev'], value: 0, mentions: 'reply.entries[0].rev must be an integer >= 1' },
  { name: 'file without hash', endpoint: 'list', path: ['entries', 0, 'hash'], value: undefined, mentions: 'reply.entries[0].hash' },
  { name: 'file with uppercase hash', endpoint: 'list', path: ['entries', 0, 'hash'], value: H.toUpperCase(), mentions: 'reply.entries[0].hash' },
  { name: 'file with short hash', endpoint: 'list', path: ['entries', 0, 'hash'], value: 'abc', mentions: 'reply.entries[0].hash' },
  { name: 'file size negative', endpoint: 'list', path: ['entries', 0, 'size'], value: -1, mentions: 'reply.entries[0].size' },
  { name: 'file size a string', endpoint: 'list', path: ['entries', 0, 'size'], value: '3', mentions: 'reply.entries[0].size' },
  { name: 'symlink without target', endpoint: 'list', path: ['entries', 2, 'target'], value: undefined, mentions: 'reply.entries[2].target' },
  { name: 'exec a string', endpoint: 'list', path: ['entries', 0, 'exec'], value: 'yes', mentions: 'reply.entries[0].exec' },
  { name: 'mtime a string', endpoint: 'list', path: ['entries', 0, 'mtime'], value: 'now', mentions: 'reply.entries[0].mtime' },
  { name: 'entry op unknown', endpoint: 'changes', path: ['entries', 0, 'op'], value: 'rename', mentions: 'reply.entries[0].op' },
  { name: 'entry seq 0', endpoint: 'changes', path: ['entries', 0, 'seq'], value: 0, mentions: 'reply.entries[0].seq' },
  { name: 'entry node missing', endpoint: 'changes', path: ['entries', 0, 'node'], value: undefined, mentions: 'reply.entries[0].node must be an object' },
  { name: 'entry node bad', endpoint: 'changes', path: ['entries', 0, 'node', 'kind'], value: 1, mentions: 'reply.entries[0].node.kind' },
  { name: 'entry device missing', endpoint: 'changes', path: ['entries', 0, 'device'], value: undefined, mentions: 'reply.entries[0].device' },
  { name: 'longpoll changes missing', endpoint: 'longpoll', reply: {}, mentions: 'reply.changes' },
  { name: 'longpoll backoff negative', endpoint: 'longpoll', reply: { changes: false, backoff: -5 }, mentions: 'reply.backoff' },
  { name: 'longpoll backoff a string', endpoint: 'longpoll', reply: { changes: false, backoff: '5' }, mentions: 'reply.backoff' },
  { name: 'status head missing', endpoint: 'status', path: ['head'], value: undefined, mentions: 'reply.head' },
  { name: 'status retention missing', endpoint: 'status', path: ['retention'], value: undefined, mentions: 'reply.retention must be an object' },
  { name: 'status devices not an array', endpoint: 'status', path: ['devices'], value: 'none', mentions: 'reply.devices' },
  { name: 'status device lag a string', endpoint: 'status', path: ['devices', 0, 'lag'], value: 'big', mentions: 'reply.devices[0].lag' },
  { name: 'commit results missing', endpoint: 'commit', reply: {}, mentions: 'reply.results must be an array' },
  { name: 'commit result count differs', endpoint: 'commit', reply: { results: [] }, mentions: 'sent 1 ops but got 0 results' },
  { name: 'commit status unknown', endpoint: 'commit', path: ['results', 0, 'status'], value: 'maybe', mentions: 'reply.results[0].status' },
  { name: 'commit ok without node', endpoint: 'commit', path: ['results', 0, 'node'], value: undefined, mentions: 'reply.results[0].node' },
  { name: 'commit conflict without current', endpoint: 'commit', reply: { results: [{ status: 'conflict' }] }, mentions: 'reply.results[0].current' },
  { name: 'commit error with unknown code', endpoint: 'commit', reply: { results: [{ status: 'error', error: 'oops', message: 'x' }] }, mentions: 'reply.results[0].error' },
];

describe('malformed replies are protocol errors', () => {
  test.each(BAD)('$endpoint: $name', async (c) => {
    const ep = endpoints[c.endpoint]!;
    const reply = c.reply !== undefined ? c.reply : mutate(ep.base, c.path!, c.value);
    fake.on(ep.route[0], ep.route[1], { json: reply });
    const p = ep.call();
    await expect(p).rejects.toBeInstanceOf(RemoteError);
    await expect(p).rejects.toMatchObject({ code: 'protocol' });
    await p.catch((e: RemoteError) => {
      expect(e.message).toContain(c.mentions);
      expect(e.message).toContain(fake.url);
    });
  });

  test('a JSON reply over the size cap', async () => {
    const c = new RemoteClient({ server: fake.url, token: 't', maxJsonBytes: 1000 });
    try {
      fake.on('GET', '/v1/list', { json: { ...LIST, pad: 'x'.repeat(5000) } });
      await expect(c.list()).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/exceeds 1000 bytes/) });
    } finally {
      await c.close();
    }
  });
});

describe('valid replies', () => {
  test('list: nodes come back clean, unknown fields dropped', async () => {
    fake.on('GET', '/v1/list', { json: { ...LIST, entries: [{ ...FILE, evil: 1 }, DIR, LINK], extra: true } });
    const r = await client.list({ limit: 10, pageToken: 'pt' });
    expect(r).toEqual(LIST);
    const q = fake.seen('GET', '/v1/list')[0]!.query;
    expect(q.get('limit')).toBe('10');
    expect(q.get('page_token')).toBe('pt');
  });

  test('list: page_token carried when has_more', async () => {
    fake.on('GET', '/v1/list', { json: { ...LIST, has_more: true, page_token: 'next' } });
    expect((await client.list()).page_token).toBe('next');
  });

  test('a node without exec/mtime gets false/0 (lenient on informational fields)', async () => {
    const { exec: _e, mtime: _m, ...bare } = DIR;
    fake.on('GET', '/v1/list', { json: { ...LIST, entries: [bare] } });
    expect((await client.list()).entries[0]).toEqual({ ...DIR, exec: false, mtime: 0 });
  });

  test('changes: query carries cursor and limit; names are not validated here', async () => {
    const hostile = { ...FILE, name: '../../etc/passwd' };
    fake.on('GET', '/v1/changes', { json: { ...CHANGES, entries: [{ ...CHANGES.entries[0], node: hostile }] } });
    const r = await client.changes('c0', 50);
    expect(r.entries[0]!.node.name).toBe('../../etc/passwd');
    const q = fake.seen('GET', '/v1/changes')[0]!.query;
    expect([q.get('cursor'), q.get('limit')]).toEqual(['c0', '50']);
  });

  test('status', async () => {
    fake.on('GET', '/v1/status', { json: { ...STATUS, device: 'd_1', server_version: '0.1.0', protocol: 1 } });
    expect(await client.status()).toEqual({ ...STATUS, device: 'd_1', server_version: '0.1.0', protocol: 1 });
  });

  test('a longpoll backoff beyond 300 s is clamped to 300 s (a broken server must not park the agent for days)', async () => {
    fake.on('GET', '/v1/longpoll', { json: { changes: false, backoff: 86_400 * 30 } });
    expect(await client.longpoll('c0', 25)).toEqual({ changes: false, backoff: 300 });
  });

  test('longpoll with backoff, and the timeout in the query', async () => {
    fake.on('GET', '/v1/longpoll', { json: { changes: false, backoff: 3 } });
    expect(await client.longpoll('c0', 25)).toEqual({ changes: false, backoff: 3 });
    expect(fake.seen('GET', '/v1/longpoll')[0]!.query.get('timeout')).toBe('25');
  });

  test('commit: body, every result status', async () => {
    const ops: Op[] = [OP, { ...OP, op_id: 'op-00000002' }, { op_id: 'op-00000003', op: 'delete', id: 'n_9', base_rev: 1 }];
    fake.on('POST', '/v1/commit', {
      json: {
        results: [
          { status: 'ok', seq: 4, node: FILE },
          { status: 'conflict', current: DIR },
          { status: 'error', error: 'not_found', message: 'no\nsuch' },
        ],
      },
    });
    const r = await client.commit(ops);
    expect(r).toEqual([
      { status: 'ok', seq: 4, node: FILE },
      { status: 'conflict', current: DIR },
      { status: 'error', error: 'not_found', message: 'no such' },
    ]);
    const req = fake.seen('POST', '/v1/commit')[0]!;
    expect(JSON.parse(req.body.toString())).toEqual({ ops });
    expect(req.headers['content-type']).toBe('application/json');
  });

  test('every request carries the bearer token and a user agent', async () => {
    fake.on('GET', '/v1/status', { json: STATUS });
    await client.status();
    const h = fake.seen('GET', '/v1/status')[0]!.headers;
    expect(h.authorization).toBe('Bearer tok');
    expect(h['user-agent']).toMatch(/^syncd\//);
  });

  test('a server URL with a path prefix keeps it', async () => {
    const c = new RemoteClient({ server: `${fake.url}/sync/`, token: 't' });
    try {
      fake.on('GET', '/sync/v1/status', { json: STATUS });
      await c.status();
      expect(c.server).toBe(`${fake.url}/sync`);
    } finally {
      await c.close();
    }
  });

  test.each([
    { name: 'not a URL', opts: { server: 'nope', token: 't' } },
    { name: 'ftp URL', opts: { server: 'ftp://h/', token: 't' } },
    { name: 'empty token', opts: { server: 'http://h/', token: '' } },
    { name: 'token with a newline', opts: { server: 'http://h/', token: 'a\nb' } },
    { name: 'zero connections', opts: { server: 'http://h/', token: 't', connections: 0 } },
  ])('constructor rejects $name', ({ opts }) => {
    expect(() => new RemoteClient(opts)).toThrow(TypeError);
  });
});
