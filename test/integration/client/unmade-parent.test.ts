// A round that was to make a directory and did not record it (the disk
// failed, or moved on) places nothing below it: Local and Synced hold a
// directory's entries only below the directory itself. Found by the engine
// simulation (seed 1030 with batches of 3, session 16): the mkdir's check
// failed (EIO), the symlink planned inside it was made and recorded anyway,
// the user then moved the directory away, and Local kept an entry with no
// directory above it that no scan ever visits, so the devices never agreed.

import { mkdtemp, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { execute } from '../../../src/client/exec/executor.js';
import { nodeFsys, type Fsys } from '../../../src/client/disk/fsys.js';
import type { RemoteClient } from '../../../src/client/remote/remote.js';
import { StateDB } from '../../../src/client/state/db.js';
import type { PlanOp } from '../../../src/core/ops.js';
import type { TreeNode } from '../../../src/core/tree.js';

let work: string;
let root: string;
let db: StateDB;

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-unmade-'));
  root = join(work, 'folder');
  await nodeFsys.mkdir(root);
  db = new StateDB(join(work, 'state.db'));
});
afterEach(async () => {
  db.close();
  await rm(work, { recursive: true, force: true });
});

const node = (id: string, parent: string, name: string, kind: TreeNode['kind'], target: string | null = null): TreeNode => ({ id, parent, name, kind, rev: 1, size: null, hash: null, mtime: 1_700_000_000_000, exec: false, target });

const ops: PlanOp[] = [
  { type: 'mkdir', id: 'n_d', path: 'd', node: node('n_d', 'root', 'd', 'dir') },
  { type: 'symlink', id: 'n_l', path: 'd/l', node: node('n_l', 'n_d', 'l', 'symlink', 'elsewhere'), expect: null },
];

/** The real disk, but `fail` decides which calls throw EIO. */
function failing(fail: (call: string, p: string) => boolean): Fsys {
  const eio = (p: string): Error => Object.assign(new Error(`EIO: i/o error, '${p}'`), { code: 'EIO' });
  return {
    ...nodeFsys,
    lstat: async (p) => {
      if (fail('lstat', p)) throw eio(p);
      return nodeFsys.lstat(p);
    },
    syncDir: async (p) => {
      if (fail('syncDir', p)) throw eio(p);
      return nodeFsys.syncDir(p);
    },
  };
}

describe('a directory the round did not record', () => {
  it.each([
    { why: 'its check after mkdir failed', fail: (call: string, p: string) => call === 'lstat' && p === join(root, 'd') },
    { why: 'its parent could not be made durable', fail: (call: string, p: string) => call === 'syncDir' && p === root },
  ])('$why: nothing below it is placed or recorded, and it is looked at again', async ({ fail }) => {
    let once = false;
    const fs = failing((call, p) => !once && fail(call, p) && (once = true));
    const res = await execute({ root, db, remote: {} as RemoteClient, concurrency: 1, fs }, ops);
    expect(once).toBe(true);
    const local = db.loadLocal();
    expect(local.has('d')).toBe(false);
    expect(local.has('d/l')).toBe(false);
    expect(db.getSynced('n_l')).toBeNull();
    expect(existsSync(join(root, 'd', 'l'))).toBe(false);
    expect([...res.dirty]).toContain('d/l');
  });

  it('made and recorded: what is below it follows in the same round', async () => {
    await execute({ root, db, remote: {} as RemoteClient, concurrency: 1, fs: nodeFsys }, ops);
    const local = db.loadLocal();
    expect(local.has('d')).toBe(true);
    expect(local.get('d/l')?.kind).toBe('symlink');
    expect(db.getSynced('n_l')?.parent).toBe('n_d');
  });
});
