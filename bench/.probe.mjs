import { nodeFsys } from '../dist/client/disk/fsys.js';
import { readdirSync, lstatSync } from 'node:fs';
const root = process.argv[2];
async function walk(d) { const l = await nodeFsys.lstatDir(d); let n = l.length; for (const e of l) if (e.st?.isDirectory()) n += await walk(d + '/' + e.name); return n; }
for (let k = 0; k < 4; k++) {
  let t = performance.now();
  const n = await walk(root);
  const a = performance.now() - t;
  console.log(n, 'lstatDir walk', a.toFixed(1));
}
