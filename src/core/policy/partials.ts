// Partials (`.syncd-part-*`): what a large download had written when it was
// cut short, kept for the next download in that directory to resume from
// (transfer/partials.ts does the I/O). Which leftovers are worth keeping,
// and how many may stay: they are only a hint (every chunk taken from one
// is hashed first), so any of them may go at any time. Pure.

import { SINGLE_CHUNK_MAX } from '../chunker.js';

/** A partial older than this (since it was kept) goes: whatever it was for has been fetched another way, or never will be. */
export const PARTIAL_MAX_AGE_MS = 24 * 60 * 60 * 1000;
/** partials kept at most, the most recent first (one crash leaves at most one per large download in flight) */
export const PARTIALS_MAX = 8;
/** bytes all partials but the most recent may hold together */
export const PARTIAL_BYTES_MAX = 4 * 1024 * 1024 * 1024;

export interface PartialFile {
  path: string;
  size: number;
  /** when it was kept (its mtime is set then; a partial is never written under its partial name) */
  mtimeMs: number;
}

/**
 * Whether a download temp file of `size` bytes is kept as a partial rather
 * than removed: only a large file's (one chunk at least: smaller files
 * travel whole, and so little is not worth resuming).
 */
export function keepsAsPartial(size: number): boolean {
  return size > SINGLE_CHUNK_MAX;
}

/**
 * Which partials stay: none older than PARTIAL_MAX_AGE_MS (or dated in the
 * future: a clock that jumped), then the most recent ones, at most
 * PARTIALS_MAX of them and PARTIAL_BYTES_MAX bytes beside the most recent,
 * which stays whatever its size (the space it takes was taken already
 * when its download stopped, and it is the one most likely resumed).
 */
export function partialsToKeep(found: readonly PartialFile[], now: number): { keep: PartialFile[]; drop: PartialFile[] } {
  const keep: PartialFile[] = [];
  const drop: PartialFile[] = [];
  let bytes = 0;
  const newestFirst = [...found].sort((a, b) => b.mtimeMs - a.mtimeMs || (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const p of newestFirst) {
    const age = now - p.mtimeMs;
    const fresh = age <= PARTIAL_MAX_AGE_MS && age >= -PARTIAL_MAX_AGE_MS;
    const fits = keep.length === 0 || (keep.length < PARTIALS_MAX && bytes + p.size <= PARTIAL_BYTES_MAX);
    if (fresh && fits && keepsAsPartial(p.size)) {
      if (keep.length > 0) bytes += p.size;
      keep.push(p);
    } else drop.push(p);
  }
  return { keep, drop };
}

/**
 * The partials a download of `size` bytes may resume from, the most recent
 * first: a partial is written at the offsets of the file it was for, so it
 * is never longer than that file.
 */
export function resumeCandidates(inDir: readonly PartialFile[], size: number): string[] {
  return inDir
    .filter((p) => p.size <= size)
    .sort((a, b) => b.mtimeMs - a.mtimeMs)
    .map((p) => p.path);
}
