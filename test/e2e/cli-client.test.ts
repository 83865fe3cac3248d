// The client CLI as a person uses it: conflicts listed and resolved in bulk,
// one agent per folder, SIGTERM stops cleanly, and a reset after a conflict
// breeds no second copy.

import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StateDB } from '../../src/client/state/db.js';
import { folderStatePaths } from '../../src/client/state/paths.js';
import { waitFor } from '../helpers/agent.js';
import { cli, start, twoLinkedFolders, type Proc } from '../helpers/procs.js';

let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let A: string;
let B: string;

const copies = (dir: string) => readdirSync(dir).filter((n) => n.includes('conflicted copy'));

beforeAll(async () => {
  ({ env, server, A, B } = await twoLinkedFolders('syncd-cli-'));
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('client CLI', () => {
  it('a conflict is listed, survives a reset without a second copy, and --keep local resolves it', () => {
    writeFileSync(join(A, 'plan.txt'), 'v1');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    writeFileSync(join(A, 'plan.txt'), 'alpha edit');
    writeFileSync(join(B, 'plan.txt'), 'beta edit');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(copies(B)).toHaveLength(1);
    const listed = JSON.parse(cli(['conflicts', B, '--json'], env).stdout);
    expect(listed).toHaveLength(1);
    expect(listed[0].original).toBe('plan.txt');

    // force a reset (as if the cursor had expired): still exactly one copy
    const db = new StateDB(folderStatePaths(B, env).db);
    db.meta.set('cursor', null);
    db.close();
    expect(cli(['sync', B], env).code).toBe(0);
    expect(cli(['sync', A], env).code).toBe(0);
    expect(copies(B)).toHaveLength(1);
    expect(copies(A)).toHaveLength(1);

    const r = cli(['conflicts', B, '--keep', 'local'], env);
    expect(r.stdout).toMatch(/resolved 1 conflict keeping the local version/);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(cli(['sync', A], env).code).toBe(0);
    expect(readFileSync(join(A, 'plan.txt'), 'utf8')).toBe('beta edit');
    expect(copies(A)).toEqual([]);
    expect(copies(B)).toEqual([]);
    expect(cli(['conflicts', B], env).stdout).toMatch(/no conflicts/);
  });

  it('one agent per folder, and SIGTERM stops the agent with exit 0', async () => {
    const agent = start(['watch', A], env);
    await waitFor(() => agent.output.join('').includes('watching'), 15_000, 'agent start');
    const second = cli(['sync', A], env);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/another syncd agent \(pid \d+\) is already syncing/);
    const status = JSON.parse(cli(['status', A, '--json'], env).stdout);
    expect(status.daemon.running).toBe(true);
    agent.child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => agent.child.on('exit', (c) => res(c)));
    expect(code).toBe(0);
    expect(JSON.parse(cli(['status', A, '--json'], env).stdout).daemon.running).toBe(false);
  });
});
