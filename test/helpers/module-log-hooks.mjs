// Loader hooks for module-log.mjs (they run on the loader thread). A chunk
// of the CLI bundle (dist/bundle/, scripts/bundle.mjs) is logged with every
// module it holds, from the bundle's modules.json, as absolute file URLs.
import { appendFileSync, readFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const manifests = new Map();

function bundled(url) {
  if (!url.startsWith('file:')) return [];
  const file = fileURLToPath(url);
  const dir = dirname(file);
  if (!dir.endsWith(join('dist', 'bundle'))) return [];
  if (!manifests.has(dir)) manifests.set(dir, JSON.parse(readFileSync(join(dir, 'modules.json'), 'utf8')));
  const root = resolvePath(dir, '..', '..');
  return (manifests.get(dir)[file.slice(dir.length + 1)] ?? []).map((m) => pathToFileURL(resolvePath(root, m)).href);
}

export async function resolve(specifier, context, next) {
  const r = await next(specifier, context);
  if (process.env.SYNCD_MODULE_LOG) appendFileSync(process.env.SYNCD_MODULE_LOG, [r.url, ...bundled(r.url)].map((u) => `${u}\n`).join(''));
  return r;
}
