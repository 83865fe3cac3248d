// Guards against propagating a disaster (DESIGN.md "Guards"). Pure.

import type { SyncedTree } from './associate.js';
import type { Plan } from './ops.js';

export interface GuardInput {
  /** the folder root exists and is a directory */
  rootExists: boolean;
  /** the root marker written at init is still there */
  markerPresent: boolean;
  /** files (not dirs) in the Local tree (asked only when a guard trips) */
  localFiles: () => number;
  /** the Synced nodes the plan was made over (all of them, or a selection holding every node it deletes) */
  synced: SyncedTree;
  /** files (not dirs) in the whole Synced tree, when `synced` is a selection */
  syncedFiles?: () => number;
  plan: Plan;
  /** a pass deleting more than this share of the synced files pauses (0–1) */
  maxDeleteShare: number;
  /** fewer deletions than this never trip the share guard */
  minDeleteCount: number;
  /** the user said `syncd resume` after this guard tripped */
  allowDeletes: boolean;
}

export interface GuardTrip {
  code: 'root_missing' | 'root_empty' | 'mass_delete';
  message: string;
}

/** Files a plan would delete, on either side (a remote directory delete counts its synced files). */
export function countDeletions(plan: Plan, synced: SyncedTree): { local: number; remote: number } {
  const children = new Map<string, string[]>();
  for (const n of synced.values()) {
    const list = children.get(n.parent);
    if (list) list.push(n.id);
    else children.set(n.parent, [n.id]);
  }
  const filesUnder = (id: string): number => {
    let n = 0;
    const stack = [id];
    while (stack.length) {
      const x = stack.pop()!;
      if (synced.get(x)?.kind !== 'dir') n++;
      stack.push(...(children.get(x) ?? []));
    }
    return n;
  };
  let local = 0;
  let remote = 0;
  for (const op of plan.ops) {
    // an excluded path's local copy leaving (selective sync) is no deletion: the server keeps it
    if (op.type === 'local_delete' && op.expect.kind !== 'dir' && !op.excluded) local++;
    if (op.type === 'delete') remote += filesUnder(op.id);
  }
  return { local, remote };
}

export function checkGuards(g: GuardInput): GuardTrip | null {
  if (g.rootExists && g.maxDeleteShare >= 0 && !g.plan.ops.some((op) => op.type === 'delete' || (op.type === 'local_delete' && !op.excluded))) {
    return null; // the other guards are about deletions: no need to count the trees
  }
  let syncedFiles = 0;
  if (g.syncedFiles) syncedFiles = g.syncedFiles();
  else for (const n of g.synced.values()) if (n.kind !== 'dir') syncedFiles++;
  if (!g.rootExists) {
    return { code: 'root_missing', message: 'the synced folder is gone (unmounted disk or moved folder?); syncing is paused so nothing is deleted on the server. Restore the folder, then run `syncd resume`' };
  }
  // The marker written at init tells the real folder from an empty mount
  // point: without it, deletions would empty the server, so hold them.
  if (syncedFiles > 0 && !g.markerPresent && countDeletions(g.plan, g.synced).remote > 0 && !g.allowDeletes) {
    return {
      code: 'root_empty',
      message: `the synced folder ${g.localFiles() === 0 ? 'is empty and ' : ''}has lost its .syncd marker (unmounted disk?) while ${syncedFiles} files were synced; syncing is paused so nothing is deleted on the server. If the folder is right, run \`syncd resume\``,
    };
  }
  const { local, remote } = countDeletions(g.plan, g.synced);
  const worst = Math.max(local, remote);
  if (!g.allowDeletes && worst >= g.minDeleteCount && syncedFiles > 0 && worst / syncedFiles > g.maxDeleteShare) {
    const side = remote >= local ? 'on the server' : 'in this folder';
    return {
      code: 'mass_delete',
      message: `this pass would delete ${worst} of ${syncedFiles} files ${side} (more than ${Math.round(g.maxDeleteShare * 100)}%); syncing is paused. If that is intended, run \`syncd resume\``,
    };
  }
  return null;
}
