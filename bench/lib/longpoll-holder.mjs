// Holds N idle longpolls on a syncd server, then wakes them all with one
// commit and reports server RSS and wake time. Run it with a raised fd
// limit (`ulimit -n`), one socket per longpoll.
//   node bench/lib/longpoll-holder.mjs <url> <token> <server pid> <n>
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, Pool, request } from 'undici';

const [url, token, pidS, nS] = process.argv.slice(2);
const N = Number(nS);
const pid = Number(pidS);
const rss = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;
const H = { authorization: `Bearer ${token}` };
const ctl = new Pool(url, { connections: 2 });
const get = async (path) => {
  const r = await ctl.request({ method: 'GET', path, headers: H });
  return r.body.text();
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const st = JSON.parse(await get('/v1/list?limit=1'));
await get('/metrics');
await sleep(1000);
const rssBefore = rss();
// several dispatchers ("clients"), one connection per longpoll
const AGENTS = 8;
const agents = Array.from({ length: AGENTS }, () => new Agent({ connections: Math.ceil(N / AGENTS) + 10, pipelining: 0, connectTimeout: 60_000, headersTimeout: 600_000, bodyTimeout: 600_000 }));
let answered = 0;
let lastAt = 0;
let changes = 0;
const t0 = performance.now();
const polls = [];
for (let i = 0; i < N; i++) {
  polls.push(
    request(`${url}/v1/longpoll?cursor=${encodeURIComponent(st.cursor)}&timeout=300`, { dispatcher: agents[i % AGENTS], headers: H })
      .then((r) => r.body.json())
      .then((b) => {
        answered++;
        if (b.changes === true) changes++;
        lastAt = performance.now();
      }),
  );
  if (i % 500 === 499) await sleep(5); // let the server accept as we go
}
let waiters = 0;
for (let k = 0; k < 1200; k++) {
  const m = await get('/metrics');
  waiters = Number(/^syncd_longpoll_waiters (\d+)/m.exec(m)?.[1] ?? 0);
  if (waiters >= N) break;
  await sleep(100);
}
if (waiters < N) throw new Error(`only ${waiters} of ${N} longpolls are open on the server`);
const openS = (performance.now() - t0) / 1000;
await sleep(2000);
const rssHeld = rss();
const tw = performance.now();
const r = await ctl.request({
  method: 'POST', path: '/v1/commit', headers: { ...H, 'content-type': 'application/json' },
  body: JSON.stringify({ ops: [{ op_id: randomUUID(), op: 'create', kind: 'dir', parent: 'root', name: `wake-${randomUUID()}` }] }),
});
await r.body.text();
await Promise.all(polls);
const wakeMs = lastAt - tw;
process.stdout.write(`${JSON.stringify({ n: N, answered, changes, rss_before: rssBefore, rss_held: rssHeld, wake_ms: wakeMs, open_s: openS })}\n`);
await Promise.all(agents.map((a) => a.close()));
await ctl.close();
