// Association: which local entry is which synced node. Inode identity
// finds local moves (a renamed directory keeps its inode, so its children
// keep their parent); a path match finds files an editor replaced by
// rename (new inode, same path). Pure.

import { nameKey } from '../protocol/names.js';
import { ROOT_ID } from '../protocol/types.js';
import type { LocalEntry, LocalTree } from './local.js';
import { baseName, parentPath, type ResolvedPaths, type TreeNode } from './tree.js';

export interface SyncedNode extends TreeNode {
  /** inode of the local object when it was last synced; null when unknown */
  ino: number | null;
}
export type SyncedTree = Map<string, SyncedNode>;

/** A synced node's local state, expressed in node terms. */
export interface LocalView {
  entry: LocalEntry;
  /** id of the synced node the parent directory belongs to; ROOT_ID at top; null if the parent is new locally */
  parentId: string | null;
  name: string;
}

export interface Association {
  /** synced id → its local view (absent: gone locally) */
  localOf: Map<string, LocalView>;
  /** NFC path → synced id that claimed the entry there */
  claimedAt: Map<string, string>;
  /** NFC path → the entry there (the first, by disk spelling, when NFC twins exist) */
  byPath: Map<string, LocalEntry>;
  /** entries whose NFC path repeats another's (NFC/NFD twins on disk) */
  twins: LocalEntry[];
}

function sameLocalContent(s: SyncedNode, e: LocalEntry): boolean {
  if (s.kind !== e.kind) return false;
  if (s.kind === 'file') return e.hash !== null && e.hash === s.hash;
  if (s.kind === 'symlink') return e.target === s.target;
  return true;
}

export function associate(synced: SyncedTree, syncedPaths: ResolvedPaths, local: LocalTree): Association {
  const byPath = new Map<string, LocalEntry>();
  const twins: LocalEntry[] = [];
  // NFC twins: the entry Synced has at that very path (by inode) keeps it,
  // then one Synced knows elsewhere (moved there locally), then the smallest
  // disk spelling, whatever the order. This matters: placing a server node
  // next to a user's new or moved-in twin must not send the placed node
  // aside (it would be placed again, forever).
  const syncedAt = new Map<number, string>();
  for (const [id, s] of synced) {
    const p = syncedPaths.pathOf.get(id);
    if (p !== undefined && s.ino !== null && s.ino > 0) syncedAt.set(s.ino, p);
  }
  const rank = (e: LocalEntry): number => {
    const p = syncedAt.get(e.ino);
    return p === e.path ? 0 : p !== undefined ? 1 : 2;
  };
  const before = (a: LocalEntry, b: LocalEntry): boolean => {
    const ka = rank(a);
    const kb = rank(b);
    return ka !== kb ? ka < kb : a.diskPath < b.diskPath;
  };
  for (const e of local.values()) {
    const had = byPath.get(e.path);
    if (!had) byPath.set(e.path, e);
    else if (before(e, had)) {
      twins.push(had);
      byPath.set(e.path, e);
    } else twins.push(e);
  }

  const byIno = new Map<number, LocalEntry | null>();
  for (const e of byPath.values()) {
    if (e.ino <= 0) continue;
    byIno.set(e.ino, byIno.has(e.ino) ? null : e); // hard links: ambiguous
  }

  const claimedAt = new Map<string, string>();
  const entryOf = new Map<string, LocalEntry>();
  const ids = [...synced.keys()].filter((id) => syncedPaths.pathOf.has(id));

  // Pass 1: inode identity (moves). A file only counts as moved when its
  // content is unchanged; otherwise an inode reused by an unrelated new file
  // could be mistaken for it.
  for (const id of ids) {
    const s = synced.get(id)!;
    if (s.ino === null || s.ino <= 0) continue;
    const e = byIno.get(s.ino);
    if (!e || e.kind !== s.kind || claimedAt.has(e.path)) continue;
    const atOwnPath = e.path === syncedPaths.pathOf.get(id);
    if (!atOwnPath && s.kind !== 'dir' && !sameLocalContent(s, e)) continue;
    claimedAt.set(e.path, id);
    entryOf.set(id, e);
  }
  // Pass 1b: an edited file whose path changed only because an ancestor
  // moved (same name, its parent is the synced parent): still the same node.
  for (const id of ids) {
    if (entryOf.has(id)) continue;
    const s = synced.get(id)!;
    if (s.ino === null || s.ino <= 0) continue;
    const e = byIno.get(s.ino);
    if (!e || e.kind !== s.kind || claimedAt.has(e.path) || baseName(e.path) !== s.name) continue;
    const pp = parentPath(e.path);
    if ((pp === '' ? ROOT_ID : claimedAt.get(pp)) !== s.parent) continue;
    claimedAt.set(e.path, id);
    entryOf.set(id, e);
  }
  // Pass 2: same path, same kind (an editor's save-by-rename changes the inode).
  for (const id of ids) {
    if (entryOf.has(id)) continue;
    const s = synced.get(id)!;
    const p = syncedPaths.pathOf.get(id)!;
    const e = byPath.get(p);
    if (!e || e.kind !== s.kind || claimedAt.has(p)) continue;
    claimedAt.set(p, id);
    entryOf.set(id, e);
  }

  caseTwinRenames(synced, syncedPaths, byPath, ids, claimedAt, entryOf);

  const localOf = new Map<string, LocalView>();
  for (const [id, entry] of entryOf) {
    const pp = parentPath(entry.path);
    const parentId = pp === '' ? ROOT_ID : (claimedAt.get(pp) ?? null);
    localOf.set(id, { entry, parentId, name: baseName(entry.path) });
  }
  return { localOf, claimedAt, byPath, twins };
}

/**
 * Pass 3: a directory renamed by hand to its case (or NFC) twin, which on
 * a case-sensitive disk is a new directory (`mkdir A; mv a/* A/; rmdir a`):
 * a synced directory gone from the disk, in whose parent an unclaimed
 * directory has the same name key (the server's names are unique by it),
 * is that directory renamed, when what it held was moved into the twin (or
 * it held nothing). Without this the twin could not be created beside the
 * old name, and the old one could not go before what moved out of it: the
 * twin became a conflicted copy.
 */
function caseTwinRenames(
  synced: SyncedTree,
  syncedPaths: ResolvedPaths,
  byPath: Map<string, LocalEntry>,
  ids: readonly string[],
  claimedAt: Map<string, string>,
  entryOf: Map<string, LocalEntry>,
): void {
  const gone = ids.filter((id) => !entryOf.has(id) && synced.get(id)!.kind === 'dir' && !byPath.has(syncedPaths.pathOf.get(id)!));
  if (gone.length === 0) return;
  // unclaimed directories by their parent's path and name key (null: more than one)
  const twins = new Map<string, LocalEntry | null>();
  for (const e of byPath.values()) {
    if (e.kind !== 'dir' || claimedAt.has(e.path)) continue;
    const k = `${parentPath(e.path)}\u0000${nameKey(baseName(e.path))}`;
    twins.set(k, twins.has(k) ? null : e);
  }
  if (twins.size === 0) return;
  const parents = new Set<string>();
  for (const n of synced.values()) parents.add(n.parent);
  // where each synced directory's children are now (the parents of their entries)
  const childDirs = new Map<string, Set<string>>();
  for (const [id, e] of entryOf) {
    const p = synced.get(id)!.parent;
    let dirs = childDirs.get(p);
    if (!dirs) childDirs.set(p, (dirs = new Set()));
    dirs.add(parentPath(e.path));
  }
  // outer directories first: a nested twin's parent is then found where it went
  const depth = (id: string): number => syncedPaths.pathOf.get(id)!.split('/').length;
  for (const id of [...gone].sort((a, b) => depth(a) - depth(b))) {
    const s = synced.get(id)!;
    const dir = s.parent === ROOT_ID ? '' : entryOf.get(s.parent)?.path;
    if (dir === undefined) continue;
    const e = twins.get(`${dir}\u0000${nameKey(s.name)}`);
    if (!e || claimedAt.has(e.path)) continue;
    if (parents.has(id) && !childDirs.get(id)?.has(e.path)) continue; // nothing of it moved there
    claimedAt.set(e.path, id);
    entryOf.set(id, e);
  }
}
