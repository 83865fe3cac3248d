// The planner's bookkeeping for one round: the three trees with their
// derived indexes, the ops emitted so far by kind, and what this round has
// already promised (paths that will exist, names handed out, entries moved
// aside). The rules, fates, moves and schedule modules read and extend it.
// Pure: no disk, network, DB or clock.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import { associate, type Association, type SyncedTree } from '../associate.js';
import { conflictedCopyName, selectiveSyncConflictName } from '../conflict-name.js';
import { coveringExclusion } from '../policy/exclusions.js';
import { isBuiltinIgnoredPath } from '../ignore-rules.js';
import { expectOf, pathKey, type LocalEntry, type LocalTree } from '../local.js';
import type { LocalOp, PlanProblem, RemoteOp, StateOp } from '../ops.js';
import { baseName, joinPath, parentPath, resolvePaths, sameContent, type ResolvedPaths, type Tree, type TreeNode } from '../tree.js';

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
  /** paths this device excludes (selective sync, core/policy/exclusions.ts): each covers its subtree */
  excluded?: readonly string[];
}

/** What may happen to a node whose other side is gone: see fates.ts. */
export type Fate = 'delete' | 'survive' | 'wait';

export interface BlockedLocalMove {
  id: string;
  /** the synced node occupying the target, if any */
  blocker: string | undefined;
  from: string;
  node: TreeNode;
  entry: LocalEntry;
}

export interface BlockedRemoteMove {
  id: string;
  blocker: string;
  baseRev: number;
  parentId: string;
  name: string;
  entry: LocalEntry;
}

export function localContentEquals(node: TreeNode, e: LocalEntry): boolean {
  return sameContent(node, { kind: e.kind, hash: e.hash, exec: e.exec, target: e.target });
}

/**
 * Synced's paths. A Synced collision (a node adopted at a path whose previous
 * node had not been retired yet) keeps the node the server still has there,
 * then one it has elsewhere: the other one is forgotten and decided afresh
 * (nothing is lost), never re-adopted in a loop. Every reading of Synced
 * (the planner, and the rewritten bases of `revert` and `override`) ranks
 * them the same way.
 */
export function resolveSyncedPaths(input: Pick<PlanInput, 'remote' | 'synced'>): ResolvedPaths {
  return resolvePaths(input.synced, (id) => {
    const r = input.remote.get(id);
    const s = input.synced.get(id)!;
    if (!r) return 2;
    return r.parent === s.parent && r.name === s.name ? 0 : 1;
  });
}

export class PlanState {
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
  readonly blockedLocalMoves: BlockedLocalMove[] = [];
  readonly blockedRemoteMoves: BlockedRemoteMove[] = [];

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
  /** local NFC paths under an exclusion whose whole subtree may leave the disk now (excluded.ts) */
  readonly leavable = new Set<string>();
  readonly #excludedMemo = new Map<string, string | null>();

  constructor(readonly input: PlanInput) {
    this.rp = resolvePaths(input.remote);
    this.sp = resolveSyncedPaths(input);
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

  /** The exclusion covering NFC `path`, if any. */
  excludedRoot(path: string): string | undefined {
    const list = this.input.excluded;
    if (!list || list.length === 0) return undefined;
    let memo = this.#excludedMemo.get(path);
    if (memo === undefined) this.#excludedMemo.set(path, (memo = coveringExclusion(path, list) ?? null));
    return memo ?? undefined;
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

  /** Moves a local entry aside under a conflicted-copy name (`selective`: a selective sync conflict name). */
  renameAside(e: LocalEntry, reason: string, selective = false): void {
    if (this.renamedAside.has(e.path)) return;
    const dir = parentPath(e.path);
    const dirId = dir === '' ? ROOT_ID : (this.assoc.claimedAt.get(dir) ?? null);
    const taken = this.takenKeys(dir, dirId);
    const name = selective
      ? selectiveSyncConflictName(baseName(e.path), e.kind === 'dir', taken)
      : conflictedCopyName(baseName(e.path), e.kind === 'dir', this.input.device, this.input.now, taken);
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

  /** An invalid local name is reported, never synced. */
  reportInvalidName(path: string, reason: string): void {
    this.problems.push({ path, code: 'invalid_name', message: `cannot sync "${path}": ${reason}` });
  }
}
