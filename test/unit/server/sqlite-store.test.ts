// The SQLite store directly: commit transactions, migrations, several
// connections on one file, trim in chunks.

import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { hashToken, newNodeId } from '../../../src/server/ids.js';
import { SqliteStore } from '../../../src/server/store/sqlite/store.js';
import { MIGRATIONS } from '../../../src/server/store/sqlite/migrations.js';
import type { NamespaceRef } from '../../../src/server/store/types.js';
import type { Op } from '../../../src/protocol/types.js';

let dir: string;
let file: string;
let store: SqliteStore;
let ns: NamespaceRef;
let t = 1_000_000;
const ctx = () => ({ deviceId: 'd_test', now: t++, newNodeId });
const op = (o: Partial<Op> & { op: Op['op'] }): Op => ({ op_id: randomUUID(), ...o }) as Op;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'syncd-store-'));
  file = join(dir, 'syncd.db');
  store = new SqliteStore(file, { trimChunk: 7 });
  ns = (await store.createDevice('ns', 'dev', 'd_test', hashToken('tok-123456789012345'), 1)).namespace;
});
afterEach(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('SqliteStore', () => {
  it('sets WAL, synchronous=FULL and the schema version', () => {
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    db.close();
  });

  it('re-opening migrates nothing and keeps the cursor key', async () => {
    const key = await store.cursorKey();
    const again = new SqliteStore(file);
    expect((await again.cursorKey()).equals(key)).toBe(true);
    await again.close();
  });

  it('refuses a database from a newer syncd', async () => {
    const db = new Database(file);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new SqliteStore(file)).toThrow(/newer/);
  });

  it('authenticates by token hash and refuses revoked devices', async () => {
    expect(await store.authenticate(hashToken('tok-123456789012345'))).toMatchObject({ deviceId: 'd_test', namespace: { name: 'ns' } });
    expect(await store.authenticate(hashToken('other'))).toBeNull();
    expect(await store.revokeDevice('d_test')).toBe(true);
    expect(await store.authenticate(hashToken('tok-123456789012345'))).toBeNull();
  });

  it('two devices of one namespace share it; a new name makes a new namespace with its own epoch', async () => {
    const b = await store.createDevice('ns', 'b', 'd_b', hashToken('b'), 1);
    const c = await store.createDevice('other', 'c', 'd_c', hashToken('c'), 1);
    expect(b.namespace).toEqual(ns);
    expect(c.namespace.id).not.toBe(ns.id);
    const [s1, s2] = [await store.namespaceState(ns), await store.namespaceState(c.namespace)];
    expect(s1.epoch).not.toBe(s2.epoch);
  });

  it('a commit from a second connection on the same file is seen and gap-free', async () => {
    const other = new SqliteStore(file);
    await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'a' }), ctx());
    await other.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'b' }), ctx());
    await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'c' }), ctx());
    const { entries, state } = await other.readChanges(ns, 0, 10);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3]);
    expect(state.head).toBe(3);
    await other.close();
  });

  it('commitSlice runs a batch in one transaction, with the results op by op commits give', async () => {
    const dirs = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => op({ op: 'create', parent: 'root', name: `${prefix}${i}`, kind: 'dir' }));
    const batch = dirs('batch-', 100);
    const dup = op({ op: 'create', parent: 'root', name: 'BATCH-7', kind: 'dir' });
    const out = await store.commitSlice(ns, [...batch, dup, batch[3]!], ctx(), Number.POSITIVE_INFINITY);
    expect(out.map((o) => o.result.status)).toEqual([...batch.map(() => 'ok'), 'error', 'ok']);
    expect(out[100]!.result).toMatchObject({ error: 'name_taken' });
    expect(out[101]).toEqual({ result: out[3]!.result, replayed: true });
    expect(out.slice(0, 100).map((o) => (o.result.status === 'ok' ? o.result.seq : 0))).toEqual(batch.map((_, i) => 1 + i));
    // one transaction: an op that fails the database mid-slice takes the ops before it back too
    const db = new Database(file);
    db.exec("CREATE TRIGGER boom BEFORE INSERT ON nodes WHEN NEW.name = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END");
    db.close();
    const failing = [...dirs('lost-', 3), op({ op: 'create', parent: 'root', name: 'boom', kind: 'dir' })];
    await expect(store.commitSlice(ns, failing, ctx(), Number.POSITIVE_INFINITY)).rejects.toThrow();
    expect((await store.namespaceState(ns)).head).toBe(100);
    expect((await store.allNodes(ns)).filter((n) => n.name.startsWith('lost-'))).toEqual([]);
    // a budget of 0 still runs one op
    expect(await store.commitSlice(ns, dirs('one-', 3), ctx(), 0)).toHaveLength(1);
  });

  it('stores the journal entry JSON exactly as the op result node', async () => {
    const r = await store.commitOp(ns, op({ op: 'create', kind: 'symlink', parent: 'root', name: 'l', target: 't' }), ctx());
    const { entries } = await store.readChanges(ns, 0, 10);
    const e = JSON.parse(entries[0]!.json);
    expect(r.result.status).toBe('ok');
    expect(e).toEqual({ seq: 1, op: 'create', node: (r.result as { node: unknown }).node, device: 'd_test' });
  });

  it('a dir delete tombstones the subtree with no entries; the names become free', async () => {
    const d = await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'd' }), ctx());
    const did = (d.result as { node: { id: string } }).node.id;
    const s = await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: did, name: 's' }), ctx());
    const sid = (s.result as { node: { id: string } }).node.id;
    await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: sid, name: 'deep' }), ctx());
    await store.commitOp(ns, op({ op: 'delete', id: did, base_rev: 1 }), ctx());
    expect((await store.namespaceState(ns)).head).toBe(4);
    expect((await store.listNodes(ns, '', 100)).nodes).toEqual([]);
    const again = await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'D' }), ctx());
    expect(again.result.status).toBe('ok');
  });

  it('trim drops entries, op results and tombstones below the floor, chunk by chunk', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }), ctx());
      ids.push((r.result as { node: { id: string } }).node.id);
    }
    const del = op({ op: 'delete', id: ids[0]!, base_rev: 1 });
    await store.commitOp(ns, del, ctx());
    await store.setRetention({ maxEntries: 5, maxAgeS: null });
    await store.setKeepVersions(0);
    const report = await store.trim(t);
    expect(report.namespaces[0]).toMatchObject({ oldFloor: 1, newFloor: 27, head: 31, dropped: 26 });
    const st = await store.namespaceState(ns);
    expect(st.floor).toBe(27);
    expect((await store.readChanges(ns, 26, 100)).entries.map((e) => e.seq)).toEqual([27, 28, 29, 30, 31]);
    // the op result of seq 31 survives: a retry is still a replay
    expect((await store.commitOp(ns, del, ctx())).replayed).toBe(true);
    const db = new Database(file, { readonly: true });
    expect(db.prepare('SELECT count(*) AS n FROM journal').get()).toEqual({ n: 5 });
    expect(db.prepare('SELECT count(*) AS n FROM op_results').get()).toEqual({ n: 5 });
    db.close();
    // a second trim with nothing to do changes nothing
    expect((await store.trim(t)).namespaces[0]).toMatchObject({ oldFloor: 27, newFloor: 27, dropped: 0 });
  });

  it('trim yields the event loop between chunks, so other requests are served during a big trim', async () => {
    for (let i = 0; i < 40; i++) await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `y${i}` }), ctx());
    await store.setRetention({ maxEntries: 1, maxAgeS: null });
    // versions are kept only back to the floor here, so the trim has chunks to purge
    await store.setKeepVersions(0);
    let done = false;
    const trimmed = store.trim(t).then(() => (done = true));
    // a macrotask queued after the trim began: it runs before the trim ends only if the trim yields
    const seenDuring = await new Promise<number>((resolve) => {
      let turns = 0;
      const tick = (): void => {
        if (done) resolve(turns);
        else {
          turns++;
          setImmediate(tick);
        }
      };
      setImmediate(tick);
    });
    await trimmed;
    // 39 entries in chunks of 7: at least one turn per chunk
    expect(seenDuring).toBeGreaterThanOrEqual(5);
  });

  it('age policy: entries older than max_age go, except those an active device still needs', async () => {
    const at = (now: number) => ({ deviceId: 'd_test', now, newNodeId });
    for (let i = 0; i < 10; i++) await store.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: `d${i}` }), at(1000 + i));
    await store.setRetention({ maxEntries: null, maxAgeS: 1000 });
    await store.setKeepVersions(0);
    // seen recently, applied up to seq 3: entries 4.. stay although all are old
    await store.saveActivity([{ deviceId: 'd_test', lastSeen: 9_000_000, cursorSeq: 3 }]);
    expect((await store.trim(9_500_000)).namespaces[0]).toMatchObject({ newFloor: 4, misses: 0 });
    // once the device has been away longer than max_age it protects nothing
    expect((await store.trim(20_000_000)).namespaces[0]).toMatchObject({ newFloor: 11, dropped: 7 });
  });

  it('retention policy round-trips through the database', async () => {
    expect(await store.retention()).toEqual({ maxEntries: 1_000_000, maxAgeS: 7_776_000 });
    await store.setRetention({ maxEntries: null, maxAgeS: 60 });
    const other = new SqliteStore(file);
    expect(await other.retention()).toEqual({ maxEntries: null, maxAgeS: 60 });
    await other.close();
  });

  it('activity keeps the latest last_seen and the carried cursor', async () => {
    await store.saveActivity([{ deviceId: 'd_test', lastSeen: 50, cursorSeq: 3 }]);
    await store.saveActivity([{ deviceId: 'd_test', lastSeen: 40 }]);
    const [d] = await store.devices(ns);
    expect(d).toMatchObject({ lastSeen: 50, cursorSeq: 3 });
  });

  it('blob refs: added once per namespace; the empty blob is always there', async () => {
    const h = 'f'.repeat(64);
    expect(await store.blobRef(ns, h)).toBeNull();
    expect(await store.addBlobRef(ns, h, 5, 1)).toBe(true);
    expect(await store.addBlobRef(ns, h, 5, 2)).toBe(false);
    expect(await store.blobRef(ns, h)).toEqual({ size: 5 });
    expect(await store.blobRef(ns, 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')).toEqual({ size: 0 });
  });

  it('healthCheck writes and reads back', async () => {
    await expect(store.healthCheck(123)).resolves.toBeUndefined();
  });

  it('translates a locked database into store_unavailable', async () => {
    const impatient = new SqliteStore(file, { busyTimeoutMs: 50 });
    const locker = new Database(file);
    locker.exec('BEGIN IMMEDIATE');
    await expect(impatient.commitOp(ns, op({ op: 'create', kind: 'dir', parent: 'root', name: 'x' }), ctx())).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    locker.exec('ROLLBACK');
    locker.close();
    await impatient.close();
  });
});

describe('allNodes for the version history (a snapshot in pages, store/sqlite/snapshot-read.ts)', () => {
  /** `n` file nodes straight into the table (a commit per 12,000 nodes would take the test's time) */
  function seedNodes(n: number, from = 0): void {
    const db = new Database(file);
    const ins = db.prepare("INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, target, mtime, exec, seq, deleted) VALUES (?, ?, 'root', ?, ?, 'file', 1, 0, NULL, NULL, 1, 0, 1, 0)");
    db.transaction(() => {
      for (let i = from; i < from + n; i++) ins.run(ns.id, `n_${String(i).padStart(8, '0')}`, `f${i}`, `f${i}`);
    })();
    db.close();
  }

  it('reads every node of one moment, whatever commits land between its pages, and gives the event loop back between them', async () => {
    seedNodes(12_000);
    let turns = 0;
    const ticking = setInterval(() => turns++, 0);
    let turnsWhenRead = -1;
    const read = store.allNodes(ns).then((r) => ((turnsWhenRead = turns), r));
    // while it pages: a new node, and one of the first page's nodes deleted, through another connection
    await new Promise((r) => setImmediate(r));
    const other = new Database(file);
    other.prepare("DELETE FROM nodes WHERE ns = ? AND id = 'n_00000001'").run(ns.id);
    other.close();
    seedNodes(1, 50_000);
    const rows = await read;
    clearInterval(ticking);
    const ids = new Set(rows.map((r) => r.id));
    expect(rows.length).toBe(12_000); // the 12,000, as they were when it began
    expect(ids.has('n_00000001')).toBe(true);
    expect(ids.has('n_00050000')).toBe(false);
    expect(turnsWhenRead).toBeGreaterThan(0); // timers ran while it read
    // the next read sees the changes
    const again = new Set((await store.allNodes(ns)).map((r) => r.id));
    expect(again.has('n_00000001')).toBe(false);
    expect(again.has('n_00050000')).toBe(true);
  });

  it("the content collector's sweep gives the event loop a turn between namespaces", async () => {
    for (let i = 0; i < 3; i++) await store.createDevice(`more${i}`, 'dev', `d_more${i}`, hashToken(`tok-more-${i}-0123456789`), 1);
    // before 0: no ref is due, so the pass is quick; what counts is that it gives the event
    // loop a turn: an immediate queued before it runs before it is done (a pass done in one
    // go resolves through microtasks only, before any immediate)
    let turned = false;
    setImmediate(() => (turned = true));
    const sweep = await store.content.sweepRefs(0);
    expect(sweep).toEqual({ droppedRefs: 0, droppedFiles: 0 });
    expect(turned).toBe(true);
  });
});
