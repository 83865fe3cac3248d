// Temp files of a download are created through their directory held open
// (TempDirs, Fsys.openDir): a user who swaps a parent for a symlink to
// somewhere outside the folder after the executor's check cannot carry the
// write out of the folder (engine simulation seed 1051 with batches of 3,
// session 15: a temp file written through the symlink stayed outside).

import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, renameSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nodeFsys, type Fsys } from '../../../../src/client/disk/fsys.js';
import { downloadManyToTemp } from '../../../../src/client/transfer/transfer.js';
import { TempDirs, type BlobRemote, type DownloadItem } from '../../../../src/client/transfer/temp-files.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let root: string;
let folder: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'syncd-tempdirs-'));
  folder = join(root, 'folder');
  outside = join(root, 'outside');
  mkdirSync(join(folder, 'd'), { recursive: true });
  mkdirSync(outside);
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** `folder/d` becomes a symlink to `outside`; the directory itself is kept as `folder/d.real`. */
function swap(): void {
  renameSync(join(folder, 'd'), join(folder, 'd.real'));
  symlinkSync(outside, join(folder, 'd'));
}

/** A remote that serves `blobs` in batches, running `before` once before the first frame arrives. */
function remoteOf(blobs: Buffer[], before: () => void): BlobRemote {
  let ran = false;
  return {
    server: 'http://fake',
    async fetchBlobBuffers(hashes: string[], _max: number, onBlob: (hash: string, size: number, data: readonly Buffer[] | null) => Promise<void>) {
      if (!ran) before();
      ran = true;
      for (const h of hashes) {
        const b = blobs.find((x) => sha(x) === h)!;
        await onBlob(h, b.length, [b]);
      }
    },
    async getBlob() {
      throw new Error('not used');
    },
    async putBlob() {
      throw new Error('not used');
    },
  } as unknown as BlobRemote;
}

function itemsOf(blobs: Buffer[]): DownloadItem[] {
  const st = lstatSync(join(folder, 'd'));
  return blobs.map((b) => ({ hash: sha(b), size: b.length, dirAbs: join(folder, 'd'), dirId: { dev: st.dev, ino: st.ino } }));
}

describe('temp files created through their directory held open', () => {
  it('a directory swapped for a symlink before the temp files are created: refused (unsafe_path), nothing written outside', async () => {
    const blobs = [Buffer.from('one'), Buffer.from('two')];
    const out = await downloadManyToTemp(remoteOf(blobs, swap), itemsOf(blobs), { fsync: false });
    expect(out.map((r) => (r.ok ? 'ok' : (r.error as { code?: string }).code))).toEqual(['unsafe_path', 'unsafe_path']);
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(join(folder, 'd.real'))).toEqual([]);
  });

  it('a directory swapped for a symlink after it was opened: the temp files land in the directory itself (moved aside), never outside', async () => {
    const blobs = [Buffer.from('one'), Buffer.from('two')];
    // the swap right after the handle is opened and checked, before any name is created through it
    const fs: Fsys = { ...nodeFsys, openDir: async (p) => {
      const d = await nodeFsys.openDir(p);
      swap();
      return d;
    } };
    const out = await downloadManyToTemp(remoteOf(blobs, () => undefined), itemsOf(blobs), { fsync: false, fs });
    expect(out.every((r) => r.ok)).toBe(true);
    expect(readdirSync(outside)).toEqual([]);
    expect(readdirSync(join(folder, 'd.real'))).toHaveLength(2);
  });

  it('a directory replaced by another directory: refused', async () => {
    const blobs = [Buffer.from('one')];
    const out = await downloadManyToTemp(remoteOf(blobs, () => {
      renameSync(join(folder, 'd'), join(folder, 'd.old'));
      mkdirSync(join(folder, 'd'));
    }), itemsOf(blobs), { fsync: false });
    expect(out[0]!.ok).toBe(false);
    expect(readdirSync(join(folder, 'd'))).toEqual([]);
  });

  it('each directory is opened once for all its files, and every handle is closed at the end', async () => {
    const opened: string[] = [];
    let open = 0;
    const fs: Fsys = { ...nodeFsys, openDir: async (p) => {
      const d = await nodeFsys.openDir(p);
      opened.push(p);
      open++;
      return { ...d, close: async () => void (open--, await d.close()) };
    } };
    const blobs = Array.from({ length: 20 }, (_, i) => Buffer.from(`file ${i}`));
    const out = await downloadManyToTemp(remoteOf(blobs, () => undefined), itemsOf(blobs), { fsync: false, fs });
    expect(out.every((r) => r.ok)).toBe(true);
    expect(opened).toEqual([join(folder, 'd')]);
    expect(open).toBe(0);
  });

  it('keeps at most `keep` idle handles open', async () => {
    let open = 0;
    const fs: Fsys = { ...nodeFsys, openDir: async (p) => {
      const d = await nodeFsys.openDir(p);
      open++;
      return { ...d, close: async () => void (open--, await d.close()) };
    } };
    const dirs = new TempDirs(fs, 2);
    for (let i = 0; i < 5; i++) {
      const p = join(folder, `e${i}`);
      mkdirSync(p);
      const st = lstatSync(p);
      await dirs.use(p, { dev: st.dev, ino: st.ino }, async () => undefined);
      expect(open).toBeLessThanOrEqual(2);
    }
    await dirs.closeAll();
    expect(open).toBe(0);
  });
});
