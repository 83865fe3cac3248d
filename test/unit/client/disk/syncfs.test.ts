// syncfs through one long-lived `sync -f` shell: answers come back to the
// request that asked, a name the shell's lines cannot carry goes through a
// process of its own, a failure says so, and the shell never keeps the
// agent's process alive.

import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { nodeScript } from '../../../helpers/procs.js';
import { SyncfsRunner } from '../../../../src/client/disk/syncfs.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncd-syncfs-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.runIf(process.platform === 'linux')('SyncfsRunner', () => {
  test('requests at once each get their own answer; a path that is not there is a failure', async () => {
    const r = new SyncfsRunner();
    const missing = join(dir, 'missing');
    const got = await Promise.all([r.run([dir]), r.run([missing]), r.run([dir, dir]), r.run([dir, missing]), r.run([])]);
    expect(got).toEqual([true, false, true, false, true]);
    // and it goes on answering after a failure
    await expect(r.run([dir])).resolves.toBe(true);
  });

  test('a directory whose name holds a line break is synced by a process of its own', async () => {
    const odd = join(dir, 'two\nlines');
    mkdirSync(odd);
    const r = new SyncfsRunner();
    await expect(r.run([odd])).resolves.toBe(true);
    await expect(r.run([join(dir, 'gone\nhere')])).resolves.toBe(false);
  });

  test('a process that used it ends without waiting for the shell', async () => {
    const mod = join(process.cwd(), 'dist', 'client', 'disk', 'syncfs.js');
    const script = `import { SyncfsRunner } from ${JSON.stringify(mod)};
const r = new SyncfsRunner();
console.log(await r.run([${JSON.stringify(dir)}]), await r.run([${JSON.stringify(dir)}]));`;
    const file = join(dir, 'child.mjs');
    writeFileSync(file, script);
    const { code, stdout: out } = await nodeScript(file, 10_000);
    expect(code).toBe(0);
    expect(out.trim()).toBe('true true');
  }, 20_000);
});
