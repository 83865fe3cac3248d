// What a rewind or a restore must do, from a past tree and the present one.
// Pure: the plan is a list of ordinary ops (create, move, update, delete)
// that the server then commits one by one through the normal commit path,
// so every device applies them like any other change and a concurrent edit
// meets the usual base_rev conflict.
//
// `scope` is the set of past nodes to bring back: for `rewind DIR` every
// past node below DIR; for `restore` of a deleted node its past subtree
// plus the deleted ancestors it needs. A node of the scope that is alive
// now (same id) is moved back and given its past content; one that is gone
// is created again (new id) — unless a present node sits at its past path
// with the same kind and `alias` allows taking it over (rewind: files and
// folders; restore: folders only, so an undelete never overwrites a file
// that took the name since). With `removeBelow`, present nodes below that
// folder that did not exist at the past position are deleted; ones that
// existed elsewhere and were moved in are left where they are.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID, type WireNode } from '../../protocol/types.js';
import { TreePaths } from './tree-at.js';
import { eachStep, sortSteps } from '../steps.js';

/** A parent: a present node id, or the past id of a node this plan creates first. */
export type ParentRef = { id: string } | { ref: string };

export type RewindStep =
  | { action: 'create'; ref: string; parent: ParentRef; node: WireNode; path: string }
  | { action: 'move'; id: string; parent: ParentRef; name: string; path: string; from: string }
  | { action: 'update'; id: string; node: WireNode; path: string }
  | { action: 'delete'; id: string; kind: WireNode['kind']; path: string };

export interface RewindInput {
  past: ReadonlyMap<string, WireNode>;
  present: ReadonlyMap<string, WireNode>;
  scope: ReadonlySet<string>;
  /** take over a present node at the same path and kind: 'all' (rewind) or 'dirs' (restore) */
  alias: 'all' | 'dirs';
  /** delete present nodes below this folder that were created after the past position */
  removeBelow: string | null;
}

export interface RewindPlan {
  steps: RewindStep[];
  /** present nodes below removeBelow that existed elsewhere at the past position: left alone */
  left: string[];
}

function keyPath(p: string): string {
  return p
    .split('/')
    .map((s) => nameKey(s))
    .join('/');
}

function sameContent(a: WireNode, b: WireNode): boolean {
  if (a.kind === 'file') return a.hash === b.hash && a.size === b.size && a.exec === b.exec;
  if (a.kind === 'symlink') return a.target === b.target;
  return true;
}

/** The plan, a step every few thousand nodes (the server gives other requests turns between them). */
export function* planRewindSteps(input: RewindInput): Generator<void, RewindPlan> {
  const { past, present, scope } = input;
  const pastPaths = new TreePaths(past);
  const nowPaths = new TreePaths(present);

  // present nodes by key path, for aliasing
  const byPath = new Map<string, string>();
  const wantAlias = (kind: WireNode['kind']): boolean => input.alias === 'all' || kind === 'dir';
  const candidates = new Set<string>();
  yield* eachStep(scope, (id) => {
    const n = past.get(id);
    if (n && !present.has(id) && wantAlias(n.kind)) candidates.add(id);
  });
  if (candidates.size > 0) {
    yield* eachStep(present, ([id, n]) => {
      if (scope.has(id)) return; // a node of the scope is itself, never someone's alias
      const p = nowPaths.path(id);
      if (p !== null && wantAlias(n.kind)) byPath.set(`${n.kind}:${keyPath(p)}`, id);
    });
  }

  // scope nodes by past depth (parents before children), then by path: the same plan every time
  const placed: { id: string; path: string; depth: number }[] = [];
  yield* eachStep(scope, (id) => {
    const path = past.has(id) ? pastPaths.path(id) : null;
    if (path !== null) placed.push({ id, path, depth: pastPaths.depth(id) });
  });
  const ordered = yield* sortSteps(placed, (a, b) => a.depth - b.depth || (a.path < b.path ? -1 : 1));

  const target = new Map<string, ParentRef>(); // past id → where it lives once the plan ran
  const aliasOf = new Map<string, string>();
  const placing: RewindStep[] = [];
  const updates: RewindStep[] = [];
  const parentOf = (pastParent: string): ParentRef => {
    if (pastParent === ROOT_ID) return { id: ROOT_ID };
    return target.get(pastParent) ?? { id: pastParent };
  };
  yield* eachStep(ordered, ({ id, path }) => {
    const was = past.get(id)!;
    let nowId: string | null = present.has(id) ? id : null;
    if (nowId === null && candidates.has(id)) {
      const hit = byPath.get(`${was.kind}:${keyPath(path)}`);
      if (hit !== undefined && !aliasOf.has(hit)) {
        aliasOf.set(hit, id);
        nowId = hit;
      }
    }
    const parent = parentOf(was.parent);
    if (nowId === null) {
      placing.push({ action: 'create', ref: id, parent, node: was, path });
      target.set(id, { ref: id });
      return;
    }
    target.set(id, { id: nowId });
    const cur = present.get(nowId)!;
    const sameParent = 'id' in parent && parent.id === cur.parent;
    if (!sameParent || cur.name !== was.name) {
      placing.push({ action: 'move', id: nowId, parent, name: was.name, path, from: nowPaths.path(nowId) ?? cur.name });
    }
    if (!sameContent(was, cur)) updates.push({ action: 'update', id: nowId, node: was, path });
  });

  // present nodes created since: deleted (topmost only); moved in from elsewhere: left
  let early: RewindStep[] = [];
  let late: RewindStep[] = [];
  let left: string[] = [];
  if (input.removeBelow !== null) {
    const dir = input.removeBelow;
    const kept = new Set<string>();
    for (const r of target.values()) if ('id' in r) kept.add(r.id);
    const doomed = new Set<string>();
    const blocked = new Set<string>(); // folders holding something that stays: never deleted whole
    yield* eachStep(present.keys(), (id) => {
      if (!nowPaths.isBelow(id, dir) || kept.has(id)) return;
      if (past.has(id)) {
        left.push(nowPaths.path(id)!);
        // everything above a node that is left must stay too
        let p = present.get(id)!.parent;
        while (p !== dir && p !== ROOT_ID && present.has(p)) {
          blocked.add(p);
          p = present.get(p)!.parent;
        }
        return;
      }
      doomed.add(id);
    });
    // folders whose kept nodes move out first are deleted after the moves
    const holdsKept = new Set<string>();
    yield* eachStep(kept, (id) => {
      let p = present.get(id)?.parent;
      while (p !== undefined && p !== dir && p !== ROOT_ID && present.has(p)) {
        holdsKept.add(p);
        p = present.get(p)!.parent;
      }
    });
    yield* eachStep(doomed, (id) => {
      if (blocked.has(id)) return;
      const parent = present.get(id)!.parent;
      if (doomed.has(parent) && !blocked.has(parent)) return; // goes with its folder
      const step: RewindStep = { action: 'delete', id, kind: present.get(id)!.kind, path: nowPaths.path(id)! };
      (holdsKept.has(id) ? late : early).push(step);
    });
    const byPathOrder = (a: RewindStep, b: RewindStep): number => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
    early = yield* sortSteps(early, byPathOrder);
    late = yield* sortSteps(late, byPathOrder);
    left = yield* sortSteps(left, (a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }
  return { steps: [...early, ...placing, ...updates, ...late], left };
}
