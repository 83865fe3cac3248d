// Crash consistency with the crash-injecting disk (test/sim/sim-disk.ts):
// every write not covered by fsync is kept, lost or torn at a crash. A file
// the executor replaces must come out entirely old or entirely new whatever
// the crash point and whatever the disk kept; and the shim itself must be
// able to catch a writer that skips the fsync (or this test could not fail).

import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execute } from '../../src/client/exec/executor.js';
import type { RemoteClient } from '../../src/client/remote/remote.js';
import { StateDB } from '../../src/client/state/db.js';
import type { PlanOp } from '../../src/core/ops.js';
import { Scheduler, type Proc } from './scheduler.js';
import { SimDisk } from './sim-disk.js';

const OLD = 'the old content, all of it';
const NEW = 'the new content, which is longer than the old one';
const sha = (s: string) => createHash('sha256').update(s).digest('hex');

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-crash-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A server that holds one blob, answering the executor's batch download. */
const blobs = {
  server: 'sim',
  async fetchBlobs(hashes: string[], onBlob: (h: string, size: number, body: Readable) => Promise<void>) {
    for (const h of hashes) await onBlob(h, NEW.length, Readable.from([Buffer.from(NEW)]));
  },
  async fetchBlobBuffers(hashes: string[], _max: number, onBlob: (h: string, size: number, data: readonly Buffer[] | null) => Promise<void> | void) {
    for (const h of hashes) await onBlob(h, NEW.length, [Buffer.from(NEW)]);
  },
} as unknown as RemoteClient;

/** Replaces /sync/f (holding OLD) with NEW through the real executor, crashing at the k-th point. */
async function replaceWithCrashAt(k: number, seed: number): Promise<{ content: string; finished: boolean; points: number }> {
  const sched = new Scheduler(seed);
  const disk = new SimDisk(sched);
  disk.mkdir('/sync', false);
  disk.userWrite('/sync/f', OLD);
  const st = disk.lstat('/sync/f')!;
  const proc: Proc = { name: 'agent', dead: false };
  const db = new StateDB(join(work, `db-${seed}-${k}.db`));
  const op: PlanOp = {
    type: 'download', id: 'n_f', path: 'f',
    node: { id: 'n_f', parent: 'root', name: 'f', kind: 'file', rev: 2, size: NEW.length, hash: sha(NEW), mtime: 0, exec: false, target: null },
    expect: { kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino },
  };
  let finished = false;
  void execute({ root: '/sync', db, remote: blobs, concurrency: 1, fs: disk.view(proc), downloadRetries: 0 }, [op]).then(() => (finished = true));
  let points = 0;
  for (;;) {
    await sched.settle();
    if (finished || sched.parked === 0) break;
    if (points === k) {
      sched.kill(proc);
      disk.crash();
      break;
    }
    sched.step();
    points++;
  }
  db.close();
  return { content: disk.readFile('/sync/f').toString('utf8'), finished, points };
}

describe('crash consistency (crash-injecting disk)', () => {
  it('a file the executor replaces is entirely old or entirely new after a crash at any point', async () => {
    const { points: total, finished } = await replaceWithCrashAt(Number.MAX_SAFE_INTEGER, 1);
    expect(finished).toBe(true);
    expect(total).toBeGreaterThanOrEqual(4); // write, fsync, check, rename, fsync of the directory
    const seen = new Set<string>();
    for (let k = 0; k <= total; k++) {
      for (let seed = 1; seed <= 8; seed++) {
        const { content } = await replaceWithCrashAt(k, seed * 1000 + k);
        expect([OLD, NEW], `crash at point ${k} of ${total}, seed ${seed * 1000 + k}`).toContain(content);
        seen.add(content);
      }
    }
    // both outcomes happen: the crash points really straddle the rename
    expect([...seen].sort()).toEqual([NEW, OLD].sort());
  });

  it('the shim catches a writer that renames a file into place without fsyncing it first', () => {
    const outcomes = new Set<string>();
    for (let seed = 1; seed <= 60; seed++) {
      const disk = new SimDisk(new Scheduler(seed));
      disk.mkdir('/d', false);
      disk.userWrite('/d/f', OLD);
      disk.createFile('/d/tmp', Buffer.from(NEW), 0o600, true); // written, never fsynced
      disk.rename('/d/tmp', '/d/f', true);
      disk.syncMetadata(); // even with the rename durable, the data is not
      disk.crash();
      outcomes.add(disk.readFile('/d/f').toString('utf8'));
    }
    expect([...outcomes].some((c) => c !== OLD && c !== NEW)).toBe(true);
  });
});
