// The chunk index (migration 003): for each large file this device uploaded
// or downloaded, its content-defined chunks (offset, length, hash) and the
// identity (size, mtime, inode) the file had then. Downloads ask it where a
// chunk may already be on this disk; the answer is a hint, never trusted:
// the reader checks the identity and hashes the bytes before using them.
// Rows follow the Local tree (db.ts): a path whose Local entry goes loses
// its rows, a move carries them along (a rename keeps the identity), and
// the rows of paths Local no longer has are pruned at start-up.

import type { StateStore } from './store.js';

export interface ChunkSpan {
  hash: string;
  offset: number;
  size: number;
}

export interface ChunkedIdentity {
  size: number;
  mtimeMs: number;
  ino: number;
}

/** A place on this disk where a chunk was, as recorded. */
export interface ChunkPlace {
  /** the file's disk path in the folder */
  path: string;
  offset: number;
  size: number;
  /** the file's identity when its chunks were recorded */
  identity: ChunkedIdentity;
}

/** chunk hashes per lookup query (SQLite's variable limit is far above) */
const LOOKUP_BATCH = 500;

export class ChunkIndex {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  /** Records (or replaces) the chunk list of the file at `path`, as it is with `identity`. */
  recordChunks(path: string, hash: string, identity: ChunkedIdentity, chunks: readonly ChunkSpan[]): void {
    this.#s.tx(() => {
      this.forgetChunks(path);
      this.#s.stmt('INSERT INTO chunk_files (disk_path, hash, size, mtime_ms, ino) VALUES (?, ?, ?, ?, ?)').run(path, hash, identity.size, identity.mtimeMs, identity.ino);
      const ins = this.#s.stmt('INSERT INTO chunk_spans (disk_path, offset, length, chunk) VALUES (?, ?, ?, ?)');
      for (const c of chunks) ins.run(path, c.offset, c.size, c.hash);
    });
  }

  forgetChunks(path: string): void {
    this.#s.stmt('DELETE FROM chunk_spans WHERE disk_path = ?').run(path);
    this.#s.stmt('DELETE FROM chunk_files WHERE disk_path = ?').run(path);
  }

  /** Drops the rows of `path` and of every path below it (through the primary keys). */
  forgetSubtree(path: string): void {
    this.forgetChunks(path);
    this.forgetBelow(path);
  }

  /** Drops the rows of every path below `path`. */
  forgetBelow(path: string): void {
    for (const t of ['chunk_spans', 'chunk_files']) {
      this.#s.stmt(`DELETE FROM ${t} WHERE disk_path >= ? AND disk_path < ?`).run(path + '/', path + '0');
    }
  }

  /** The rows of `from` and below it now belong to `to` and below it (whose own rows go). */
  moveSubtree(from: string, to: string): void {
    this.forgetSubtree(to);
    for (const t of ['chunk_spans', 'chunk_files']) {
      this.#s.stmt(`UPDATE ${t} SET disk_path = ? || substr(disk_path, ?) WHERE disk_path = ? OR (disk_path >= ? AND disk_path < ?)`).run(to, from.length + 1, from, from + '/', from + '0');
    }
  }

  /**
   * Drops the rows of every path that has no file in Local: one pass over
   * chunk_files (a row per large file), each looked up in Local's primary
   * key, their spans deleted through chunk_spans' primary key. Returns how
   * many files' rows went.
   */
  pruneOrphans(): number {
    const orphan = "NOT EXISTS (SELECT 1 FROM local l WHERE l.disk_path = f.disk_path AND l.kind = 'file')";
    // a lost prune is harmless (the next start prunes again): not waited for on disk
    return this.#s.lightTx(() => {
      this.#s.stmt(`DELETE FROM chunk_spans WHERE disk_path IN (SELECT f.disk_path FROM chunk_files f WHERE ${orphan})`).run();
      return this.#s.stmt(`DELETE FROM chunk_files AS f WHERE ${orphan}`).run().changes;
    });
  }

  /** The identity the recorded chunk list of `path` belongs to, or null. */
  chunkedIdentity(path: string): ChunkedIdentity | null {
    const r = this.#s.stmt('SELECT size, mtime_ms, ino FROM chunk_files WHERE disk_path = ?').get(path) as { size: number; mtime_ms: number; ino: number } | undefined;
    return r ? { size: r.size, mtimeMs: r.mtime_ms, ino: r.ino } : null;
  }

  /** Where each of these chunks was recorded (every place, so a stale one can fall back to the next). */
  chunkPlaces(hashes: readonly string[]): Map<string, ChunkPlace[]> {
    const out = new Map<string, ChunkPlace[]>();
    const unique = [...new Set(hashes)];
    for (let i = 0; i < unique.length; i += LOOKUP_BATCH) {
      const part = unique.slice(i, i + LOOKUP_BATCH);
      const rows = this.#s.db.prepare(`SELECT s.chunk, s.disk_path, s.offset, s.length, f.size, f.mtime_ms, f.ino
        FROM chunk_spans s JOIN chunk_files f ON f.disk_path = s.disk_path
        WHERE s.chunk IN (${part.map(() => '?').join(',')})`).all(...part) as { chunk: string; disk_path: string; offset: number; length: number; size: number; mtime_ms: number; ino: number }[];
      for (const r of rows) {
        const place: ChunkPlace = { path: r.disk_path, offset: r.offset, size: r.length, identity: { size: r.size, mtimeMs: r.mtime_ms, ino: r.ino } };
        const list = out.get(r.chunk);
        if (list) list.push(place);
        else out.set(r.chunk, [place]);
      }
    }
    return out;
  }
}
