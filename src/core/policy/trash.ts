// The local trash (docs/folder-modes.md "Local trash"): what a remote change
// took off the disk waits in `.syncd-trash/` for a while. The decisions
// around it, pure: which entries a prune drops, the name of a batch folder,
// the name a restore takes when the original path is taken again.

/**
 * Why a file went to the trash (shown by `syncd trash list`): a remote delete or replace, a `syncd revert`,
 * a selective-sync exclusion (`excluded`), `syncd conflicts --keep` (`conflict`: the side not kept), or `recovered`: found in the trash unindexed after a crash.
 */
export type TrashReason = 'remote_delete' | 'remote_replace' | 'revert' | 'excluded' | 'conflict' | 'recovered';

/** What a prune needs to know of one trash entry. */
export interface TrashAge {
  id: number;
  /** when it went to the trash, ms since the epoch */
  deletedAt: number;
  size: number;
}

export interface TrashLimits {
  /** entries older than this many days go; 0 = no trash at all (everything goes) */
  days: number;
  /** the newest entries are kept up to this many bytes in all; 0 = no size cap */
  maxBytes: number;
}

const DAY_MS = 86_400_000;

/**
 * The ids of the entries to drop at `now`: every entry older than `days`
 * (one from the future, a clock set back, is kept), then, newest first,
 * every entry that no longer fits in `maxBytes` beside the newer ones kept:
 * the newest are the likeliest to be missed. An entry larger than what is
 * left goes, and smaller older ones may still fit after it.
 */
export function trashToPrune(entries: readonly TrashAge[], now: number, limits: TrashLimits): number[] {
  if (limits.days <= 0) return entries.map((e) => e.id);
  const cutoff = now - limits.days * DAY_MS;
  const drop = new Set<number>();
  const kept: TrashAge[] = [];
  for (const e of entries) {
    if (e.deletedAt < cutoff) drop.add(e.id);
    else kept.push(e);
  }
  if (limits.maxBytes > 0) {
    // newest first; ties by id so the order is total
    kept.sort((a, b) => b.deletedAt - a.deletedAt || b.id - a.id);
    let total = 0;
    for (const e of kept) {
      if (total + e.size > limits.maxBytes) drop.add(e.id);
      else total += e.size;
    }
  }
  return entries.filter((e) => drop.has(e.id)).map((e) => e.id);
}

const pad = (n: number, w = 2): string => String(n).padStart(w, '0');

/** The batch folder name of a trash entry made at `ms` (UTC): `YYYYMMDD-HHMMSS-mmm`. */
export function trashBatchName(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad(d.getUTCMonth() + 1)}${pad(d.getUTCDate())}-${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}-${pad(d.getUTCMilliseconds(), 3)}`;
}

/**
 * The name a restore takes beside `name` when `name` is taken: attempt 0
 * is the name itself, then `stem (restored).ext`, `stem (restored 2).ext`, …
 */
export function restoredName(name: string, attempt: number): string {
  if (attempt === 0) return name;
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return `${stem} (restored${attempt === 1 ? '' : ` ${attempt}`})${ext}`;
}

/** What a restore needs to know of one trash entry. */
export interface TrashVersion {
  id: number;
  path: string;
  deletedAt: number;
}

/**
 * The entries `syncd trash restore` puts back for `rel` (relative to the
 * folder): the newest version of `rel` itself; when the trash holds none,
 * the newest version of each path under `rel` (a deleted folder), or of
 * every path when `rel` is the folder itself. Sorted by path, parents first.
 */
export function entriesToRestore<E extends TrashVersion>(entries: readonly E[], rel: string): E[] {
  const exact = entries.filter((e) => e.path === rel);
  const pool = exact.length > 0 ? exact : entries.filter((e) => rel === '' || e.path.startsWith(`${rel}/`));
  const newest = new Map<string, E>();
  for (const e of pool) {
    const had = newest.get(e.path);
    if (!had || e.deletedAt > had.deletedAt || (e.deletedAt === had.deletedAt && e.id > had.id)) newest.set(e.path, e);
  }
  return [...newest.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
