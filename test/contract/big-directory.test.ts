// One directory of 20,000 files on both stores (issue #17): a commit into it
// checks the name against the directory without reading it, and keyset list
// pages return every live node exactly once, also while commits land between
// pages. The namespace is seeded with SQL (20,000 commits one by one would
// be 20,000 fsyncs); everything checked goes through the JournalStore.

import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nameKey } from '../../src/protocol/names.js';
import type { Op, WireNode } from '../../src/protocol/types.js';
import { hashToken, newNodeId } from '../../src/server/ids.js';
import { PostgresStore } from '../../src/server/store/postgres/store.js';
import { SqliteStore } from '../../src/server/store/sqlite/store.js';
import type { JournalStore, NamespaceRef } from '../../src/server/store/types.js';
import { createTestDatabase, pgQuery, SKIP_PG } from '../helpers/pg.js';

const FILES = 20_000;
const DIR = 'n_bigdir';
const fileId = (i: number): string => `n_f${String(i).padStart(6, '0')}`;
const fileName = (i: number): string => `file-${String(i).padStart(6, '0')}.txt`;

interface Location {
  store: JournalStore;
  /** writes the directory (seq 1) and FILES files in it (seq 2…) straight into the tables, and sets head */
  seed(ns: NamespaceRef): Promise<void>;
  destroy(): Promise<void>;
}

function bigDirectoryContract(name: string, factory: () => Promise<Location>, skip = false): void {
  (skip ? describe.skip : describe)(`a directory of ${FILES} files: ${name}`, () => {
    let loc: Location;
    let ns: NamespaceRef;
    let t = 5_000_000;
    const ctx = () => ({ deviceId: 'd_big', now: t++, newNodeId });
    const create = (name: string): Op => ({ op: 'create', op_id: randomUUID(), parent: DIR, name, kind: 'file', hash: 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', size: 0, mtime: 1, exec: false }) as Op;

    beforeAll(async () => {
      loc = await factory();
      ns = (await loc.store.createDevice('big', 'dev', 'd_big', hashToken('tok-big'), 1)).namespace;
      await loc.seed(ns);
    });
    afterAll(async () => {
      await loc?.store.close();
      await loc?.destroy();
    });

    it('a create into the directory: a taken name (in any case) is refused, a new one lands at head + 1', async () => {
      const head = (await loc.store.namespaceState(ns)).head;
      expect(head).toBe(FILES + 1);
      const taken = await loc.store.commitOp(ns, create(fileName(12_345).toUpperCase()), ctx());
      expect(taken.result, JSON.stringify(taken.result)).toMatchObject({ status: 'error', error: 'name_taken' });
      const made = await loc.store.commitOp(ns, create('new-one.txt'), ctx());
      expect(made.result).toMatchObject({ status: 'ok', seq: head + 1 });
      const changes = await loc.store.readChanges(ns, head, 100);
      expect(changes.entries.map((e) => e.seq)).toEqual([head + 1]);
    });

    it('keyset list pages return every live node exactly once, with commits landing between pages', async () => {
      const seen = new Map<string, number>();
      let after = '';
      let pages = 0;
      const made: string[] = [];
      for (;;) {
        const page = await loc.store.listNodes(ns, after, 1000);
        pages++;
        for (const n of page.nodes) seen.set(n.id, (seen.get(n.id) ?? 0) + 1);
        if (page.nodes.length < 1000) break;
        after = page.nodes[page.nodes.length - 1]!.id;
        // a file created mid-listing: a page after this one may or may not hold it (its id is random), never twice
        const r = await loc.store.commitOp(ns, create(`mid-${pages}.txt`), ctx());
        made.push((r.result as { node: WireNode }).node.id);
      }
      expect(pages).toBeGreaterThan(FILES / 1000);
      expect([...seen.values()].every((c) => c === 1)).toBe(true);
      for (let i = 0; i < FILES; i += 997) expect(seen.has(fileId(i))).toBe(true);
      expect(seen.has(DIR)).toBe(true);
      expect([...seen.keys()].filter((id) => /^n_f\d{6}$/.test(id))).toHaveLength(FILES);
      // every node is listed once or, when created behind the keyset cursor, reached through /changes instead
      const all = await loc.store.allNodes(ns);
      expect(all.filter((n) => n.deleted === 0 && !seen.has(n.id)).every((n) => made.includes(n.id))).toBe(true);
    });

    it('deleting the directory tombstones all its files in one commit, and the list is then empty', async () => {
      const dir = (await loc.store.listNodes(ns, '', 1)).nodes.find((n) => n.id === DIR)
        ?? (await loc.store.allNodes(ns)).find((n) => n.id === DIR)!;
      const del = await loc.store.commitOp(ns, { op: 'delete', op_id: randomUUID(), id: DIR, base_rev: dir.rev } as Op, ctx());
      expect(del.result).toMatchObject({ status: 'ok' });
      expect((await loc.store.listNodes(ns, '', 10)).nodes).toEqual([]);
    });
  });
}

bigDirectoryContract('sqlite', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'syncd-bigdir-'));
  const file = join(dir, 'syncd.db');
  const store = new SqliteStore(file);
  return {
    store,
    seed: async (ns) => {
      const db = new Database(file);
      const node = db.prepare(
        `INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, mtime, exec, seq)
         VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?, 1, 0, ?)`,
      );
      db.transaction(() => {
        node.run(ns.id, DIR, 'root', 'big', nameKey('big'), 'dir', null, null, 1);
        for (let i = 0; i < FILES; i++) node.run(ns.id, fileId(i), DIR, fileName(i), nameKey(fileName(i)), 'file', 0, EMPTY, i + 2);
        db.prepare('UPDATE namespaces SET head = ? WHERE id = ?').run(FILES + 1, ns.id);
      })();
      db.close();
    },
    destroy: () => rm(dir, { recursive: true, force: true }),
  };
});

bigDirectoryContract(
  'postgres',
  async () => {
    const db = await createTestDatabase();
    const store = await PostgresStore.open(db.url, { max: 4 });
    return {
      store,
      seed: async (ns) => {
        expect(nameKey(fileName(1))).toBe(fileName(1));
        await pgQuery(db.url, `INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, mtime, exec, seq) VALUES ($1, $2, 'root', 'big', 'big', 'dir', 1, 1, false, 1)`, [ns.id, DIR]);
        await pgQuery(
          db.url,
          `INSERT INTO nodes (ns, id, parent, name, name_key, kind, rev, size, hash, mtime, exec, seq)
           SELECT $1, 'n_f' || lpad(i::text, 6, '0'), $2, 'file-' || lpad(i::text, 6, '0') || '.txt', 'file-' || lpad(i::text, 6, '0') || '.txt',
                  'file', 1, 0, $3, 1, false, i + 2
           FROM generate_series(0, $4::int - 1) i`,
          [ns.id, DIR, EMPTY, FILES],
        );
        await pgQuery(db.url, 'UPDATE namespaces SET head = $1 WHERE id = $2', [FILES + 1, ns.id]);
        await pgQuery(db.url, 'ANALYZE nodes');
      },
      destroy: () => db.drop(),
    };
  },
  SKIP_PG,
);

const EMPTY = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
