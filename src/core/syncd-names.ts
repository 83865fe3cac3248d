// syncd's own names in a synced folder, in one place. Everything whose name
// begins with `.syncd` belongs to syncd (DESIGN.md): it is never synced
// (ignore-rules.ts), never reported by the watcher, and a scan collects the
// leftovers a crash can leave (a large download's temp file is kept as a
// partial to resume from, any other goes). The one exception is the swap name, which
// is visible on purpose: it parks a node for a round while two moves
// untangle, and syncs like any other name. Pure.

/** The prefix that marks a name as syncd's own. */
export const OWN_PREFIX = '.syncd';

/** The root marker: its absence tells an unmounted disk from an emptied folder. */
export const ROOT_MARKER = '.syncd';

/** Download and symlink temp files, in the target's directory. */
export const TEMP_PREFIX = '.syncd-tmp-';

/**
 * What a large download had written when it was cut short (a crash, a
 * stop, a failed fetch), kept beside its target for the next download in
 * that directory to resume from (transfer/partials.ts): `.syncd-part-<tag>`.
 */
export const PART_PREFIX = '.syncd-part-';

/** A file renamed aside just before its checked delete (`.syncd-trash-<ino>-<random>`). */
export const TRASH_PREFIX = '.syncd-trash-';

/**
 * The local trash, at the folder's root: what a remote change took off the
 * disk waits here (`<batch>/<original path>`) until it is pruned or restored.
 */
export const TRASH_DIR = '.syncd-trash';

/** Infix of a temporary visible name given to break a swap of two moves. */
const SWAP_INFIX = '.syncd-swap-';

/** True for a name that belongs to syncd (never synced, never reported). */
export function isOwnName(name: string): boolean {
  return name.startsWith(OWN_PREFIX);
}

/** The temporary visible name that parks `name` while a swap untangles. */
export function swapName(name: string, tag: string): string {
  return `${name}${SWAP_INFIX}${tag}`;
}

/** True when a path's last name is a swap name (a parked node, not a conflicted copy). */
export function isSwapName(path: string): boolean {
  return path.includes(SWAP_INFIX);
}

/** The partial name `tag` (random) gives. */
export function partName(tag: string): string {
  return `${PART_PREFIX}${tag}`;
}

/** The trash name of a file with inode `ino`; `random` keeps two of them apart. */
export function trashName(ino: number, random: string): string {
  return `${TRASH_PREFIX}${ino}-${random}`;
}

/** The inode a trash name records, or null when `name` is no trash name. */
export function trashIno(name: string): number | null {
  if (!name.startsWith(TRASH_PREFIX)) return null;
  const m = /^(\d+)-/.exec(name.slice(TRASH_PREFIX.length));
  return m ? Number(m[1]) : null;
}
