// A trim's deletions, for both stores: journal entries, op results and
// tombstones below the purge limit, in chunks sized by time
// (retention.ts `nextTrimChunk`: about TRIM_SLICE_MS each), each followed
// by a pause about as long as it took (0.5–1.5× at random: pauses of a
// fixed period let SQLite's busy handler, which retries every 100 ms after
// its first tries, keep landing inside a chunk: 0.5 s for one commit).
// SQLite runs on the server's event loop and has one write lock: between
// chunks the server serves requests, and when another process trims
// (`syncd server trim`) the server's commits get the lock instead of
// queueing behind the whole trim. PostgreSQL's row locks never block a
// commit, but a trim's WAL does slow its flushes; the pauses halve that
// pressure (bench `scale_server`: trim_all).

import { setTimeout as pause } from 'node:timers/promises';
import { nextTrimChunk } from '../retention.js';

/** Seqs in a trim's first chunk; later ones follow `nextTrimChunk`. */
const FIRST_TRIM_CHUNK = 128;

/**
 * Calls `purge(from, hi)` (one transaction: what lies in [from, hi), the
 * journal rows it deleted) over seqs from `lowest` (the namespace's lowest
 * journal seq, null when none) up to `floor`, at most `maxChunk` seqs at a
 * time. The first chunk starts at 0, so op results and tombstones left below
 * the journal are swept too. Returns the journal rows deleted.
 */
export async function purgeInSlices(lowest: number | null, floor: number, maxChunk: number, purge: (from: number, hi: number) => Promise<number>): Promise<number> {
  let lo = Math.min(lowest ?? floor, floor);
  let from = 0;
  let seqs = Math.min(FIRST_TRIM_CHUNK, maxChunk);
  let dropped = 0;
  while (lo < floor) {
    const hi = Math.min(lo + seqs, floor);
    const t = performance.now();
    dropped += await purge(from, hi);
    const took = performance.now() - t;
    seqs = nextTrimChunk(seqs, took, maxChunk);
    from = hi;
    lo = hi;
    await pause(took * (0.5 + Math.random()));
  }
  return dropped;
}
