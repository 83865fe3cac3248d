// One side's state over the other's, for `syncd revert` (the server's
// version over a receive-only folder's local differences) and `syncd
// override` (the folder's state over the server's, in a send-only folder).
// Both rewrite the merge base the planner is given, so that every
// difference reads as a change on the preferred side alone and the
// ordinary rules carry it over, with the ordinary checked ops. Pure.
//
// - preferRemote: Synced becomes what the folder holds now (each synced
//   node at its local place with its local content; a new local entry gets
//   a stand-in node). Remote≠Synced' everywhere the two differ: downloads
//   over local edits, local deletes of local-only entries, local moves back,
//   and a node deleted locally is left out of Synced' so it is placed again.
// - preferLocal: Synced becomes the server's tree (with the inodes Synced
//   recorded, so local moves are still found). Local≠Synced' everywhere the
//   two differ: uploads, server deletes of what the folder lacks, moves; a
//   node the server deleted is left out so the folder's entry is created anew,
//   and forgotten (a state op) so it cannot claim that entry again later.
//
// The executor records what the ops achieved against the real Synced tree,
// so the rewritten base is never stored.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import { associate, type SyncedNode, type SyncedTree } from '../associate.js';
import type { LocalEntry } from '../local.js';
import { resolvePaths } from '../tree.js';
import { baseName, parentPath } from '../tree.js';
import type { Plan } from '../ops.js';
import { plan } from './index.js';
import { resolveSyncedPaths, type PlanInput } from './state.js';

/** Id prefix of a stand-in node for a local-only entry (never sent: revert runs only where uploads are held; never stored). */
const STAND_IN_PREFIX = 'local-only:';

/** A round of `syncd revert`: the server's version over every local difference. */
export function revertPlan(input: PlanInput): Plan {
  return plan(preferRemote(input));
}

/** A round of `syncd override`: the folder's state over the server's. */
export function overridePlan(input: PlanInput): Plan {
  const p = plan(preferLocal(input));
  const ghosts = [...input.synced.keys()].filter((id) => !input.remote.has(id));
  return { ...p, ops: [...ghosts.map((id) => ({ type: 'forget' as const, id, path: `synced:${id}` })), ...p.ops] };
}

/** The planner input whose plan puts the server's version over every local difference. */
function preferRemote(input: PlanInput): PlanInput {
  const sp = resolveSyncedPaths(input);
  const assoc = associate(input.synced, sp, input.local);
  const idAt = (path: string): string => (path === '' ? ROOT_ID : (assoc.claimedAt.get(path) ?? `${STAND_IN_PREFIX}${path}`));
  const synced: SyncedTree = new Map();
  for (const [id, s] of input.synced) {
    const view = assoc.localOf.get(id);
    if (view) {
      const e = view.entry;
      synced.set(id, { ...s, parent: idAt(parentPath(e.path)), name: view.name, kind: e.kind, size: e.size, hash: e.hash, exec: e.exec, target: e.target, ino: e.ino });
    } else if (!input.remote.has(id)) synced.set(id, s); // gone on both sides: forgotten as usual
    // else: deleted locally, the server still has it: left out, so it is placed again
  }
  for (const e of assoc.byPath.values()) {
    if (assoc.claimedAt.has(e.path)) continue;
    const id = idAt(e.path);
    synced.set(id, {
      id, parent: idAt(parentPath(e.path)), name: baseName(e.path), kind: e.kind, rev: 0, size: e.size, hash: e.hash,
      mtime: e.mtimeMs, exec: e.exec, target: e.target, ino: e.ino,
    });
  }
  return { ...input, synced };
}

/** The planner input whose plan puts the folder's state over the server's. */
function preferLocal(input: PlanInput): PlanInput {
  const rp = resolvePaths(input.remote);
  const synced: SyncedTree = new Map();
  for (const [id, r] of input.remote) {
    if (!rp.pathOf.has(id)) continue; // unplaceable on the server: left alone, as the planner does
    const node: SyncedNode = { ...r, ino: input.synced.get(id)?.ino ?? null };
    synced.set(id, node);
  }
  // a node only Synced still has (the server deleted it) is left out: the
  // folder's entry there is new to the server again
  pairCaseTwins(input, synced, rp.pathOf);
  return { ...input, synced };
}

/**
 * A server node the folder holds under its case twin (`a/x` on the server,
 * `A/x` here, the same kind), whose inode the folder does not hold (a
 * server-only node, or a directory made anew under the other case): the folder's entry is
 * taken for that node renamed, so override renames it on the server. Left
 * apart, the folder's entry would wait for a name the server keeps (the
 * planner sends such an entry aside, which a send-only folder never does).
 * Only entries no node claims by inode, and only one candidate per key.
 */
function pairCaseTwins(input: PlanInput, synced: SyncedTree, pathOf: ReadonlyMap<string, string>): void {
  const key = (path: string): string => path.split('/').map(nameKey).join('/');
  const here = new Set<number>();
  for (const e of input.local.values()) here.add(e.ino);
  const claimed = new Set<number>();
  for (const n of synced.values()) if (n.ino !== null && here.has(n.ino)) claimed.add(n.ino);
  const byKey = new Map<string, LocalEntry | null>();
  for (const e of input.local.values()) {
    if (claimed.has(e.ino)) continue;
    const k = key(e.path);
    byKey.set(k, byKey.has(k) ? null : e); // two candidates: neither
  }
  for (const [id, n] of synced) {
    const path = pathOf.get(id);
    // (a node the folder still holds by inode is where that inode is)
    if ((n.ino !== null && here.has(n.ino)) || path === undefined) continue;
    const e = byKey.get(key(path));
    if (!e || e.path === path || e.kind !== n.kind || claimed.has(e.ino)) continue;
    synced.set(id, { ...n, ino: e.ino });
    claimed.add(e.ino);
  }
}
