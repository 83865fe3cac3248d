// The `concurrency` budget of a download round, counted at a real server:
// a proxy in front of it holds every download request a little and counts
// what is in flight. A new device's first mirror starts as many files as
// `concurrency` allows (not a fixed 4), and the requests in flight (chunk
// lists, chunks, batches, whole blobs) never exceed `concurrency`.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkAgent, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { sha256, startTestServer, type TestServer } from '../../helpers/server.js';
import { SINGLE_CHUNK_MAX } from '../../../src/core/chunker.js';

/** in flight at the proxy, now and at most */
interface Gauge {
  now: number;
  max: number;
}

interface CountingProxy {
  url: string;
  /** every download request: chunk lists, chunks, batch fetches, whole blobs */
  downloads: Gauge;
  /** chunk-list requests: each is the start of one large file's download */
  fileStarts: Gauge;
  close(): Promise<void>;
}

const DOWNLOAD = /^\/v1\/(files\/|chunks\/|blobs\/)/;

/** A transparent proxy that holds each download request `holdMs` before forwarding it. */
async function countingProxy(target: string, holdMs: number): Promise<CountingProxy> {
  const to = new URL(target);
  const downloads: Gauge = { now: 0, max: 0 };
  const fileStarts: Gauge = { now: 0, max: 0 };
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    const gauges = DOWNLOAD.test(path) && (req.method === 'GET' || path.startsWith('/v1/blobs/fetch'))
      ? [downloads, ...(path.startsWith('/v1/files/') ? [fileStarts] : [])]
      : [];
    for (const g of gauges) g.max = Math.max(g.max, ++g.now);
    let counted = gauges.length > 0;
    const done = (): void => {
      if (!counted) return;
      counted = false;
      for (const g of gauges) g.now--;
    };
    res.on('close', done);
    const forward = (): void => {
      const up = request({ host: to.hostname, port: to.port, method: req.method, path, headers: req.headers }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      up.on('error', () => res.destroy());
      req.pipe(up);
    };
    if (counted) setTimeout(forward, holdMs);
    else forward();
  });
  server.listen(0, '127.0.0.1');
  await new Promise<void>((r) => server.once('listening', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    downloads,
    fileStarts,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

let server: TestServer;
let a: TestAgent;
let dirA: string;
const files = new Map<string, Buffer>();

// one server and one seeding device for every case: each case mirrors into a new folder
beforeAll(async () => {
  await useTempStateDir();
  server = await startTestServer({ gcIntervalMs: 0 });
  dirA = await mkdtemp(join(tmpdir(), 'syncd-conc-a-'));
  a = await linkAgent(server, dirA, 'a');
  // 12 large files (chunked, one chunk-list request each) and some small ones (batches)
  for (let i = 0; i < 12; i++) files.set(`big-${i}.bin`, randomBytes(SINGLE_CHUNK_MAX + 64 * 1024 + i));
  for (let i = 0; i < 40; i++) files.set(`small-${i}.txt`, randomBytes(100 + i));
  for (const [name, data] of files) await writeFile(join(dirA, name), data);
  await a.sync();
});

afterAll(async () => {
  await a.close();
  await server.close();
});

describe('the download round and the concurrency budget, counted at a real server', () => {
  it.each([
    [8, 'more than 4 files start at once'],
    [3, 'the budget holds below 4 too'],
    [12, 'and above 8'],
  ])('concurrency %i: %s, and never more than that many requests in flight', async (concurrency) => {
    const proxy = await countingProxy(server.url, 40);
    const dirB = await mkdtemp(join(tmpdir(), 'syncd-conc-b-'));
    const b = await linkAgent({ ...server, url: proxy.url }, dirB, 'b', 'default', { SYNCD_CONCURRENCY: String(concurrency) });
    try {
      await b.sync();
      for (const [name, data] of files) expect(sha256(await readFile(join(dirB, name))), name).toBe(sha256(data));
      expect(proxy.downloads.max).toBeLessThanOrEqual(concurrency);
      // every one of the budget's slots was used: files (each one's chunk list first) start as wide as it allows
      expect(proxy.downloads.max).toBe(concurrency);
      expect(proxy.fileStarts.max).toBe(Math.min(concurrency, 12));
    } finally {
      await b.close();
      await proxy.close();
    }
  });
});
