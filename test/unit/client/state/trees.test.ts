import { describe, expect, it } from 'vitest';
import type { SyncedNode } from '../../../../src/core/associate.js';
import type { LocalEntry } from '../../../../src/core/local.js';
import type { TreeNode } from '../../../../src/core/tree.js';
import { StateStore } from '../../../../src/client/state/store.js';
import { Trees } from '../../../../src/client/state/trees.js';
import { tempDbFile } from './helpers.js';

const node = (id: string, parent: string, rev = 1, extra: Partial<TreeNode> = {}): TreeNode =>
  ({ id, parent, name: id, kind: 'file', rev, size: 1, hash: 'h'.repeat(64), mtime: 1000, exec: false, target: null, ...extra });
const dir = (id: string, parent: string, rev = 1): TreeNode => node(id, parent, rev, { kind: 'dir', size: null, hash: null });
const synced = (n: TreeNode, ino: number | null = null): SyncedNode => ({ ...n, ino });
const local = (diskPath: string, extra: Partial<LocalEntry> = {}): LocalEntry =>
  ({ path: diskPath.normalize('NFC'), diskPath, kind: 'file', size: 1, mtimeMs: 1000.5, ino: 1, hash: null, exec: false, target: null, ...extra });

/** Two views of one file: `t` works on it, `fresh()` reads it back with no cache. */
function open() {
  const file = tempDbFile();
  const store = new StateStore(file);
  const t = new Trees(store);
  const fresh = () => {
    const s = new StateStore(file);
    const f = new Trees(s);
    const out = { remote: f.loadRemote(), synced: f.loadSynced(), local: f.loadLocal() };
    s.close();
    return out;
  };
  return { store, t, fresh };
}

const ids = (m: Map<string, unknown>) => [...m.keys()].sort();

describe('Remote', () => {
  it.each([
    { desc: 'an unknown node is stored', steps: (t: Trees) => t.upsertRemote(node('a', 'root', 1), 5), want: { a: 1 } },
    { desc: 'a newer rev replaces', steps: (t: Trees) => { t.upsertRemote(node('a', 'root', 1), 5); t.upsertRemote(node('a', 'root', 2), 6); }, want: { a: 2 } },
    { desc: 'an older or equal rev is ignored (entries are idempotent)', steps: (t: Trees) => { t.upsertRemote(node('a', 'root', 3), 5); t.upsertRemote(node('a', 'root', 2), 6); t.upsertRemote(node('a', 'root', 3, { name: 'other' }), 7); }, want: { a: 3 } },
    { desc: 'a directory delete takes its subtree', steps: (t: Trees) => { t.upsertRemote(dir('d', 'root'), 1); t.upsertRemote(dir('e', 'd'), 2); t.upsertRemote(node('f', 'e'), 3); t.upsertRemote(node('g', 'root'), 4); t.deleteRemoteSubtree('d'); }, want: { g: 1 } },
    { desc: 'replace swaps the whole tree', steps: (t: Trees) => { t.upsertRemote(node('a', 'root'), 1); t.replaceRemote([node('b', 'root', 4)]); }, want: { b: 4 } },
  ])('$desc', ({ steps, want }) => {
    const { t, fresh } = open();
    t.loadRemote(); // with a cache to keep in step
    steps(t);
    for (const remote of [t.loadRemote(), fresh().remote]) {
      expect(Object.fromEntries([...remote.values()].map((n) => [n.id, n.rev]))).toEqual(want);
    }
    expect(t.remoteRev(Object.keys(want)[0]!)).toBe(Object.values(want)[0]);
  });

  it('prunes nodes whose parent chain misses the root (a paged listing raced a delete), and cycles', () => {
    const { t, fresh } = open();
    t.replaceRemote([dir('kept', 'root'), node('child', 'kept'), node('orphan', 'gone'), dir('c1', 'c2'), dir('c2', 'c1')]);
    expect(t.pruneRemoteOrphans()).toBe(3);
    expect(ids(t.loadRemote())).toEqual(['child', 'kept']);
    expect(ids(fresh().remote)).toEqual(['child', 'kept']);
  });

  it('stores mtime as whole ms, in the cache as in the DB', () => {
    const { t, fresh } = open();
    t.loadRemote();
    t.upsertRemote(node('a', 'root', 1, { mtime: 1234.9 }), 1);
    expect(t.loadRemote().get('a')!.mtime).toBe(1234);
    expect(fresh().remote.get('a')).toEqual(t.loadRemote().get('a'));
  });
});

describe('Synced', () => {
  it.each([
    { desc: 'put then get', steps: (t: Trees) => t.putSynced(synced(node('a', 'root'), 7)), want: ['a'] },
    { desc: 'put replaces whatever rev', steps: (t: Trees) => { t.putSynced(synced(node('a', 'root', 5))); t.putSynced(synced(node('a', 'root', 2))); }, want: ['a'] },
    { desc: 'delete one node', steps: (t: Trees) => { t.putSynced(synced(node('a', 'root'))); t.putSynced(synced(node('b', 'root'))); t.deleteSynced('a'); }, want: ['b'] },
    { desc: 'delete a subtree', steps: (t: Trees) => { t.putSynced(synced(dir('d', 'root'))); t.putSynced(synced(node('f', 'd'))); t.putSynced(synced(node('g', 'root'))); t.deleteSyncedSubtree('d'); }, want: ['g'] },
    { desc: 'clear forgets the merge base', steps: (t: Trees) => { t.putSynced(synced(node('a', 'root'))); t.clearSynced(); }, want: [] },
  ])('$desc', ({ steps, want }) => {
    const { t, fresh } = open();
    t.loadSynced();
    steps(t);
    expect(ids(t.loadSynced())).toEqual(want);
    expect(fresh().synced).toEqual(t.loadSynced());
  });

  it('reparents children (a directory replaced by another id), and counts files only', () => {
    const { t, fresh } = open();
    t.putSynced(synced(dir('old', 'root')));
    t.putSynced(synced(dir('new', 'root')));
    t.putSynced(synced(node('f', 'old', 1, { mtime: 5.5 }), 9));
    t.reparentSynced('old', 'new');
    expect(t.getSynced('f')).toEqual({ ...synced(node('f', 'new', 1, { mtime: 5 }), 9) });
    expect(t.loadSynced()).toEqual(fresh().synced);
    expect(t.syncedCount()).toBe(1);
    expect(t.getSynced('nope')).toBeNull();
  });
});

describe('Local', () => {
  it.each([
    { desc: 'put stores by disk path', steps: (t: Trees) => t.putLocal(local('a')), want: { a: 'a' } },
    { desc: 'delete a subtree, not its name-prefixed siblings', steps: (t: Trees) => { for (const p of ['d', 'd/x', 'd/y/z', 'd0', 'd-b', 'e']) t.putLocal(local(p)); t.deleteLocalSubtree('d'); }, want: { 'd0': 'd0', 'd-b': 'd-b', e: 'e' } },
    { desc: 'move a subtree over what was at the target', steps: (t: Trees) => { for (const p of ['d', 'd/x', 'n', 'n/old']) t.putLocal(local(p)); t.moveLocalSubtree('d', 'n', 'n'); }, want: { n: 'n', 'n/x': 'n/x' } },
    {
      desc: 'a file or symlink put where Local still holds a directory replaces its subtree (Local stays a tree), not its name-prefixed siblings',
      steps: (t: Trees) => {
        for (const p of ['d', 'd/x', 'd/y', 'd/y/z', 'd0', 'd-b']) t.putLocal(local(p, { kind: p.includes('.') ? 'file' : 'dir' }));
        t.putLocal(local('d', { kind: 'symlink', target: 'elsewhere' }));
        t.putLocal(local('d0', { kind: 'dir' }));
      },
      want: { d: 'd', d0: 'd0', 'd-b': 'd-b' },
    },
    { desc: 'a directory put keeps what is below it', steps: (t: Trees) => { for (const p of ['d', 'd/x']) t.putLocal(local(p, { kind: 'dir' })); t.putLocal(local('d', { kind: 'dir', mtimeMs: 5 })); }, want: { d: 'd', 'd/x': 'd/x' } },
    { desc: 'move to a decomposed name keeps NFC paths', steps: (t: Trees) => { t.putLocal(local('d')); t.putLocal(local('d/x')); t.moveLocalSubtree('d', 'e\u0301', '\u00e9'); }, want: { 'e\u0301': '\u00e9', 'e\u0301/x': '\u00e9/x' } },
  ])('$desc', ({ steps, want }) => {
    const { t, fresh } = open();
    t.loadLocal();
    steps(t);
    for (const tree of [t.loadLocal(), fresh().local]) {
      expect(Object.fromEntries([...tree.values()].map((e) => [e.diskPath, e.path]))).toEqual(want);
    }
    expect(fresh().local).toEqual(t.loadLocal());
  });
});

describe('plan base and seeds', () => {
  const writes: { desc: string; write: (t: Trees) => void; want: { ids: string[]; paths: string[] } | null }[] = [
    { desc: 'upsertRemote seeds its id', write: (t) => t.upsertRemote(node('z', 'root'), 1), want: { ids: ['u', 'z'], paths: ['p'] } },
    { desc: 'deleteRemoteSubtree seeds the top id', write: (t) => t.deleteRemoteSubtree('a'), want: { ids: ['a', 'u'], paths: ['p'] } },
    { desc: 'putSynced seeds its id', write: (t) => t.putSynced(synced(node('z', 'root'))), want: { ids: ['u', 'z'], paths: ['p'] } },
    { desc: 'deleteSynced seeds its id', write: (t) => t.deleteSynced('a'), want: { ids: ['a', 'u'], paths: ['p'] } },
    { desc: 'deleteSyncedSubtree seeds the top id', write: (t) => t.deleteSyncedSubtree('a'), want: { ids: ['a', 'u'], paths: ['p'] } },
    { desc: 'reparentSynced seeds both parents', write: (t) => t.reparentSynced('a', 'b'), want: { ids: ['a', 'b', 'u'], paths: ['p'] } },
    { desc: 'putLocal seeds its disk path', write: (t) => t.putLocal(local('z')), want: { ids: ['u'], paths: ['p', 'z'] } },
    { desc: 'deleteLocalSubtree seeds the top path', write: (t) => t.deleteLocalSubtree('a'), want: { ids: ['u'], paths: ['a', 'p'] } },
    { desc: 'moveLocalSubtree seeds both paths', write: (t) => t.moveLocalSubtree('a', 'b', 'b'), want: { ids: ['u'], paths: ['a', 'b', 'p'] } },
    { desc: 'pruneRemoteOrphans keeps the base and seeds what it drops', write: (t) => { t.upsertRemote(node('o', 'gone'), 1); t.pruneRemoteOrphans(); }, want: { ids: ['o', 'u'], paths: ['p'] } },
    { desc: 'replaceRemote drops the base', write: (t) => t.replaceRemote([]), want: null },
    { desc: 'clearSynced drops the base', write: (t) => t.clearSynced(), want: null },
    { desc: 'a listing swapped in keeps the base and seeds what it adds', write: (t) => { t.startListing(); t.stageListing([node('z', 'root')]); t.swapInListing(); }, want: { ids: ['u', 'z'], paths: ['p'] } },
  ];

  it.each(writes)('$desc (in the DB too)', ({ write, want }) => {
    const { store, t } = open();
    t.setPlanBase('key', { ids: ['u'], paths: ['p'] });
    write(t);
    const again = new Trees(store);
    for (const tr of [t, again]) {
      const base = tr.planBase();
      if (want === null) {
        expect(base).toBeNull();
        continue;
      }
      expect(base).toEqual({ memo: 'key', seeds: want.ids.length + want.paths.length });
      const seeds = tr.planSeeds();
      expect({ ids: seeds.ids.sort(), paths: seeds.paths.sort() }).toEqual(want);
    }
  });

  it('a listing swapped in seeds exactly the ids whose rows it adds, drops or changes (a reset keeps the base)', () => {
    const { store, t } = open();
    const before = [dir('a', 'root'), node('b', 'a'), node('c', 'root'), node('d', 'root'), node('e', 'root'), node('g', 'root', 1, { exec: true }), node('h', 'a', 1, { kind: 'symlink', size: null, hash: null, target: 'x' })];
    for (const n of before) t.upsertRemote(n, 5);
    t.setPlanBase('key', { ids: [], paths: [] });
    t.startListing();
    t.stageListing([
      dir('a', 'root'), node('b', 'a'), // the same (the seq a listing does not carry is no change)
      node('c', 'root', 2), // a new rev
      node('d', 'root', 1, { mtime: 2000 }), // one column the planner reads
      // e is gone
      node('f', 'root'), // new
      node('g', 'root', 1, { exec: false }),
      node('h', 'a', 1, { kind: 'symlink', size: null, hash: null, target: 'y' }),
    ]);
    t.swapInListing();
    // written in place: Remote is the listing, down to a column only the listing changed
    expect(Object.fromEntries([...new Trees(store).loadRemote()].map(([id, n]) => [id, [n.rev, n.mtime, n.exec, n.target]]))).toEqual({
      a: [1, 1000, false, null], b: [1, 1000, false, null], c: [2, 1000, false, null], d: [1, 2000, false, null], f: [1, 1000, false, null], g: [1, 1000, false, null], h: [1, 1000, false, 'y'],
    });
    expect(t.planBase()).toEqual({ memo: 'key', seeds: 6 });
    expect(t.planSeeds().ids.sort()).toEqual(['c', 'd', 'e', 'f', 'g', 'h']);
    expect(t.planMemo()).toBeNull();
    // an identical listing seeds nothing
    t.setPlanBase('key', { ids: [], paths: [] });
    t.startListing();
    t.stageListing([...t.loadRemote().values()]);
    t.swapInListing();
    expect(t.planBase()).toEqual({ memo: 'key', seeds: 0 });
  });

  it('without a base a swapped listing and a prune seed nothing', () => {
    const { t } = open();
    t.upsertRemote(node('o', 'gone'), 1);
    t.startListing();
    t.stageListing([node('z', 'root'), node('o', 'gone')]);
    t.swapInListing();
    expect(t.pruneRemoteOrphans()).toBe(1);
    expect(t.planBase()).toBeNull();
    expect(t.planSeeds()).toEqual({ ids: [], paths: [] });
  });

  it('no base, no seeds: writes record nothing until a base is set', () => {
    const { t } = open();
    t.putLocal(local('z'));
    expect(t.planBase()).toBeNull();
    expect(t.planSeeds()).toEqual({ ids: [], paths: [] });
    t.setPlanBase('key', { ids: [], paths: [] });
    t.putLocal(local('y'));
    expect(t.planSeeds()).toEqual({ ids: [], paths: ['y'] });
  });

  it('a new base replaces the seeds of the old one', () => {
    const { t } = open();
    t.setPlanBase('one', { ids: ['a'], paths: [] });
    t.putLocal(local('z'));
    t.setPlanBase('two', { ids: [], paths: ['q'] });
    expect(t.planBase()).toEqual({ memo: 'two', seeds: 1 });
    expect(t.planSeeds()).toEqual({ ids: [], paths: ['q'] });
  });
});

describe('rows read through the indexes', () => {
  it('children, by inode and below a path: only the rows asked for, counted', () => {
    const { t } = open();
    t.upsertRemote(dir('d', 'root'), 1);
    t.upsertRemote(node('x', 'd'), 2);
    t.upsertRemote(node('y', 'root'), 3);
    t.putSynced(synced(node('x', 'd'), 7));
    for (const p of ['d', 'd/x', 'd/e', 'd/e/deep', 'dd', 'y']) t.putLocal(local(p, { ino: p === 'd/x' ? 7 : 1 }));
    const before = t.rowsRead;
    expect(t.index.remoteChildren('d').map((r) => r.v.id)).toEqual(['x']);
    expect(t.index.localChildren('d').map((r) => r.v.diskPath).sort()).toEqual(['d/e', 'd/x']);
    expect(t.index.localChildren('').map((r) => r.v.diskPath).sort()).toEqual(['d', 'dd', 'y']);
    expect(t.index.localBelow('d').map((r) => r.v.diskPath).sort()).toEqual(['d/e', 'd/e/deep', 'd/x']);
    expect(t.index.syncedByIno(7).map((r) => r.v.id)).toEqual(['x']);
    expect(t.index.localByIno(7).map((r) => r.v.diskPath)).toEqual(['d/x']);
    expect(t.rowsRead - before).toBe(1 + 2 + 3 + 3 + 1 + 1);
    expect([...t.localAround(['d/e']).keys()].sort()).toEqual(['d', 'd/e', 'd/e/deep']);
  });

  it('whole subtrees at once (a batch of a plan): each row once, a seed that is gone adds nothing', () => {
    const { t } = open();
    for (let p = 0; p < 300; p++) {
      t.upsertRemote(dir(`p${p}`, 'root'), p + 1);
      t.upsertRemote(node(`c${p}`, `p${p}`), 1000 + p);
      t.putSynced(synced(node(`c${p}`, `p${p}`), 10_000 + p));
      t.putLocal(local(`p${p}`, { kind: 'dir', ino: 20_000 + p }));
      t.putLocal(local(`p${p}/c${p}`, { ino: 10_000 + p }));
    }
    // p3/c3 and p30/c30: "p3" must not take "p30" in
    expect(t.rows.remoteSubtrees(['p3', 'p3', 'p299', 'nope']).map((r) => r.v.id).sort()).toEqual(['c299', 'c3', 'p299', 'p3']);
    expect(t.rows.syncedSubtrees(['p3', 'c7']).map((r) => r.v.id).sort()).toEqual(['c3', 'c7']);
    expect(t.rows.localSubtrees(['p3', 'p299']).map((r) => r.v.diskPath).sort()).toEqual(['p299', 'p299/c299', 'p3', 'p3/c3']);
    expect(t.rows.localSubtrees([])).toEqual([]);
  });
});

describe('plan memo', () => {
  const writes: { desc: string; write: (t: Trees) => void }[] = [
    { desc: 'upsertRemote', write: (t) => t.upsertRemote(node('z', 'root'), 1) },
    { desc: 'deleteRemoteSubtree', write: (t) => t.deleteRemoteSubtree('a') },
    { desc: 'pruneRemoteOrphans', write: (t) => t.pruneRemoteOrphans() },
    { desc: 'replaceRemote', write: (t) => t.replaceRemote([]) },
    { desc: 'putSynced', write: (t) => t.putSynced(synced(node('z', 'root'))) },
    { desc: 'deleteSynced', write: (t) => t.deleteSynced('a') },
    { desc: 'deleteSyncedSubtree', write: (t) => t.deleteSyncedSubtree('a') },
    { desc: 'clearSynced', write: (t) => t.clearSynced() },
    { desc: 'reparentSynced', write: (t) => t.reparentSynced('a', 'b') },
    { desc: 'putLocal', write: (t) => t.putLocal(local('z')) },
    { desc: 'deleteLocalSubtree', write: (t) => t.deleteLocalSubtree('a') },
    { desc: 'moveLocalSubtree', write: (t) => t.moveLocalSubtree('a', 'b', 'b') },
  ];

  it.each(writes)('is dropped by $desc, in the DB too', ({ write }) => {
    const { store, t } = open();
    t.setPlanMemo('key');
    expect(t.planMemo()).toBe('key');
    write(t);
    expect(t.planMemo()).toBeNull();
    expect(new Trees(store).planMemo()).toBeNull();
  });

  it('stands through a directory mtime update (setLocalDirMtime), which seeds nothing either', () => {
    const { store, t } = open();
    t.putLocal(local('d', { kind: 'dir', size: null, hash: null, mtimeMs: 5 }));
    t.setPlanMemo('key');
    t.setPlanBase('key', { ids: [], paths: [] });
    t.setLocalDirMtime('d', 9);
    expect(t.planMemo()).toBe('key');
    const again = new Trees(store);
    expect(again.planMemo()).toBe('key');
    expect(again.planSeeds()).toEqual({ ids: [], paths: [] });
    expect(again.loadLocal().get('d')?.mtimeMs).toBe(9);
    expect(t.loadLocal().get('d')?.mtimeMs).toBe(9);
  });

  it('is replaced by the next one', () => {
    const { t } = open();
    t.setPlanMemo('one');
    t.setPlanMemo('two');
    expect(t.planMemo()).toBe('two');
  });
});

describe('a failed transaction', () => {
  it('drops the in-memory trees and memo state, so they are read again from the DB', () => {
    const { store, t } = open();
    t.putSynced(synced(node('a', 'root')));
    t.setPlanMemo('kept');
    const before = t.loadSynced();
    expect(() => store.tx(() => {
      t.putSynced(synced(node('b', 'root')));
      throw new Error('boom');
    })).toThrow('boom');
    expect(t.loadSynced()).not.toBe(before);
    expect(ids(t.loadSynced())).toEqual(['a']);
    expect(t.planMemo()).toBe('kept'); // the rolled-back write had deleted it
  });
});
