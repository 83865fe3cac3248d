// Moves: following a server move on disk, sending a folder move to the
// server, and the cycle checks that keep a node from landing inside itself
// when both sides moved things, and whether a taken name will be freed.
// Pure.

import { checkName, nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import type { LocalView } from '../associate.js';
import { expectOf, type LocalEntry } from '../local.js';
import { swapName } from '../syncd-names.js';
import { isWithin, joinPath, type TreeNode } from '../tree.js';
import type { PlanState } from './state.js';

/**
 * The folder moved `id` somewhere that, combined with the server's moves,
 * would put `id` inside itself. The intended tree takes the server's
 * location for nodes the server moved and the folder's for nodes only the
 * folder moved; the Remote tree is acyclic, so every cycle in the intended
 * tree contains a folder-only move, and those lose: the node goes back.
 */
export function localMoveOverridden(st: PlanState, id: string): boolean {
  let memo = st.overridden;
  if (!memo) {
    memo = st.overridden = new Set();
    const intended = new Map<string, string>();
    for (const [nid, r] of st.input.remote) {
      const s = st.input.synced.get(nid);
      const view = st.assoc.localOf.get(nid);
      const lOnly = s && view && view.parentId !== null && (view.parentId !== s.parent || view.name !== s.name) && r.parent === s.parent && r.name === s.name;
      intended.set(nid, lOnly ? view!.parentId! : r.parent);
    }
    // overriding one move changes the intended tree and can expose another
    // cycle, so repeat until none is left (each pass overrides at least one)
    for (let changed = true; changed; ) {
      changed = false;
      for (const [nid, parent] of intended) {
        const remoteParent = st.input.remote.get(nid)!.parent;
        if (parent === remoteParent) continue; // not a folder-only move
        const seen = new Set<string>();
        for (let p: string | undefined = parent; p !== undefined && p !== ROOT_ID && !seen.has(p); p = intended.get(p)) {
          if (p === nid) {
            memo.add(nid);
            intended.set(nid, remoteParent);
            changed = true;
            break;
          }
          seen.add(p);
        }
      }
    }
  }
  return memo.has(id);
}

/** True when `candidate` lies in the remote subtree of `id`. */
export function remoteDescends(st: PlanState, candidate: string | null, id: string): boolean {
  for (let p = candidate, n = 0; p !== null && p !== ROOT_ID && n < 10_000; n++) {
    if (p === id) return true;
    p = st.input.remote.get(p)?.parent ?? null;
  }
  return false;
}

/**
 * Does the server keep node `other` at its current name? Remote changes win
 * names, so only a node the folder moved away (and the server did not) or
 * deleted (with nothing below it to keep, or only what the folder moved
 * out of it: its delete waits for those moves) will free its name.
 */
export function serverKeeps(st: PlanState, other: string): boolean {
  const s = st.input.synced.get(other);
  const r = st.remoteNode(other);
  if (!s || !r) return true;
  const view = st.assoc.localOf.get(other);
  if (!view) {
    const fate = st.remoteFate.get(other);
    return fate !== 'delete' && fate !== 'wait';
  }
  if (r.parent !== s.parent || r.name !== s.name) return true;
  return view.parentId === s.parent && view.name === s.name;
}

/** Is `other` a directory the folder deleted whose server delete waits for `id`, below it on the server, to move out? */
function waitsForItToLeave(st: PlanState, other: string, id: string): boolean {
  if (st.remoteFate.get(other) !== 'wait' || st.assoc.localOf.has(other)) return false;
  const dir = st.rp.pathOf.get(other);
  const at = st.rp.pathOf.get(id);
  return dir !== undefined && at !== undefined && isWithin(at, dir) && at !== dir;
}

/**
 * Plans moving a local entry to the node's remote location.
 * Invariants: the target directory exists locally (else wait); the target
 * path is free or freed this round by a rename aside (else wait, recorded
 * for untangling); never into the entry's own subtree.
 */
export function moveLocally(st: PlanState, id: string, r: TreeNode, e: LocalEntry): void {
  const dir = st.localPathOf(r.parent);
  if (dir === undefined) {
    st.deferred++;
    return;
  }
  const to = joinPath(dir, r.name);
  if (!st.placeable(to, e)) {
    st.deferred++;
    const occ = st.occupants(to, e)[0];
    st.blockedLocalMoves.push({ id, blocker: occ && st.assoc.claimedAt.get(occ.path), from: e.diskPath, node: r, entry: e });
    return;
  }
  if (isWithin(dir, e.path)) {
    st.deferred++; // into its own local subtree: the other node moves first
    return;
  }
  st.willExist.add(to);
  st.localMoves.push({ type: 'local_move', id, from: e.diskPath, to: joinPath(st.diskPathOf(dir), r.name), node: r, expect: expectOf(e) });
}

/**
 * Plans sending a folder move to the server.
 * Invariants: the new parent is known to the server (else wait for its id);
 * the new name is one the server accepts (else a problem, never an op); a
 * name the server keeps for another node sends the entry aside, a name
 * being freed this round makes it wait (recorded for untangling).
 */
export function pushMove(st: PlanState, id: string, r: TreeNode, view: LocalView): void {
  const pid = view.parentId;
  if (pid === null || (pid !== ROOT_ID && !st.remoteNode(pid))) {
    st.deferred++; // new or recreated parent: wait for its id
    return;
  }
  const nameOk = checkName(view.name);
  if (!nameOk.ok) {
    st.reportInvalidName(view.entry.path, nameOk.reason);
    return;
  }
  const other = st.remoteChildren.get(pid)?.get(nameKey(nameOk.name));
  if (other !== undefined && other !== id) {
    if (waitsForItToLeave(st, other, id)) {
      // the name's holder is a directory the folder deleted that waits for
      // this very node to leave it (`mv a/f f; rmdir a; mv f a`): the node
      // leaves under a temporary visible name, the directory goes, and a
      // later round gives the node its name
      st.remoteOps.push({ type: 'move', id, baseRev: r.rev, parentId: pid, name: swapName(nameOk.name, id.slice(-6)), path: view.entry.diskPath, local: view.entry });
      return;
    }
    if (serverKeeps(st, other)) {
      st.renameAside(view.entry, 'the server keeps another item at this name');
    } else {
      st.deferred++;
      st.blockedRemoteMoves.push({ id, blocker: other, baseRev: r.rev, parentId: pid, name: nameOk.name, entry: view.entry });
    }
    return;
  }
  st.remoteOps.push({ type: 'move', id, baseRev: r.rev, parentId: pid, name: nameOk.name, path: view.entry.diskPath, local: view.entry });
}
