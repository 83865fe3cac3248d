// The server side of issue #17 at size: each request a device makes, timed
// against a namespace of N nodes and against a 2,000-node namespace of the
// same shape on the same server, same run (ratio = big ÷ small):
//   scale_server      the embedded SQLite store (`serve --data`)
//   scale_server_pg   PostgreSQL (`serve --db`), a database made for the run
// N: --scale-files (default 300,000 like the scale_* cases; --quick 20,000). The namespace is one
// directory `big` of N/10 files, and 300 folders holding the rest, all
// committed through the API in 1000-op commits (one shared blob: these are
// journal and node rows, not content). Timed, p50 over SAMPLES each:
//   list_page        GET /v1/list?limit=1000 (first page)
//   list_deep_page   the page after N/2 entries (page_token), N ≥ 100,000
//   changes_head     GET /v1/changes from the head cursor (nothing new)
//   changes_behind   the same, 10 entries behind
//   status           GET /v1/status
//   create_in_big    a 1-op commit creating a file in `big` (N/10 children)
//   rename_in_big    a 1-op commit renaming a file inside `big`
//   delete_in_big    a 1-op commit deleting a file in `big`
//   move_folder      a 1-op commit moving a folder of 100 files into another and back
//                    (the same folder in both namespaces: a move walks the moved
//                    subtree for the depth and path limits, so it costs what it moves)
//   trim_nothing     `syncd server trim` when nothing is to be dropped (a process; its start included on both sides)
// and, not as ratios (they are proportional to what they do by nature):
//   move_big_folder  moving one of the 300 folders (N/300 files) into another and back
//   list_all         the whole paged listing (entries/s)
//   trim_all         a trim that deletes the whole big journal but 10 entries (rows/s), and
//                    what 1-op commits take meanwhile against just before
//   delete_big_folder  last: `big` deleted in one commit, and the other namespace's
//                    status requests meanwhile (the longest wait)
// PostgreSQL: a database made for the run (bench/lib/pg-db.mjs).

import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Pool } from 'undici';
import { BIN, caseRecord, commitAll, median, now, opId, parallel, pct, request, until } from './lib/harness.mjs';
import { pgReachable, withDatabase } from './lib/pg-db.mjs';

const SAMPLES = 30;
const FOLDERS = 300;
/** the small namespace: big enough that a 1000-entry page is full in both */
const SMALL = 2000;

export async function scaleServerCases(b, { quick, only, scaleFiles }) {
  const want = (n) => !only || only.has(n);
  const n = scaleFiles ?? (quick ? 20_000 : 300_000);
  const out = {};
  if (want('scale_server')) {
    b.log(`scale_server: SQLite, ${n} nodes`);
    const data = b.path('scale-server-sqlite');
    out.scale_server = await measureStore(b, n, ['--data', data], { store: 'sqlite', cli: ['--data', data] });
  }
  if (want('scale_server_pg')) {
    if (!(await pgReachable())) {
      b.log('scale_server_pg: PostgreSQL is not reachable (SYNCD_BENCH_PG_URL, or start the local cluster): skipped');
    } else {
      b.log(`scale_server_pg: PostgreSQL, ${n} nodes`);
      out.scale_server_pg = await withDatabase(async (url) => {
        const blobs = b.path('scale-server-pg-blobs');
        mkdirSync(blobs, { recursive: true });
        return measureStore(b, n, ['--db', url, '--blobs', blobs], { store: 'postgresql', cli: ['--db', url] });
      }, (drop) => b.atCleanup(drop));
    }
  }
  return out;
}

async function measureStore(b, n, serveArgs, { store, cli }) {
  const server = await startServer(b, serveArgs);
  try {
    const token = (ns, label) => execFileSync(process.execPath, [BIN, 'server', 'add-device', ...cli, '--namespace', ns, '--label', label], { encoding: 'utf8' }).trim();
    const bigTok = token('big', 'bench');
    const smallTok = token('small', 'bench');
    const t = now();
    const big = await seed(server, bigTok, n, (done) => b.log(`  ${store}: seeded ${done} of ${n} nodes (${((now() - t) / 1000).toFixed(0)} s)`));
    const seedS = (now() - t) / 1000;
    b.log(`  ${store}: ${n} nodes committed through the API in ${seedS.toFixed(1)} s (${Math.round(n / seedS)} nodes/s)`);
    const small = await seed(server, smallTok, SMALL, () => {});
    const req = {};
    for (const [name, fn] of requestKinds(server, n)) {
      const bigMs = await samples(() => fn(big, bigTok));
      const smallMs = await samples(() => fn(small, smallTok));
      req[name] = { big_p50_ms: +median(bigMs).toFixed(2), big_p99_ms: +pct(bigMs, 99).toFixed(2), small_p50_ms: +median(smallMs).toFixed(2), ratio: +(median(bigMs) / median(smallMs)).toFixed(2) };
      b.log(`  ${store} ${name}: ${req[name].big_p50_ms} ms at ${n} nodes, ${req[name].small_p50_ms} ms at ${SMALL} (${req[name].ratio}×)`);
    }
    const moveBig = await samples(() => moveAndBack(server, bigTok, big, big.movingBig));
    req.move_big_folder = { big_p50_ms: +median(moveBig).toFixed(2), big_p99_ms: +pct(moveBig, 99).toFixed(2), files: big.movingBig.files, note: 'a folder of N/300 files moved into another and back: proportional to the moved subtree (the depth and path-length walk), not ratioed' };
    b.log(`  ${store} move_big_folder: ${req.move_big_folder.big_p50_ms} ms for a folder of ${big.movingBig.files} files`);
    const trimNothing = (args) => {
      const ts = [];
      for (let i = 0; i < 5; i++) {
        const t0 = now();
        execFileSync(process.execPath, [BIN, 'server', 'trim', ...cli, ...args], { encoding: 'utf8' });
        ts.push(now() - t0);
      }
      return median(ts);
    };
    // no policy stored: nothing to drop in either namespace (the process start is most of it)
    const trimMs = trimNothing([]);
    req.trim_nothing = { big_p50_ms: +trimMs.toFixed(2), note: `one trim over both namespaces (a process, its start included); node's own start: ${nodeStartMs().toFixed(0)} ms` };
    b.log(`  ${store} trim_nothing: ${trimMs.toFixed(0)} ms`);
    const listAll = await listWhole(server, bigTok);
    b.log(`  ${store} list_all: ${listAll.entries} entries in ${listAll.s.toFixed(1)} s (${Math.round(listAll.entries / listAll.s)}/s)`);
    const trimAll = await trimWhileCommitting(server, cli, small, smallTok);
    b.log(`  ${store} trim_all: ${trimAll.rows_deleted} journal rows deleted in ${trimAll.s} s (${trimAll.rows_per_s}/s); a 1-op commit meanwhile p50 ${trimAll.commit_during.p50_ms} ms, max ${trimAll.commit_during.max_ms} ms (before: p50 ${trimAll.commit_before.p50_ms}, max ${trimAll.commit_before.max_ms})`);
    const deleteBig = await deleteWhilePolling(server, bigTok, big, smallTok);
    b.log(`  ${store} delete_big_folder: ${deleteBig.files} files deleted in one commit in ${deleteBig.commit_ms} ms; the longest status wait of the other namespace meanwhile ${deleteBig.status_max_ms} ms (p50 ${deleteBig.status_p50_ms} ms, before: max ${deleteBig.status_before_max_ms} ms)`);
    const ratios = Object.values(req).map((r) => r.ratio).filter((r) => r !== undefined);
    return caseRecord({
      values: [Math.max(...ratios)], unit: 'x', store, nodes: n, seed_s: +seedS.toFixed(1), seed_nodes_per_s: Math.round(n / seedS),
      requests: req, list_all: { entries: listAll.entries, s: +listAll.s.toFixed(2), per_s: Math.round(listAll.entries / listAll.s) },
      trim_all: trimAll, delete_big_folder: deleteBig,
      scope: `each request p50 over ${SAMPLES} at ${n} nodes ÷ the same at ${SMALL} nodes, same server, same run; the value is the worst ratio`,
    });
  } finally {
    await server.close();
  }
}

function nodeStartMs() {
  const t = now();
  spawnSync(process.execPath, ['-e', '0']);
  return now() - t;
}

/** a server; `serveArgs` pick the store */
async function startServer(b, serveArgs) {
  const p = b.spawn(process.execPath, [BIN, 'serve', ...serveArgs, '--port', '0']);
  await until(() => /http:\/\/127\.0\.0\.1:\d+/.test(p.out()) || !p.alive, 60_000, 10, 'syncd serve');
  if (!p.alive) throw new Error(`syncd serve exited: ${p.out()}`);
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(p.out())[0];
  const pool = new Pool(url, { connections: 4 });
  return {
    url,
    call: async (token, method, path, body) => {
      const r = await request(pool, { method, path, headers: { authorization: `Bearer ${token}`, ...(typeof body === 'string' ? { 'content-type': 'application/json' } : {}) }, body });
      const text = await r.body.text();
      if (r.statusCode !== 200 && r.statusCode !== 201) throw new Error(`${method} ${path}: HTTP ${r.statusCode} ${text.slice(0, 300)}`);
      return JSON.parse(text);
    },
    close: async () => {
      await pool.close().catch(() => {});
      await b.stop(p);
    },
  };
}

/**
 * Commits a namespace of `n` nodes: `big` with n/10 files, FOLDERS folders
 * with the rest. Returns the ids a request needs.
 */
async function seed(server, token, n, progress) {
  const data = randomBytes(32);
  const hash = createHash('sha256').update(data).digest('hex');
  await server.call(token, 'PUT', `/v1/blobs/${hash}`, data);
  const commit = (ops) => commitAll({ call: async (...a) => ({ status: 200, body: await server.call(...a) }) }, token, ops);
  const folders = Math.min(FOLDERS, Math.max(2, Math.floor(n / 100)));
  const dirs = await commit([{ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: 'big' }, { op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: 'mv' }, ...Array.from({ length: folders }, (_, i) => ({ op_id: opId(), op: 'create', kind: 'dir', parent: 'root', name: `d${String(i).padStart(3, '0')}` }))]);
  const bigId = dirs[0].node.id;
  const mv = dirs[1].node;
  const folderIds = dirs.slice(2).map((r) => r.node.id);
  await commit(Array.from({ length: 100 }, (_, i) => ({ op_id: opId(), op: 'create', kind: 'file', parent: mv.id, name: `m${i}.txt`, hash, size: data.length })));
  const inBig = Math.floor(n / 10);
  const rest = n - folders - 2 - 100;
  const perFolder = Math.ceil((rest - inBig) / folders);
  const files = [];
  for (let i = 0; i < inBig; i++) files.push([bigId, `f${i}.txt`]);
  for (let f = 0; f < folders; f++) for (let i = 0; i < perFolder && files.length < rest; i++) files.push([folderIds[f], `f${i}.txt`]);
  const commits = [];
  for (let i = 0; i < files.length; i += 1000) commits.push(files.slice(i, i + 1000));
  let done = 0;
  let firstInBig = null;
  await parallel(commits, 2, async (c) => {
    const res = await commit(c.map(([parent, name]) => ({ op_id: opId(), op: 'create', kind: 'file', parent, name, hash, size: data.length })));
    if (c[0][0] === bigId && c[0][1] === 'f0.txt') firstInBig = res[0].node;
    done += c.length;
    if (done % 100_000 < 1000) progress(done);
  });
  return { bigId, bigRev: dirs[0].node.rev, bigFiles: inBig, folderIds, hash, size: data.length, victims: [], renamed: firstInBig, moving: { id: mv.id, rev: mv.rev, parent: 'root', name: 'mv' }, movingBig: { id: folderIds[0], rev: dirs[2].node.rev, parent: 'root', name: 'd000', files: perFolder } };
}

/** [name, fn(ns, token)] of every request timed as a ratio */
function requestKinds(server, n) {
  const kinds = [
    ['list_page', (ns, tok) => server.call(tok, 'GET', '/v1/list?limit=1000')],
    ['changes_head', async (ns, tok) => {
      ns.head ??= (await server.call(tok, 'GET', '/v1/list?limit=1')).cursor;
      return server.call(tok, 'GET', `/v1/changes?cursor=${encodeURIComponent(ns.head)}`);
    }],
    ['status', (ns, tok) => server.call(tok, 'GET', '/v1/status')],
    ['create_in_big', async (ns, tok) => {
      const [r] = await commitOne(server, tok, { op: 'create', kind: 'file', parent: ns.bigId, name: `new-${randomBytes(6).toString('hex')}.txt`, hash: ns.hash, size: ns.size });
      ns.victims.push(r.node);
    }],
    ['rename_in_big', async (ns, tok) => {
      const f = ns.renamed;
      const [r] = await commitOne(server, tok, { op: 'move', id: f.id, base_rev: f.rev, parent: ns.bigId, name: `renamed-${randomBytes(6).toString('hex')}.txt` });
      ns.renamed = r.node;
    }],
    ['delete_in_big', async (ns, tok) => {
      const f = ns.victims.pop();
      await commitOne(server, tok, { op: 'delete', id: f.id, base_rev: f.rev });
    }],
    ['move_folder', (ns, tok) => moveAndBack(server, tok, ns, ns.moving)],
    ['changes_behind', async (ns, tok) => {
      ns.behind ??= await cursorBehind(server, tok, 10);
      return server.call(tok, 'GET', `/v1/changes?cursor=${encodeURIComponent(ns.behind)}`);
    }],
  ];
  if (n >= 100_000) {
    kinds.splice(1, 0, ['list_deep_page', async (ns, tok) => {
      ns.deep ??= await pageTokenAt(server, tok, n / 2);
      return server.call(tok, 'GET', `/v1/list?limit=1000${ns.deep ? `&page_token=${encodeURIComponent(ns.deep)}` : ''}`);
    }]);
  }
  return kinds;
}

/** moves folder `m` into the second of the 300 folders, or back to the root */
async function moveAndBack(server, tok, ns, m) {
  const into = m.parent === ns.folderIds[1] ? 'root' : ns.folderIds[1];
  const [r] = await commitOne(server, tok, { op: 'move', id: m.id, base_rev: m.rev, parent: into, name: m.name });
  Object.assign(m, { rev: r.node.rev, parent: into });
}

async function commitOne(server, tok, op) {
  const r = await server.call(tok, 'POST', '/v1/commit', JSON.stringify({ ops: [{ op_id: opId(), ...op }] }));
  if (r.results[0].status !== 'ok') throw new Error(`commit ${JSON.stringify(op)}: ${JSON.stringify(r.results[0])}`);
  return r.results;
}

/** the page token after `skip` entries (none when the namespace is smaller: its first page) */
async function pageTokenAt(server, tok, skip) {
  let token = null;
  for (let seen = 0; seen < skip; seen += 10_000) {
    const p = await server.call(tok, 'GET', `/v1/list?limit=10000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    if (!p.has_more) return null;
    token = p.page_token;
  }
  return token;
}

/** a cursor `k` entries before the head */
async function cursorBehind(server, tok, k) {
  const { cursor } = await server.call(tok, 'GET', '/v1/list?limit=1');
  for (let i = 0; i < k; i++) await commitOne(server, tok, { op: 'create', kind: 'dir', parent: 'root', name: `behind-${randomBytes(6).toString('hex')}` });
  return cursor;
}

async function listWhole(server, tok) {
  const t = now();
  let token = null;
  let entries = 0;
  for (;;) {
    const p = await server.call(tok, 'GET', `/v1/list?limit=10000${token ? `&page_token=${encodeURIComponent(token)}` : ''}`);
    entries += p.entries.length;
    if (!p.has_more) break;
    token = p.page_token;
  }
  return { entries, s: (now() - t) / 1000 };
}

/**
 * `syncd server trim --retention-entries 10 --keep-versions-days 0` (every
 * journal row but the last 10 per namespace deleted: no version period
 * keeps them), while 1-op commits go on in the small namespace: what a
 * big trim costs the server's writers (SQLite: one transaction per chunk
 * of rows, docs/server.md), against the same commits just before.
 */
async function trimWhileCommitting(server, cli, ns, tok) {
  const commitMs = async () => {
    const t = now();
    await commitOne(server, tok, { op: 'create', kind: 'dir', parent: 'root', name: `during-${randomBytes(6).toString('hex')}` });
    return now() - t;
  };
  const before = [];
  for (let i = 0; i < 50; i++) before.push(await commitMs());
  const t = now();
  const trim = new Promise((resolve, reject) => execFile(process.execPath, [BIN, 'server', 'trim', ...cli, '--retention-entries', '10', '--keep-versions-days', '0', '--json'], { encoding: 'utf8', maxBuffer: 1 << 24 }, (err, out) => (err ? reject(err) : resolve(out))));
  let done = false;
  const finished = trim.finally(() => { done = true; });
  const during = [];
  while (!done) {
    during.push(await commitMs());
    await new Promise((r) => setTimeout(r, 10));
  }
  const report = JSON.parse(await finished);
  const s = (now() - t) / 1000;
  // a second trim right after: it must find nothing left to drop
  const again = JSON.parse(execFileSync(process.execPath, [BIN, 'server', 'trim', ...cli, '--json'], { encoding: 'utf8' }));
  const rows = report.namespaces.reduce((a, x) => a + x.dropped, 0);
  const stat = (xs) => ({ n: xs.length, p50_ms: +median(xs).toFixed(2), p99_ms: +pct(xs, 99).toFixed(2), max_ms: +Math.max(...xs).toFixed(2) });
  return {
    s: +s.toFixed(2), rows_deleted: rows, rows_per_s: Math.round(rows / s), namespaces: report.namespaces, second_trim: again.namespaces, commit_before: stat(before), commit_during: during.length ? stat(during) : null,
    note: '`syncd server trim --retention-entries 10 --keep-versions-days 0` (a process, its start included): every journal row but the last 10 per namespace deleted (rows: `dropped` in its report); commit_* = 1-op commits in the small namespace before and while it ran',
  };
}

/**
 * The last step (it deletes `big`): the directory of N/10 files deleted in
 * one 1-op commit (its subtree tombstoned in the commit's transaction),
 * while another namespace asks for its status every 5 ms: what one
 * tenant's big delete costs everyone else's requests. Proportional by
 * nature: reported, not ratioed.
 */
async function deleteWhilePolling(server, tok, ns, otherTok) {
  const statusMs = async () => {
    const t = now();
    await server.call(otherTok, 'GET', '/v1/status');
    return now() - t;
  };
  const before = [];
  for (let i = 0; i < 30; i++) before.push(await statusMs());
  let done = false;
  const t = now();
  const del = commitOne(server, tok, { op: 'delete', id: ns.bigId, base_rev: ns.bigRev }).finally(() => { done = true; });
  const during = [];
  while (!done) {
    during.push(await statusMs());
    await new Promise((r) => setTimeout(r, 5));
  }
  await del;
  const commitMsDone = now() - t;
  return {
    files: ns.bigFiles, commit_ms: +commitMsDone.toFixed(1),
    status_p50_ms: during.length ? +median(during).toFixed(2) : null, status_max_ms: during.length ? +Math.max(...during).toFixed(2) : null, status_n: during.length,
    status_before_max_ms: +Math.max(...before).toFixed(2),
    note: 'the `big` directory (N/10 files) deleted in one 1-op commit; status_* = GET /v1/status of the small namespace every 5 ms meanwhile, before = 30 just before',
  };
}

async function samples(fn) {
  for (let i = 0; i < 3; i++) await fn(); // warm-up
  const ms = [];
  for (let i = 0; i < SAMPLES; i++) {
    const t = now();
    await fn();
    ms.push(now() - t);
  }
  return ms;
}
