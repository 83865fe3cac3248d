// Content-layer cases:
//   big_edit    1 byte changed in the middle of a big file: device A uploads it
//               (uploadFile), device B rebuilds it from its previous version
//               (downloadManyToTemp with the chunk list B recorded when it
//               got that version, as the agent's chunk index gives it),
//               through a real `syncd serve`;
//               time and chunk payload bytes each way, against `rsync
//               --no-whole-file` of the same edit (its time and --stats bytes).
//               This measures the content layer in-process, not the agents.
//               `sync` runs before each timed step (rsync leaves its file being
//               written back); rsync's time with its own writeback is
//               `rsync_then_sync`.
//   big_insert  the same with 4 KiB inserted at the start
//   resume      an upload killed at 50 % of the file, then run again: total
//               payload bytes sent / file size
//   chunking   MB/s of the FastCDC chunker (dist/core/chunker.js) on one core,
//              against SHA-256 of the same bytes in the same run (ratio =
//              chunker / SHA-256; above 1 means chunking costs less than the
//              hashing every upload does anyway). Also reported: chunking and
//              hashing every chunk together, which is what an upload does,
//              and the chunker with its JavaScript inner loop instead of the
//              WebAssembly one (js_loop_mbps, wasm_vs_js), same run.

import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { caseRecord, hasRsync, median, now, ROOT } from './lib/harness.mjs';

const syncDisk = () => execFileSync('sync');
const dist = (p) => import(pathToFileURL(join(ROOT, 'dist', p)).href);

/** a file of `mib` MiB of random bytes, written 16 MiB at a time */
function writeRandom(path, mib) {
  const fd = openSync(path, 'w');
  for (let i = 0; i < mib; i += 16) writeSync(fd, randomBytes(Math.min(16, mib - i) * 1024 * 1024));
  closeSync(fd);
}

function identity(path) {
  const st = statSync(path);
  return { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino };
}

/** a remote that counts chunk/blob payload bytes and can fail once `failAt` bytes were sent */
function counting(client, failAt = Infinity) {
  const c = { sent: 0, received: 0 };
  return {
    c,
    remote: {
      server: client.server,
      getBlob: async (h, o) => {
        const r = await client.getBlob(h, o);
        r.body.on('data', (d) => (c.received += d.length));
        return r;
      },
      fetchBlobBuffers: client.fetchBlobBuffers.bind(client),
      putBlob: async (h, s, o) => ((c.sent += s), client.putBlob(h, s, o)),
      missingChunks: client.missingChunks.bind(client),
      assembleFile: client.assembleFile.bind(client),
      putChunk: async (h, s, o) => {
        if (c.sent >= failAt) throw Object.assign(new Error('killed (bench)'), { code: 'killed' });
        c.sent += s;
        return client.putChunk(h, s, o);
      },
      fileChunks: client.fileChunks.bind(client),
      getChunk: async (h, m, sig) => {
        const b = await client.getChunk(h, m, sig);
        c.received += b.length;
        return b;
      },
    },
  };
}

/** edit(path) changes the file at A; then A uploads, B rebuilds from its previous version */
async function editCase(b, { mib, runs, edit, name }) {
  const { RemoteClient } = await dist('client/remote/remote.js');
  const { downloadManyToTemp } = await dist('client/transfer/transfer.js');
  const { uploadFile } = await dist('client/transfer/upload.js');
  const server = await b.startServer(`${name}-srv`);
  const rsync = hasRsync();
  const a = new RemoteClient({ server: server.url, token: server.token('big', 'a') });
  const bb = new RemoteClient({ server: server.url, token: server.token('big', 'b') });
  try {
    const dirA = b.path(`${name}-a`);
    const dirB = b.path(`${name}-b`);
    const dirR = b.path(`${name}-rsync`);
    for (const d of [dirA, dirB, dirR]) mkdirSync(d, { recursive: true });
    const fileA = join(dirA, 'big.bin');
    const fileB = join(dirB, 'big.bin');
    writeRandom(fileA, mib);
    // B's chunk index: the chunk list of the version it last placed, with that file's identity
    let recorded = null;
    const known = {
      places: (hashes) => {
        const want = new Set(hashes);
        const out = new Map();
        for (const c of recorded?.chunks ?? []) if (want.has(c.hash)) out.set(c.hash, [{ abs: fileB, offset: c.offset, size: c.size, identity: recorded.id }]);
        return out;
      },
      identityOf: (abs) => (abs === fileB && recorded ? recorded.id : null),
    };
    const download = async (remote, got) => {
      const [r] = await downloadManyToTemp(remote, [{ hash: got.hash, size: got.size, dirAbs: dirB, reuse: [fileB] }], { known, concurrency: 8 });
      if (!r.ok) throw r.error;
      renameSync(r.path, fileB);
      recorded = { id: identity(fileB), chunks: r.chunks };
    };
    const first = await uploadFile(a, fileA, identity(fileA));
    await download(bb, first);
    if (rsync) execFileSync('rsync', ['-a', fileA, join(dirR, 'big.bin')]);
    const values = [];
    const base = [];
    const baseSynced = [];
    const sent = [];
    const received = [];
    const rsyncBytes = [];
    for (let r = 0; r < runs; r++) {
      edit(fileA, r);
      // each timed step starts with no dirty pages: the step before (rsync,
      // which does not fsync; or the edit) leaves up to 512 MiB being written
      // back, and our fsync before the rename would wait for it too
      syncDisk();
      const up = counting(a);
      const down = counting(bb);
      const t = now();
      const got = await uploadFile(up.remote, fileA, identity(fileA));
      await download(down.remote, got);
      values.push((now() - t) / 1000);
      sent.push(up.c.sent);
      received.push(down.c.received);
      if (rsync) {
        syncDisk();
        const t2 = now();
        const out = execFileSync('rsync', ['-a', '--no-whole-file', '--stats', fileA, join(dirR, 'big.bin')], { encoding: 'utf8' });
        base.push((now() - t2) / 1000);
        syncDisk();
        baseSynced.push((now() - t2) / 1000);
        rsyncBytes.push(Number(/Total bytes sent: ([\d,.]+)/.exec(out)?.[1].replace(/[,.]/g, '') ?? NaN));
      }
      b.log(`  ${name} run ${r + 1}/${runs}: ${values[r].toFixed(3)} s, sent ${sent[r]} B, received ${received[r]} B${rsync ? `; rsync ${base[r].toFixed(3)} s (+sync ${baseSynced[r].toFixed(3)} s), ${rsyncBytes[r]} B` : ''}`);
    }
    return caseRecord({
      values, baseline: rsync ? median(base) : null, baselineName: rsync ? 'rsync --no-whole-file of the same edit (s)' : null, unit: 's',
      rsync_then_sync: rsync ? +median(baseSynced).toFixed(4) : null,
      file_bytes: mib * 1024 * 1024, bytes_sent: median(sent), bytes_received: median(received), rsync_bytes_sent: rsync ? median(rsyncBytes) : null,
      scope: 'content layer in-process (uploadFile at A, downloadManyToTemp at B with its chunk index and the previous version), chunk payload bytes',
    });
  } finally {
    await a.close();
    await bb.close();
    await server.close();
  }
}

function flipMiddleByte(path, r) {
  const fd = openSync(path, 'r+');
  const size = statSync(path).size;
  const at = Math.floor(size / 2) + r * 4099;
  const one = Buffer.alloc(1);
  readSync(fd, one, 0, 1, at);
  one[0] ^= 0xff;
  writeSync(fd, one, 0, 1, at);
  closeSync(fd);
}

function insertAtStart(path) {
  const tmp = `${path}.ins`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, randomBytes(4096));
  closeSync(fd);
  execFileSync('sh', ['-c', 'cat "$1" >> "$2" && mv "$2" "$1"', 'sh', path, tmp]);
}

async function resumeCase(b, { mib }) {
  const { RemoteClient } = await dist('client/remote/remote.js');
  const { uploadFile } = await dist('client/transfer/upload.js');
  const server = await b.startServer('resume-srv');
  const a = new RemoteClient({ server: server.url, token: server.token('resume', 'a') });
  try {
    const dir = b.path('resume-a');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, 'big.bin');
    writeRandom(file, mib);
    const size = mib * 1024 * 1024;
    const killed = counting(a, size / 2);
    await uploadFile(killed.remote, file, identity(file)).then(
      () => { throw new Error('the killed upload finished'); },
      (e) => { if (e.code !== 'killed') throw e; },
    );
    const again = counting(a);
    const t = now();
    await uploadFile(again.remote, file, identity(file));
    const total = killed.c.sent + again.c.sent;
    b.log(`  resume: ${killed.c.sent} B before the kill, ${again.c.sent} B after (${(total / size).toFixed(3)} x the file)`);
    return caseRecord({
      values: [total / size], unit: 'x file', file_bytes: size, bytes_before_kill: killed.c.sent, bytes_after: again.c.sent,
      resumed_upload_s: (now() - t) / 1000, scope: 'uploadFile killed at 50 % of the payload, then run again; chunk payload bytes',
    });
  } finally {
    await a.close();
    await server.close();
  }
}

async function chunkingCase(b, { mib, runs }) {
  const { Chunker, CHUNK_PARAMS } = await import(pathToFileURL(join(ROOT, 'dist', 'core', 'chunker.js')).href);
  const data = randomBytes(mib * 1024 * 1024);
  // fed in 1 MiB pieces, as a file stream would
  const pieces = [];
  for (let off = 0; off < data.length; off += 1 << 20) pieces.push(data.subarray(off, off + (1 << 20)));
  const mbps = (ms) => data.length / 1e6 / (ms / 1000);
  const chunk = (opts = {}) => {
    const c = new Chunker(CHUNK_PARAMS, opts);
    let n = 0;
    for (const p of pieces) n += c.push(p).length;
    return n + (c.finish() > 0 ? 1 : 0);
  };
  const chunkAndHash = () => {
    const c = new Chunker(CHUNK_PARAMS);
    let h = createHash('sha256');
    const whole = createHash('sha256');
    for (const p of pieces) {
      whole.update(p);
      let prev = 0;
      for (const end of c.push(p)) {
        h.update(p.subarray(prev, end));
        h.digest();
        h = createHash('sha256');
        prev = end;
      }
      h.update(p.subarray(prev));
    }
    c.finish();
    h.digest();
    whole.digest();
  };
  const sha = () => {
    const h = createHash('sha256');
    for (const p of pieces) h.update(p);
    h.digest();
  };
  chunk(); sha(); // warm-up (JIT)
  const values = [];
  const base = [];
  const both = [];
  const js = [];
  let chunks = 0;
  chunk({ js: true });
  for (let r = 0; r < runs; r++) {
    let t = now();
    chunks = chunk();
    values.push(mbps(now() - t));
    t = now();
    if (chunk({ js: true }) !== chunks) throw new Error('the JavaScript loop cut elsewhere than the WebAssembly one');
    js.push(mbps(now() - t));
    t = now();
    sha();
    base.push(mbps(now() - t));
    t = now();
    chunkAndHash();
    both.push(mbps(now() - t));
    b.log(`  chunking run ${r + 1}/${runs}: chunker ${values[r].toFixed(0)} MB/s (its JavaScript loop ${js[r].toFixed(0)} MB/s), SHA-256 ${base[r].toFixed(0)} MB/s, chunk + hash chunks + hash file ${both[r].toFixed(0)} MB/s`);
  }
  return caseRecord({
    values, baseline: median(base), baselineName: 'SHA-256 of the same bytes (MB/s)', unit: 'MB/s',
    bytes: data.length, chunks, mean_chunk_bytes: Math.round(data.length / chunks), params: CHUNK_PARAMS,
    chunk_and_hash_mbps: Math.round(median(both)),
    // the same chunker with its JavaScript inner loop instead of the WebAssembly one (core/gear-wasm.ts), same run
    js_loop_mbps: Math.round(median(js)), wasm_vs_js: Math.round((median(values) / median(js)) * 100) / 100,
  });
}

export async function contentCases(b, opts) {
  const { quick, only } = opts;
  const want = (...names) => !only || names.some((x) => only.has(x));
  const cases = {};
  const mib = quick ? 128 : 512;
  if (want('big_edit')) {
    b.log('big_edit');
    cases.big_edit = await editCase(b, { mib, runs: quick ? 2 : 3, edit: flipMiddleByte, name: 'big_edit' });
  }
  if (want('big_insert')) {
    b.log('big_insert');
    cases.big_insert = await editCase(b, { mib, runs: quick ? 2 : 3, edit: insertAtStart, name: 'big_insert' });
  }
  if (want('resume')) {
    b.log('resume');
    cases.resume = await resumeCase(b, { mib });
  }
  if (want('chunking')) {
    b.log('chunking');
    cases.chunking = await chunkingCase(b, { mib: quick ? 128 : 512, runs: quick ? 3 : 5 });
  }
  return cases;
}
