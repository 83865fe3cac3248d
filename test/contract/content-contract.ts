// The ContentStore contract (src/server/store/content-types.ts) on every
// JournalStore implementation: chunk lists, per-namespace readability, and
// the collector's ref sweep, including sweeps racing commits through two
// stores on one location (two server processes).

import { createHash, randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Op, OpResult, WireNode } from '../../src/protocol/types.js';
import { hashToken, newNodeId } from '../../src/server/ids.js';
import type { CommitContext, JournalStore, NamespaceRef } from '../../src/server/store/types.js';
import type { StoreFactory, StoreLocation } from './store-contract.js';

const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
const op = (o: Partial<Op> & { op: Op['op'] }): Op => ({ op_id: randomUUID(), ...o }) as Op;
const okNode = (r: OpResult): WireNode => {
  if (r.status !== 'ok') throw new Error(`not ok: ${JSON.stringify(r)}`);
  return r.node;
};
const DAY = 86_400_000;

export function contentContract(name: string, factory: StoreFactory, opts: { skip?: boolean } = {}): void {
  (opts.skip ? describe.skip : describe)(`content store contract: ${name}`, () => {
    let loc: StoreLocation;
    let a: JournalStore;
    let b: JournalStore;
    let ns: NamespaceRef;
    let other: NamespaceRef;
    const ctx = (now = 10 * DAY): CommitContext => ({ deviceId: 'd_a', now, newNodeId });
    const file = (tag: string, n = 3) => {
      const chunks = Array.from({ length: n }, (_, i) => ({ hash: sha(`${tag}-c${i}`), size: 100 + i }));
      return { hash: sha(tag), size: chunks.reduce((x, c) => x + c.size, 0), chunks };
    };
    const upload = async (s: JournalStore, n: NamespaceRef, f: ReturnType<typeof file>, at: number) => {
      for (const c of f.chunks) await s.addBlobRef(n, c.hash, c.size, at);
      return s.content.addFile(n, f, at);
    };

    beforeEach(async () => {
      loc = await factory();
      a = await loc.open();
      b = await loc.open();
      ns = (await a.createDevice('ns', 'dev', 'd_a', hashToken('tok-a'), 1)).namespace;
      other = (await a.createDevice('other', 'dev', 'd_o', hashToken('tok-o'), 1)).namespace;
    });
    afterEach(async () => {
      await a.close();
      await b.close();
      await loc.destroy();
    });

    it('readable answers only from the namespace\'s own refs, never another namespace\'s', async () => {
      const mine = sha('mine');
      const theirs = sha('theirs');
      await a.addBlobRef(ns, mine, 4, 1);
      await a.addBlobRef(other, theirs, 6, 1);
      expect(await b.content.readable(ns, [mine, theirs, sha('nobody')])).toEqual(new Set([mine]));
      expect(await b.content.readable(other, [mine, theirs])).toEqual(new Set([theirs]));
      expect(await b.content.readable(ns, [])).toEqual(new Set());
    });

    it('addFile records the chunk list once (the first wins) and refs the file and its chunks for the namespace', async () => {
      const f = file('big');
      expect(await upload(a, ns, f, 5)).toBe(true);
      expect(await b.content.addFile(ns, f, 6)).toBe(false);
      expect(await b.content.recipe(f.hash)).toEqual(f);
      expect(await b.blobRef(ns, f.hash)).toEqual({ size: f.size });
      // another namespace assembling the same file with another list: refs for it, the first list stays
      const alt = { ...f, chunks: [{ hash: sha('alt'), size: f.size }] };
      expect(await b.content.addFile(other, alt, 7)).toBe(true);
      expect(await a.content.recipe(f.hash)).toEqual(f);
      expect(await a.content.readable(other, [f.hash, sha('alt'), f.chunks[0]!.hash])).toEqual(new Set([f.hash, sha('alt')]));
      expect(await a.content.recipe(sha('unknown'))).toBeNull();
    });

    it('sweepRefs keeps what nodes, tombstones, retained entries and their chunk lists need, and fresh uploads; drops the rest', async () => {
      const live = file('live');
      const old = file('old-version');
      const deleted = file('deleted');
      const stray = file('never-committed');
      const fresh = file('fresh-upload');
      for (const f of [live, old, deleted, stray]) await upload(a, ns, f, 1);
      await upload(a, ns, fresh, 5 * DAY);
      const n1 = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'file', parent: 'root', name: 'f', hash: old.hash, size: old.size, mtime: 0 }), ctx())).result);
      await a.commitOp(ns, op({ op: 'update', id: n1.id, base_rev: 1, hash: live.hash, size: live.size }), ctx());
      const n2 = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'file', parent: 'root', name: 'g', hash: deleted.hash, size: deleted.size, mtime: 0 }), ctx())).result);
      await a.commitOp(ns, op({ op: 'delete', id: n2.id, base_rev: 1 }), ctx());

      const report = await b.content.sweepRefs(4 * DAY);
      expect(report).toEqual({ droppedRefs: 1 + stray.chunks.length, droppedFiles: 1 });
      const all = [live, old, deleted, fresh].flatMap((f) => [f.hash, ...f.chunks.map((c) => c.hash)]);
      expect(await a.content.readable(ns, all)).toEqual(new Set(all));
      expect(await a.content.readable(ns, [stray.hash, ...stray.chunks.map((c) => c.hash)])).toEqual(new Set());
      expect(await a.content.recipe(stray.hash)).toBeNull();
      expect(await a.content.needed(stray.chunks[0]!.hash)).toBe(false);
      expect(await a.content.needed(live.chunks[0]!.hash)).toBe(true);
      // a second pass finds nothing more
      expect(await a.content.sweepRefs(4 * DAY)).toEqual({ droppedRefs: 0, droppedFiles: 0 });
    });

    it('a chunk list stays while any namespace references its file', async () => {
      const f = file('shared');
      await upload(a, ns, f, 1);
      await upload(a, other, f, 1);
      await a.commitOp(other, op({ op: 'create', kind: 'file', parent: 'root', name: 'x', hash: f.hash, size: f.size, mtime: 0 }), { ...ctx(), deviceId: 'd_o' });
      expect(await b.content.sweepRefs(DAY)).toEqual({ droppedRefs: 1 + f.chunks.length, droppedFiles: 0 });
      expect(await a.content.recipe(f.hash)).toEqual(f);
      expect(await a.content.readable(ns, [f.hash])).toEqual(new Set());
      expect(await a.content.needed(f.chunks[1]!.hash)).toBe(true);
    });

    it('markOrphan keeps the first time; clearOrphan forgets it', async () => {
      const h = sha('orphan');
      expect(await a.content.markOrphan(h, 10)).toBe(10);
      expect(await b.content.markOrphan(h, 20)).toBe(10);
      await b.content.clearOrphan(h);
      expect(await a.content.markOrphan(h, 30)).toBe(30);
    });

    it('sweeps racing commits through two stores: every committed node\'s content stays referenced', async () => {
      const files = Array.from({ length: 24 }, (_, i) => file(`race-${i}`, 2));
      for (const f of files) await upload(a, ns, f, 1);
      const commits = files.map((f, i) =>
        (i % 2 ? a : b).commitOp(ns, op({ op: 'create', kind: 'file', parent: 'root', name: `r${i}`, hash: f.hash, size: f.size, mtime: 0 }), ctx()),
      );
      const sweeps = [a.content.sweepRefs(DAY), b.content.sweepRefs(DAY), a.content.sweepRefs(DAY)];
      const results = await Promise.all(commits);
      await Promise.all(sweeps);
      const nodes = (await a.listNodes(ns, '', 100)).nodes;
      // a commit that lost the race is blob_missing (the client uploads again), never ok without content
      expect(results.filter((r) => r.result.status === 'ok')).toHaveLength(nodes.length);
      for (const r of results) if (r.result.status !== 'ok') expect(r.result).toMatchObject({ status: 'error', error: 'blob_missing' });
      for (const n of nodes) {
        const f = files.find((x) => x.hash === n.hash)!;
        expect(await b.content.readable(ns, [f.hash, ...f.chunks.map((c) => c.hash)])).toEqual(new Set([f.hash, ...f.chunks.map((c) => c.hash)]));
      }
    });
  });
}
