// The `rewind` case (docs/history.md): a folder of small files, mirrored to
// two devices with agents running; a script rewrites every file on device
// A; `syncd rewind A --at <before the script>`; the time until both
// devices show the old state again (both agents report that they applied
// the server's head and have nothing pending), against the initial mirror
// time of the same tree in the same run (`syncd sync` into an empty folder).

import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseRecord, now, seedTree, sleep, smallTreeSpec, writeTree } from './lib/harness.mjs';

function localIso(ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/** every file of `spec` under `dir` has the bytes of the source tree */
function sameAsSource(dir, src, spec) {
  for (const f of spec) if (!readFileSync(join(dir, f.path)).equals(readFileSync(join(src, f.path)))) return f.path;
  return null;
}

async function rewindCase(b, { files }) {
  const server = await b.startServer('history-srv');
  const spec = smallTreeSpec(files);
  const src = b.path('rewind-src');
  writeTree(src, spec, 7);
  execFileSync('sync');
  await seedTree(server, server.token('rewind', 'seeder'), src, spec);
  const A = b.path('rewind-A');
  const B = b.path('rewind-B');
  const envA = b.env(b.path('rewind-state-A'));
  const envB = b.env(b.path('rewind-state-B'));
  b.cli(envA, 'init', A, '--server', server.url, '--token', server.token('rewind', 'A'));
  b.cli(envB, 'init', B, '--server', server.url, '--token', server.token('rewind', 'B'));
  let t = now();
  b.cliP(envA, 'sync', A);
  const mirrorS = (now() - t) / 1000;
  b.cli(envB, 'sync', B);
  b.log(`  rewind: initial mirror of ${files} files ${mirrorS.toFixed(2)} s`);
  const agentA = b.agent(envA, 'watch', A);
  const agentB = b.agent(envB, 'watch', B);
  try {
    await Promise.all([b.waitIdle(envA, A), b.waitIdle(envB, B)]);
    await sleep(50);
    const before = Date.now();
    await sleep(50);
    t = now();
    for (const f of spec) writeFileSync(join(A, f.path), `ENCRYPTED ${f.index}\n`);
    await Promise.all([b.waitIdle(envA, A), b.waitIdle(envB, B)]);
    b.log(`  rewind: the script's ${files} rewrites reached both devices in ${((now() - t) / 1000).toFixed(1)} s`);
    t = now();
    const out = b.cli(envA, 'rewind', A, '--at', localIso(before));
    const cliS = (now() - t) / 1000;
    await Promise.all([b.waitIdle(envA, A), b.waitIdle(envB, B)]);
    const rewindS = (now() - t) / 1000;
    const badA = sameAsSource(A, src, spec);
    const badB = sameAsSource(B, src, spec);
    if (badA || badB) throw new Error(`rewind: ${badA ? `A/${badA}` : `B/${badB}`} is not back to its old content (${out})`);
    b.log(`  rewind: ${out.split('\n').pop()}; command ${cliS.toFixed(2)} s, both devices back ${rewindS.toFixed(2)} s`);
    return caseRecord({ values: [rewindS], baseline: mirrorS, baselineName: 'initial mirror, same tree', unit: 's', files, rewind_command_s: +cliS.toFixed(3) });
  } finally {
    await Promise.all([b.stop(agentA), b.stop(agentB)]);
    await server.close();
  }
}

export async function historyCases(b, { quick, only }) {
  if (only && !only.has('rewind')) return {};
  b.log('rewind');
  return { rewind: await rewindCase(b, { files: quick ? 2000 : 10_000 }) };
}
