import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { acquireLock, lockHolder } from '../../../../src/client/state/lock.js';

describe('folder lock', () => {
  it('one holder at a time; released on release()', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'syncd-lock-')), 'agent.lock');
    expect(lockHolder(file)).toBeNull();
    const l = acquireLock(file, '/some/folder');
    expect(lockHolder(file)).toBe(process.pid);
    l.release();
    expect(lockHolder(file)).toBeNull();
    acquireLock(file, '/some/folder').release();
  });

  it('a stale PID file (a reused PID after a reboot) does not block', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'syncd-lock-')), 'agent.lock');
    writeFileSync(file, '1\n'); // PID 1 is alive, but holds no lock
    expect(lockHolder(file)).toBeNull();
    acquireLock(file, '/f').release();
  });

  it('another process holding it is refused with its PID; a killed holder frees it', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'syncd-lock-')), 'agent.lock');
    const src = join(__dirname, '..', '..', '..', '..', 'dist', 'client', 'state', 'lock.js');
    const child = spawn(process.execPath, ['--input-type=module', '-e', `import { acquireLock } from ${JSON.stringify(src)}; acquireLock(${JSON.stringify(file)}, 'f'); console.log('held'); setInterval(() => {}, 1000);`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await once(child.stdout!, 'data');
    expect(lockHolder(file)).toBe(child.pid);
    expect(() => acquireLock(file, '/the/folder')).toThrow(new RegExp(`another syncd agent \\(pid ${child.pid}\\) is already syncing /the/folder`));
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(lockHolder(file)).toBeNull();
    acquireLock(file, '/the/folder').release();
  });
});
