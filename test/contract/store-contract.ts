// The JournalStore contract (src/server/store/types.ts), one suite for every
// implementation: pass a factory that makes an empty store location and can
// open any number of stores on it. Two stores on one location stand for two
// server processes (SQLite: two connections on one file; PostgreSQL: two pools).

import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken, newNodeId } from '../../src/server/ids.js';
import type { Op, OpResult, WireNode } from '../../src/protocol/types.js';
import type { CommitContext, JournalStore, NamespaceRef } from '../../src/server/store/types.js';

export interface StoreLocation {
  open(): Promise<JournalStore>;
  /** removes the location (stores are closed first) */
  destroy(): Promise<void>;
}

export type StoreFactory = () => Promise<StoreLocation>;

const op = (o: Partial<Op> & { op: Op['op'] }): Op => ({ op_id: randomUUID(), ...o }) as Op;
const okNode = (r: OpResult): WireNode => {
  if (r.status !== 'ok') throw new Error(`not ok: ${JSON.stringify(r)}`);
  return r.node;
};

export function storeContract(name: string, factory: StoreFactory, opts: { skip?: boolean } = {}): void {
  (opts.skip ? describe.skip : describe)(`store contract: ${name}`, () => {
    let loc: StoreLocation;
    let a: JournalStore;
    let b: JournalStore;
    let ns: NamespaceRef;
    let t = 1_000_000;
    const opened: JournalStore[] = [];
    const ctx = (now = t++): CommitContext => ({ deviceId: 'd_test', now, newNodeId });
    const open = async (): Promise<JournalStore> => {
      const s = await loc.open();
      opened.push(s);
      return s;
    };

    beforeEach(async () => {
      loc = await factory();
      a = await open();
      b = await open();
      ns = (await a.createDevice('ns', 'dev', 'd_test', hashToken('tok-a'), 1)).namespace;
    });
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await loc.destroy();
    });

    it('a second store on the same location shares the cursor key, devices and namespaces', async () => {
      expect((await b.cursorKey()).equals(await a.cursorKey())).toBe(true);
      expect((await a.cursorKey()).length).toBe(32);
      expect(await b.authenticate(hashToken('tok-a'))).toEqual({ deviceId: 'd_test', label: 'dev', namespace: ns });
      const again = await b.createDevice('ns', 'dev2', 'd_b', hashToken('tok-b'), 2);
      expect(again.namespace).toEqual(ns);
      const other = await b.createDevice('other', 'c', 'd_c', hashToken('tok-c'), 3);
      expect(other.namespace.id).not.toBe(ns.id);
      expect((await a.namespaces()).map((n) => n.name)).toEqual(['ns', 'other']);
      expect((await a.devices(ns)).map((d) => d.id)).toEqual(['d_test', 'd_b']);
    });

    it('authenticates by token hash; a revoked device is refused', async () => {
      expect(await a.authenticate(hashToken('nope'))).toBeNull();
      expect(await b.revokeDevice('d_test')).toBe(true);
      expect(await b.revokeDevice('d_test')).toBe(false);
      expect(await a.authenticate(hashToken('tok-a'))).toBeNull();
      expect((await a.devices())[0]).toMatchObject({ id: 'd_test', revoked: true });
    });

    it('namespaces created concurrently through both stores exist once', async () => {
      const res = await Promise.all(
        Array.from({ length: 8 }, (_, i) => (i % 2 ? a : b).createDevice('race', `r${i}`, `d_r${i}`, hashToken(`race-${i}`), 5)),
      );
      expect(new Set(res.map((r) => r.namespace.id)).size).toBe(1);
      expect((await a.devices(res[0]!.namespace)).length).toBe(8);
    });

    it('parallel commits through both stores: one gap-free journal, every op once, the entry JSON equals the result', async () => {
      const ops = Array.from({ length: 60 }, (_, i) => op({ op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }));
      const results = await Promise.all(ops.map((o, i) => (i % 2 ? a : b).commitOp(ns, o, ctx())));
      expect(results.every((r) => r.result.status === 'ok' && !r.replayed)).toBe(true);
      const { entries, state } = await a.readChanges(ns, 0, 1000);
      expect(state.head).toBe(60);
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 60 }, (_, i) => i + 1));
      const byName = new Map(entries.map((e) => JSON.parse(e.json)).map((e) => [e.node.name, e]));
      expect(byName.size).toBe(60);
      for (const r of results) {
        const ok = r.result as Extract<OpResult, { status: 'ok' }>;
        expect(byName.get(ok.node.name)).toEqual({ seq: ok.seq, op: 'create', node: ok.node, device: 'd_test' });
      }
    });

    it('one op_id racing through both stores lands once; every answer is the first result', async () => {
      const o = op({ op: 'create', kind: 'dir', parent: 'root', name: 'once' });
      const outs = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).commitOp(ns, o, ctx())));
      expect(outs.filter((x) => !x.replayed)).toHaveLength(1);
      for (const x of outs) expect(x.result).toEqual(outs.find((y) => !y.replayed)!.result);
      expect((await b.namespaceState(ns)).head).toBe(1);
    });

    it('the same base_rev racing through both stores: one update wins, the other is a conflict (no lost update)', async () => {
      const d = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'symlink', parent: 'root', name: 'l', target: 't0' }), ctx())).result);
      for (let round = 0; round < 5; round++) {
        const cur = (await a.listNodes(ns, '', 10)).nodes[0]!;
        const [x, y] = await Promise.all([
          a.commitOp(ns, op({ op: 'update', id: d.id, base_rev: cur.rev, target: `a${round}` }), ctx()),
          b.commitOp(ns, op({ op: 'update', id: d.id, base_rev: cur.rev, target: `b${round}` }), ctx()),
        ]);
        expect([x.result.status, y.result.status].sort()).toEqual(['conflict', 'ok']);
      }
      expect((await a.namespaceState(ns)).head).toBe(6);
      expect((await b.listNodes(ns, '', 10)).nodes[0]!.rev).toBe(6);
    });

    it('the same name racing through both stores: one create wins, the other gets name_taken', async () => {
      const [x, y] = await Promise.all([
        a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'Same' }), ctx()),
        b.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'same' }), ctx()),
      ]);
      const statuses = [x.result, y.result].map((r) => (r.status === 'error' ? r.error : r.status)).sort();
      expect(statuses).toEqual(['name_taken', 'ok']);
      expect((await a.namespaceState(ns)).head).toBe(1);
    });

    it('a rejected op writes nothing and takes no seq', async () => {
      const r = await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'n_missing', name: 'x' }), ctx());
      expect(r.result).toMatchObject({ status: 'error', error: 'parent_not_found' });
      const f = await a.commitOp(ns, op({ op: 'create', kind: 'file', parent: 'root', name: 'f', hash: 'a'.repeat(64), size: 3 }), ctx());
      expect(f.result).toMatchObject({ status: 'error', error: 'blob_missing' });
      expect((await b.namespaceState(ns)).head).toBe(0);
      expect(okNode((await b.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'x' }), ctx())).result).seq).toBe(1);
    });

    it('commitSlice gives the results op-by-op commits give: gap-free seqs, rejections and replays take no seq, a budget of 0 runs an op', async () => {
      expect(a.commitSlice).toBeDefined();
      const dirs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => op({ op: 'create', parent: 'root', name: `${prefix}${i}`, kind: 'dir' }));
      const batch = dirs('batch-', 60);
      const dup = op({ op: 'create', parent: 'root', name: 'BATCH-7', kind: 'dir' });
      const orphan = op({ op: 'create', parent: 'n_missing', name: 'x', kind: 'dir' });
      const after = dirs('after-', 5);
      const out = await a.commitSlice!(ns, [...batch.slice(0, 30), dup, batch[3]!, orphan, ...batch.slice(30), ...after], ctx(), Number.POSITIVE_INFINITY);
      expect(out.map((o) => (o.result.status === 'error' ? o.result.error : o.result.status))).toEqual([
        ...Array(30).fill('ok'), 'name_taken', 'ok', 'parent_not_found', ...Array(35).fill('ok'),
      ]);
      expect(out[31]).toEqual({ result: out[3]!.result, replayed: true });
      const seqs = out.filter((o) => !o.replayed && o.result.status === 'ok').map((o) => okNode(o.result).seq);
      expect(seqs).toEqual(Array.from({ length: 65 }, (_, i) => i + 1));
      expect((await b.namespaceState(ns)).head).toBe(65);
      // the journal holds exactly those entries, and the other store sees them
      const { entries } = await b.readChanges(ns, 0, 1000);
      expect(entries.map((e) => e.seq)).toEqual(seqs);
      expect((await b.allNodes(ns)).filter((n) => n.name.startsWith('batch-') || n.name.startsWith('after-'))).toHaveLength(65);
      // a slice again: replays only, nothing new
      const again = await b.commitSlice!(ns, batch.slice(0, 5), ctx(), Number.POSITIVE_INFINITY);
      expect(again.every((o) => o.replayed)).toBe(true);
      expect((await a.namespaceState(ns)).head).toBe(65);
      // a budget of 0 still runs an op (PostgreSQL holds a floor of its own: commit.ts)
      const one = await a.commitSlice!(ns, dirs('one-', 3), ctx(), 0);
      expect(one.length).toBeGreaterThanOrEqual(1);
      expect((await a.namespaceState(ns)).head).toBe(65 + one.length);
    });

    it('commitSlice through both stores at once: one gap-free journal, every op once', async () => {
      const mk = (p: string) => Array.from({ length: 40 }, (_, i) => op({ op: 'create', parent: 'root', name: `${p}${i}`, kind: 'dir' }));
      const run = async (s: JournalStore, ops: Op[]) => {
        for (let i = 0; i < ops.length; ) i += (await s.commitSlice!(ns, ops.slice(i), ctx(), 1)).length;
      };
      await Promise.all([run(a, mk('a-')), run(b, mk('b-'))]);
      const { entries } = await a.readChanges(ns, 0, 1000);
      expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      expect(new Set((await b.allNodes(ns)).map((n) => n.name)).size).toBe(80);
    });

    it('blob references gate files per namespace; the empty blob needs none', async () => {
      const other = (await a.createDevice('other', 'o', 'd_o', hashToken('o'), 1)).namespace;
      const hash = 'b'.repeat(64);
      expect(await a.addBlobRef(ns, hash, 3, 1)).toBe(true);
      expect(await b.addBlobRef(ns, hash, 3, 2)).toBe(false);
      expect(await b.blobRef(ns, hash)).toEqual({ size: 3 });
      expect(await b.blobRef(other, hash)).toBeNull();
      const empty = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
      expect(await a.blobRef(other, empty)).toEqual({ size: 0 });
      const ok = await b.commitOp(ns, op({ op: 'create', kind: 'file', parent: 'root', name: 'f', hash, size: 3 }), ctx());
      expect(ok.result.status).toBe('ok');
      const no = await b.commitOp(other, op({ op: 'create', kind: 'file', parent: 'root', name: 'f', hash, size: 3 }), ctx());
      expect(no.result).toMatchObject({ error: 'blob_missing' });
    });

    it('a dir delete is one entry, tombstones the subtree, frees the names; a move into the subtree is a cycle', async () => {
      const d = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'd' }), ctx())).result);
      const s = okNode((await b.commitOp(ns, op({ op: 'create', kind: 'dir', parent: d.id, name: 's' }), ctx())).result);
      const deep = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: s.id, name: 'deep' }), ctx())).result);
      const cyc = await b.commitOp(ns, op({ op: 'move', id: d.id, base_rev: 1, parent: deep.id, name: 'd' }), ctx());
      expect(cyc.result).toMatchObject({ status: 'error', error: 'cycle' });
      await b.commitOp(ns, op({ op: 'delete', id: d.id, base_rev: 1 }), ctx());
      expect((await a.namespaceState(ns)).head).toBe(4);
      expect((await a.listNodes(ns, '', 100)).nodes).toEqual([]);
      const gone = await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: s.id, name: 'x' }), ctx());
      expect(gone.result).toMatchObject({ error: 'parent_not_found' });
      expect((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'D' }), ctx())).result.status).toBe('ok');
    });

    it('a dir delete with subtree_seq is a conflict when anything below changed after that seq (created, updated, moved in)', async () => {
      const d = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'd' }), ctx())).result); // seq 1
      const s = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: d.id, name: 's' }), ctx())).result); // seq 2
      const out = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'out' }), ctx())).result); // seq 3
      // a client that saw seq 2 may delete: nothing below d changed since
      const seen2 = await b.commitOp(ns, op({ op: 'delete', id: d.id, base_rev: 1, subtree_seq: 2 }), ctx());
      expect(seen2.result.status).toBe('ok');
      // again with a deeper tree: something created deep below after the client's view
      const d2 = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'd2' }), ctx())).result); // seq 5
      const s2 = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: d2.id, name: 's' }), ctx())).result); // seq 6
      await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: s2.id, name: 'new' }), ctx()); // seq 7
      const stale = await b.commitOp(ns, op({ op: 'delete', id: d2.id, base_rev: 1, subtree_seq: 6 }), ctx());
      expect(stale.result).toMatchObject({ status: 'conflict', current: { id: d2.id, rev: 1 } });
      expect((await a.namespaceState(ns)).head).toBe(7);
      // moved in after the view: a conflict too
      await a.commitOp(ns, op({ op: 'move', id: out.id, base_rev: 1, parent: s2.id, name: 'out' }), ctx()); // seq 8
      expect((await b.commitOp(ns, op({ op: 'delete', id: d2.id, base_rev: 1, subtree_seq: 7 }), ctx())).result.status).toBe('conflict');
      // a view that covers everything deletes the lot in one entry
      const fresh = await b.commitOp(ns, op({ op: 'delete', id: d2.id, base_rev: 1, subtree_seq: 8 }), ctx());
      expect(fresh.result.status).toBe('ok');
      expect((await a.listNodes(ns, '', 100)).nodes).toEqual([]);
      void s;
    });

    it('lists nodes in bytewise id order, pinned to the head it read', async () => {
      const ids = ['n_a', 'n_B', 'n__', 'n_Z9', 'n_0'];
      let i = 0;
      for (const id of ids) {
        await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `x${i++}` }), { deviceId: 'd_test', now: 1, newNodeId: () => id });
      }
      const sorted = [...ids].sort((p, q) => Buffer.compare(Buffer.from(p), Buffer.from(q)));
      const first = await b.listNodes(ns, '', 3);
      expect(first.state.head).toBe(5);
      expect(first.nodes.map((n) => n.id)).toEqual(sorted.slice(0, 3));
      const rest = await b.listNodes(ns, first.nodes[2]!.id, 10);
      expect(rest.nodes.map((n) => n.id)).toEqual(sorted.slice(3));
    });

    it('changes page by seq with the state of the same read', async () => {
      for (let i = 0; i < 5; i++) await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `c${i}` }), ctx());
      const page = await b.readChanges(ns, 1, 2);
      expect(page.entries.map((e) => e.seq)).toEqual([2, 3]);
      expect(page.state).toMatchObject({ name: 'ns', head: 5, floor: 1 });
      expect((await b.readChanges(ns, 5, 10)).entries).toEqual([]);
    });

    it('trim drops entries, op results and tombstones below the floor; a retained op result still replays', async () => {
      const ids: string[] = [];
      const creates = Array.from({ length: 30 }, (_, i) => op({ op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }));
      for (const c of creates) ids.push(okNode((await a.commitOp(ns, c, ctx())).result).id);
      const del = op({ op: 'delete', id: ids[0]!, base_rev: 1 });
      await a.commitOp(ns, del, ctx());
      await b.setRetention({ maxEntries: 5, maxAgeS: null });
      await b.setKeepVersions(0);
      const report = await a.trim(t);
      expect(report.namespaces[0]).toMatchObject({ name: 'ns', oldFloor: 1, newFloor: 27, head: 31, dropped: 26 });
      expect((await b.namespaceState(ns)).floor).toBe(27);
      expect((await b.readChanges(ns, 26, 100)).entries.map((e) => e.seq)).toEqual([27, 28, 29, 30, 31]);
      expect((await b.commitOp(ns, del, ctx())).replayed).toBe(true);
      // an op_id whose result was trimmed is judged afresh
      const stale = await b.commitOp(ns, creates[1]!, ctx());
      expect(stale).toMatchObject({ replayed: false, result: { status: 'error', error: 'name_taken' } });
      expect((await b.trim(t)).namespaces[0]).toMatchObject({ oldFloor: 27, newFloor: 27, dropped: 0 });
    });

    it('age policy: old entries go, except those a recently seen device still needs', async () => {
      for (let i = 0; i < 10; i++) await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }), ctx(1000 + i));
      await a.setRetention({ maxEntries: null, maxAgeS: 1000 });
      await a.setKeepVersions(0);
      await b.saveActivity([{ deviceId: 'd_test', lastSeen: 9_000_000, cursorSeq: 3 }]);
      expect((await a.trim(9_500_000)).namespaces[0]).toMatchObject({ newFloor: 4, misses: 0 });
      expect((await b.trim(20_000_000)).namespaces[0]).toMatchObject({ newFloor: 11, dropped: 7 });
    });

    it('retention policy defaults and round-trips between stores', async () => {
      expect(await a.retention()).toEqual({ maxEntries: 1_000_000, maxAgeS: 7_776_000 });
      await a.setRetention({ maxEntries: null, maxAgeS: 60 });
      expect(await b.retention()).toEqual({ maxEntries: null, maxAgeS: 60 });
    });

    describe('version history', () => {
      const DAY = 86_400_000;
      const file = async (parent: string, name: string, hash: string, now: number): Promise<WireNode> => {
        await a.addBlobRef(ns, hash, 1, now);
        return okNode((await a.commitOp(ns, op({ op: 'create', kind: 'file', parent, name, hash, size: 1 }), ctx(now))).result);
      };
      const update = async (n: WireNode, hash: string, now: number): Promise<WireNode> => {
        await a.addBlobRef(ns, hash, 1, now);
        return okNode((await a.commitOp(ns, op({ op: 'update', id: n.id, base_rev: n.rev, hash, size: 1 }), ctx(now))).result);
      };
      const h = (c: string): string => c.repeat(64);

      it('each row names its node and carries the pre-image of the change; the version period defaults to 30 days and is shared', async () => {
        expect(await a.keepVersions()).toBe(30 * 86_400);
        await b.setKeepVersions(3600);
        expect(await a.keepVersions()).toBe(3600);
        await expect(a.setKeepVersions(-1)).rejects.toThrow(RangeError);
        const f = await file('root', 'a.txt', h('a'), 1000);
        const f2 = await update(f, h('b'), 2000);
        const moved = okNode((await b.commitOp(ns, op({ op: 'move', id: f.id, base_rev: f2.rev, parent: 'root', name: 'b.txt' }), ctx(3000))).result);
        const rows = await b.nodeHistory(ns, f.id);
        expect(rows.map((r) => Number(r.seq))).toEqual([3, 2, 1]);
        expect(rows.map((r) => Number(r.at))).toEqual([3000, 2000, 1000]);
        expect(JSON.parse(rows[0]!.entry)).toMatchObject({ op: 'move', node: { name: 'b.txt', rev: 3 } });
        expect(JSON.parse(rows[0]!.prev!)).toMatchObject({ seq: 2, op: 'update', node: { name: 'a.txt', hash: h('b') } });
        expect(Number(rows[0]!.prevAt)).toBe(2000);
        expect(rows[2]!.prev).toBeNull();
        expect(moved.rev).toBe(3);
        expect((await a.historyAfter(ns, 1, 10)).map((r) => Number(r.seq))).toEqual([2, 3]);
        expect((await a.historyBefore(ns, 3, 10)).map((r) => Number(r.seq))).toEqual([2, 1]);
        expect(await a.seqAt(ns, 2500)).toBe(2);
        expect(await a.seqAt(ns, 999)).toBe(0);
        expect(await a.historyStart(ns)).toBe(1);
        expect(await b.retainedHashes()).toEqual(new Set([h('a'), h('b')]));
      });

      it('trimming the journal for cursors keeps every version inside the period; past it, versions and tombstones go', async () => {
        const d = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'D' }), ctx(1 * DAY))).result);
        const f = await file(d.id, 'x.txt', h('1'), 1 * DAY);
        await update(f, h('2'), 2 * DAY);
        const g = await file('root', 'g.txt', h('3'), 10 * DAY);
        await update(g, h('4'), 10 * DAY);
        await a.commitOp(ns, op({ op: 'delete', id: d.id, base_rev: 1 }), ctx(10 * DAY));
        await a.setRetention({ maxEntries: 1, maxAgeS: null });
        await a.setKeepVersions(30 * 86_400);
        // day 20: the floor rises to the head, but all six rows are younger than 30 days
        expect((await a.trim(20 * DAY)).namespaces[0]).toMatchObject({ newFloor: 6, dropped: 0 });
        expect((await b.nodeHistory(ns, f.id)).length).toBe(2);
        expect((await b.allNodes(ns)).filter((n) => n.deleted !== 0).map((n) => n.id).sort()).toEqual([d.id, f.id].sort());
        expect(await b.retainedHashes()).toEqual(new Set([h('1'), h('2'), h('3'), h('4')]));
        // day 35: the rows of days 1 and 2 are past the period, and so is nothing of day 10
        expect((await a.trim(35 * DAY)).namespaces[0]).toMatchObject({ dropped: 3 });
        expect(await b.nodeHistory(ns, f.id)).toEqual([]);
        expect(await b.historyStart(ns)).toBe(4);
        expect((await b.nodeHistory(ns, g.id)).length).toBe(2);
        // the tombstones deleted on day 10 are still kept
        expect((await b.allNodes(ns)).filter((n) => n.deleted !== 0).length).toBe(2);
        // day 41: rows 4 and 5 are past the period too; row 6 is the floor's (a cursor at 5 still needs it)
        expect((await a.trim(41 * DAY)).namespaces[0]).toMatchObject({ dropped: 2 });
        expect(await b.historyStart(ns)).toBe(6);
        // one more change, and day 80: the folder's delete and its tombstones go; only live nodes remain,
        // and the hashes of g's row and of its pre-image
        const g2 = (await b.allNodes(ns)).find((n) => n.id === g.id)!;
        await update(g2, h('5'), 41 * DAY);
        expect((await a.trim(80 * DAY)).namespaces[0]).toMatchObject({ newFloor: 7, dropped: 1 });
        expect((await b.allNodes(ns)).map((n) => n.id)).toEqual([g.id]);
        expect(await b.historyStart(ns)).toBe(7);
        expect(await b.retainedHashes()).toEqual(new Set([h('4'), h('5')]));
      });
    });

    it('activity keeps the latest last_seen and the carried cursor, from either store', async () => {
      await a.saveActivity([{ deviceId: 'd_test', lastSeen: 50, cursorSeq: 3 }]);
      await b.saveActivity([{ deviceId: 'd_test', lastSeen: 40 }]);
      expect((await a.devices(ns))[0]).toMatchObject({ lastSeen: 50, cursorSeq: 3 });
      await b.saveActivity([{ deviceId: 'd_test', lastSeen: 60, cursorSeq: 7 }, { deviceId: 'd_unknown', lastSeen: 1 }]);
      expect((await a.devices(ns))[0]).toMatchObject({ lastSeen: 60, cursorSeq: 7 });
    });

    it('a device position never moves backwards; a new epoch clears it', async () => {
      await a.saveActivity([{ deviceId: 'd_test', lastSeen: 50, cursorSeq: 9 }]);
      await b.saveActivity([{ deviceId: 'd_test', lastSeen: 51, cursorSeq: 4 }]);
      expect((await a.devices(ns))[0]).toMatchObject({ cursorSeq: 9 });
      await a.renewEpoch('ns');
      expect((await a.devices(ns))[0]).toMatchObject({ cursorSeq: null });
      await b.saveActivity([{ deviceId: 'd_test', lastSeen: 52, cursorSeq: 2 }]);
      expect((await a.devices(ns))[0]).toMatchObject({ cursorSeq: 2 });
    });

    it('revokedAmong names revoked and unknown devices only', async () => {
      await a.createDevice('ns', 'two', 'd_two', hashToken('tok-two'), 2);
      await b.revokeDevice('d_two');
      expect((await a.revokedAmong(['d_test', 'd_two', 'd_nobody'])).sort()).toEqual(['d_nobody', 'd_two']);
      expect(await a.revokedAmong([])).toEqual([]);
    });

    it('refuses creates and moves deeper or longer than the limits (too_deep, path_too_long)', async () => {
      const limits = { maxDepth: 5, maxPathBytes: 40 };
      const lim = (): CommitContext => ({ ...ctx(), limits });
      let parent = 'root';
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent, name: `l${i}` }), lim());
        parent = okNode(r.result).id;
        ids.push(parent);
      }
      // l0/l1/l2/l3/l4 is 5 deep: a sixth level is refused
      const deeper = await b.commitOp(ns, op({ op: 'create', kind: 'dir', parent, name: 'x' }), lim());
      expect(deeper.result).toMatchObject({ status: 'error', error: 'too_deep' });
      // a long name at depth 2: "l0/" + 38 bytes = 41 > 40
      const long = await b.commitOp(ns, op({ op: 'create', kind: 'dir', parent: ids[0]!, name: 'n'.repeat(38) }), lim());
      expect(long.result).toMatchObject({ status: 'error', error: 'path_too_long' });
      // moving l1 (with 3 levels below it) under a 2-deep dir would make it 6 deep
      const side = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 's' }), lim())).result);
      const side2 = okNode((await a.commitOp(ns, op({ op: 'create', kind: 'dir', parent: side.id, name: 's2' }), lim())).result);
      const mv = await b.commitOp(ns, op({ op: 'move', id: ids[1]!, base_rev: 1, parent: side2.id, name: 'l1' }), lim());
      expect(mv.result).toMatchObject({ status: 'error', error: 'too_deep' });
      const mvOk = await b.commitOp(ns, op({ op: 'move', id: ids[1]!, base_rev: 1, parent: side.id, name: 'l1' }), lim());
      expect(mvOk.result.status).toBe('ok');
    });

    it('renewEpoch gives one or every namespace a new epoch', async () => {
      const other = (await a.createDevice('other', 'o', 'd_o', hashToken('o'), 1)).namespace;
      const [e1, e2] = [(await a.namespaceState(ns)).epoch, (await a.namespaceState(other)).epoch];
      expect(await b.renewEpoch('ns')).toBe(1);
      expect((await a.namespaceState(ns)).epoch).not.toBe(e1);
      expect((await a.namespaceState(other)).epoch).toBe(e2);
      expect(await b.renewEpoch(null)).toBe(2);
      expect(await b.renewEpoch('nope')).toBe(0);
    });

    it('the health check writes and reads back', async () => {
      await a.healthCheck(123);
      await b.healthCheck(124);
    });
  });
}
