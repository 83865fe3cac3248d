// The scanner: an unreadable path is never mistaken for a deleted one.

import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { LocalEntry } from '../../../../src/core/local.js';

// paths containing this marker fail with EIO, as on a flaky disk or a stale network mount
const FAIL = { marker: '\u0000never' };
vi.mock('node:fs/promises', async (orig) => {
  const real = await orig<typeof import('node:fs/promises')>();
  const failing = (p: unknown) => String(p).includes(FAIL.marker);
  const eio = (p: unknown) => Object.assign(new Error(`EIO: i/o error, '${String(p)}'`), { code: 'EIO' });
  return {
    ...real,
    lstat: async (p: Parameters<typeof real.lstat>[0], ...rest: unknown[]) => {
      if (failing(p)) throw eio(p);
      return (real.lstat as (...a: unknown[]) => unknown)(p, ...rest);
    },
    readdir: async (p: Parameters<typeof real.readdir>[0], ...rest: unknown[]) => {
      if (failing(p)) throw eio(p);
      return (real.readdir as (...a: unknown[]) => unknown)(p, ...rest);
    },
  };
});

// the full scan lists and lstat's a directory with blocking calls (Fsys.lstatDir)
vi.mock('node:fs', async (orig) => {
  const real = await orig<typeof import('node:fs')>();
  const failing = (p: unknown) => String(p).includes(FAIL.marker);
  const eio = (p: unknown) => Object.assign(new Error(`EIO: i/o error, '${String(p)}'`), { code: 'EIO' });
  return {
    ...real,
    lstatSync: (p: Parameters<typeof real.lstatSync>[0], ...rest: unknown[]) => {
      if (failing(p)) throw eio(p);
      return (real.lstatSync as (...a: unknown[]) => unknown)(p, ...rest);
    },
    readdirSync: (p: Parameters<typeof real.readdirSync>[0], ...rest: unknown[]) => {
      if (failing(p)) throw eio(p);
      return (real.readdirSync as (...a: unknown[]) => unknown)(p, ...rest);
    },
  };
});

const { scanAll, scanFolder, scanPaths } = await import('../../../../src/client/disk/scan.js');
const none = () => false;

describe('scanner', () => {
  it('finds files and directories, hashing only what changed', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'd', 'a.txt'), 'a');
    const first = await scanAll(root, new Map(), none);
    expect([...first.tree.keys()].sort()).toEqual(['d', 'd/a.txt']);
    expect(first.hashed).toBe(1);
    const again = await scanAll(root, first.tree, none);
    expect(again.hashed).toBe(0);
    expect(again.tree.get('d/a.txt')!.hash).toBe(first.tree.get('d/a.txt')!.hash);
  });

  it('lists leftover download temp files apart (files only, every depth) and keeps them out of the tree', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await mkdir(join(root, 'a', 'b'), { recursive: true });
    await mkdir(join(root, '.syncd-tmp-dir'));
    for (const p of ['.syncd-tmp-1', 'a/.syncd-tmp-2', 'a/b/.syncd-tmp-3', 'a/b/x.syncd-tmp-4', 'a/keep.txt']) await writeFile(join(root, p), 'x');
    const r = await scanAll(root, new Map(), none);
    expect(r.temps.sort()).toEqual(['.syncd-tmp-1', 'a/.syncd-tmp-2', 'a/b/.syncd-tmp-3']);
    expect([...r.tree.keys()].sort()).toEqual(['a', 'a/b', 'a/b/x.syncd-tmp-4', 'a/keep.txt']);
  });

  it('an unreadable directory keeps what Local knew of it instead of looking deleted', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await mkdir(join(root, 'private'));
    await writeFile(join(root, 'private', 'secret.txt'), 's');
    await writeFile(join(root, 'public.txt'), 'p');
    const before = await scanAll(root, new Map(), none);
    FAIL.marker = join(root, 'private');
    try {
      const after = await scanAll(root, before.tree, none);
      expect(after.tree.get('private')).toEqual(before.tree.get('private'));
      expect(after.tree.get('private/secret.txt')).toEqual(before.tree.get('private/secret.txt'));
      expect(after.problems.map((p) => p.code)).toContain('unreadable');
      const partial = await scanPaths(root, before.tree, ['private/secret.txt', 'private'], none);
      expect(partial.tree.get('private/secret.txt')).toEqual(before.tree.get('private/secret.txt'));
    } finally {
      FAIL.marker = '\u0000never';
    }
  });

  it('an unreadable file keeps its previous entry; a vanished one is dropped', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await writeFile(join(root, 'flaky.txt'), 'f');
    await writeFile(join(root, 'gone.txt'), 'g');
    const before = await scanAll(root, new Map(), none);
    const { unlink } = await import('node:fs/promises');
    await unlink(join(root, 'gone.txt'));
    FAIL.marker = join(root, 'flaky.txt');
    try {
      const after = await scanAll(root, before.tree, none);
      expect(after.tree.get('flaky.txt')).toEqual(before.tree.get('flaky.txt'));
      expect(after.tree.has('gone.txt')).toBe(false);
    } finally {
      FAIL.marker = '\u0000never';
    }
  });

  it('a hinted path whose parent became a file (ENOTDIR) is gone, not unreadable', async () => {
    // found by the fault proxy e2e: the hint for d/f came before the hint for d,
    // and the scan kept d/f under a file and reported it unreadable until the next full scan
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await mkdir(join(root, 'd'));
    await writeFile(join(root, 'd', 'f'), 'f');
    const before = await scanAll(root, new Map(), none);
    const { rm } = await import('node:fs/promises');
    await rm(join(root, 'd'), { recursive: true });
    await writeFile(join(root, 'd'), 'now a file');
    const partial = await scanPaths(root, before.tree, ['d/f'], none);
    expect(partial.problems).toEqual([]);
    expect(partial.tree.has('d/f')).toBe(false);
  });

  it('a new directory named with everything in it (as a watcher reports it) is walked once: each file hashed once', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await writeFile(join(root, 'old.txt'), 'o');
    const before = await scanAll(root, new Map(), none);
    await mkdir(join(root, 'new', 'sub'), { recursive: true });
    await writeFile(join(root, 'new', 'a.txt'), 'a');
    await writeFile(join(root, 'new', 'sub', 'b.txt'), 'b');
    await writeFile(join(root, 'new-sibling.txt'), 's');
    const r = await scanPaths(root, before.tree, ['new', 'new/a.txt', 'new/sub', 'new/sub/b.txt', 'new-sibling.txt'], none);
    expect([...r.tree.keys()].sort()).toEqual(['new', 'new-sibling.txt', 'new/a.txt', 'new/sub', 'new/sub/b.txt', 'old.txt']);
    expect(r.hashed).toBe(3);
    expect(r.tree.get('new/sub/b.txt')!.hash).not.toBeNull();
  });

  it('a path named without its new parent directories (an executor\'s hint) brings them along: Local never holds an entry without its parent (engine simulation, seed 1021)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    await mkdir(join(root, 'a'));
    const before = await scanAll(root, new Map(), none);
    await mkdir(join(root, 'a', 'new', 'deep'), { recursive: true });
    await writeFile(join(root, 'a', 'new', 'deep', 'f.txt'), 'f');
    await writeFile(join(root, 'a', 'new', 'g.txt'), 'g');
    const r = await scanPaths(root, before.tree, ['a/new/deep/f.txt'], none);
    expect([...r.tree.keys()].sort()).toEqual(['a', 'a/new', 'a/new/deep', 'a/new/deep/f.txt', 'a/new/g.txt']);
    expect(r.hashed).toBe(2);
  });

  it('scanFolder reads Local one directory at a time and reports only what differs', async () => {
    const { rename, rm, symlink } = await import('node:fs/promises');
    const root = await mkdtemp(join(tmpdir(), 'syncd-scan-'));
    for (const d of ['a', 'b', 'gone', 'gone/deep', 'turns']) await mkdir(join(root, d));
    for (const [p, c] of <[string, string][]>[['a/same.txt', 's'], ['a/edit.txt', 'e'], ['a/moves.txt', 'm'], ['b/x.txt', 'x'], ['gone/g.txt', 'g'], ['gone/deep/h.txt', 'h'], ['turns/t.txt', 't']]) await writeFile(join(root, p), c);
    const local = (await scanAll(root, new Map(), none)).tree;
    await writeFile(join(root, 'a', 'edit.txt'), 'edited, longer');
    await rename(join(root, 'a', 'moves.txt'), join(root, 'b', 'moved.txt'));
    await rm(join(root, 'gone'), { recursive: true });
    await rm(join(root, 'turns'), { recursive: true });
    await symlink('a/same.txt', join(root, 'turns'));
    const listed: string[] = [];
    const byDir = new Map<string, LocalEntry[]>();
    for (const [k, e] of local) {
      const dir = k.includes('/') ? k.slice(0, k.lastIndexOf('/')) : '';
      byDir.set(dir, [...(byDir.get(dir) ?? []), e]);
    }
    const src = {
      children: (dir: string) => (listed.push(dir), byDir.get(dir) ?? []),
      byIno: (ino: number) => [...local.values()].filter((e) => e.ino === ino),
    };
    const puts: string[] = [];
    const dels: string[] = [];
    const r = await scanFolder(root, src, { put: (e, before) => puts.push(`${e.diskPath}:${e.kind}${before ? '' : ' new'}`), del: (p) => dels.push(p) }, none);
    // every directory on disk listed once; the deleted ones never
    expect(listed.sort()).toEqual(['', 'a', 'b']);
    // the directories whose entries changed, the edit, the move's new name, the directory now a symlink
    expect(puts.sort()).toEqual(['a/edit.txt:file', 'a:dir', 'b/moved.txt:file new', 'b:dir', 'turns:symlink']);
    // a deleted directory once (its subtree goes with it), the moved file's old name
    expect(dels.sort()).toEqual(['a/moves.txt', 'gone']);
    // only the edit was read: the moved file kept its hash by inode
    expect(r.hashed).toBe(1);
  });
});
