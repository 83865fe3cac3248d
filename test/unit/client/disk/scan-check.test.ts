// The start-up check (client/disk/scan-check.ts) against the full scan it
// stands in for: on an unchanged folder it says "same"; after any change
// the full scan would write into Local (or report, or clean up), it does
// not. Each case changes one thing in a freshly scanned folder.

import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { LocalTree } from '../../../../src/core/local.js';
import { checkAgainstLocal, type LocalRows } from '../../../../src/client/disk/scan-check.js';
import { nodeFsys } from '../../../../src/client/disk/fsys.js';
import { localDiff, scanAll } from '../../../../src/client/disk/scan.js';
import { TEMP_PREFIX } from '../../../../src/core/syncd-names.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

/** Local's rows as StateDB.localIdentities gives them */
function rowsOf(tree: LocalTree): LocalRows {
  return {
    size: tree.size,
    get(p) {
      const e = tree.get(p);
      return e && { path: e.path, kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino, hashed: e.hash !== null, exec: e.exec, target: e.target };
    },
  };
}

const T0 = 1_700_000_000;
const ignoreSkipped = (p: string) => p === 'skipped' || p.startsWith('skipped/');

/** a folder with files, a nested directory, a symlink and an ignored directory, scanned into Local */
async function scannedFolder(): Promise<{ root: string; local: LocalTree }> {
  const root = mkdtempSync(join(tmpdir(), 'syncd-scan-check-'));
  roots.push(root);
  mkdirSync(join(root, 'd', 'e'), { recursive: true });
  mkdirSync(join(root, 'skipped'));
  writeFileSync(join(root, 'a.txt'), 'aaa');
  writeFileSync(join(root, 'd', 'b.txt'), 'bbb');
  writeFileSync(join(root, 'd', 'e', 'c.txt'), 'ccc');
  writeFileSync(join(root, 'skipped', 'x'), 'x');
  symlinkSync('a.txt', join(root, 'link'));
  // whole-second times, so a case can put one back exactly and leave only the change it means
  for (const p of ['a.txt', 'd/b.txt', 'd/e/c.txt', 'skipped/x', 'd/e', 'd', 'skipped']) utimesSync(join(root, p), T0, T0);
  const first = await scanAll(root, new Map(), ignoreSkipped, nodeFsys);
  return { root, local: first.tree };
}

/** what the full scan says of the folder now: does it change Local, report, or clean up anything? */
async function fullScanSees(root: string, local: LocalTree): Promise<boolean> {
  const res = await scanAll(root, local, ignoreSkipped, nodeFsys);
  const { put, del } = localDiff(local, res.tree);
  return put.length + del.length + res.problems.length + res.temps.length > 0;
}

const bump = (p: string) => {
  const st = lstatSync(p);
  utimesSync(p, st.atime, new Date(st.mtimeMs + 5000));
};

const changes: { name: string; change: (root: string) => void }[] = [
  { name: 'nothing', change: () => {} },
  { name: 'a file appended to', change: (r) => writeFileSync(join(r, 'd', 'b.txt'), 'bbbb') },
  { name: 'a file rewritten with the same size, mtime moved', change: (r) => { writeFileSync(join(r, 'a.txt'), 'AAA'); bump(join(r, 'a.txt')); } },
  { name: 'a file touched (mtime only)', change: (r) => bump(join(r, 'd', 'e', 'c.txt')) },
  {
    name: 'a file replaced by a new inode with the same size and mtime',
    change: (r) => {
      const p = join(r, 'a.txt');
      writeFileSync(join(r, 'tmp-new'), 'zzz');
      utimesSync(join(r, 'tmp-new'), T0, T0);
      renameSync(join(r, 'tmp-new'), p); // the root's own mtime is not in Local
    },
  },
  { name: 'a file made executable', change: (r) => chmodSync(join(r, 'a.txt'), 0o755) },
  { name: 'a file deleted', change: (r) => unlinkSync(join(r, 'd', 'e', 'c.txt')) },
  { name: 'a file added', change: (r) => writeFileSync(join(r, 'd', 'new.txt'), 'n') },
  { name: 'a directory added', change: (r) => mkdirSync(join(r, 'd', 'sub')) },
  { name: 'a directory removed', change: (r) => rmSync(join(r, 'd', 'e'), { recursive: true }) },
  { name: 'a symlink pointing elsewhere', change: (r) => { unlinkSync(join(r, 'link')); symlinkSync('d/b.txt', join(r, 'link')); } },
  { name: 'a leftover download temp file', change: (r) => writeFileSync(join(r, 'd', `${TEMP_PREFIX}123`), 't') },
  { name: 'a fifo (a special file the scan reports)', change: (r) => execFileSync('mkfifo', [join(r, 'd', 'fifo')]) },
  { name: 'a file added in an ignored directory', change: (r) => writeFileSync(join(r, 'skipped', 'y'), 'y') },
  { name: 'a file removed, its directory mtime put back', change: (r) => { unlinkSync(join(r, 'd', 'b.txt')); utimesSync(join(r, 'd'), T0, T0); } },
];

describe('checkAgainstLocal agrees with the full scan', () => {
  for (const c of changes) {
    it(c.name, async () => {
      const { root, local } = await scannedFolder();
      c.change(root);
      const changed = await fullScanSees(root, local);
      const check = await checkAgainstLocal(root, rowsOf(local), ignoreSkipped, nodeFsys);
      expect(check.same).toBe(!changed);
      if (!check.same) {
        // the full scan that follows reuses what the check listed, and sees the same as on its own
        const withListed = await scanAll(root, local, ignoreSkipped, nodeFsys, check.listed);
        const alone = await scanAll(root, local, ignoreSkipped, nodeFsys);
        expect(withListed).toEqual(alone);
      }
    });
  }

});
