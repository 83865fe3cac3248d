// What `syncd sync` on an unchanged folder loads (issue #17, start-up cost):
// node's start and module loading are most of a no-op sync's bill, so the
// modules only other paths need stay out of it. ESM imports are logged by
// test/helpers/module-log.mjs, CommonJS requires (undici, better-sqlite3)
// by NODE_DEBUG=module; a chunk of the CLI bundle (scripts/bundle.mjs) is
// logged with the modules it holds; the same detectors are shown to catch a
// load, bundled or not.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let dir: string;

/** runs node with both module logs; returns stdout and every module path loaded (ESM URLs and CommonJS files) */
function loads(args: string[]): { stdout: string; modules: string[] } {
  const log = join(work, `modules-${Math.random().toString(36).slice(2)}.log`);
  const r = spawnSync(process.execPath, ['--import', join(import.meta.dirname, '../helpers/module-log.mjs'), ...args], {
    env: { ...process.env, ...env, SYNCD_MODULE_LOG: log, NODE_DEBUG: 'module' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect(r.status, r.stderr.slice(-2000)).toBe(0);
  const esm = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  const cjs = [...r.stderr.matchAll(/^MODULE \d+: load "([^"]+)"/gm)].map((m) => m[1]!);
  return { stdout: r.stdout, modules: [...esm, ...cjs] };
}

/** what a no-op sync must not load, by what needs it instead */
const HEAVY: Array<[string, RegExp]> = [
  ['the RPC stack (Subscribe, the server)', /@connectrpc|@bufbuild|\/gen\/syncd\//],
  ["undici's index (every dispatcher, mocks, fetch; client/remote/pool.ts takes the Pool alone)", /\/undici\/index\.js$/],
  ['the SSE parser (an agent on the SSE channel)', /eventsource-parser/],
  ['the server side', /\/dist\/server\/|prom-client|\/node_modules\/pg\/|\/node_modules\/nats\//],
];
const heavy = (modules: string[]): string[] => HEAVY.filter(([, re]) => modules.some((m) => re.test(m))).map(([what]) => what);

const BUNDLE = join(import.meta.dirname, '../../dist/bundle');
/** chunk file name → the modules it holds, as the module log writes them */
function bundleChunks(): Map<string, string[]> {
  const manifest = JSON.parse(readFileSync(join(BUNDLE, 'modules.json'), 'utf8')) as Record<string, string[]>;
  const root = resolve(BUNDLE, '../..');
  return new Map(Object.entries(manifest).map(([chunk, mods]) => [chunk, mods.map((m) => pathToFileURL(resolve(root, m)).href)]));
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-noop-modules-'));
  env = { SYNCD_STATE_DIR: join(work, 'state') };
  server = await startServerProc(join(work, 'srv'));
  const token = cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', 'a']).stdout.trim();
  dir = join(work, 'folder');
  mkdirSync(join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, 'sub', `f${i}.txt`), `file ${i}\n`);
  expect(cli(['init', dir, '--server', server.url, '--token', token], env).code).toBe(0);
  expect(cli(['sync', dir], env).code).toBe(0);
});

afterAll(async () => {
  await server?.proc.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe('a no-op `syncd sync`', () => {
  it('loads the agent, undici\'s Pool and the state DB, and nothing heavy it does not use', () => {
    const { stdout, modules } = loads([BIN, 'sync', dir]);
    expect(stdout).toMatch(/in sync/);
    expect(modules.some((m) => m.endsWith('/undici/lib/dispatcher/pool.js'))).toBe(true);
    expect(modules.some((m) => /better-sqlite3/.test(m))).toBe(true);
    expect(heavy(modules)).toEqual([]);
  });

  it('runs from the bundle: a few files to resolve, read and compile instead of ~170', () => {
    const { stdout, modules } = loads([BIN, 'sync', dir]);
    expect(stdout).toMatch(/in sync/);
    const inChunks = new Set([...bundleChunks().values()].flat());
    // what node itself had to find on disk: the bundle's chunks, better-sqlite3 and its helpers, node: built-ins
    const files = [...new Set(modules.filter((m) => !inChunks.has(m) && !m.startsWith('node:')))];
    expect(files.some((m) => m.endsWith('/dist/bundle/syncd.mjs'))).toBe(true);
    expect(modules.some((m) => m.endsWith('/dist/client/agent/engine.js'))).toBe(true); // inside a chunk
    expect(files.filter((m) => /\/dist\/(cli|client|core|protocol)\//.test(m) || /\/node_modules\/(undici|commander)\//.test(m))).toEqual([]);
    expect(files.length).toBeLessThan(60);
  });

  it('the detectors catch each heavy load (controls)', () => {
    const imports = ['undici', 'eventsource-parser', '@connectrpc/connect', 'prom-client'].map((m) => `import(${JSON.stringify(m)})`).join(';');
    const { modules } = loads(['--input-type=module', '-e', `${imports}; await import(${JSON.stringify(join(import.meta.dirname, '../../dist/server/gc.js'))})`]);
    expect(heavy(modules)).toEqual(HEAVY.map(([what]) => what));
  });

  it('the detectors see into the bundle: loading its server chunk is the server side (control)', () => {
    const server = [...bundleChunks()].find(([, mods]) => mods.some((m) => m.endsWith('/dist/server/app.js')))![0];
    const { modules } = loads(['--input-type=module', '-e', `await import(${JSON.stringify(join(BUNDLE, server))})`]);
    expect(heavy(modules)).toContain('the server side');
  });
});
