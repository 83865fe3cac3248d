// `syncd init` takes the token without putting it on the command line:
// --token-file, SYNCD_TOKEN, --token - (stdin). And it warns about plain
// http:// to another machine.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, REPO_ROOT } from '../helpers/server.js';
import { cli, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
const env = (): NodeJS.ProcessEnv => ({ SYNCD_STATE_DIR: join(work, 'state') });
const token = (label: string): string => cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', label]).stdout.trim();

beforeAll(async () => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), 'syncd-token-'));
  server = await startServerProc(join(work, 'srv'));
}, 120_000);
afterAll(async () => {
  await server.proc.kill();
  rmSync(work, { recursive: true, force: true });
});

describe('init token sources', () => {
  it('--token-file', () => {
    const f = join(work, 'tok');
    writeFileSync(f, `${token('file')}\n`, { mode: 0o600 });
    const r = cli(['init', join(work, 'A'), '--server', server.url, '--token-file', f], env());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('SYNCD_TOKEN', () => {
    const r = cli(['init', join(work, 'B'), '--server', server.url], { ...env(), SYNCD_TOKEN: token('env') });
    expect(r.code).toBe(0);
  });

  it('--token - reads stdin', () => {
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'bin/syncd'), 'init', join(work, 'C'), '--server', server.url, '--token', '-'], {
      env: { ...process.env, ...env() },
      input: `${token('stdin')}\n`,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
  });

  it('no token anywhere is a usage error (exit 2)', () => {
    const r = cli(['init', join(work, 'D'), '--server', server.url], { ...env(), SYNCD_TOKEN: '' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/token-file/);
  });

  it('warns about plain http:// to another machine', () => {
    // nothing listens there: the warning comes before the connection fails
    const r = cli(['init', join(work, 'E'), '--server', 'http://192.0.2.1:7420', '--token', 'syncd_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'], env());
    expect(r.stderr).toMatch(/plain http:\/\/ to another machine/);
  });
});
