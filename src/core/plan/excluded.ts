// Selective sync in the planner (docs/folder-modes.md "Selective sync"): an
// excluded subtree is "not here by choice", never "deleted". Pure.
//
// - A node on the server under an exclusion, never synced here: nothing
//   (no download, no adoption).
// - A synced node under an exclusion whose local copy is gone: forgotten,
//   never sent to the server as a delete (its remote fate is 'survive',
//   fates.ts, so no directory above it is deleted either).
// - A synced node under an exclusion whose local copy still equals Synced,
//   and so does everything below it: the local copy leaves the disk (a
//   checked local delete marked `excluded`, which the mass-delete guard does
//   not count). A local copy that changed (edit, move, unhashed) syncs by the
//   ordinary rules first, so every local change reaches the server before
//   its folder leaves; something syncd does not sync (ignored) keeps its
//   directory and is reported.
// - A new local entry at an excluded path: kept, renamed
//   `NAME (selective sync conflict)` and synced under that name; never
//   merged into the server's excluded content. An empty directory there
//   (or one holding only ignored files, which Local leaves out) is left
//   alone and reported. A new entry inside an
//   excluded directory that is still on disk (draining) is uploaded first,
//   unless the server has something at its name.

import { ROOT_ID } from '../../protocol/types.js';
import type { LocalView, SyncedNode } from '../associate.js';
import { expectOf, type LocalEntry } from '../local.js';
import { nameKey } from '../../protocol/names.js';
import { baseName, parentPath, type TreeNode } from '../tree.js';
import { localMoveOverridden } from './moves.js';
import { sortByDepth } from './order.js';
import { bothAlive, goneBoth, localCreated, remoteGone } from './rules.js';
import { localContentEquals, type PlanState } from './state.js';

/** The local copy is what Synced recorded, where Synced recorded it, and hashed. */
function unchanged(s: SyncedNode, view: LocalView): boolean {
  const e = view.entry;
  if (e.kind === 'file' && e.hash === null) return false;
  return view.parentId === s.parent && view.name === s.name && localContentEquals(s, e);
}

/**
 * The local copy holds what Synced recorded, and the folder's move of it
 * loses to the server's moves (it would close a cycle, moves.ts): it goes
 * back where the server has it, inside the exclusion, so it may leave as if
 * never moved; waiting to move it back into a folder that is not on disk
 * would keep it (and what holds it) for ever.
 */
function movedBackIn(st: PlanState, id: string, s: SyncedNode, view: LocalView): boolean {
  const e = view.entry;
  return !(e.kind === 'file' && e.hash === null) && localContentEquals(s, e) && localMoveOverridden(st, id);
}

/** Bottom-up: which local entries under an exclusion may leave the disk this round (st.leavable). */
export function computeLeavable(st: PlanState): void {
  if (!st.input.excluded?.length) return;
  const blocked = new Set<string>(); // directories with something below that must stay
  for (const e of sortByDepth([...st.assoc.byPath.values()], (x) => x.path, -1)) {
    const id = st.assoc.claimedAt.get(e.path);
    const rpath = id === undefined ? undefined : st.rp.pathOf.get(id);
    const parent = parentPath(e.path);
    if (st.excludedRoot(e.path) === undefined && (rpath === undefined || st.excludedRoot(rpath) === undefined)) {
      blocked.add(parent); // not leaving: whatever holds it stays
      continue;
    }
    if (st.ignored(e.path, e.kind === 'dir')) {
      if (parent === '' || !st.ignored(parent, true)) {
        st.problems.push({ path: e.path, code: 'excluded_kept', message: `"${e.path}" is excluded but holds something syncd does not sync (ignored); it stays on disk` });
      }
      blocked.add(parent);
      continue;
    }
    const view = id === undefined ? undefined : st.assoc.localOf.get(id);
    const s = view === undefined ? undefined : st.input.synced.get(id!)!;
    const ok = view !== undefined && !blocked.has(e.path) && (unchanged(s!, view) || movedBackIn(st, id!, s!, view)) &&
      (rpath === undefined || st.excludedRoot(rpath) !== undefined) && // moved out by the server: it follows that move
      !movingIn(st, id!, e.path);
    if (ok) st.leavable.add(e.path);
    else blocked.add(parent);
  }
}

/**
 * Something the server moved into directory `id` is still elsewhere on disk:
 * it lands here first. Not a directory that holds this one on disk (the
 * server swapped the two): it cannot move into its own subtree, and waiting
 * for it would keep both on disk for ever; it follows its own rules.
 */
function movingIn(st: PlanState, id: string, path: string): boolean {
  for (const child of st.remoteChildren.get(id)?.values() ?? []) {
    const v = st.assoc.localOf.get(child);
    if (v && parentPath(v.entry.path) !== path && !path.startsWith(`${v.entry.path}/`)) return true;
  }
  return false;
}

/** A node whose server location (or, gone there, its synced one) is excluded: see the header. */
export function excludedNode(st: PlanState, id: string, s: SyncedNode | undefined, r: TreeNode | undefined, view: LocalView | undefined, spath: string | undefined): void {
  if (!s) return; // on the server only: not downloaded
  if (!view) {
    goneBoth(st, id, spath!); // no local copy: forgotten here, kept on the server
    return;
  }
  const e = view.entry;
  if (st.leavable.has(e.path)) {
    st.localDeletes.push({ type: 'local_delete', id, path: e.diskPath, expect: expectOf(e), excluded: true });
    return;
  }
  // unchanged: it waits for what is below it (being uploaded, or kept and
  // reported); a server change under an exclusion is not downloaded
  if (unchanged(s, view) && r) return;
  if (r && (r.parent !== s.parent || r.name !== s.name) && st.localPathOf(r.parent) === undefined) {
    // changed here, moved by the server into an excluded folder that is not
    // on disk: it cannot follow, so both survive; forgotten, the local
    // entry is synced as a new one next round (the server keeps its node)
    st.state.push({ type: 'forget', id, path: e.path });
    return;
  }
  // a local change (or a directory the server deleted while something new
  // below it must reach the server): the ordinary rules send it first
  if (r) bothAlive(st, id, s, r, view);
  else remoteGone(st, id, view);
}

/**
 * The exclusion a new local entry falls under: by its own path, or by where
 * the server has its directory (moved into an excluded folder).
 */
export function exclusionOfNew(st: PlanState, e: LocalEntry): string | undefined {
  const own = st.excludedRoot(e.path);
  if (own !== undefined || !st.input.excluded?.length) return own;
  const dir = parentPath(e.path);
  const pid = dir === '' ? undefined : st.assoc.claimedAt.get(dir);
  const rdir = pid === undefined ? undefined : st.rp.pathOf.get(pid);
  return rdir === undefined ? undefined : st.excludedRoot(`${rdir}/${baseName(e.path)}`);
}

/** Local has an entry below directory `path`. */
function holdsAnything(st: PlanState, path: string): boolean {
  const prefix = `${path}/`;
  for (const p of st.assoc.byPath.keys()) if (p.startsWith(prefix)) return true;
  return false;
}

/** A new local entry under exclusion `root`: see the header. */
export function excludedLocalCreated(st: PlanState, e: LocalEntry, root: string): void {
  const dir = parentPath(e.path);
  const pid = dir === '' ? ROOT_ID : st.assoc.claimedAt.get(dir);
  if (pid === undefined) {
    st.deferred++; // its directory is new too: that one is decided first
    return;
  }
  const serverHas = st.remoteChildren.get(pid)?.has(nameKey(baseName(e.path))) ?? false;
  if ((e.path === root || serverHas) && e.kind === 'dir' && !holdsAnything(st, e.path)) {
    // nothing in it syncd syncs: what is left of an excluded folder whose
    // removal met ignored files (the scan leaves them out), or a new empty
    // folder; left alone, nothing in it can be lost
    st.problems.push({ path: e.path, code: 'excluded_kept', message: `"${e.path}" is excluded; the folder stays on disk as nothing in it is synced (it is empty, or holds only ignored files)` });
    return;
  }
  if (e.path === root || serverHas) {
    st.renameAside(e, `"${root}" is excluded from sync on this device (selective sync)`, true);
    return;
  }
  localCreated(st, e);
}
