// A big directory rename seen through the watcher arrives as thousands of
// events over time; it must still become ONE move on the server.

import { mkdirSync, mkdtempSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { cli, start, startServerProc, type Proc } from '../helpers/procs.js';
import { Api } from '../helpers/server.js';

let work: string;
let server: { proc: Proc; url: string };

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-wrename-'));
  server = await startServerProc(join(work, 'srv'));
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('a watched directory rename', () => {
  it('of 2,000 files is one journal entry, and the other folder follows', async () => {
    const env = { SYNCD_STATE_DIR: join(work, 'state'), SYNCD_MAX_DELETE_SHARE: '1' };
    const add = (label: string) => cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', label]).stdout.trim();
    const api = new Api(server.url, add('api'));
    const A = join(work, 'A');
    const B = join(work, 'B');
    mkdirSync(join(A, 'photos'), { recursive: true });
    for (let i = 0; i < 2000; i++) writeFileSync(join(A, 'photos', `p${i}.jpg`), `pixels ${i}`);
    expect(cli(['init', A, '--server', server.url, '--token', add('a')], env).code).toBe(0);
    expect(cli(['init', B, '--server', server.url, '--token', add('b')], env).code).toBe(0);
    expect(cli(['sync', A], env).code).toBe(0);
    const agents = [start(['watch', A], env), start(['watch', B], env)];
    try {
      await waitFor(() => {
        try {
          return readdirSync(join(B, 'photos')).length === 2000;
        } catch {
          return false;
        }
      }, 60_000, 'B to mirror');
      for (const dir of [A, B]) expect(cli(['wait', dir, '--timeout', '60'], env).code).toBe(0);
      const before = (await api.listAll()).seq;
      renameSync(join(A, 'photos'), join(A, 'photos-2026'));
      await waitFor(() => {
        try {
          return readdirSync(join(B, 'photos-2026')).length === 2000 && !readdirSync(B).includes('photos');
        } catch {
          return false;
        }
      }, 60_000, 'B to follow the rename');
      await new Promise((r) => setTimeout(r, 1000));
      expect((await api.listAll()).seq - before).toBe(1);
    } finally {
      for (const a of agents) await a.kill('SIGTERM');
    }
  }, 120_000);
});
