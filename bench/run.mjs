// npm run bench [-- --quick]: the server and client measurements in one run.
// (The full benchmark matrix with cp -a / rsync baselines and
// bench/results.json is the benchmark issue's work; this runs what exists.)
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
let failed = 0;
for (const script of ['server.mjs', 'client.mjs']) {
  process.stdout.write(`\n== bench/${script}\n`);
  const r = spawnSync(process.execPath, [join(here, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
