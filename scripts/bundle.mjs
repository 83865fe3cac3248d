// The CLI as a few files: dist/cli/main.js and the packages a command's
// start-up path imports (undici's Pool, commander, ignore, p-queue) bundled
// by rolldown into dist/bundle/ (bin/syncd runs dist/bundle/syncd.mjs).
// Node resolves, reads and compiles ~190 module files for a no-op `syncd
// sync` otherwise; one bundle loads in about half the CPU time
// (docs/performance.md, "noop_restart"). The dynamic imports that keep a
// command's modules out of the others stay dynamic: each becomes a chunk.
// Packages not listed in INLINE (better-sqlite3's native addon, the server's
// pg, nats, prom-client, the RPC stack, ora) stay ordinary imports. Every
// `import.meta.url` keeps pointing at the module's own file in dist/
// (migrations, package.json, bin/). dist/bundle/modules.json says which
// modules each chunk holds (test/e2e/noop-sync-modules.test.ts reads it).
import { rmSync, writeFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rolldown } from 'rolldown';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'bundle');
const INLINE = new Set(['undici', 'commander', 'ignore', 'p-queue', 'eventemitter3', 'p-timeout']);
const builtins = new Set(builtinModules);

/** `@scope/name/x` → `@scope/name`, `name/x` → `name`; null for a relative or absolute path */
function packageOf(id) {
  if (id.startsWith('.') || id.startsWith('/') || id.startsWith('\0')) return null;
  const parts = id.split('/');
  return id.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

rmSync(out, { recursive: true, force: true });
const bundle = await rolldown({
  input: join(root, 'dist', 'cli', 'main.js'),
  platform: 'node',
  logLevel: 'warn',
  external(id) {
    if (id.startsWith('node:') || builtins.has(id)) return true;
    const pkg = packageOf(id);
    return pkg !== null && !INLINE.has(pkg);
  },
  plugins: [{
    name: 'own-import-meta-url',
    transform(code, id) {
      if (id.startsWith('\0') || !code.includes('import.meta.url')) return null;
      const own = relative(out, id).split('\\').join('/');
      return code.replaceAll('import.meta.url', `new URL(${JSON.stringify(own)}, import.meta.url).href`);
    },
  }],
});
const { output } = await bundle.write({ dir: out, format: 'esm', entryFileNames: 'syncd.mjs', chunkFileNames: '[name]-[hash].mjs', sourcemap: false });
await bundle.close();
const modules = {};
for (const c of output) if (c.type === 'chunk') modules[c.fileName] = c.moduleIds.filter((m) => !m.startsWith('\0')).map((m) => relative(root, m).split('\\').join('/')).sort();
writeFileSync(join(out, 'modules.json'), `${JSON.stringify(modules, null, 1)}\n`);
