// Content-layer cases:
//   chunking   MB/s of the FastCDC chunker (dist/core/chunker.js) on one core,
//              against SHA-256 of the same bytes in the same run (ratio =
//              chunker / SHA-256; above 1 means chunking costs less than the
//              hashing every upload does anyway). Also reported: chunking and
//              hashing every chunk together, which is what an upload does.

import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { caseRecord, median, now, ROOT } from './lib/harness.mjs';

async function chunkingCase(b, { mib, runs }) {
  const { Chunker, CHUNK_PARAMS } = await import(pathToFileURL(join(ROOT, 'dist', 'core', 'chunker.js')).href);
  const data = randomBytes(mib * 1024 * 1024);
  // fed in 1 MiB pieces, as a file stream would
  const pieces = [];
  for (let off = 0; off < data.length; off += 1 << 20) pieces.push(data.subarray(off, off + (1 << 20)));
  const mbps = (ms) => data.length / 1e6 / (ms / 1000);
  const chunk = () => {
    const c = new Chunker(CHUNK_PARAMS);
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
  let chunks = 0;
  for (let r = 0; r < runs; r++) {
    let t = now();
    chunks = chunk();
    values.push(mbps(now() - t));
    t = now();
    sha();
    base.push(mbps(now() - t));
    t = now();
    chunkAndHash();
    both.push(mbps(now() - t));
    b.log(`  chunking run ${r + 1}/${runs}: chunker ${values[r].toFixed(0)} MB/s, SHA-256 ${base[r].toFixed(0)} MB/s, chunk + hash chunks + hash file ${both[r].toFixed(0)} MB/s`);
  }
  return caseRecord({
    values, baseline: median(base), baselineName: 'SHA-256 of the same bytes (MB/s)', unit: 'MB/s',
    bytes: data.length, chunks, mean_chunk_bytes: Math.round(data.length / chunks), params: CHUNK_PARAMS,
    chunk_and_hash_mbps: Math.round(median(both)),
  });
}

export async function contentCases(b, opts) {
  const { quick, only } = opts;
  const want = (...names) => !only || names.some((x) => only.has(x));
  const cases = {};
  if (want('chunking')) {
    b.log('chunking');
    cases.chunking = await chunkingCase(b, { mib: quick ? 128 : 512, runs: quick ? 3 : 5 });
  }
  return cases;
}
