// ContentStore on the SQLite journal database (../content-types.ts has the
// contract). Writes are IMMEDIATE transactions: SQLite has one writer, so a
// sweep of a namespace and a commit to it never interleave.

import type Database from 'better-sqlite3';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import type { ContentStore, FileRecipe, RefSweep } from '../content-types.js';
import type { NamespaceRef } from '../types.js';

// The hashes a namespace still needs: its nodes (tombstones included: the
// journal that names them is retained), every retained journal entry (older
// versions of updated files), and the chunks of any of those files.
const SWEEP_NS = `
  DELETE FROM blob_refs WHERE ns = :ns AND at < :before AND hash NOT IN (
    WITH f(hash) AS (
      SELECT hash FROM nodes WHERE ns = :ns AND hash IS NOT NULL
      UNION
      SELECT json_extract(entry, '$.node.hash') FROM journal WHERE ns = :ns AND json_extract(entry, '$.node.hash') IS NOT NULL
    )
    SELECT hash FROM f UNION SELECT chunk FROM file_chunks WHERE file IN (SELECT hash FROM f)
  )`;

export function sqliteContent(db: Database.Database, run: <T>(fn: () => T) => Promise<T>): ContentStore {
  const s = {
    refGet: db.prepare('SELECT 1 FROM blob_refs WHERE ns = ? AND hash = ?').pluck(),
    refInsert: db.prepare('INSERT INTO blob_refs (ns, hash, size, at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING'),
    fileGet: db.prepare('SELECT size, chunks FROM files WHERE hash = ?'),
    fileInsert: db.prepare('INSERT INTO files (hash, size, chunks) VALUES (?, ?, ?) ON CONFLICT DO NOTHING'),
    chunksGet: db.prepare('SELECT chunk AS hash, size FROM file_chunks WHERE file = ? ORDER BY idx'),
    chunkInsert: db.prepare('INSERT INTO file_chunks (file, idx, chunk, size) VALUES (?, ?, ?, ?)'),
    nsAll: db.prepare('SELECT id FROM namespaces ORDER BY id').pluck(),
    sweepNs: db.prepare(SWEEP_NS),
    dropChunkLists: db.prepare('DELETE FROM file_chunks WHERE file NOT IN (SELECT hash FROM blob_refs)'),
    dropFiles: db.prepare('DELETE FROM files WHERE hash NOT IN (SELECT hash FROM blob_refs)'),
    needed: db.prepare(
      'SELECT EXISTS (SELECT 1 FROM blob_refs WHERE hash = ?) OR EXISTS (SELECT 1 FROM file_chunks WHERE chunk = ?)',
    ).pluck(),
    orphanMark: db.prepare('INSERT INTO content_orphans (hash, since) VALUES (?, ?) ON CONFLICT DO NOTHING'),
    orphanGet: db.prepare('SELECT since FROM content_orphans WHERE hash = ?').pluck(),
    orphanClear: db.prepare('DELETE FROM content_orphans WHERE hash = ?'),
  };

  return {
    readable: (ns: NamespaceRef, hashes: readonly string[]) =>
      run(() => new Set(hashes.filter((h) => s.refGet.get(ns.id, h) !== undefined))),

    recipe: (hash: string) =>
      run((): FileRecipe | null => {
        const f = s.fileGet.get(hash) as { size: number; chunks: number } | undefined;
        if (!f) return null;
        return { hash, size: f.size, chunks: s.chunksGet.all(hash) as FileRecipe['chunks'] };
      }),

    addFile: (ns: NamespaceRef, r: FileRecipe, now: number) =>
      run(() =>
        db
          .transaction(() => {
            if (s.fileInsert.run(r.hash, r.size, r.chunks.length).changes === 1) {
              r.chunks.forEach((c, i) => s.chunkInsert.run(r.hash, i, c.hash, c.size));
            }
            for (const c of r.chunks) s.refInsert.run(ns.id, c.hash, c.size, now);
            return s.refInsert.run(ns.id, r.hash, r.size, now).changes === 1;
          })
          .immediate(),
      ),

    sweepRefs: async (before: number): Promise<RefSweep> => {
      let droppedRefs = 0;
      // one transaction per namespace, a turn of the event loop between two: a big
      // server holds neither the writer nor the server for the whole pass (a namespace
      // of 300,000 files still takes ~2 s in one go)
      for (const ns of await run(() => s.nsAll.all() as number[])) {
        droppedRefs += await run(() => db.transaction(() => s.sweepNs.run({ ns, before }).changes).immediate());
        await yieldTurn();
      }
      const droppedFiles = await run(() =>
        db
          .transaction(() => {
            s.dropChunkLists.run();
            return s.dropFiles.run().changes;
          })
          .immediate(),
      );
      return { droppedRefs, droppedFiles };
    },

    needed: (hash: string) => run(() => s.needed.get(hash, hash) === 1),

    markOrphan: (hash: string, now: number) =>
      run(() =>
        db
          .transaction(() => {
            s.orphanMark.run(hash, now);
            return s.orphanGet.get(hash) as number;
          })
          .immediate(),
      ),

    // read first: the collector calls this for every needed blob, and a write (lock) per blob would contend with commits
    clearOrphan: (hash: string) =>
      run(() => {
        if (s.orphanGet.get(hash) !== undefined) s.orphanClear.run(hash);
      }),
  };
}
