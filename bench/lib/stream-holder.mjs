// Holds N Subscribe streams (Connect over HTTP/1.1, one connection each,
// as agents hold them) on a syncd server, then wakes them all with one
// commit and reports server RSS and the time until every stream got the
// new head. Run it with a raised fd limit (`ulimit -n`).
//   node bench/lib/stream-holder.mjs <url> <token> <server pid> <n>
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { setMaxListeners } from 'node:events';
import { Agent } from 'node:http';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Pool } from 'undici';
import { SyncService } from '../../dist/gen/syncd/v1/sync_service_pb.js';

const [url, token, pidS, nS] = process.argv.slice(2);
const N = Number(nS);
const pid = Number(pidS);
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const H = { authorization: `Bearer ${token}` };
const ctl = new Pool(url, { connections: 2 });
const get = async (path) => (await (await ctl.request({ method: 'GET', path, headers: H })).body.text());
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const st = JSON.parse(await get('/v1/list?limit=1'));
await get('/metrics');
await sleep(1000);
const rssBefore = rss();
const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
const client = createClient(SyncService, createConnectTransport({ baseUrl: url, httpVersion: '1.1', nodeOptions: { agent } }));
let woken = 0;
let lastAt = 0;
let target = Infinity;
const t0 = performance.now();
const ac = new AbortController();
setMaxListeners(0, ac.signal);
const streams = [];
let retries = 0;
// one stream until it reports the target head; a stream refused while thousands connect at once is opened again
async function hold() {
  for (;;) {
    try {
      for await (const m of client.subscribe({ cursor: st.cursor }, { headers: H, signal: ac.signal, timeoutMs: 0 })) {
        if (!m.heartbeat && Number(m.head) >= target) {
          woken++;
          lastAt = performance.now();
          return;
        }
      }
    } catch (err) {
      if (ac.signal.aborted) return;
      if (target !== Infinity) throw err;
    }
    retries++;
    await sleep(100);
  }
}
for (let i = 0; i < N; i++) {
  streams.push(hold());
  if (i % 250 === 249) await sleep(50);
}
let open = 0;
for (let k = 0; k < 1200; k++) {
  open = Number(/^syncd_sse_streams (\d+)/m.exec(await get('/metrics'))?.[1] ?? 0);
  if (open >= N) break;
  await sleep(100);
}
if (open < N) throw new Error(`only ${open} of ${N} streams are open on the server`);
const openS = (performance.now() - t0) / 1000;
await sleep(2000);
const rssHeld = rss();
target = st.seq + 1;
const tw = performance.now();
const r = await ctl.request({
  method: 'POST', path: '/v1/commit', headers: { ...H, 'content-type': 'application/json' },
  body: JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `wake-${randomUUID()}` }] }),
});
await r.body.text();
await Promise.all(streams);
process.stdout.write(`${JSON.stringify({ n: N, woken, retries, rss_before: rssBefore, rss_held: rssHeld, wake_ms: lastAt - tw, open_s: openS })}\n`);
ac.abort();
agent.destroy();
await ctl.close();
process.exit(0);
