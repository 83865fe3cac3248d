// `syncd config get|set|unset` through the real commander program, in-process.

import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { addConfigFlags, configFlags } from '../../src/cli/config-cmd.js';
import { buildProgram, reportError } from '../../src/cli/main.js';
import { loadConfig } from '../../src/client/state/config.js';
import { folderStatePaths } from '../../src/client/state/paths.js';

let root: string;
let folder: string;
const saved = { ...process.env };
const cwd = process.cwd();

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'syncd-config-cmd-'));
  folder = join(root, 'My Sync');
  mkdirSync(folder);
  process.env.SYNCD_STATE_DIR = join(root, 'state');
  for (const k of Object.keys(process.env)) if (k.startsWith('SYNCD_') && k !== 'SYNCD_STATE_DIR') delete process.env[k];
});
afterEach(() => {
  process.chdir(cwd);
  process.env = { ...saved };
  rmSync(root, { recursive: true, force: true });
});

function link(dir: string): void {
  const p = folderStatePaths(dir);
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(p.db, '');
}

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
  const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
  let code = 0;
  try {
    await buildProgram().parseAsync(['node', 'syncd', ...args]);
  } catch (x) {
    code = reportError(x, false);
  } finally {
    o.mockRestore();
    e.mockRestore();
  }
  return { code, out, err };
}

describe('syncd config', () => {
  test('get on an unlinked folder fails with one line naming syncd init (exit 1)', async () => {
    const r = await cli('config', 'get', folder);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('syncd init');
  });

  test('set then get: one key alone prints the bare value; all keys show value and source', async () => {
    link(folder);
    let r = await cli('config', 'set', folder, 'bandwidth-limit', '10M');
    expect(r.code).toBe(0);
    expect(r.out).toContain('bandwidthLimit = 10485760 (10.0 MiB/s)');
    expect(r.out).toContain(folderStatePaths(folder).config);

    r = await cli('config', 'get', folder, 'bandwidthLimit');
    expect(r).toEqual({ code: 0, out: '10485760\n', err: '' });

    process.env.SYNCD_CONCURRENCY = '3';
    r = await cli('config', 'get', folder);
    expect(r.code).toBe(0);
    const rows = Object.fromEntries(
      r.out
        .split('\n')
        .slice(1)
        .filter(Boolean)
        .map((l) => {
          const [key, ...rest] = l.split(/\s{2,}/);
          return [key, rest];
        }),
    );
    expect(rows.concurrency).toEqual(['3', 'environment (SYNCD_CONCURRENCY)']);
    expect(rows.bandwidthLimit).toEqual(['10485760 (10.0 MiB/s)', 'file']);
    expect(rows.longpollTimeout).toEqual(['60 s', 'default']);
    expect(rows.notify).toEqual(['stream', 'default']);
    expect(Object.keys(rows)).toHaveLength(14);
  });

  test('get --json gives value and source per key', async () => {
    link(folder);
    await cli('config', 'set', folder, 'ignore', '["*.tmp","build/"]');
    const r = await cli('config', 'get', folder, '--json');
    const j = JSON.parse(r.out) as Record<string, { value: unknown; source: string }>;
    expect(j.ignore).toEqual({ value: ['*.tmp', 'build/'], source: 'file' });
    expect(j.logLevel).toEqual({ value: 'info', source: 'default' });
    const one = await cli('config', 'get', folder, 'ignore', '--json');
    expect(JSON.parse(one.out)).toEqual({ key: 'ignore', value: ['*.tmp', 'build/'], source: 'file' });
  });

  test('DIR defaults to the current directory: `get KEY` and `set KEY VALUE`', async () => {
    link(folder);
    process.chdir(folder);
    expect((await cli('config', 'set', 'concurrency', '4')).code).toBe(0);
    expect((await cli('config', 'get', 'concurrency')).out).toBe('4\n');
    expect(loadConfig(folder).concurrency).toBe(4);
    const all = await cli('config', 'get');
    expect(all.out).toMatch(/^concurrency\s+4\s+file$/m);
  });

  test('a bad value: exit 1, one line naming key, value and what is allowed; file untouched', async () => {
    link(folder);
    await cli('config', 'set', folder, 'concurrency', '4');
    const before = readFileSync(folderStatePaths(folder).config, 'utf8');
    const r = await cli('config', 'set', folder, 'concurrency', '99');
    expect(r.code).toBe(1);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain('concurrency');
    expect(r.err).toContain('"99"');
    expect(r.err).toContain('an integer from 1 to 64');
    expect(readFileSync(folderStatePaths(folder).config, 'utf8')).toBe(before);
  });

  test('set warns when the environment overrides what was stored', async () => {
    link(folder);
    process.env.SYNCD_LOG_LEVEL = 'debug';
    const r = await cli('config', 'set', folder, 'log-level', 'warn');
    expect(r.out).toContain('note: SYNCD_LOG_LEVEL is set in this environment and overrides the file');
  });

  test('set with a folder but no value is a usage error (exit 2)', async () => {
    link(folder);
    const r = await cli('config', 'set', folder, 'concurrency');
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing the value for concurrency');
  });

  test('unset returns the key to the layer below', async () => {
    link(folder);
    await cli('config', 'set', folder, 'longpoll-timeout', '2m');
    const r = await cli('config', 'unset', folder, 'longpollTimeout');
    expect(r.out).toBe('removed longpollTimeout from the config file; now 60 s (default)\n');
    expect(loadConfig(folder).longpollTimeout).toBe(60);
  });

  test('help lists every key with its environment variable', async () => {
    const r = await cli('config', '--help');
    expect(r.code).toBe(0);
    for (const k of ['concurrency', 'bandwidthLimit', 'ignore', 'maxDeleteShare', 'SYNCD_SAFETY_PULL_INTERVAL']) {
      expect(r.out).toContain(k);
    }
  });
});

describe('addConfigFlags / configFlags', () => {
  test('flags map onto config keys, without defaults that would hide the file', () => {
    const cmd = addConfigFlags(new Command('x').exitOverride());
    cmd.parse(['--concurrency', '3', '--bandwidth-limit', '1M', '--ignore', '*.a', '--ignore', '*.b', '--log-format', 'json'], {
      from: 'user',
    });
    expect(configFlags(cmd.opts())).toEqual({ concurrency: '3', bandwidthLimit: '1M', ignore: ['*.a', '*.b'], logFormat: 'json' });
    const empty = addConfigFlags(new Command('y').exitOverride());
    empty.parse([], { from: 'user' });
    expect(configFlags(empty.opts())).toEqual({});
  });

  test('--log-level only takes a known level', () => {
    const cmd = addConfigFlags(new Command('x').exitOverride().configureOutput({ writeErr: () => {} }));
    expect(() => cmd.parse(['--log-level', 'trace'], { from: 'user' })).toThrow(/Allowed choices are debug, info, warn, error/);
  });
});
