// Retention policy as a pure function: where a trim may raise a namespace's
// floor. Entries below the floor are dropped; cursors below floor - 1 get
// reset/expired.
//
// Rules: an entry older than max_age may go, unless a device seen within
// max_age still needs it (its cursor is before it). The count cap
// (head - max_entries + 1) overrides that protection; each active device
// it pushes below the floor is a "retention miss".

import type { RetentionPolicy } from './store/types.js';

export const DEFAULT_RETENTION: RetentionPolicy = { maxEntries: 1_000_000, maxAgeS: 90 * 86_400 };

/** How long versions are kept by default (`--keep-versions-days`), seconds. */
export const DEFAULT_KEEP_VERSIONS_S = 30 * 86_400;

/**
 * Where a trim may delete history: below the floor (no cursor needs the rows)
 * AND below the first entry of the version period (no restore needs them).
 * `firstKeptSeq` is the first seq committed at or after now - keep, null when
 * every entry is older.
 */
export function purgeLimit(floor: number, head: number, firstKeptSeq: number | null): number {
  return Math.min(floor, firstKeptSeq ?? head + 1);
}

export interface TrimInput {
  head: number;
  floor: number;
  policy: RetentionPolicy;
  now: number;
  /** seq of the first entry at or after now - max_age; null when there is none */
  firstRecentSeq: number | null;
  devices: Array<{ cursorSeq: number | null; lastSeen: number | null }>;
}

export interface TrimPlan {
  floor: number;
  misses: number;
}

export function isActive(lastSeen: number | null, policy: RetentionPolicy, now: number): boolean {
  if (lastSeen === null) return false;
  return policy.maxAgeS === null || lastSeen >= now - policy.maxAgeS * 1000;
}

export function planTrim(t: TrimInput): TrimPlan {
  let floor = t.floor;
  const active = t.devices.filter((d) => d.cursorSeq !== null && isActive(d.lastSeen, t.policy, t.now));
  if (t.policy.maxAgeS !== null) {
    const ageFloor = t.firstRecentSeq ?? t.head + 1;
    // a served cursor c needs entries from c + 1 on
    const needed = active
      .map((d) => d.cursorSeq! + 1)
      .filter((s) => s >= t.floor)
      .reduce((a, b) => Math.min(a, b), Infinity);
    floor = Math.max(floor, Math.min(ageFloor, needed));
  }
  if (t.policy.maxEntries !== null) floor = Math.max(floor, t.head - t.policy.maxEntries + 1);
  floor = Math.min(floor, t.head + 1);
  const misses = active.filter((d) => d.cursorSeq! >= t.floor - 1 && d.cursorSeq! < floor - 1).length;
  return { floor, misses };
}

/** Parses a CLI/DB policy figure: a non-negative integer, 0 or "off" meaning unlimited. */
export function parsePolicyFigure(raw: string | number | null | undefined, what: string): number | null {
  if (raw === null || raw === undefined || raw === 'off') return null;
  const s = String(raw);
  if (!/^[0-9]{1,15}$/.test(s)) throw new RangeError(`${what} must be a non-negative integer (0 = unlimited)`);
  const n = Number(s);
  return n === 0 ? null : n;
}

/** A version period in seconds: a finite non-negative number. */
export function checkKeep(seconds: number): number {
  if (!Number.isFinite(seconds) || seconds < 0) throw new RangeError(`the version period must be a non-negative number of seconds, got ${seconds}`);
  return seconds;
}

/** How long one chunk of a trim's deletions should hold the store (SQLite: its one writer), ms. */
export const TRIM_SLICE_MS = 10;

/**
 * Rows for a trim's next chunk of deletions, from how long the last one
 * (`rows` rows) took: sized to about TRIM_SLICE_MS, at most doubling each
 * time, at least 64 rows (or `max`), at most `max`.
 */
export function nextTrimChunk(rows: number, tookMs: number, max: number): number {
  const fit = tookMs > 0 ? Math.floor((rows * TRIM_SLICE_MS) / tookMs) : rows * 2;
  return Math.max(Math.min(64, max), Math.min(max, rows * 2, fit));
}
