// Folder modes through the built CLI, with devices on a real loopback
// server: a receive-only folder edited locally, listed, waited on, then
// reverted by its running agent and switched back to two-way; a send-only
// folder receiving remote edits it does not apply, then overridden without
// an agent.

import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { cli, cliAsync, start, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let A: string;
const agents: Proc[] = [];
/** a dozen CLI processes each: slow on a loaded machine (this is no timing assertion) */
const E2E_TIMEOUT_MS = 240_000;

const read = (dir: string, name: string) => readFileSync(join(dir, name), 'utf8');
const ok = (args: string[]) => {
  const r = cli(args, env);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r.stdout;
};
const statusOf = (dir: string) => JSON.parse(ok(['status', dir, '--json']));
const diffsOf = (dir: string) => (statusOf(dir).differences as { path: string; side: string; change: string }[]).map((d) => `${d.side} ${d.change} ${d.path}`);

function link(name: string): string {
  const dir = join(work, name);
  const token = cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', name]).stdout.trim();
  ok(['init', dir, '--server', server.url, '--token', token]);
  return dir;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-modes-'));
  env = { SYNCD_STATE_DIR: join(work, 'state') };
  server = await startServerProc(join(work, 'srv'));
  A = link('alpha');
  writeFileSync(join(A, 'shared.txt'), 'v1');
  ok(['sync', A]);
});

afterAll(async () => {
  for (const a of agents) a.child.kill('SIGTERM');
  await server.proc.kill('SIGTERM');
});

describe('folder modes', () => {
  it('receive-only: a local edit is kept and listed, wait returns, revert (agent running) puts the server version back, two-way then uploads', async () => {
    const B = link('beta');
    ok(['config', 'set', B, 'mode', 'receive-only']);
    ok(['sync', B]);
    expect(read(B, 'shared.txt')).toBe('v1');

    writeFileSync(join(B, 'shared.txt'), 'local edit');
    writeFileSync(join(B, 'extra.txt'), 'only here');
    ok(['sync', B]); // nothing to upload: the differences are not pending work
    ok(['sync', A]);
    expect(read(A, 'shared.txt')).toBe('v1');
    expect(existsSync(join(A, 'extra.txt'))).toBe(false);

    const st = statusOf(B);
    expect(st.mode).toBe('receive-only');
    expect(st.pending_uploads).toBe(0);
    expect(diffsOf(B)).toEqual(['local created extra.txt', 'local changed shared.txt']);
    expect(ok(['status', B])).toMatch(/receive-only: 2 local differences kept/);

    const agent = start(['watch', B], env);
    agents.push(agent);
    await waitFor(() => agent.output.join('').includes('watching'), 60_000, 'agent start');
    // only receive-only differences are left: wait returns
    expect((await cliAsync(['wait', B, '--timeout', '60'], env)).code).toBe(0);

    const rev = await cliAsync(['revert', B, '--timeout', '60'], env);
    expect(rev.code, rev.stderr).toBe(0);
    expect(rev.stdout).toMatch(/replace\s+shared\.txt/);
    expect(rev.stdout).toMatch(/remove\s+extra\.txt/);
    expect(rev.stdout).toMatch(/reverted/);
    expect(read(B, 'shared.txt')).toBe('v1');
    expect(existsSync(join(B, 'extra.txt'))).toBe(false);
    expect(diffsOf(B)).toEqual([]);

    // a kept difference uploads once the running agent's folder is two-way again
    writeFileSync(join(B, 'shared.txt'), 'kept, then synced');
    await waitFor(() => diffsOf(B).length === 1, 60_000, 'the agent to see the edit');
    ok(['config', 'set', B, 'mode', 'two-way']);
    await waitFor(() => { cli(['sync', A], env); return read(A, 'shared.txt') === 'kept, then synced'; }, 60_000, 'the upload after the switch');
    agent.child.kill('SIGTERM');
  }, E2E_TIMEOUT_MS);

  it('send-only: remote edits are not applied but listed; override (no agent) pushes the folder over the server', () => {
    const C = link('gamma');
    ok(['sync', C]);
    ok(['config', 'set', C, 'mode', 'send-only']);
    const before = read(C, 'shared.txt');

    writeFileSync(join(A, 'shared.txt'), 'alpha edit');
    writeFileSync(join(A, 'fromA.txt'), 'alpha only');
    ok(['sync', A]);
    writeFileSync(join(C, 'mine.txt'), 'gamma');
    ok(['sync', C]);
    expect(read(C, 'shared.txt')).toBe(before);
    expect(existsSync(join(C, 'fromA.txt'))).toBe(false);
    expect(diffsOf(C)).toEqual(['remote created fromA.txt', 'remote changed shared.txt']);
    ok(['sync', A]);
    expect(read(A, 'mine.txt')).toBe('gamma'); // local changes still go up

    const two = cli(['revert', C], env);
    expect(two.code).toBe(2);
    expect(two.stderr).toMatch(/is for receive-only folders and this folder is send-only/);

    const out = ok(['override', C]);
    expect(out).toMatch(/upload\s+shared\.txt/);
    expect(out).toMatch(/delete\s+fromA\.txt \(on the server\)/);
    expect(out).toMatch(/overridden/);
    ok(['sync', A]);
    expect(read(A, 'shared.txt')).toBe(before);
    expect(existsSync(join(A, 'fromA.txt'))).toBe(false);
    expect(diffsOf(C)).toEqual([]);
  }, E2E_TIMEOUT_MS);
});
