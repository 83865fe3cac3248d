import { spawn } from 'node:child_process';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sendJsonList, type StreamOpts } from '../../../src/server/http/stream-json.js';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** a server whose one route sends `{...head, entries: items}`; `started` resolves when the send began, `sent` when sendJsonList returned */
async function serve(head: Record<string, unknown>, items: unknown[], opts: StreamOpts): Promise<{ url: string; started: Promise<void>; sent: Promise<ServerResponse> }> {
  let done!: (res: ServerResponse) => void;
  let begun!: () => void;
  const sent = new Promise<ServerResponse>((r) => (done = r));
  const started = new Promise<void>((r) => (begun = r));
  const srv = createServer((_req, res) => {
    void sendJsonList(res, 200, head, 'entries', items, opts).then(() => done(res));
    begun();
  });
  servers.push(srv);
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/`, started, sent };
}

const item = (i: number): unknown => ({ path: `d${i % 7}/f${i}`, node: { id: `n${i}`, name: `f${i} "quoted" \u00e9`, size: i } });

describe('sendJsonList', () => {
  it('sends the text JSON.stringify would, a slice at a time, chunked', async () => {
    for (const [head, n, slice] of [
      [{}, 0, 3],
      [{ seq: 3 }, 1, 3],
      [{ seq: 4, left: ['a', 'b'], dry_run: false }, 7, 3],
      [{ seq: 5 }, 9, 3],
    ] as const) {
      const items = Array.from({ length: n }, (_, i) => (i === 4 ? undefined : item(i)));
      const { url } = await serve(head, items, { stallMs: 5_000, sliceItems: slice });
      const r = await fetch(url);
      expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(r.headers.get('transfer-encoding')).toBe('chunked');
      expect(await r.text()).toBe(JSON.stringify({ ...head, entries: items }));
    }
  });

  it('cuts a client that stops reading, and returns', async () => {
    // ~40 MB: far more than the socket buffers hold
    const items = Array.from({ length: 400_000 }, (_, i) => item(i));
    const { url, sent } = await serve({ seq: 1 }, items, { stallMs: 300, sliceItems: 2_000 });
    const { port } = new URL(url);
    const sock = connect(Number(port), '127.0.0.1');
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => undefined);
    sock.write('GET / HTTP/1.1\r\nhost: x\r\n\r\n');
    sock.pause(); // never reads
    const res = await sent;
    expect(res.destroyed).toBe(true);
    expect(res.writableEnded).toBe(false);
    sock.resume();
    await closed;
  });

  it('gives the event loop turns while a fast reader in another process takes the reply', async () => {
    // on loopback a reader that keeps up drains every write at once; 'drain' then
    // comes on the next tick, and a writer that only waited for it never left the loop
    const items = Array.from({ length: 60_000 }, (_, i) => item(i));
    const { url, started, sent } = await serve({ seq: 1 }, items, { stallMs: 5_000, sliceItems: 500 });
    let ticks = 0;
    let sending = false;
    const timer = setInterval(() => {
      if (sending) ticks++;
    }, 1);
    try {
      const reader = spawn(process.execPath, ['-e', `fetch(${JSON.stringify(url)}).then((r) => r.arrayBuffer()).then((b) => process.stdout.write(String(b.byteLength)))`], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      reader.stdout.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => reader.on('exit', r));
      // counted from the first slice on (a microtask after it, before any timer)
      await started;
      sending = true;
      await sent;
      sending = false;
      expect(await exited).toBe(0);
      expect(Number(out)).toBe(Buffer.byteLength(JSON.stringify({ seq: 1, entries: items })));
      expect(ticks).toBeGreaterThan(0);
    } finally {
      clearInterval(timer);
    }
  });
});
