// tsc compiles .ts only: copy the other files the compiled code reads at run
// time (the state DB's .sql migrations) from src/ to the same place in dist/.
import { copyFileSync, mkdirSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ASSET = /\.sql$/;
const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const dist = join(root, 'dist');

for (const e of readdirSync(src, { recursive: true, withFileTypes: true })) {
  if (!e.isFile() || !ASSET.test(e.name)) continue;
  const from = join(e.parentPath ?? e.path, e.name);
  const to = join(dist, relative(src, from));
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
}
