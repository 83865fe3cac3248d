#!/usr/bin/env node
// Phase times of the big_edit path (docs/performance.md, "third figures"):
// uploadFile at A, then downloadManyToTemp at B from its previous version,
// with each remote call's first start and last end, and each side's CPU
// time (this process: process.cpuUsage, the worker thread included; the
// server: /proc/PID/stat). Three edits after a first full upload.
//   node bench/content-phases.mjs ROOT MIB [edit|insert]   (ROOT: a checkout with dist/ built)
//   PROF=DIR also runs the server under --cpu-prof into DIR

import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { readFileSync } from 'node:fs';
const cpuOf = (pid) => { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const selfCpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
import { pathToFileURL } from 'node:url';
const ROOT = process.argv[2]; const mib = Number(process.argv[3] ?? 128); const mode = process.argv[4] ?? 'edit';
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);
const { RemoteClient } = await dist('client/remote/remote.js');
const { downloadManyToTemp } = await dist('client/transfer/transfer.js');
const { uploadFile } = await dist('client/transfer/upload.js');
const work = join(tmpdir(), `syncd-phases-${process.pid}`); rmSync(work, { recursive: true, force: true }); mkdirSync(work, { recursive: true });
const BIN = join(ROOT, 'bin', 'syncd');
const srv = spawn(process.execPath, [...(process.env.PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.PROF] : []), BIN, 'serve', '--data', join(work, 'srv'), '--port', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
const url = await new Promise((res) => { let o = ''; srv.stdout.on('data', (d) => { o += d; const m = /http:\/\/127\.0\.0\.1:\d+/.exec(o); if (m) res(m[0]); }); });
const tok = (l) => execFileSync(process.execPath, [BIN, 'server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'big', '--label', l], { encoding: 'utf8' }).trim();
const a = new RemoteClient({ server: url, token: tok('a') }); const bb = new RemoteClient({ server: url, token: tok('b') });
const dirA = join(work, 'a'), dirB = join(work, 'b'); mkdirSync(dirA); mkdirSync(dirB);
const fileA = join(dirA, 'big.bin'), fileB = join(dirB, 'big.bin');
{ const fd = openSync(fileA, 'w'); for (let i = 0; i < mib; i += 16) writeSync(fd, randomBytes(16 << 20)); closeSync(fd); }
const identity = (p) => { const s = statSync(p); return { size: s.size, mtimeMs: s.mtimeMs, ino: s.ino }; };
let recorded = null;
const known = { places: (hs) => { const w = new Set(hs); const o = new Map(); for (const c of recorded?.chunks ?? []) if (w.has(c.hash)) o.set(c.hash, [{ abs: fileB, offset: c.offset, size: c.size, identity: recorded.id }]); return o; }, identityOf: (p) => (p === fileB && recorded ? recorded.id : null) };
let t0 = 0; const marks = [];
const mark = (m) => marks.push([m, performance.now() - t0]);
const wrap = (c) => new Proxy(c, { get(t, k) { const v = t[k]; if (typeof v !== 'function') return v; return async (...args) => { mark(`${String(k)} >`); try { return await v.apply(t, args); } finally { mark(`${String(k)} <`); } }; } });
const download = async (remote, got) => { const [r] = await downloadManyToTemp(remote, [{ hash: got.hash, size: got.size, dirAbs: dirB, reuse: [fileB] }], { known, concurrency: 8 }); if (!r.ok) throw r.error; renameSync(r.path, fileB); recorded = { id: identity(fileB), chunks: r.chunks }; };
await download(bb, await uploadFile(a, fileA, identity(fileA)));
for (let r = 0; r < 3; r++) {
  if (mode === 'edit') { const fd = openSync(fileA, 'r+'); const at = Math.floor(statSync(fileA).size / 2) + r * 4099; const one = Buffer.alloc(1); readSync(fd, one, 0, 1, at); one[0] ^= 0xff; writeSync(fd, one, 0, 1, at); closeSync(fd); }
  else { const tmp = fileA + '.ins'; const fd = openSync(tmp, 'w'); writeSync(fd, randomBytes(4096)); closeSync(fd); execFileSync('sh', ['-c', 'cat "$1" >> "$2" && mv "$2" "$1"', 'sh', fileA, tmp]); }
  marks.length = 0; t0 = performance.now(); const s0 = cpuOf(srv.pid), c0 = selfCpu();
  const got = await uploadFile(wrap(a), fileA, identity(fileA)); mark('upload done'); const c1 = selfCpu();
  await download(wrap(bb), got); mark('download done'); const c2 = selfCpu(); const s1 = cpuOf(srv.pid);
  // condense: first > and last < per method
  const seen = new Map(); for (const [m, t] of marks) { const [k, d] = m.split(' '); const e = seen.get(k) ?? { first: t, last: t, n: 0 }; if (d === '>') e.n++; e.last = t; seen.set(k, e); }
  console.log(`run ${r}: cpu: sender ${(c1 - c0).toFixed(0)} receiver ${(c2 - c1).toFixed(0)} server ${s1 - s0} ms; ${[...seen].map(([k, e]) => `${k}${e.n > 1 ? `×${e.n}` : ''} ${e.first.toFixed(0)}–${e.last.toFixed(0)}`).join(' | ')}`);
}
await a.close(); await bb.close(); srv.kill('SIGINT'); await new Promise((r) => srv.on('exit', r)); rmSync(work, { recursive: true, force: true });
