// Local deletes without the check-then-unlink window (src/client/exec/detach.ts),
// on the simulation's disk so a user's write can land exactly between the
// executor's check and its delete. Found by the engine simulation (the
// 30-minute soak, seed 197323373): the executor lstat'ed a file, the user
// saved new content into it, and the unlink took the new content.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recoverTrash } from '../../src/client/exec/detach.js';
import { TRASH_PREFIX } from '../../src/core/syncd-names.js';
import { execute } from '../../src/client/exec/executor.js';
import type { RemoteClient } from '../../src/client/remote/remote.js';
import { StateDB } from '../../src/client/state/db.js';
import type { LocalEntry } from '../../src/core/local.js';
import type { PlanOp } from '../../src/core/ops.js';
import { observe } from '../../src/client/agent/observe.js';
import { TrashKeeper } from '../../src/client/agent/trash-keeper.js';
import { Partials } from '../../src/client/transfer/partials.js';
import { silentLog } from '../../src/client/agent/log.js';
import { loadIgnore } from '../../src/client/disk/syncignore.js';
import { Scheduler, type Proc } from './scheduler.js';
import { SimDisk } from './sim-disk.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-detach-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

function world(seed: number) {
  const sched = new Scheduler(seed);
  const disk = new SimDisk(sched);
  disk.mkdir('/sync', false);
  disk.userWrite('/sync/x', 'synced content');
  const st = disk.lstat('/sync/x')!;
  const proc: Proc = { name: 'agent', dead: false };
  const db = new StateDB(join(work, `db-${seed}-${Math.random()}.db`));
  const op: PlanOp = { type: 'local_delete', id: 'n_x', path: 'x', expect: { kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino } };
  return { sched, disk, proc, db, op, st };
}

/** Runs the delete; `between` runs right after the executor's check of x (its first disk call). */
async function runDelete(seed: number, between: (disk: SimDisk) => void): Promise<SimDisk> {
  const { sched, disk, proc, db, op } = world(seed);
  let done = false;
  void execute({ root: '/sync', db, remote: {} as RemoteClient, concurrency: 1, fs: disk.view(proc) }, [op]).then(() => (done = true));
  await sched.settle();
  sched.step(); // the lstat of x
  await sched.settle();
  between(disk);
  while (!done) {
    if (!sched.step()) break;
    await sched.settle();
  }
  expect(done).toBe(true);
  db.close();
  return disk;
}

describe('local delete (rename aside, check, unlink)', () => {
  it('a save that lands between the check and the delete survives', async () => {
    const disk = await runDelete(1, (d) => d.userWrite('/sync/x', 'the user saved this just now'));
    expect(disk.readFile('/sync/x').toString()).toBe('the user saved this just now');
    expect(disk.list('/sync').map((e) => e.name)).toEqual(['x']);
  });

  it('a symlink that changed goes back beside a file the user wrote at its name meanwhile (seed 1240 with batches: an lstat and a rename replaced that file)', async () => {
    const { sched, disk, proc, db } = world(5);
    disk.user(() => disk.symlink('/outside', '/sync/l', false));
    const st = disk.lstat('/sync/l')!;
    const op: PlanOp = { type: 'local_delete', id: 'n_l', path: 'l', expect: { kind: 'symlink', size: null, mtimeMs: st.mtimeMs, ino: st.ino } };
    const fs = disk.view(proc);
    // the user saves a file at l just before the executor puts the symlink back there
    let wrote = false;
    const before = (path: string): void => {
      if (path !== '/sync/l' || wrote) return;
      disk.userWrite('/sync/l', 'the user saved this just now');
      wrote = true;
    };
    const { rename, symlink } = fs;
    fs.rename = (from, to) => (before(to), rename(from, to));
    fs.symlink = (target, path) => (before(path), symlink(target, path));
    let done = false;
    void execute({ root: '/sync', db, remote: {} as RemoteClient, concurrency: 1, fs }, [op]).then(() => (done = true));
    await sched.settle();
    sched.step(); // the executor's check of l
    await sched.settle();
    // the symlink changes right after the check: the delete must give it back
    disk.user(() => {
      disk.unlink('/sync/l', false);
      disk.symlink('/elsewhere', '/sync/l', false);
    });
    while (!done) {
      await sched.settle();
      if (!done && !sched.step()) await sched.settle();
    }
    db.close();
    expect(wrote).toBe(true);
    expect(disk.readFile('/sync/l').toString()).toBe('the user saved this just now');
    expect(disk.list('/sync').map((e) => e.name).filter((n) => n !== 'x' && n !== 'l')).toEqual(['l (kept by syncd)']);
    expect(disk.readlink('/sync/l (kept by syncd)')).toBe('/elsewhere');
  });

  it('an unchanged file is deleted, and nothing is left beside it', async () => {
    const disk = await runDelete(2, () => undefined);
    expect(disk.list('/sync')).toEqual([]);
  });

  it('a trash file a crash left is deleted when it is still what Local knew, and restored when it is not', async () => {
    const { disk, proc, st } = world(3);
    const fs = disk.view(proc);
    const local = new Map<string, LocalEntry>([['x', { path: 'x', diskPath: 'x', kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash: 'h', exec: false, target: null }]]);
    const sched = disk.sched;
    const drive = async <T>(p: Promise<T>): Promise<T> => {
      let out: { v: T } | null = null;
      void p.then((v) => (out = { v }));
      while (out === null) {
        await sched.settle();
        if (out === null) sched.step();
      }
      return (out as { v: T }).v;
    };
    disk.user(() => disk.rename('/sync/x', `/sync/${TRASH_PREFIX}${st.ino}-aa`, false));
    expect(await drive(recoverTrash(fs, '/sync', `${TRASH_PREFIX}${st.ino}-aa`, local))).toBe('deleted');
    expect(disk.list('/sync')).toEqual([]);

    disk.userWrite('/sync/y', 'y');
    const y = disk.lstat('/sync/y')!;
    const localY = new Map<string, LocalEntry>([['y', { path: 'y', diskPath: 'y', kind: 'file', size: 1, mtimeMs: y.mtimeMs - 5, ino: y.ino, hash: 'h', exec: false, target: null }]]);
    disk.user(() => disk.rename('/sync/y', `/sync/${TRASH_PREFIX}${y.ino}-bb`, false));
    expect(await drive(recoverTrash(fs, '/sync', `${TRASH_PREFIX}${y.ino}-bb`, localY))).toBe('restored');
    expect(disk.readFile('/sync/y').toString()).toBe('y');
  });
});

/** One full look at /sync (observe), the scheduler stepped until it is done. */
async function fullLook(sched: Scheduler, db: StateDB, fs: ReturnType<SimDisk['view']>): Promise<void> {
  const trash = new TrashKeeper('/sync', fs, db, { days: 30, maxBytes: 1 << 30 }, () => 0);
  let done = false;
  void observe({ db, folder: '/sync', fs, log: silentLog, ignore: loadIgnore('/sync', [], fs), trash, partials: new Partials(fs, () => 0), full: true, dirty: [] }).then(() => (done = true));
  while (!done) {
    await sched.settle();
    if (!done && !sched.step()) await sched.settle();
  }
}

describe('observe: an interrupted delete undone', () => {
  it('the file put back ("recovered by syncd …") is in Local after the same look, not only after the next full scan', async () => {
    const { sched, disk, proc, db } = world(41);
    const fs = disk.view(proc);
    // Local never knew this file (a rolled-back state DB): the delete is undone
    disk.userWrite('/sync/z', 'unknown to Local');
    const z = disk.lstat('/sync/z')!;
    disk.user(() => disk.rename('/sync/z', `/sync/${TRASH_PREFIX}${z.ino}-cc`, false));
    await fullLook(sched, db, fs);
    const back = `recovered by syncd ${z.ino}-cc`;
    expect(disk.readFile(`/sync/${back}`).toString()).toBe('unknown to Local');
    expect([...db.loadLocal().keys()].sort()).toEqual([back, 'x']);
    db.close();
  });

  it("a full look finishes a delete Local knew of, though the scan drops the file's row before the leftovers are judged", async () => {
    const { sched, disk, proc, db, st } = world(42);
    const fs = disk.view(proc);
    db.tx(() => db.putLocal({ path: 'x', diskPath: 'x', kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash: 'h', exec: false, target: null }));
    disk.user(() => disk.rename('/sync/x', `/sync/${TRASH_PREFIX}${st.ino}-dd`, false));
    await fullLook(sched, db, fs);
    // finished: the leftover is gone (into the local trash), nothing was put back, and Local no longer has x
    expect(disk.lstat(`/sync/${TRASH_PREFIX}${st.ino}-dd`)).toBeNull();
    expect(disk.lstat('/sync/recovered by syncd ' + `${st.ino}-dd`)).toBeNull();
    expect([...db.loadLocal().keys()]).toEqual([]);
    db.close();
  });
});
