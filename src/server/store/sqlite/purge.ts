// A trim's deletions on SQLite: journal entries, op results and tombstones
// below the purge limit, in chunks sized by time, each followed by a pause
// as long. SQLite runs on the server's event loop and has one write lock:
// between chunks the server serves requests, and when another process
// trims (`syncd server trim`), the server's writers get the lock instead of
// waiting out the whole trim (bench `scale_server`: trim_all).

import type Database from 'better-sqlite3';
import { setTimeout as pause } from 'node:timers/promises';
import { nextTrimChunk } from '../../retention.js';
import type { Statements } from './statements.js';

/** Rows of a trim's first chunk; later ones follow `nextTrimChunk`. */
const FIRST_TRIM_CHUNK = 500;

/** Deletes what lies below `floor` in namespace `ns`, at most `maxChunk` rows a transaction; returns the journal rows deleted. */
export async function purgeBelow(db: Database.Database, s: Statements, run: <T>(fn: () => T) => Promise<T>, ns: number, floor: number, maxChunk: number): Promise<number> {
  const lowest = (s.minSeq.get(ns) as { lo: number | null }).lo;
  let lo = Math.min(lowest ?? floor, floor);
  // the first chunk starts at 0 so op results and tombstones left below the journal are swept too
  let from = 0;
  let rows = Math.min(FIRST_TRIM_CHUNK, maxChunk);
  let dropped = 0;
  while (lo < floor) {
    const hi = Math.min(lo + rows, floor);
    const start = from;
    const t = performance.now();
    dropped += await run(() =>
      db
        .transaction(() => {
          const n = s.journalPurge.run(ns, start, hi).changes;
          s.opResultsPurge.run(ns, start, hi);
          s.tombstonePurge.run(ns, start, hi);
          return n;
        })
        .immediate(),
    );
    const took = performance.now() - t;
    rows = nextTrimChunk(rows, took, maxChunk);
    from = hi;
    lo = hi;
    await pause(took);
  }
  return dropped;
}
