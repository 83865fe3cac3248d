// ContentStore on the PostgreSQL journal database (../content-types.ts has
// the contract). A namespace's sweep first locks its namespace row, the lock
// every commit takes (head + 1) before it reads its facts; under READ
// COMMITTED the sweep's DELETE then sees every commit that finished first,
// and commits that come after see the refs it dropped.

import type pg from 'pg';
import type { ContentStore, FileRecipe, RefSweep } from '../content-types.js';
import type { NamespaceRef } from '../types.js';
import { query, transaction } from './pool.js';

const SQL = {
  readable: 'SELECT hash FROM blob_refs WHERE ns = $1 AND hash = ANY($2::text[])',
  refInsert: 'INSERT INTO blob_refs (ns, hash, size, at) SELECT $1, h, s, $4 FROM unnest($2::text[], $3::bigint[]) AS u(h, s) ON CONFLICT DO NOTHING',
  fileGet: 'SELECT size FROM files WHERE hash = $1',
  fileInsert: 'INSERT INTO files (hash, size, chunks) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING',
  chunksGet: 'SELECT chunk AS hash, size FROM file_chunks WHERE file = $1 ORDER BY idx',
  chunksInsert:
    'INSERT INTO file_chunks (file, idx, chunk, size) SELECT $1, i - 1, h, s FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS u(h, s, i)',
  nsAll: 'SELECT id FROM namespaces ORDER BY id',
  nsLock: 'SELECT id FROM namespaces WHERE id = $1 FOR UPDATE',
  // the same live set as the SQLite store's sweep (./../sqlite/content.ts)
  sweepNs: `
    DELETE FROM blob_refs WHERE ns = $1 AND at < $2 AND hash NOT IN (
      WITH f(hash) AS (
        SELECT hash FROM nodes WHERE ns = $1 AND hash IS NOT NULL
        UNION
        SELECT (entry::jsonb) -> 'node' ->> 'hash' FROM journal WHERE ns = $1 AND (entry::jsonb) -> 'node' ->> 'hash' IS NOT NULL
      )
      SELECT hash FROM f UNION SELECT chunk FROM file_chunks WHERE file IN (SELECT hash FROM f)
    )`,
  dropChunkLists: 'DELETE FROM file_chunks fc WHERE NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.hash = fc.file)',
  dropFiles: 'DELETE FROM files f WHERE NOT EXISTS (SELECT 1 FROM blob_refs r WHERE r.hash = f.hash)',
  needed: 'SELECT EXISTS (SELECT 1 FROM blob_refs WHERE hash = $1) OR EXISTS (SELECT 1 FROM file_chunks WHERE chunk = $1) AS needed',
  orphanMark: `INSERT INTO content_orphans (hash, since) VALUES ($1, $2) ON CONFLICT (hash) DO UPDATE SET since = content_orphans.since RETURNING since`,
  orphanClear: 'DELETE FROM content_orphans WHERE hash = $1',
} as const;

export function postgresContent(pool: pg.Pool): ContentStore {
  return {
    async readable(ns: NamespaceRef, hashes: readonly string[]) {
      if (hashes.length === 0) return new Set<string>();
      const { rows } = await query<{ hash: string }>(pool, SQL.readable, [ns.id, hashes]);
      return new Set(rows.map((r) => r.hash));
    },

    async recipe(hash: string) {
      const f = (await query<{ size: number }>(pool, SQL.fileGet, [hash])).rows[0];
      if (!f) return null;
      const { rows } = await query<{ hash: string; size: number }>(pool, SQL.chunksGet, [hash]);
      return { hash, size: Number(f.size), chunks: rows.map((r) => ({ hash: r.hash, size: Number(r.size) })) };
    },

    addFile(ns: NamespaceRef, r: FileRecipe, now: number) {
      return transaction(pool, async (c) => {
        const hashes = r.chunks.map((x) => x.hash);
        const sizes = r.chunks.map((x) => x.size);
        if ((await c.query(SQL.fileInsert, [r.hash, r.size, r.chunks.length])).rowCount === 1) {
          await c.query(SQL.chunksInsert, [r.hash, hashes, sizes]);
        }
        await c.query(SQL.refInsert, [ns.id, hashes, sizes, now]);
        return (await c.query(SQL.refInsert, [ns.id, [r.hash], [r.size], now])).rowCount === 1;
      });
    },

    async sweepRefs(before: number): Promise<RefSweep> {
      let droppedRefs = 0;
      for (const { id } of (await query<{ id: number }>(pool, SQL.nsAll)).rows) {
        droppedRefs += await transaction(pool, async (c) => {
          await c.query(SQL.nsLock, [id]);
          return (await c.query(SQL.sweepNs, [id, before])).rowCount ?? 0;
        });
      }
      const droppedFiles = await transaction(pool, async (c) => {
        await c.query(SQL.dropChunkLists);
        return (await c.query(SQL.dropFiles)).rowCount ?? 0;
      });
      return { droppedRefs, droppedFiles };
    },

    async needed(hash: string) {
      return (await query<{ needed: boolean }>(pool, SQL.needed, [hash])).rows[0]!.needed;
    },

    async markOrphan(hash: string, now: number) {
      return Number((await query<{ since: number }>(pool, SQL.orphanMark, [hash, now])).rows[0]!.since);
    },

    async clearOrphan(hash: string) {
      await query(pool, SQL.orphanClear, [hash]);
    },
  };
}
