// The batch download framing (`POST /v1/blobs/fetch`): `<hash> <size>\n` +
// bytes, or `<hash> -1\n`, parsed incrementally however the stream is cut.

import { PassThrough, type Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { RemoteClient } from '../../../../src/client/remote/remote.js';
import { chunksOf, readBlobFrameBuffers, readBlobFrames } from '../../../../src/client/remote/streams.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { A, BIG, D, MISSING, NEWLINES, SET, frames, pieces } from '../../../helpers/blob-frames.js';
import { startFakeServer, type FakeServer } from '../../../helpers/fake-server.js';

const SERVER = 'http://fake';

async function readAll(body: Readable): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of body) out.push(c as Buffer);
  return Buffer.concat(out);
}

/** Runs the parser; returns what onBlob saw (content null for -1). */
async function collect(source: AsyncIterable<Buffer>, hashes: string[]): Promise<Array<[string, number, Buffer | null]>> {
  const seen: Array<[string, number, Buffer | null]> = [];
  await readBlobFrames(source, hashes, async (hash, size, body) => {
    seen.push([hash, size, size === -1 ? null : await readAll(body)]);
  }, SERVER);
  return seen;
}

const expected = SET.map((b): [string, number, Buffer | null] => [b.hash, b.content === null ? -1 : b.content.length, b.content]);
const wire = frames(SET);
const hashes = SET.map((b) => b.hash);

describe('readBlobFrames', () => {
  test('one chunk', async () => {
    expect(await collect(pieces(wire, []), hashes)).toEqual(expected);
  });

  test('split into two at every byte boundary', async () => {
    for (let cut = 1; cut < wire.length; cut++) {
      expect(await collect(pieces(wire, [cut]), hashes), `cut at ${cut}`).toEqual(expected);
    }
  });

  test('one byte per chunk', async () => {
    const cuts = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
    expect(await collect(pieces(wire, cuts), hashes)).toEqual(expected);
  });

  test('three-way splits around the headers', async () => {
    const h1 = A.hash.length + 3; // just past the first header
    for (let a = 1; a < h1 + 8; a++) {
      for (let b = a + 1; b < a + 80 && b < wire.length; b += 3) {
        expect(await collect(pieces(wire, [a, b]), hashes), `cuts ${a},${b}`).toEqual(expected);
      }
    }
  });

  test('a body onBlob leaves unread is skipped, the next frame still lines up', async () => {
    const seen: string[] = [];
    for (let cut = 1; cut < wire.length; cut += 7) {
      seen.length = 0;
      await readBlobFrames(pieces(wire, [cut]), hashes, async (hash, size, body) => {
        seen.push(hash);
        if (hash === BIG.hash) {
          // read a little, then give up on it
          for await (const _ of body) break;
        }
        // others: not read at all
        void size;
      }, SERVER);
      expect(seen, `cut at ${cut}`).toEqual(hashes);
    }
  });

  test('truncated at every position: rejects with protocol, never delivers a wrong or short blob', async () => {
    for (let end = 0; end < wire.length; end++) {
      const delivered: Array<[string, Buffer | null]> = [];
      let err: unknown;
      try {
        await readBlobFrames(pieces(wire.subarray(0, end), [Math.floor(end / 2)]), hashes, async (hash, size, body) => {
          if (size === -1) {
            delivered.push([hash, null]);
            return;
          }
          delivered.push([hash, await readAll(body)]);
        }, SERVER);
      } catch (e) {
        err = e;
      }
      expect(err, `end ${end}`).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe('protocol');
      expect((err as RemoteError).message).toMatch(/ended/);
      for (const [hash, content] of delivered) {
        const want = SET.find((b) => b.hash === hash)!;
        expect(content, `end ${end}, ${hash}`).toEqual(want.content);
      }
    }
  });

  test('a source error mid-body reaches the consumer and the caller', async () => {
    const boom = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const cut = wire.length - 10; // inside BIG
    let consumerSaw: unknown;
    const p = readBlobFrames(pieces(wire.subarray(0, cut), [], boom), hashes, async (_hash, _size, body) => {
      try {
        await readAll(body);
      } catch (e) {
        consumerSaw = e;
      }
    }, SERVER);
    await expect(p).rejects.toBe(boom);
    expect(consumerSaw).toBeInstanceOf(RemoteError);
    expect((consumerSaw as RemoteError).code).toBe('network');
  });

  test.each([
    { name: 'a frame for another hash', wire: () => frames([MISSING, A]), want: /is for .* but .* was requested/ },
    { name: 'a size with a leading zero', wire: () => Buffer.from(`${A.hash} 05\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'a negative size other than -1', wire: () => Buffer.from(`${A.hash} -2\n`), want: /is not "<hash> <size>"/ },
    { name: 'an uppercase hash', wire: () => Buffer.from(`${A.hash.toUpperCase()} 5\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'CRLF line end', wire: () => Buffer.from(`${A.hash} 5\r\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'no newline within the header limit', wire: () => Buffer.from('x'.repeat(500)), want: /no header line/ },
    { name: 'bytes after the last frame', wire: () => Buffer.concat([frames([A]), Buffer.from('junk')]), want: /follow the last frame/ },
    { name: 'an empty reply', wire: () => Buffer.alloc(0), want: /ended after 0 of 1/ },
  ])('$name is a protocol error', async ({ wire: w, want }) => {
    const p = collect(pieces(w(), []), [A.hash]);
    await expect(p).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(want) });
  });

  test('an error thrown by onBlob is rethrown', async () => {
    const mine = new Error('disk full');
    await expect(readBlobFrames(pieces(wire, []), hashes, async () => {
      throw mine;
    }, SERVER)).rejects.toBe(mine);
  });
});

describe('RemoteClient.fetchBlobs', () => {
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

  const gather = async (hs: string[]): Promise<Array<[string, number, string | null]>> => {
    const seen: Array<[string, number, string | null]> = [];
    await client.fetchBlobs(hs, async (hash, size, body) => {
      seen.push([hash, size, size === -1 ? null : (await readAll(body)).toString('latin1')]);
    });
    return seen;
  };

  test('one POST with the hashes, frames parsed from the wire', async () => {
    fake.on('POST', '/v1/blobs/fetch', { headers: { 'content-type': 'application/octet-stream' }, chunks: [wire.subarray(0, 70), wire.subarray(70)] });
    const seen = await gather(hashes);
    expect(seen).toEqual(expected.map(([h, s, c]) => [h, s, c === null ? null : c.toString('latin1')]));
    const req = fake.seen('POST', '/v1/blobs/fetch');
    expect(req).toHaveLength(1);
    expect(JSON.parse(req[0]!.body.toString())).toEqual({ hashes });
    expect(client.supportsBatchFetch).toBe(true);
  });

  test.each([404, 405])('a %i falls back to GET per blob, and is remembered', async (status) => {
    fake.on('POST', '/v1/blobs/fetch', { status, json: { error: 'not_found', message: 'no route' } });
    fake.on('GET', `/v1/blobs/${A.hash}`, { body: A.content! });
    fake.on('GET', `/v1/blobs/${BIG.hash}`, { body: BIG.content! });
    // MISSING: unmatched → the fake's 404
    const seen = await gather([A.hash, MISSING.hash, BIG.hash]);
    expect(seen).toEqual([
      [A.hash, 5, 'hello'],
      [MISSING.hash, -1, null],
      [BIG.hash, 300, D.toString('latin1')],
    ]);
    expect(client.supportsBatchFetch).toBe(false);
    await gather([A.hash]);
    expect(fake.seen('POST', '/v1/blobs/fetch')).toHaveLength(1);
  });

  test('a connection dropped mid-reply rejects with network', async () => {
    fake.on('POST', '/v1/blobs/fetch', { body: wire, dropAfterBytes: wire.length - 20 });
    await expect(gather(hashes)).rejects.toMatchObject({ code: 'network' });
  });

  test('401 is not mistaken for a missing route', async () => {
    fake.on('POST', '/v1/blobs/fetch', { status: 401, json: { error: 'unauthorized', message: 'x' } });
    await expect(gather([A.hash])).rejects.toMatchObject({ code: 'unauthorized' });
    expect(client.supportsBatchFetch).toBeUndefined();
  });

  test('more than 1000 hashes is a caller bug', async () => {
    await expect(client.fetchBlobs(Array(1001).fill(A.hash), async () => {})).rejects.toThrow(TypeError);
  });
});

describe('readBlobFrameBuffers (whole frames)', () => {
  /** Runs the parser; returns what onBlob saw (content null for -1 and for skipped frames). */
  async function collectWhole(source: AsyncIterable<Buffer>, hs: string[], maxBytes = 1 << 20): Promise<Array<[string, number, Buffer | null]>> {
    const seen: Array<[string, number, Buffer | null]> = [];
    await readBlobFrameBuffers(source, hs, maxBytes, (hash, size, data) => {
      seen.push([hash, size, data === null ? null : Buffer.concat(data)]);
    }, SERVER);
    return seen;
  }

  test('one chunk', async () => {
    expect(await collectWhole(pieces(wire, []), hashes)).toEqual(expected);
  });

  test('split into two at every byte boundary', async () => {
    for (let cut = 1; cut < wire.length; cut++) {
      expect(await collectWhole(pieces(wire, [cut]), hashes), `cut at ${cut}`).toEqual(expected);
    }
  });

  test('one byte per chunk', async () => {
    const cuts = Array.from({ length: wire.length - 1 }, (_, i) => i + 1);
    expect(await collectWhole(pieces(wire, cuts), hashes)).toEqual(expected);
  });

  test('three-way splits around the headers', async () => {
    const h1 = A.hash.length + 3;
    for (let a = 1; a < h1 + 8; a++) {
      for (let b = a + 1; b < a + 80 && b < wire.length; b += 3) {
        expect(await collectWhole(pieces(wire, [a, b]), hashes), `cuts ${a},${b}`).toEqual(expected);
      }
    }
  });

  test('a frame larger than the limit is skipped unread (data null), the next frame still lines up', async () => {
    const order = [BIG, A, NEWLINES];
    const w = frames(order);
    for (let cut = 1; cut < w.length; cut += 5) {
      const seen = await collectWhole(pieces(w, [cut, Math.min(w.length - 1, cut + 40)]), order.map((b) => b.hash), 100);
      expect(seen, `cut at ${cut}`).toEqual([[BIG.hash, 300, null], [A.hash, 5, A.content], [NEWLINES.hash, NEWLINES.content!.length, NEWLINES.content]]);
    }
  });

  test('truncated at every position: rejects with protocol, never delivers a wrong or short blob', async () => {
    for (let end = 0; end < wire.length; end++) {
      const delivered: Array<[string, Buffer | null]> = [];
      let err: unknown;
      try {
        await readBlobFrameBuffers(pieces(wire.subarray(0, end), [Math.floor(end / 2)]), hashes, 1 << 20, (hash, _size, data) => {
          delivered.push([hash, data === null ? null : Buffer.concat(data)]);
        }, SERVER);
      } catch (e) {
        err = e;
      }
      expect(err, `end ${end}`).toBeInstanceOf(RemoteError);
      expect((err as RemoteError).code).toBe('protocol');
      expect((err as RemoteError).message).toMatch(/ended/);
      for (const [hash, content] of delivered) {
        const want = SET.find((b) => b.hash === hash)!;
        expect(content, `end ${end}, ${hash}`).toEqual(want.content);
      }
    }
  });

  test('a source error mid-body reaches the caller', async () => {
    const boom = Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    const p = collectWhole(pieces(wire.subarray(0, wire.length - 10), [], boom), hashes);
    await expect(p).rejects.toBe(boom);
  });

  test.each([
    { name: 'a frame for another hash', wire: () => frames([MISSING, A]), want: /is for .* but .* was requested/ },
    { name: 'a size with a leading zero', wire: () => Buffer.from(`${A.hash} 05\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'a negative size other than -1', wire: () => Buffer.from(`${A.hash} -2\n`), want: /is not "<hash> <size>"/ },
    { name: 'an uppercase hash', wire: () => Buffer.from(`${A.hash.toUpperCase()} 5\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'CRLF line end', wire: () => Buffer.from(`${A.hash} 5\r\nhello`), want: /is not "<hash> <size>"/ },
    { name: 'no newline within the header limit', wire: () => Buffer.from('x'.repeat(500)), want: /no header line/ },
    { name: 'bytes after the last frame', wire: () => Buffer.concat([frames([A]), Buffer.from('junk')]), want: /follow the last frame/ },
    { name: 'bytes after the last frame, in a later chunk', wire: () => Buffer.concat([frames([A]), Buffer.from('junk')]), cut: 70, want: /follow the last frame/ },
    { name: 'an empty reply', wire: () => Buffer.alloc(0), want: /ended after 0 of 1/ },
  ])('$name is a protocol error', async ({ wire: w, want, cut }) => {
    const bytes = w();
    const p = collectWhole(pieces(bytes, cut === undefined ? [] : [bytes.length - 4]), [A.hash]);
    await expect(p).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(want) });
  });

  test('an error thrown by onBlob is rethrown', async () => {
    const mine = new Error('disk full');
    await expect(readBlobFrameBuffers(pieces(wire, []), hashes, 1 << 20, () => {
      throw mine;
    }, SERVER)).rejects.toBe(mine);
  });
});

describe('RemoteClient downloads over a fake server (fetchBlobBuffers, getChunk)', () => {
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

  const gather = async (hs: string[], maxBytes = 1 << 20): Promise<Array<[string, number, string | null]>> => {
    const seen: Array<[string, number, string | null]> = [];
    await client.fetchBlobBuffers(hs, maxBytes, (hash, size, data) => {
      seen.push([hash, size, data === null ? null : Buffer.concat(data).toString('latin1')]);
    });
    return seen;
  };

  test('one POST with the hashes, frames parsed from the wire', async () => {
    fake.on('POST', '/v1/blobs/fetch', { headers: { 'content-type': 'application/octet-stream' }, chunks: [wire.subarray(0, 70), wire.subarray(70)] });
    expect(await gather(hashes)).toEqual(expected.map(([h, s, c]) => [h, s, c === null ? null : c.toString('latin1')]));
    expect(fake.seen('POST', '/v1/blobs/fetch')).toHaveLength(1);
    expect(client.supportsBatchFetch).toBe(true);
  });

  test.each([404, 405])('a %i falls back to GET per blob (a blob over the limit is not read), and is remembered', async (status) => {
    fake.on('POST', '/v1/blobs/fetch', { status, json: { error: 'not_found', message: 'no route' } });
    fake.on('GET', `/v1/blobs/${A.hash}`, { body: A.content! });
    fake.on('GET', `/v1/blobs/${BIG.hash}`, { body: BIG.content! });
    expect(await gather([A.hash, MISSING.hash, BIG.hash], 100)).toEqual([
      [A.hash, 5, 'hello'],
      [MISSING.hash, -1, null],
      [BIG.hash, 300, null],
    ]);
    expect(client.supportsBatchFetch).toBe(false);
    await gather([A.hash]);
    expect(fake.seen('POST', '/v1/blobs/fetch')).toHaveLength(1);
  });

  test('a connection dropped mid-reply rejects with network', async () => {
    fake.on('POST', '/v1/blobs/fetch', { body: wire, dropAfterBytes: wire.length - 20 });
    await expect(gather(hashes)).rejects.toMatchObject({ code: 'network' });
  });

  test('401 is not mistaken for a missing route', async () => {
    fake.on('POST', '/v1/blobs/fetch', { status: 401, json: { error: 'unauthorized', message: 'x' } });
    await expect(gather([A.hash])).rejects.toMatchObject({ code: 'unauthorized' });
    expect(client.supportsBatchFetch).toBeUndefined();
  });

  test('more than 1000 hashes is a caller bug', async () => {
    await expect(client.fetchBlobBuffers(Array(1001).fill(A.hash), 100, () => {})).rejects.toThrow(TypeError);
  });

  describe('getChunk into a buffer', () => {
    const body = Buffer.from(Array.from({ length: 5000 }, (_, i) => i % 251));
    const path = `/v1/chunks/${BIG.hash}`;

    test('the reply lands in the buffer given, however it is cut: a slice of it comes back', async () => {
      fake.on('GET', path, { chunks: [body.subarray(0, 1), body.subarray(1, 4000), body.subarray(4000)] });
      const into = Buffer.alloc(8192);
      const got = await client.getChunk(BIG.hash, 1, undefined, into);
      expect(got.equals(body)).toBe(true);
      expect(got.buffer).toBe(into.buffer);
      expect(got.byteOffset).toBe(into.byteOffset);
    });

    test('a reply longer than the buffer is a protocol error, not an overrun', async () => {
      fake.on('GET', path, { chunks: [body] });
      const backing = Buffer.alloc(6000, 0xee);
      const into = backing.subarray(0, 4999);
      await expect(client.getChunk(BIG.hash, 1 << 20, undefined, into)).rejects.toMatchObject({ code: 'protocol', message: expect.stringMatching(/exceeds 4999 bytes/) });
      expect(backing.subarray(4999).every((b) => b === 0xee)).toBe(true);
    });
  });
});

describe('chunksOf', () => {
  test('hands on each chunk as written (never joined), in order, however slow the consumer', async () => {
    const src = new PassThrough();
    const sent = Array.from({ length: 200 }, (_, i) => Buffer.alloc(100 + i, i));
    void (async () => {
      for (const c of sent) if (!src.write(c)) await new Promise((r) => src.once('drain', r));
      src.end();
    })();
    const got: Buffer[] = [];
    for await (const c of chunksOf(src)) {
      got.push(c);
      if (got.length % 7 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    expect(got.map((c) => c.length)).toEqual(sent.map((c) => c.length));
    expect(Buffer.concat(got).equals(Buffer.concat(sent))).toBe(true);
  });

  test('an error arrives after the chunks before it', async () => {
    const src = new PassThrough();
    src.write(Buffer.from('a'));
    src.write(Buffer.from('b'));
    const boom = new Error('socket hang up');
    setTimeout(() => src.destroy(boom), 5);
    const got: string[] = [];
    await expect((async () => {
      for await (const c of chunksOf(src)) got.push(c.toString());
    })()).rejects.toBe(boom);
    expect(got).toEqual(['a', 'b']);
  });

  test('leaving early closes the stream', async () => {
    const src = new PassThrough();
    src.write(Buffer.from('x'));
    for await (const _ of chunksOf(src)) break;
    expect(src.destroyed).toBe(true);
  });
});
