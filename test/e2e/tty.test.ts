// What a person sees: the built CLI in a pseudo-terminal (util-linux
// `script`), a first sync with its spinner, then the human `status`.

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;

/** Runs the CLI with stdin/stdout/stderr on a pseudo-terminal; returns what the terminal showed. */
function inTty(args: string[]): string {
  const cmd = 'stty cols 120 rows 40; ' + [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return execFileSync('script', ['-qefc', cmd, '/dev/null'], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env, TERM: 'xterm-256color', COLUMNS: '120' }, encoding: 'utf8', timeout: 120_000, maxBuffer: 256 * 1024 * 1024 });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-tty-'));
  env = { SYNCD_STATE_DIR: join(work, 'state') };
  server = await startServerProc(join(work, 'srv'));
  const data = join(work, 'srv');
  const up = join(work, 'up');
  mkdirSync(join(up, 'photos'), { recursive: true });
  for (let i = 0; i < 400; i++) writeFileSync(join(up, 'photos', `p${i}.jpg`), Buffer.alloc(20_000 + i, i % 256));
  expect(cli(['init', up, '--server', server.url, '--token', cli(['server', 'add-device', '--data', data, '--namespace', 'ns', '--label', 'up']).stdout.trim()], env).code).toBe(0);
  expect(cli(['sync', up], env).code).toBe(0);
  const down = join(work, 'down');
  expect(cli(['init', down, '--server', server.url, '--token', cli(['server', 'add-device', '--data', data, '--namespace', 'ns', '--label', 'laptop']).stdout.trim()], env).code).toBe(0);
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('in a terminal', () => {
  it('a first sync shows a spinner with files and bytes, then the human status says up to date', () => {
    const shown = inTty(['sync', join(work, 'down')]);
    // ora draws on the terminal: cursor hiding and spinner frames or its success mark
    expect(shown).toMatch(/\u001b\[\?25l/);
    expect(shown).toMatch(/Syncing/);
    expect(shown).toMatch(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏✔]/);
    expect(shown).toMatch(/400 files|400\/400/);
    expect(shown).toMatch(/in sync: /);

    const status = inTty(['status', join(work, 'down')]);
    expect(status).toMatch(/: up to date/);
    expect(status).toMatch(/lag\s+0 entries \(applied seq \d+ of \d+\)/);
    expect(status).toMatch(/pending\s+0 uploads, 0 downloads/);
    expect(status).toMatch(/agent\s+not running/);
  });

  it('a failure is one clear line, without a stack trace', () => {
    let out = '';
    try {
      inTty(['sync', join(work, 'never-linked')]);
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? '');
    }
    const lines = out.split(/\r?\n/).filter((l) => l.trim());
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^syncd: .*not linked to a server yet; run `syncd init /);
    expect(out).not.toMatch(/\n\s+at /);
  });
});
