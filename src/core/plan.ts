// The three-way planner: plan(Remote, Synced, Local) → ops. Pure: no disk,
// network, DB or clock (the time for conflicted-copy names is an input).
//
// It plans in rounds. Each call emits only ops that are valid against the
// trees it was given (a child waits until its parent exists on the side it
// is created on, a move waits until its target is free, ops under a
// directory that moves this round wait), and the engine executes them,
// records what actually happened, and plans again until nothing is left.
//
// Rules (DESIGN.md "Conflicts"):
// - Remote≠Synced is a remote change, Local≠Synced a local change.
// - Both sides changed to the same content: agree (adopt), never a conflict.
// - Content vs content: the remote version keeps the path, the local one is
//   renamed to a conflicted copy (and uploaded as a new file).
// - Edit or move beats delete, on either side; a directory is deleted only
//   when nothing below it must survive.
// - Move vs move: the remote location wins. Move vs edit: both apply.
// - A name the server would refuse (a case or Unicode twin): the local
//   entry is renamed to a conflicted copy.

import { checkName, nameKey } from '../protocol/names.js';
import { ROOT_ID } from '../protocol/types.js';
import { associate, type Association, type LocalView, type SyncedNode, type SyncedTree } from './associate.js';
import { conflictedCopyName } from './conflict-name.js';
import { isBuiltinIgnoredPath } from './ignore-rules.js';
import { expectOf, pathKey, type LocalEntry, type LocalTree } from './local.js';
import type { LocalOp, Plan, PlanOp, PlanProblem, RemoteOp, StateOp } from './ops.js';
import { baseName, depth, isWithin, joinPath, parentPath, resolvePaths, sameContent, type ResolvedPaths, type Tree, type TreeNode } from './tree.js';

export interface PlanInput {
  remote: Tree;
  synced: SyncedTree;
  local: LocalTree;
  /** device label used in conflicted-copy names */
  device: string;
  /** ms since epoch, for conflicted-copy names */
  now: number;
  /** user ignore rules (.syncignore); built-in ignores always apply */
  isIgnored?: (path: string, isDir: boolean) => boolean;
}

type Fate = 'delete' | 'survive' | 'wait';

function localContentEquals(node: TreeNode, e: LocalEntry): boolean {
  return sameContent(node, { kind: e.kind, hash: e.hash, exec: e.exec, target: e.target });
}

function byDepthThenPath(a: string, b: string): number {
  return depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0);
}

class Planner {
  readonly problems: PlanProblem[] = [];
  readonly state: StateOp[] = [];
  readonly renames: LocalOp[] = [];
  readonly localMoves: LocalOp[] = [];
  readonly mkdirs: LocalOp[] = [];
  readonly content: LocalOp[] = [];
  readonly localDeletes: LocalOp[] = [];
  readonly remoteOps: RemoteOp[] = [];
  deferred = 0;
  /** blocked moves, for breaking swap cycles when nothing else can run */
  readonly blockedLocalMoves: { id: string; blocker: string | undefined; from: string; node: TreeNode; entry: LocalEntry }[] = [];
  readonly blockedRemoteMoves: { id: string; blocker: string; baseRev: number; parentId: string; name: string; entry: LocalEntry }[] = [];

  readonly rp: ResolvedPaths;
  readonly sp: ResolvedPaths;
  readonly assoc: Association;
  readonly ignoredMemo = new Map<string, boolean>();
  /** pathKey → entries (NFC paths) */
  readonly localByKey = new Map<string, LocalEntry[]>();
  /** parent id → nameKey → remote child id */
  readonly remoteChildren = new Map<string, Map<string, string>>();
  /** local NFC paths that will be occupied after this round (mkdir / download targets) */
  readonly willExist = new Set<string>();
  /** path keys handed out as conflicted-copy names this round */
  readonly reserved = new Set<string>();
  /** local paths (NFC) already moved aside this round */
  readonly renamedAside = new Set<string>();
  /** local NFC paths consumed by adopt/conflict decisions for remote-created nodes */
  readonly handledLocal = new Set<string>();
  /** nodes whose folder-only move would close a cycle with the server's moves (lazy) */
  overridden: Set<string> | null = null;
  /** claimed local entries that kept something else from being placed */
  readonly blockers: LocalEntry[] = [];
  /** server nodes a new local entry waits on to leave its name */
  readonly leaving: string[] = [];
  /** synced ids that have synced children */
  readonly syncedParents = new Set<string>();
  readonly localFate = new Map<string, Fate>();
  readonly remoteFate = new Map<string, Fate>();

  constructor(readonly input: PlanInput) {
    this.rp = resolvePaths(input.remote);
    // a Synced collision (a node adopted at a path whose previous node had
    // not been retired yet) keeps the node the server still has there, then
    // one it has elsewhere: the other one is forgotten and decided afresh
    // (nothing is lost), never re-adopted in a loop
    this.sp = resolvePaths(input.synced, (id) => {
      const r = input.remote.get(id);
      const s = input.synced.get(id)!;
      if (!r) return 2;
      return r.parent === s.parent && r.name === s.name ? 0 : 1;
    });
    this.assoc = associate(input.synced, this.sp, input.local);
    for (const p of this.rp.problems) {
      this.problems.push({ path: `remote:${p.id}`, code: `remote_${p.code}`, message: p.message });
    }
    for (const e of this.assoc.byPath.values()) {
      const k = pathKey(e.path);
      const list = this.localByKey.get(k);
      if (list) list.push(e);
      else this.localByKey.set(k, [e]);
    }
    for (const n of input.synced.values()) this.syncedParents.add(n.parent);
    for (const [id, node] of input.remote) {
      if (!this.rp.pathOf.has(id)) continue;
      let m = this.remoteChildren.get(node.parent);
      if (!m) this.remoteChildren.set(node.parent, (m = new Map()));
      m.set(nameKey(node.name), id);
    }
  }

  // ---- helpers -----------------------------------------------------------

  ignored(path: string, isDir: boolean): boolean {
    const memo = this.ignoredMemo.get(path);
    if (memo !== undefined) return memo;
    const parent = parentPath(path);
    const result =
      isBuiltinIgnoredPath(baseName(path)) ||
      (parent !== '' && this.ignored(parent, true)) ||
      (this.input.isIgnored?.(path, isDir) ?? false);
    this.ignoredMemo.set(path, result);
    return result;
  }

  remoteNode(id: string): TreeNode | undefined {
    return this.rp.pathOf.has(id) ? this.input.remote.get(id) : undefined;
  }

  /** Local NFC path of a synced node's entry; '' for the root. */
  localPathOf(id: string): string | undefined {
    if (id === ROOT_ID) return '';
    return this.assoc.localOf.get(id)?.entry.path;
  }

  /** Disk spelling of a local NFC directory path (new dirs are spelled in NFC). */
  diskPathOf(path: string): string {
    if (path === '') return '';
    return this.assoc.byPath.get(path)?.diskPath ?? joinPath(this.diskPathOf(parentPath(path)), baseName(path));
  }

  /** Entries (other than `self`) occupying a path by case/Unicode-insensitive key. */
  occupants(path: string, self?: LocalEntry): LocalEntry[] {
    return (this.localByKey.get(pathKey(path)) ?? []).filter((e) => e !== self && !this.renamedAside.has(e.path));
  }

  takenKeys(dirPath: string, parentId: string | null): Set<string> {
    const taken = new Set<string>();
    for (const e of this.assoc.byPath.values()) {
      if (parentPath(e.path) === dirPath) taken.add(nameKey(baseName(e.path)));
    }
    if (parentId) for (const k of this.remoteChildren.get(parentId)?.keys() ?? []) taken.add(k);
    const dirKey = pathKey(dirPath);
    for (const k of this.reserved) if (parentPath(k) === dirKey) taken.add(baseName(k));
    return taken;
  }

  /** Moves a local entry aside under a conflicted-copy name. */
  renameAside(e: LocalEntry, reason: string): void {
    if (this.renamedAside.has(e.path)) return;
    const dir = parentPath(e.path);
    const dirId = dir === '' ? ROOT_ID : (this.assoc.claimedAt.get(dir) ?? null);
    const name = conflictedCopyName(baseName(e.path), e.kind === 'dir', this.input.device, this.input.now, this.takenKeys(dir, dirId));
    const to = joinPath(parentPath(e.diskPath), name); // beside the entry, in its own directory's spelling
    this.reserved.add(pathKey(joinPath(dir, name)));
    this.renamedAside.add(e.path);
    this.renames.push({ type: 'conflict_rename', path: e.diskPath, to, expect: expectOf(e), reason });
  }

  /**
   * Can a local object be placed at NFC `path` this round? Clears the way by
   * renaming unrelated new local entries aside; waits for claimed ones.
   */
  placeable(path: string, self?: LocalEntry): boolean {
    for (const occ of this.occupants(path, self)) {
      if (this.assoc.claimedAt.has(occ.path)) {
        this.blockers.push(occ); // a synced node still there: its own op moves it
        return false;
      }
      this.renameAside(occ, `the server has another item at "${path}"`);
    }
    return !this.willExist.has(path);
  }

  // ---- fates of deletions ------------------------------------------------

  /** Bottom-up: can a locally unchanged subtree whose remote is gone be deleted locally? */
  computeLocalFates(): void {
    const entries = sortByDepth([...this.assoc.byPath.values()], (e) => e.path, -1);
    const agg = new Map<string, { survive: boolean; wait: boolean }>();
    for (const e of entries) {
      const id = this.assoc.claimedAt.get(e.path);
      let fate: Fate;
      if (this.ignored(e.path, e.kind === 'dir')) fate = 'survive';
      else if (id === undefined) fate = 'survive';
      else if (this.remoteNode(id)) {
        // alive remotely elsewhere: it moves out (wait), unless only the
        // local side moved it in here, which makes this directory needed
        const r = this.remoteNode(id)!;
        const s = this.input.synced.get(id)!;
        fate = r.parent !== s.parent || r.name !== s.name ? 'wait' : 'survive';
      }
      else if (!this.input.remote.has(id)) {
        const s = this.input.synced.get(id)!;
        const view = this.assoc.localOf.get(id)!;
        const changed = !localContentEquals(s, e) || view.parentId !== s.parent || view.name !== s.name;
        const a = agg.get(e.path);
        fate = changed || a?.survive ? 'survive' : a?.wait ? 'wait' : 'delete';
      } else fate = 'wait'; // remote has it but cannot place it: leave alone
      this.localFate.set(e.path, fate);
      const pp = parentPath(e.path);
      if (pp === '') continue;
      const pa = agg.get(pp) ?? { survive: false, wait: false };
      if (fate === 'survive') pa.survive = true;
      if (fate === 'wait') pa.wait = true;
      agg.set(pp, pa);
    }
  }

  /** Bottom-up: can a remotely unchanged subtree whose local is gone be deleted remotely? */
  computeRemoteFates(): void {
    const ids = sortByDepth([...this.rp.pathOf.entries()], (x) => x[1], -1);
    const agg = new Map<string, { survive: boolean; wait: boolean }>();
    for (const [id, path] of ids) {
      const r = this.input.remote.get(id)!;
      const s = this.input.synced.get(id);
      let fate: Fate;
      if (this.ignored(path, r.kind === 'dir')) fate = 'survive';
      else if (!s) fate = 'survive';
      else if (this.assoc.localOf.has(id)) {
        // alive locally: the server moved it in here (needs this directory,
        // remote location wins), or the folder moved it out (wait for that),
        // unless that local move loses to a server move and it comes back
        fate = r.parent !== s.parent || r.name !== s.name || this.localMoveOverridden(id) ? 'survive' : 'wait';
      }
      else {
        const changed = !sameContent(r, s) || r.parent !== s.parent || r.name !== s.name;
        const a = agg.get(id);
        fate = changed || a?.survive ? 'survive' : a?.wait ? 'wait' : 'delete';
      }
      this.remoteFate.set(id, fate);
      if (r.parent === ROOT_ID) continue;
      const pa = agg.get(r.parent) ?? { survive: false, wait: false };
      if (fate === 'survive') pa.survive = true;
      if (fate === 'wait') pa.wait = true;
      agg.set(r.parent, pa);
    }
  }

  // ---- placing remote nodes locally ------------------------------------

  /** Plans the local creation of remote node r at its remote location. */
  placeLocally(r: TreeNode): void {
    const parentLocal = this.localPathOf(r.parent);
    if (parentLocal === undefined) {
      // parent is being created this round?
      const pr = this.rp.pathOf.get(r.parent);
      if (pr === undefined || !this.willExist.has(pr)) {
        this.deferred++;
        return;
      }
    }
    const dirPath = parentLocal ?? this.rp.pathOf.get(r.parent)!;
    const path = joinPath(dirPath, r.name);
    const symlinkThere = this.occupants(path).find((e) => e.kind === 'symlink' && r.kind === 'dir' && e.path === path);
    if (symlinkThere && this.assoc.claimedAt.get(path) === undefined) {
      // never a write through it: the link goes aside as a conflicted copy,
      // the directory lands next round
      this.renameAside(symlinkThere, 'the server has a directory at this path');
      this.deferred++;
      return;
    }
    if (!this.placeable(path)) {
      this.deferred++;
      return;
    }
    const disk = joinPath(this.diskPathOf(dirPath), r.name);
    this.willExist.add(path);
    if (r.kind === 'dir') this.mkdirs.push({ type: 'mkdir', id: r.id, path: disk, node: r });
    else if (r.kind === 'symlink') this.content.push({ type: 'symlink', id: r.id, path: disk, node: r, expect: null });
    else this.content.push({ type: 'download', id: r.id, path: disk, node: r, expect: null });
  }

  // ---- the cases ---------------------------------------------------------

  /** Synced, remote and local all present. */
  bothAlive(id: string, s: SyncedNode, r: TreeNode, view: LocalView): void {
    const e = view.entry;
    if (e.kind === 'file' && e.hash === null) {
      this.deferred++; // not hashed yet
      return;
    }
    const rMoved = r.parent !== s.parent || r.name !== s.name;
    const lMoved = view.parentId !== s.parent || view.name !== s.name;
    const rEdited = !sameContent(r, s);
    const lEdited = !localContentEquals(s, e);

    // Location first; content waits for the next round.
    if (rMoved && lMoved && view.parentId === r.parent && view.name === r.name) {
      this.state.push({ type: 'adopt', id, node: { ...r, ...(rEdited || lEdited ? contentOf(s) : {}) }, path: e.path, local: e });
      return;
    }
    if (lMoved && !rMoved && this.localMoveOverridden(id)) {
      // together with the server's moves this would put it inside itself: remote wins
      this.moveLocally(id, r, e);
      return;
    }
    if (lMoved && !rMoved && this.remoteDescends(view.parentId, id)) {
      this.deferred++; // its target is still below it on the server: that node's move-out lands first
      return;
    }
    if (rMoved) {
      this.moveLocally(id, r, e);
      return;
    }
    if (lMoved) {
      this.pushMove(id, r, view);
      return;
    }
    this.content_(id, s, r, e);
  }

  /**
   * The folder moved `id` somewhere that, combined with the server's moves,
   * would put `id` inside itself. The intended tree takes the server's
   * location for nodes the server moved and the folder's for nodes only the
   * folder moved; the Remote tree is acyclic, so every cycle in the intended
   * tree contains a folder-only move, and those lose: the node goes back.
   */
  localMoveOverridden(id: string): boolean {
    let memo = this.overridden;
    if (!memo) {
      memo = this.overridden = new Set();
      const intended = new Map<string, string>();
      for (const [nid, r] of this.input.remote) {
        const s = this.input.synced.get(nid);
        const view = this.assoc.localOf.get(nid);
        const lOnly = s && view && view.parentId !== null && (view.parentId !== s.parent || view.name !== s.name) && r.parent === s.parent && r.name === s.name;
        intended.set(nid, lOnly ? view!.parentId! : r.parent);
      }
      // overriding one move changes the intended tree and can expose another
      // cycle, so repeat until none is left (each pass overrides at least one)
      for (let changed = true; changed; ) {
        changed = false;
        for (const [nid, parent] of intended) {
          const remoteParent = this.input.remote.get(nid)!.parent;
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
  remoteDescends(candidate: string | null, id: string): boolean {
    for (let p = candidate, n = 0; p !== null && p !== ROOT_ID && n < 10_000; n++) {
      if (p === id) return true;
      p = this.input.remote.get(p)?.parent ?? null;
    }
    return false;
  }

  /** Was any node on the remote chain from `from` up to (not including) `id` moved by the server? */
  remotelyMovedBetween(from: string, id: string): boolean {
    for (let p = from, n = 0; p !== id && p !== ROOT_ID && n < 10_000; n++) {
      const r = this.input.remote.get(p);
      const s = this.input.synced.get(p);
      if (!r) return false;
      if (!s || r.parent !== s.parent || r.name !== s.name) return true;
      p = r.parent;
    }
    return false;
  }

  /** Plans moving a local entry to the node's remote location. */
  moveLocally(id: string, r: TreeNode, e: LocalEntry): void {
    {
      const dir = this.localPathOf(r.parent);
      if (dir === undefined) {
        this.deferred++;
        return;
      }
      const to = joinPath(dir, r.name);
      if (!this.placeable(to, e)) {
        this.deferred++;
        const occ = this.occupants(to, e)[0];
        this.blockedLocalMoves.push({ id, blocker: occ && this.assoc.claimedAt.get(occ.path), from: e.diskPath, node: r, entry: e });
        return;
      }
      if (isWithin(dir, e.path)) {
        this.deferred++; // into its own local subtree: the other node moves first
        return;
      }
      this.willExist.add(to);
      this.localMoves.push({ type: 'local_move', id, from: e.diskPath, to: joinPath(this.diskPathOf(dir), r.name), node: r, expect: expectOf(e) });
    }
  }

  /** Content, once both sides agree on the location. */
  content_(id: string, s: SyncedNode, r: TreeNode, e: LocalEntry): void {
    const rEdited = !sameContent(r, s);
    const lEdited = !localContentEquals(s, e);
    if (rEdited && lEdited) {
      if (localContentEquals(r, e)) {
        this.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
      } else if (r.kind === 'dir') {
        this.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
      } else {
        // true clash: remote keeps the path, local goes aside and is uploaded as new
        this.renameAside(e, 'both sides changed this file');
        this.content.push(r.kind === 'symlink'
          ? { type: 'symlink', id, path: e.diskPath, node: r, expect: null }
          : { type: 'download', id, path: e.diskPath, node: r, expect: null });
        this.willExist.add(e.path);
      }
      return;
    }
    if (rEdited) {
      if (r.kind === 'file' && r.hash === e.hash) this.content.push({ type: 'chmod', id, path: e.diskPath, node: r, expect: expectOf(e) });
      else if (r.kind === 'symlink') this.content.push({ type: 'symlink', id, path: e.diskPath, node: r, expect: expectOf(e) });
      else if (r.kind === 'file') this.content.push({ type: 'download', id, path: e.diskPath, node: r, expect: expectOf(e) });
      else this.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
      return;
    }
    if (lEdited) {
      this.remoteOps.push({ type: 'update', id, baseRev: r.rev, path: e.diskPath, local: e });
      return;
    }
    if (r.rev !== s.rev || s.ino !== e.ino || r.mtime !== s.mtime) {
      this.state.push({ type: 'adopt', id, node: r, path: e.path, local: e });
    }
  }

  pushMove(id: string, r: TreeNode, view: LocalView): void {
    const pid = view.parentId;
    if (pid === null || (pid !== ROOT_ID && !this.remoteNode(pid))) {
      this.deferred++; // new or recreated parent: wait for its id
      return;
    }
    const nameOk = checkName(view.name);
    if (!nameOk.ok) {
      this.problems.push({ path: view.entry.path, code: 'invalid_name', message: `cannot sync "${view.entry.path}": ${nameOk.reason}` });
      return;
    }
    const other = this.remoteChildren.get(pid)?.get(nameKey(nameOk.name));
    if (other !== undefined && other !== id) {
      if (this.serverKeeps(other)) {
        this.renameAside(view.entry, 'the server keeps another item at this name');
      } else {
        this.deferred++;
        this.blockedRemoteMoves.push({ id, blocker: other, baseRev: r.rev, parentId: pid, name: nameOk.name, entry: view.entry });
      }
      return;
    }
    this.remoteOps.push({ type: 'move', id, baseRev: r.rev, parentId: pid, name: nameOk.name, path: view.entry.diskPath, local: view.entry });
  }

  /**
   * Does the server keep node `other` at its current name? Remote changes win
   * names, so only a node the folder moved away (and the server did not) or
   * deleted (with nothing below it to keep) will free its name.
   */
  serverKeeps(other: string): boolean {
    const s = this.input.synced.get(other);
    const r = this.remoteNode(other);
    if (!s || !r) return true;
    const view = this.assoc.localOf.get(other);
    if (!view) return this.remoteFate.get(other) !== 'delete';
    if (r.parent !== s.parent || r.name !== s.name) return true;
    return view.parentId === s.parent && view.name === s.name;
  }

  /** Synced and remote present; gone locally. */
  localGone(id: string, s: SyncedNode, r: TreeNode): void {
    const spath = this.sp.pathOf.get(id)!;
    const sym = this.assoc.byPath.get(spath);
    const fate = this.remoteFate.get(id);
    if (s.kind === 'dir' && sym?.kind === 'symlink' && fate === 'survive') {
      // the directory comes back (something in it changed on the server), so
      // the link that replaced it goes aside; never a write through it
      this.handledLocal.add(sym.path);
      this.renameAside(sym, 'the server keeps a directory at this path');
      this.deferred++;
      return;
    }
    if (fate === 'survive') {
      this.placeLocally(r); // edit (or something below) beats the local delete
      return;
    }
    if (fate === 'wait') {
      this.deferred++;
      return;
    }
    // delete: only the top-most node of a deletable subtree sends the op
    if (r.parent !== ROOT_ID && this.remoteFate.get(r.parent) === 'delete' && !this.assoc.localOf.has(r.parent)) return;
    this.remoteOps.push({ type: 'delete', id, baseRev: r.rev, path: spath });
  }

  /** Synced and local present; gone remotely. */
  remoteGone(id: string, view: LocalView): void {
    const e = view.entry;
    const fate = this.localFate.get(e.path);
    if (fate === 'delete') {
      this.localDeletes.push({ type: 'local_delete', id, path: e.diskPath, expect: expectOf(e) });
      return;
    }
    if (fate === 'wait') {
      this.deferred++;
      return;
    }
    if (e.kind === 'file' && e.hash === null) {
      this.deferred++;
      return;
    }
    this.createRemote(e, id);
  }

  /** Uploads a local entry as a new node (new file, or a survivor of a remote delete). */
  createRemote(e: LocalEntry, replaces: string | null): void {
    const dir = parentPath(e.path);
    const pid = dir === '' ? ROOT_ID : this.assoc.claimedAt.get(dir);
    if (pid === undefined || (pid !== ROOT_ID && !this.remoteNode(pid))) {
      this.deferred++;
      return;
    }
    const name = baseName(e.path);
    const nameOk = checkName(name);
    if (!nameOk.ok) {
      this.problems.push({ path: e.path, code: 'invalid_name', message: `cannot sync "${e.path}": ${nameOk.reason}` });
      return;
    }
    const other = this.remoteChildren.get(pid)?.get(nameKey(name));
    if (other !== undefined && other !== replaces) {
      // a new local entry next to a node the server created is settled from
      // that node's side (adopt or conflicted copy)
      if (replaces === null && !this.input.synced.has(other)) return;
      if (this.serverKeeps(other)) {
        this.renameAside(e, 'the server keeps another item at this name');
        // the node this entry survived is gone from the server: kept in Synced
        // at this path, it would claim the server's node once that lands here
        // and send it aside too, round after round (a copy per round)
        if (replaces !== null && !this.syncedParents.has(replaces)) this.state.push({ type: 'forget', id: replaces, path: e.path });
      } else {
        this.deferred++; // the other node is leaving (its delete or move is planned)
        this.leaving.push(other);
      }
      return;
    }
    this.remoteOps.push({ type: 'create', path: e.diskPath, parentId: pid, name: nameOk.name, local: e, replaces });
  }

  /** On the server only (created there since the last sync). */
  remoteCreated(r: TreeNode, rpath: string): void {
    const occ = this.occupants(rpath);
    const exact = occ.find((e) => e.path === rpath && !this.assoc.claimedAt.has(e.path));
    if (exact) {
      this.handledLocal.add(exact.path);
      if (exact.kind === 'file' && exact.hash === null) {
        this.deferred++;
        return;
      }
      if (r.kind === exact.kind && (r.kind === 'dir' || localContentEquals(r, exact))) {
        this.state.push({ type: 'adopt', id: r.id, node: r, path: rpath, local: exact });
        if (r.kind === 'dir') this.willExist.add(rpath); // its children may land this round
        return;
      }
      // both created different things at one path: remote keeps it
      this.renameAside(exact, 'the server has a different item at this path');
      if (r.kind !== 'dir') {
        this.willExist.add(rpath);
        this.content.push(r.kind === 'symlink'
          ? { type: 'symlink', id: r.id, path: exact.diskPath, node: r, expect: null }
          : { type: 'download', id: r.id, path: exact.diskPath, node: r, expect: null });
      } else this.deferred++;
      return;
    }
    for (const e of occ) if (!this.assoc.claimedAt.has(e.path)) this.handledLocal.add(e.path);
    this.placeLocally(r);
  }

  run(): Plan {
    const { synced, remote } = this.input;
    this.computeLocalFates();
    this.computeRemoteFates();

    // NFC/NFD twins on disk: one name on the server, so the others go aside.
    for (const t of this.assoc.twins) {
      if (this.ignored(t.path, t.kind === 'dir')) continue;
      this.renameAside(t, 'another local name differs from it only in Unicode normalization');
    }

    const ids = new Set<string>();
    for (const id of synced.keys()) ids.add(id);
    for (const id of remote.keys()) if (this.rp.pathOf.has(id)) ids.add(id);
    // remote-created nodes parents first, so a new subtree lands in one round
    const order = sortByDepth([...ids], (id) => this.rp.pathOf.get(id) ?? this.sp.pathOf.get(id) ?? '', 1, true);

    for (const id of order) {
      const r = this.remoteNode(id);
      if (remote.has(id) && !r) continue; // unplaceable remote node: reported, left alone
      let s = synced.get(id);
      if (s && !this.sp.pathOf.has(id)) {
        // its ancestry in Synced is gone: forget it and decide afresh, as for
        // a node never synced (adopt, download or upload: nothing is lost)
        this.state.push({ type: 'forget', id, path: `synced:${id}` });
        s = undefined;
      }
      const spath = s ? this.sp.pathOf.get(id) : undefined;
      const rpath = r ? this.rp.pathOf.get(id) : undefined;
      if (spath !== undefined && this.ignored(spath, s!.kind === 'dir')) continue;
      if (rpath !== undefined && this.ignored(rpath, r!.kind === 'dir')) continue;
      const view = s ? this.assoc.localOf.get(id) : undefined;
      if (s && r && view) this.bothAlive(id, s, r, view);
      else if (s && r) this.localGone(id, s, r);
      else if (s && view) this.remoteGone(id, view);
      else if (s) {
        if (this.syncedParents.has(id)) this.deferred++; // children first, so Synced never orphans
        else this.state.push({ type: 'forget', id, path: spath! });
      }
      else if (r) this.remoteCreated(r, rpath!);
    }

    // New local entries, parents first.
    const fresh = sortByDepth(
      [...this.assoc.byPath.values()].filter((e) => !this.assoc.claimedAt.has(e.path) && !this.handledLocal.has(e.path) && !this.renamedAside.has(e.path)),
      (e) => e.path, 1, true);
    for (const e of fresh) {
      if (this.ignored(e.path, e.kind === 'dir')) continue;
      const nameOk = checkName(baseName(e.path));
      if (!nameOk.ok) {
        this.problems.push({ path: e.path, code: 'invalid_name', message: `cannot sync "${e.path}": ${nameOk.reason}` });
        continue;
      }
      if (e.kind === 'file' && e.hash === null) {
        this.deferred++;
        continue;
      }
      // a local twin (by case) of an entry already claimed or created first
      const twin = (this.localByKey.get(pathKey(e.path)) ?? []).find((o) => o !== e && !this.renamedAside.has(o.path) && (this.assoc.claimedAt.has(o.path) || o.path < e.path));
      if (twin) {
        this.renameAside(e, `"${twin.path}" differs from it only in letter case or Unicode form`);
        continue;
      }
      this.createRemote(e, null);
    }

    return this.finish();
  }

  finish(): Plan {
    // Local moves and renames are accepted greedily, shallowest first, each
    // only if it is independent of those already accepted (no path of one
    // lies within a path of the other): a child's paths go stale when its
    // ancestor moves. Checking against accepted moves only (not against all
    // planned ones) means at least one always runs, so moves cannot veto
    // each other in a circle. Everything else waits if it lies under an
    // accepted move (both its source and its target count).
    const related = (a: PlanOp, b: PlanOp): boolean =>
      ownPaths(a).some((p) => ownPaths(b).some((q) => (isWithin(p, q) || isWithin(q, p)) && !handsOver(a, p, b, q)));
    const accepted: PlanOp[] = [];
    const movers = sortByDepth([...this.renames, ...this.localMoves], (op) => ownPaths(op)[0]!, 1, true)
      .sort((a, b) => (a.type === 'conflict_rename' ? 0 : 1) - (b.type === 'conflict_rename' ? 0 : 1));
    for (const op of movers) {
      if (accepted.some((a) => related(op, a))) this.deferred++;
      else accepted.push(op);
    }
    const moving = accepted.flatMap((op) => ownPaths(op).map((path) => ({ op, path })));
    const underOf = (self: PlanOp): boolean =>
      ownPaths(self).some((p) => moving.some((m) => m.op !== self && isWithin(p, m.path) && !handsOver(self, p, m.op, m.path)));
    const keep = <T extends PlanOp>(ops: T[]): T[] =>
      ops.filter((op) => {
        if (!underOf(op)) return true;
        this.deferred++;
        return false;
      });
    const renames = accepted.filter((op) => op.type === 'conflict_rename');
    const localMoves = accepted.filter((op) => op.type === 'local_move');
    const mkdirs = keep(this.mkdirs);
    const content = keep(this.content);
    const localDeletes = keep(this.localDeletes);
    const remoteOps = keep(this.remoteOps);

    let ops: PlanOp[] = [
      ...this.state,
      ...renames,
      ...localMoves.sort((a, b) => cmp(pathOfOp(a), pathOfOp(b))),
      ...mkdirs.sort((a, b) => byDepthThenPath(pathOfOp(a), pathOfOp(b))),
      ...content.sort((a, b) => cmp(pathOfOp(a), pathOfOp(b))),
      ...remoteOps.sort((a, b) => byDepthThenPath(a.path, b.path) || cmp(a.type, b.type)),
      ...localDeletes.sort((a, b) => depth(pathOfOp(b)) - depth(pathOfOp(a)) || cmp(pathOfOp(a), pathOfOp(b))),
    ];

    // A swap (a→b while b→a) blocks every move of the cycle: break it by
    // moving one party to a temporary visible name; the next rounds finish.
    if (ops.length === 0 && this.deferred > 0) {
      const lBlocked = new Set(this.blockedLocalMoves.map((b) => b.id));
      const rBlocked = new Set(this.blockedRemoteMoves.map((b) => b.id));
      const lm = this.blockedLocalMoves.find((b) => b.blocker !== undefined && lBlocked.has(b.blocker));
      const rm = this.blockedRemoteMoves.find((b) => rBlocked.has(b.blocker));
      if (lm) {
        const tmp = joinPath(parentPath(lm.from), `${baseName(lm.from)}.syncd-swap-${lm.id.slice(-6)}`);
        ops = [{ type: 'local_move', id: lm.id, from: lm.from, to: tmp, node: { ...lm.node, name: baseName(tmp) }, expect: expectOf(lm.entry) }];
      } else if (rm) {
        ops = [{ type: 'move', id: rm.id, baseRev: rm.baseRev, parentId: rm.parentId, name: `${rm.name}.syncd-swap-${rm.id.slice(-6)}`, path: rm.entry.diskPath, local: rm.entry }];
      } else if (this.leavingBreaker()) {
        ops = [this.leavingBreaker()!];
      } else if (this.blockers[0]) {
        // something waits for a path whose occupant waits in turn: move the
        // occupant aside (locally only); the next round puts it where it belongs
        const b = this.blockers[0];
        const to = joinPath(parentPath(b.diskPath), `${baseName(b.diskPath)}.syncd-swap-${b.ino}`);
        ops = [{ type: 'conflict_rename', path: b.diskPath, to, expect: expectOf(b), reason: 'moved aside to untangle two changes that wait on each other' }];
      }
    }
    return { ops, problems: this.problems, deferred: this.deferred };
  }

  /**
   * A new local entry waits for a server node to leave its name while that
   * node's own move waits in turn (e.g. a link moved into a new directory
   * made at the link's old name: the directory cannot be created before the
   * link leaves, the link cannot move before the directory exists). Moving
   * the node to a temporary visible name on the server frees the name; the
   * next rounds create the entry and finish the move.
   */
  leavingBreaker(): RemoteOp | null {
    for (const id of this.leaving) {
      const r = this.input.remote.get(id);
      const view = this.assoc.localOf.get(id);
      if (!r || !view || !this.input.synced.has(id)) continue;
      return { type: 'move', id, baseRev: r.rev, parentId: r.parent, name: `${r.name}.syncd-swap-${id.slice(-6)}`, path: view.entry.diskPath, local: view.entry };
    }
    return null;
  }
}

/**
 * Sorts by path depth (dir = 1 parents first, -1 children first), then by
 * path when `thenPath`; depths are computed once, not in the comparator.
 */
function sortByDepth<T>(items: T[], pathOf: (x: T) => string, dir: 1 | -1, thenPath = false): T[] {
  const keyed = items.map((x) => {
    const p = pathOf(x);
    return { x, p, d: depth(p) };
  });
  keyed.sort((a, b) => dir * (a.d - b.d) || (thenPath ? cmp(a.p, b.p) : 0));
  return keyed.map((k) => k.x);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The path an op fills (creates or moves something into). */
function fillTarget(op: PlanOp): string | null {
  if (op.type === 'download' || op.type === 'symlink' || op.type === 'mkdir') return op.path;
  if (op.type === 'local_move') return op.to;
  return null;
}

/**
 * A conflict rename clears exactly the path that another op of the same
 * round fills: the executor runs renames first, so they do not block each
 * other there (anything below that path still does).
 */
function handsOver(self: PlanOp, p: string, mover: PlanOp, moverPath: string): boolean {
  if (p !== moverPath) return false;
  if (mover.type === 'conflict_rename' && mover.path === p && fillTarget(self) === p) return true;
  if (self.type === 'conflict_rename' && self.path === p && fillTarget(mover) === p) return true;
  return false;
}

/** Local paths an op reads or writes. */
function ownPaths(op: PlanOp): string[] {
  switch (op.type) {
    case 'local_move':
      return [op.from, op.to];
    case 'conflict_rename':
      return [op.path, op.to];
    case 'adopt':
    case 'forget':
      return [];
    default:
      return [op.path];
  }
}

function pathOfOp(op: PlanOp): string {
  if (op.type === 'local_move') return op.from;
  if ('path' in op) return op.path;
  return '';
}

function contentOf(s: SyncedNode): Partial<TreeNode> {
  return { hash: s.hash, size: s.size, exec: s.exec, target: s.target };
}

export function plan(input: PlanInput): Plan {
  return new Planner(input).run();
}
