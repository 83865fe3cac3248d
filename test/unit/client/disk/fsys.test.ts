// The real-disk Fsys: new files get their mode and mtime at creation and
// report the identity they keep; batches of files are made durable.

import { existsSync, lstatSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { nodeFsys } from '../../../../src/client/disk/fsys.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncd-fsys-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

// `many`: one of many files written at once, which a small file without fsync does on the worker thread (write-worker.ts)
describe.each([{ many: false }, { many: true }])('nodeFsys.writeNew (many: $many)', ({ many }) => {
  const MTIME = Date.UTC(2020, 1, 2, 3, 4, 5, 678);
  test.each([
    { name: 'a small file (blocking calls)', size: 3000 },
    { name: 'a large file (thread pool)', size: 600 * 1024 },
    { name: 'an empty file', size: 0 },
  ])('$name: content, mode, mtime, and the stat of what is on disk', async ({ size }) => {
    const data = Buffer.alloc(size, 9);
    const p = join(dir, 'f');
    for (const fsync of [false, true]) {
      const st = await nodeFsys.writeNew(p, data, { fsync, mode: 0o640, mtimeMs: MTIME, many });
      const disk = lstatSync(p);
      expect(readFileSync(p).equals(data)).toBe(true);
      expect(disk.mode & 0o777).toBe(0o640 & ~process.umask());
      expect(Math.round(disk.mtimeMs)).toBe(MTIME);
      expect({ ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode }).toEqual({ ino: disk.ino, size: disk.size, mtimeMs: disk.mtimeMs, mode: disk.mode });
      await nodeFsys.unlink(p);
    }
  });

  test.each([
    { name: 'small (blocking calls)', sizes: [1, 0, 4096, 17, 0, 3000] },
    { name: 'large (thread pool)', sizes: [65536, 0, 300 * 1024, 1, 65535, 200 * 1024] },
  ])('pieces, $name: the file holds them in order, empty ones included', async ({ sizes }) => {
    const parts = sizes.map((n, i) => Buffer.alloc(n, i + 1));
    // slices of one buffer too, as the batch download hands them on
    const backing = Buffer.concat(parts);
    const slices: Buffer[] = [];
    let at = 0;
    for (const n of sizes) slices.push(backing.subarray(at, (at += n)));
    for (const [k, data] of [parts, slices].entries()) {
      const p = join(dir, `p${k}`);
      const st = await nodeFsys.writeNew(p, data, { fsync: k === 1, many });
      expect(readFileSync(p).equals(backing)).toBe(true);
      expect(st.size).toBe(backing.length);
    }
  });

  test('without mode and mtime: private, written now', async () => {
    const p = join(dir, 'g');
    const before = Date.now();
    await nodeFsys.writeNew(p, Buffer.from('x'), { fsync: false, many });
    const disk = lstatSync(p);
    expect(disk.mode & 0o777).toBe(0o600);
    expect(disk.mtimeMs).toBeGreaterThanOrEqual(before - 1000);
  });

  test('a taken name is refused and left alone', async () => {
    const p = join(dir, 'taken');
    writeFileSync(p, 'mine');
    await expect(nodeFsys.writeNew(p, Buffer.from('theirs'), { fsync: false, many })).rejects.toMatchObject({ code: 'EEXIST' });
    expect(readFileSync(p, 'utf8')).toBe('mine');
  });

  test('a missing directory fails and leaves nothing', async () => {
    await expect(nodeFsys.writeNew(join(dir, 'nope', 'f'), Buffer.from('x'), { fsync: many ? false : true, many })).rejects.toMatchObject({ code: 'ENOENT' });
    expect(existsSync(join(dir, 'nope'))).toBe(false);
  });
});

describe('nodeFsys.syncFiles', () => {
  test.each([3, 300])('%i files across directories', async (n) => {
    const paths: string[] = [];
    for (let i = 0; i < n; i++) {
      const d = join(dir, `d${i % 7}`);
      mkdirSync(d, { recursive: true });
      const p = join(d, `f${i}`);
      writeFileSync(p, `file ${i}`);
      paths.push(p);
    }
    await expect(nodeFsys.syncFiles(paths)).resolves.toBeUndefined();
  });

  test('nothing to sync', async () => {
    await expect(nodeFsys.syncFiles([])).resolves.toBeUndefined();
  });

  test('a file that is not there is an error when synced one by one', async () => {
    await expect(nodeFsys.syncFiles([join(dir, 'missing')])).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('nodeFsys metadata calls', () => {
  test('errors arrive as rejections with their codes', async () => {
    writeFileSync(join(dir, 'a'), 'a');
    await expect(nodeFsys.link(join(dir, 'a'), join(dir, 'a'))).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(nodeFsys.unlink(join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(nodeFsys.mkdir(dir)).rejects.toMatchObject({ code: 'EEXIST' });
    await expect(nodeFsys.rename(join(dir, 'missing'), join(dir, 'b'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
