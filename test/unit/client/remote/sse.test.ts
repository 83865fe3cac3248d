// The event stream: `event: advanced` / `data: {"head": N}`, however the
// bytes are cut, and how the stream ends.

import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { readAdvancedEvents } from '../../../../src/client/remote/sse.js';
import { startFakeServer, type FakeServer } from '../../../helpers/fake-server.js';

const STREAM = [
  ': hello – keep-alive comment with UTF-8 ✓\n\n',
  'event: advanced\ndata: {"head": 1}\n\n',
  'event: something-else\ndata: whatever\n\n',
  'data: {"head": 999}\n\n', // no event name: not ours
  'event: advanced\r\ndata: {"head": 2}\r\n\r\n',
  'retry: 1000\nevent: advanced\nid: 7\ndata: {"head":\ndata: 3}\n\n', // multi-line data joins with \n
  'event: advanced\ndata: {"head": 4, "extra": true}\n\n',
].join('');
const BYTES = Buffer.from(STREAM, 'utf8');

async function* cut(buf: Buffer, at: number[]): AsyncGenerator<Buffer> {
  let p = 0;
  for (const c of [...at, buf.length]) {
    if (c > p) yield buf.subarray(p, c);
    p = c;
  }
}

async function heads(source: AsyncIterable<Buffer>): Promise<number[]> {
  const got: number[] = [];
  await readAdvancedEvents(source, (h) => got.push(h), 'http://s');
  return got;
}

describe('readAdvancedEvents', () => {
  test('whole stream', async () => {
    expect(await heads(cut(BYTES, []))).toEqual([1, 2, 3, 4]);
  });

  test('split in two at every byte boundary (including inside UTF-8 sequences)', async () => {
    for (let i = 1; i < BYTES.length; i++) expect(await heads(cut(BYTES, [i])), `cut at ${i}`).toEqual([1, 2, 3, 4]);
  });

  test('one byte at a time', async () => {
    expect(await heads(cut(BYTES, Array.from({ length: BYTES.length }, (_, i) => i)))).toEqual([1, 2, 3, 4]);
  });

  test.each([
    { name: 'data not JSON', data: 'nope' },
    { name: 'head missing', data: '{"seq": 3}' },
    { name: 'head a string', data: '{"head": "3"}' },
    { name: 'head negative', data: '{"head": -1}' },
    { name: 'head fractional', data: '{"head": 1.5}' },
    { name: 'data an array', data: '[3]' },
  ])('a malformed advanced event ($name) is a protocol error', async ({ data }) => {
    const got: number[] = [];
    const p = readAdvancedEvents(cut(Buffer.from(`event: advanced\ndata: {"head": 1}\n\nevent: advanced\ndata: ${data}\n\n`), []), (h) => got.push(h), 'http://s');
    await expect(p).rejects.toMatchObject({ code: 'protocol', message: expect.stringContaining('malformed "advanced" event') });
    expect(got).toEqual([1]);
  });

  test('an endless line is cut off as a protocol error', async () => {
    async function* endless(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 200; i++) yield Buffer.from('x'.repeat(1024));
    }
    await expect(heads(endless())).rejects.toMatchObject({ code: 'protocol' });
  });
});

describe('RemoteClient.events', () => {
  let fake: FakeServer;
  let client: RemoteClient;
  beforeEach(async () => {
    fake = await startFakeServer();
    client = new RemoteClient({ server: fake.url, token: 't' });
  });
  afterEach(async () => {
    await client.close();
    await fake.close();
  });
  const SSE = { 'content-type': 'text/event-stream; charset=utf-8' };

  test('delivers heads across chunks and resolves when the stream ends', async () => {
    fake.on('GET', '/v1/events', { headers: SSE, chunks: [BYTES.subarray(0, 40), { delayMs: 5 }, BYTES.subarray(40, 41), BYTES.subarray(41)] });
    const got: number[] = [];
    await client.events('cur', (h) => got.push(h), new AbortController().signal);
    expect(got).toEqual([1, 2, 3, 4]);
    const req = fake.seen('GET', '/v1/events')[0]!;
    expect(req.query.get('cursor')).toBe('cur');
    expect(req.headers.accept).toBe('text/event-stream');
  });

  test('404: the server has no event stream → unsupported', async () => {
    await expect(client.events('cur', () => {}, new AbortController().signal)).rejects.toMatchObject({ code: 'unsupported', status: 404 });
  });

  test('401 → unauthorized', async () => {
    fake.on('GET', '/v1/events', { status: 401, json: { error: 'unauthorized', message: 'x' } });
    await expect(client.events('cur', () => {}, new AbortController().signal)).rejects.toMatchObject({ code: 'unauthorized' });
  });

  test('409 reset', async () => {
    fake.on('GET', '/v1/events', { status: 409, json: { error: 'reset', reason: 'expired', message: 'x' } });
    await expect(client.events('cur', () => {}, new AbortController().signal)).rejects.toMatchObject({ code: 'reset', reason: 'expired' });
  });

  test('200 with a JSON body is not an event stream', async () => {
    fake.on('GET', '/v1/events', { json: { head: 1 } });
    await expect(client.events('cur', () => {}, new AbortController().signal)).rejects.toMatchObject({ code: 'protocol' });
  });

  test('a dropped connection rejects with network', async () => {
    fake.on('GET', '/v1/events', { headers: SSE, chunks: ['event: advanced\ndata: {"head": 1}\n\n', { delayMs: 20 }, 'event: adv'], dropAfterBytes: 45 });
    const got: number[] = [];
    await expect(client.events('cur', (h) => got.push(h), new AbortController().signal)).rejects.toMatchObject({ code: 'network' });
    expect(got).toEqual([1]);
  });

  test('aborting resolves, while waiting for headers and mid-stream', async () => {
    fake.on('GET', '/v1/events', { hang: true });
    const a1 = new AbortController();
    const p1 = client.events('cur', () => {}, a1.signal);
    setTimeout(() => a1.abort(), 20);
    await expect(p1).resolves.toBeUndefined();

    const got: number[] = [];
    const a2 = new AbortController();
    fake.on('GET', '/v1/events', { headers: SSE, chunks: ['event: advanced\ndata: {"head": 5}\n\n', { delayMs: 60_000 }] });
    const p2 = client.events('cur', (h) => {
      got.push(h);
      a2.abort();
    }, a2.signal);
    await expect(p2).resolves.toBeUndefined();
    expect(got).toEqual([5]);
  });
});
