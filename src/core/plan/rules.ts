// The per-node rules: one function per case of (Synced, Remote, Local)
// presence, each deciding what this round does for one node or entry and
// recording it in the PlanState. Pure. DESIGN.md "Conflicts":
// - Remote≠Synced is a remote change, Local≠Synced a local change.
// - Both sides changed to the same content: agree (adopt), never a conflict.
// - Content vs content: the remote version keeps the path, the local one is
//   renamed to a conflicted copy (and uploaded as a new file).
// - Edit or move beats delete, on either side (fates.ts).
// - Move vs move: the remote location wins. Move vs edit: both apply.
// - A name the server would refuse (a case or Unicode twin): the local
//   entry is renamed to a conflicted copy.

import { checkName, nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import type { LocalView, SyncedNode } from '../associate.js';
import { expectOf, pathKey, type LocalEntry } from '../local.js';
import { baseName, isWithin, joinPath, parentPath, sameContent, type TreeNode } from '../tree.js';
import { localMoveOverridden, moveLocally, pushMove, remoteDescends, serverKeeps } from './moves.js';
import { localContentEquals, type PlanState } from './state.js';

function contentOf(s: SyncedNode): Partial<TreeNode> {
  return { hash: s.hash, size: s.size, exec: s.exec, target: s.target };
}

/**
 * Plans the local creation of remote node r at its remote location.
 * Invariants: its parent exists locally or is created this round (else
 * wait); nothing is ever written through a symlink (a link where a
 * directory goes is moved aside first); an occupied path is cleared by
 * renaming unclaimed entries aside, or waited for.
 */
export function placeLocally(st: PlanState, r: TreeNode): void {
  const parentLocal = st.localPathOf(r.parent);
  if (parentLocal === undefined) {
    // parent is being created this round?
    const pr = st.rp.pathOf.get(r.parent);
    if (pr === undefined || !st.willExist.has(pr)) {
      st.deferred++;
      return;
    }
  }
  const dirPath = parentLocal ?? st.rp.pathOf.get(r.parent)!;
  const path = joinPath(dirPath, r.name);
  const symlinkThere = st.occupants(path).find((e) => e.kind === 'symlink' && r.kind === 'dir' && e.path === path);
  if (symlinkThere && st.assoc.claimedAt.get(path) === undefined) {
    // never a write through it: the link goes aside as a conflicted copy,
    // the directory lands next round
    st.renameAside(symlinkThere, 'the server has a directory at this path');
    st.deferred++;
    return;
  }
  if (!st.placeable(path)) {
    st.deferred++;
    return;
  }
  const disk = joinPath(st.diskPathOf(dirPath), r.name);
  st.willExist.add(path);
  if (r.kind === 'dir') st.mkdirs.push({ type: 'mkdir', id: r.id, path: disk, node: r });
  else if (r.kind === 'symlink') st.content.push({ type: 'symlink', id: r.id, path: disk, node: r, expect: null });
  else st.content.push({ type: 'download', id: r.id, path: disk, node: r, expect: null });
}

/**
 * Synced, remote and local all present.
 * Invariants: an unhashed file waits; location is settled before content
 * (content waits for the next round); both sides moving to the same place
 * is adopted; a folder-only move that would close a cycle with the
 * server's moves loses; otherwise a remote move is followed locally and a
 * local move is sent, never both in one round.
 */
export function bothAlive(st: PlanState, id: string, s: SyncedNode, r: TreeNode, view: LocalView): void {
  const e = view.entry;
  if (e.kind === 'file' && e.hash === null) {
    st.deferred++; // not hashed yet
    return;
  }
  const rMoved = r.parent !== s.parent || r.name !== s.name;
  const lMoved = view.parentId !== s.parent || view.name !== s.name;
  const rEdited = !sameContent(r, s);
  const lEdited = !localContentEquals(s, e);

  // Location first; content waits for the next round.
  if (rMoved && lMoved && view.parentId === r.parent && view.name === r.name) {
    st.state.push({ type: 'adopt', id, node: { ...r, ...(rEdited || lEdited ? contentOf(s) : {}) }, path: e.path, local: e });
    return;
  }
  if (lMoved && !rMoved && localMoveOverridden(st, id)) {
    // together with the server's moves this would put it inside itself: remote wins
    moveLocally(st, id, r, e);
    return;
  }
  if (lMoved && !rMoved && remoteDescends(st, view.parentId, id)) {
    st.deferred++; // its target is still below it on the server: that node's move-out lands first
    return;
  }
  if (rMoved) {
    moveLocally(st, id, r, e);
    return;
  }
  if (lMoved) {
    pushMove(st, id, r, view);
    return;
  }
  contentRule(st, id, s, r, e);
}

/**
 * Content, once both sides agree on the location.
 * Invariants: equal content on both sides is adopted, never a conflict;
 * a true clash keeps the remote version at the path and moves the local
 * one aside (never overwritten: the download expects nothing there); a
 * one-sided change is carried over with the state it replaces as `expect`;
 * an unchanged node whose rev, inode or mtime moved is re-adopted.
 */
export function contentRule(st: PlanState, id: string, s: SyncedNode, r: TreeNode, e: LocalEntry): void {
  const rEdited = !sameContent(r, s);
  const lEdited = !localContentEquals(s, e);
  if (rEdited && lEdited) {
    if (localContentEquals(r, e)) {
      st.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
    } else if (r.kind === 'dir') {
      st.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
    } else {
      // true clash: remote keeps the path, local goes aside and is uploaded as new
      st.renameAside(e, 'both sides changed this file');
      st.content.push(r.kind === 'symlink'
        ? { type: 'symlink', id, path: e.diskPath, node: r, expect: null }
        : { type: 'download', id, path: e.diskPath, node: r, expect: null });
      st.willExist.add(e.path);
    }
    return;
  }
  if (rEdited) {
    if (r.kind === 'file' && r.hash === e.hash) st.content.push({ type: 'chmod', id, path: e.diskPath, node: r, expect: expectOf(e) });
    else if (r.kind === 'symlink') st.content.push({ type: 'symlink', id, path: e.diskPath, node: r, expect: expectOf(e) });
    else if (r.kind === 'file') st.content.push({ type: 'download', id, path: e.diskPath, node: r, expect: expectOf(e) });
    else st.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
    return;
  }
  if (lEdited) {
    st.remoteOps.push({ type: 'update', id, baseRev: r.rev, path: e.diskPath, local: e });
    return;
  }
  if (r.rev !== s.rev || s.ino !== e.ino || r.mtime !== s.mtime) {
    st.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
  }
}

/**
 * Synced and remote present; gone locally.
 * Invariants: the remote delete is sent only when the remote fate is
 * 'delete' (nothing in the subtree changed on the server), and only by the
 * top-most node of a deletable subtree; a surviving node is placed back
 * locally; a symlink that replaced a surviving directory goes aside.
 */
export function localGone(st: PlanState, id: string, s: SyncedNode, r: TreeNode): void {
  const spath = st.sp.pathOf.get(id)!;
  const sym = st.assoc.byPath.get(spath);
  const fate = st.remoteFate.get(id);
  if (s.kind === 'dir' && sym?.kind === 'symlink' && fate === 'survive') {
    // the directory comes back (something in it changed on the server), so
    // the link that replaced it goes aside; never a write through it
    st.handledLocal.add(sym.path);
    st.renameAside(sym, 'the server keeps a directory at this path');
    st.deferred++;
    return;
  }
  if (fate === 'survive') {
    placeLocally(st, r); // edit (or something below) beats the local delete
    return;
  }
  if (fate === 'wait') {
    st.deferred++;
    return;
  }
  // delete: only the top-most node of a deletable subtree sends the op
  if (r.parent !== ROOT_ID && st.remoteFate.get(r.parent) === 'delete' && !st.assoc.localOf.has(r.parent)) return;
  st.remoteOps.push({ type: 'delete', id, baseRev: r.rev, path: spath });
}

/**
 * Synced and local present; gone remotely.
 * Invariants: the local delete is planned only when the local fate is
 * 'delete' (unchanged since Synced, and so is everything below), with the
 * entry's state as `expect`; a survivor is uploaded as a new node once hashed.
 */
export function remoteGone(st: PlanState, id: string, view: LocalView): void {
  const e = view.entry;
  const fate = st.localFate.get(e.path);
  if (fate === 'delete') {
    st.localDeletes.push({ type: 'local_delete', id, path: e.diskPath, expect: expectOf(e) });
    return;
  }
  if (fate === 'wait') {
    st.deferred++;
    return;
  }
  if (e.kind === 'file' && e.hash === null) {
    st.deferred++;
    return;
  }
  createRemote(st, e, id);
}

/** Does something below server node `id` sit, on disk, at or below `path`? */
function movesInto(st: PlanState, id: string, path: string): boolean {
  const stack = [id];
  for (let cur = stack.pop(); cur !== undefined; cur = stack.pop()) {
    for (const child of st.remoteChildren.get(cur)?.values() ?? []) {
      const v = st.assoc.localOf.get(child);
      if (v && isWithin(v.entry.path, path)) return true;
      stack.push(child);
    }
  }
  return false;
}

/**
 * Uploads a local entry as a new node (new file, or a survivor of a remote delete).
 * Invariants: the parent is known to the server (else wait); the name is
 * one the server accepts (else a problem); a name another server node keeps
 * sends the entry aside, a name being freed makes it wait (untangle.ts can
 * break the wait); a node the server just created at this name is settled
 * from that node's side (remoteCreated).
 */
export function createRemote(st: PlanState, e: LocalEntry, replaces: string | null): void {
  const dir = parentPath(e.path);
  const pid = dir === '' ? ROOT_ID : st.assoc.claimedAt.get(dir);
  if (pid === undefined || (pid !== ROOT_ID && !st.remoteNode(pid))) {
    st.deferred++;
    return;
  }
  const name = baseName(e.path);
  const nameOk = checkName(name);
  if (!nameOk.ok) {
    st.reportInvalidName(e.path, nameOk.reason);
    return;
  }
  const other = st.remoteChildren.get(pid)?.get(nameKey(name));
  if (other !== undefined && other !== replaces) {
    // a new local entry next to a node the server created is settled from
    // that node's side (adopt or conflicted copy), unless that node is
    // excluded here (selective sync): its side does nothing, so the entry
    // goes aside as a selective sync conflict and is uploaded under that name
    if (replaces === null && !st.input.synced.has(other)) {
      const at = st.rp.pathOf.get(other);
      if (at !== undefined && st.excludedRoot(at) !== undefined) st.renameAside(e, `"${at}" is excluded from sync on this device (selective sync)`, true);
      return;
    }
    // (a deleted directory waiting for its contents to move out frees its
    // name, unless they move into this new entry, which cannot exist before;
    // a node that itself moves away frees it whatever it holds)
    if (serverKeeps(st, other) || (!st.assoc.localOf.has(other) && movesInto(st, other, e.path))) {
      st.renameAside(e, 'the server keeps another item at this name');
      // the node this entry survived is gone from the server: kept in Synced
      // at this path, it would claim the server's node once that lands here
      // and send it aside too, round after round (a copy per round)
      if (replaces !== null && !st.syncedParents.has(replaces)) st.state.push({ type: 'forget', id: replaces, path: e.path });
    } else {
      st.deferred++; // the other node is leaving (its delete or move is planned)
      st.leaving.push(other);
    }
    return;
  }
  st.remoteOps.push({ type: 'create', path: e.diskPath, parentId: pid, name: nameOk.name, local: e, replaces });
}

/**
 * On the server only (created there since the last sync).
 * Invariants: an unclaimed local entry at the exact path with the same
 * content (or both directories) is adopted, never downloaded over; a
 * different one goes aside and the remote one takes the path; case or
 * Unicode twins of the path are left to placeLocally.
 */
export function remoteCreated(st: PlanState, r: TreeNode, rpath: string): void {
  const occ = st.occupants(rpath);
  const exact = occ.find((e) => e.path === rpath && !st.assoc.claimedAt.has(e.path));
  if (exact) {
    st.handledLocal.add(exact.path);
    if (exact.kind === 'file' && exact.hash === null) {
      st.deferred++;
      return;
    }
    if (r.kind === exact.kind && (r.kind === 'dir' || localContentEquals(r, exact))) {
      st.state.push({ type: 'adopt', id: r.id, node: r, path: rpath, local: exact });
      if (r.kind === 'dir') st.willExist.add(rpath); // its children may land this round
      return;
    }
    // both created different things at one path: remote keeps it
    st.renameAside(exact, 'the server has a different item at this path');
    if (r.kind !== 'dir') {
      st.willExist.add(rpath);
      st.content.push(r.kind === 'symlink'
        ? { type: 'symlink', id: r.id, path: exact.diskPath, node: r, expect: null }
        : { type: 'download', id: r.id, path: exact.diskPath, node: r, expect: null });
    } else st.deferred++;
    return;
  }
  for (const e of occ) if (!st.assoc.claimedAt.has(e.path)) st.handledLocal.add(e.path);
  placeLocally(st, r);
}

/**
 * In Synced only (gone on both sides).
 * Invariant: a node is forgotten only after its synced children, so Synced
 * never holds an orphan.
 */
export function goneBoth(st: PlanState, id: string, spath: string): void {
  if (st.syncedParents.has(id)) st.deferred++; // children first, so Synced never orphans
  else st.state.push({ type: 'forget', id, path: spath });
}

/**
 * A local entry no node claims (new in the folder), visited parents first.
 * Invariants: an invalid name is reported, never sent; an unhashed file
 * waits; of local twins by case or Unicode form, the claimed one (or the
 * first by path) keeps the name and the others go aside.
 */
export function localCreated(st: PlanState, e: LocalEntry): void {
  const nameOk = checkName(baseName(e.path));
  if (!nameOk.ok) {
    st.reportInvalidName(e.path, nameOk.reason);
    return;
  }
  if (e.kind === 'file' && e.hash === null) {
    st.deferred++;
    return;
  }
  // a local twin (by case) of an entry already claimed or created first
  const twin = (st.localByKey.get(pathKey(e.path)) ?? []).find((o) => o !== e && !st.renamedAside.has(o.path) && (st.assoc.claimedAt.has(o.path) || o.path < e.path));
  if (twin) {
    st.renameAside(e, `"${twin.path}" differs from it only in letter case or Unicode form`);
    return;
  }
  createRemote(st, e, null);
}
