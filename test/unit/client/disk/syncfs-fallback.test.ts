// When `sync -f` fails, nodeFsys.syncFiles falls back to an fsync per file
// for that batch. One failure must not turn syncfs off for the rest of a
// long-running agent's life (a directory deleted while its files came is
// enough to cause one); `sync -f` failing time after time does.
//
// What tells the two paths apart from outside: syncFiles of names that do
// not exist in a real directory succeeds through syncfs (one `sync -f` of
// the directory) and fails through the fsyncs (each open is ENOENT).
// The module's state lives as long as the process: its own test file.

import { createServer, type Server } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { nodeFsys } from '../../../../src/client/disk/fsys.js';

let dir: string;
let sock: Server;
let sockPath: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncd-syncfs-fallback-'));
  sockPath = join(dir, 'sock');
  sock = createServer();
  await new Promise<void>((resolve) => sock.listen(sockPath, resolve));
});
afterAll(async () => {
  await new Promise<void>((resolve) => sock.close(() => resolve()));
  await rm(dir, { recursive: true, force: true });
});

/** enough names for syncFiles to try syncfs (SYNCFS_MIN_FILES) */
const names = (under: string): string[] => Array.from({ length: 300 }, (_, i) => join(under, `f${i}`));

describe.runIf(process.platform === 'linux')('syncFiles after `sync -f` failed', () => {
  test('one failure falls back for that batch only; failures in a row give syncfs up', async () => {
    // a socket "directory": its stat works, `sync -f` cannot open it, and the fallback's fsyncs fail
    await expect(nodeFsys.syncFiles(names(sockPath))).rejects.toThrow();
    // syncfs is still on: the directory is synced, the missing names never opened
    await expect(nodeFsys.syncFiles(names(dir))).resolves.toBeUndefined();

    // three failures in a row: from now on file by file, and the missing names fail
    for (let i = 0; i < 3; i++) await expect(nodeFsys.syncFiles(names(sockPath))).rejects.toThrow();
    await expect(nodeFsys.syncFiles(names(dir))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
