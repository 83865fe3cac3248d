// Selective sync's list in the state DB (meta key `exclusions`): what the
// agent plans with, the CLI's edits, and how a running agent hears of them.
// The rules themselves are pure (core/policy/exclusions.ts).

import { addExclusions, followServer, removeExclusions, type Exclusion } from '../../core/policy/exclusions.js';
import type { Tree } from '../../core/tree.js';
import type { StateDB } from './db.js';

/** How often a running agent looks for an exclusion list changed by `syncd exclude` (one small SELECT). */
export const EXCLUSIONS_POLL_MS = 1000;

/** The stored list as a key (memo keys, change checks). */
export function exclusionsKey(db: StateDB): string {
  return JSON.stringify((db.meta.get('exclusions') ?? []).map((x) => x.path));
}

/**
 * The paths to plan with: the stored list after following the server's
 * renames (written back when one moved), recorded as seen for `syncd wait`.
 */
export function exclusionsToPlan(db: StateDB, remote: Tree): string[] {
  const stored = db.meta.get('exclusions') ?? [];
  // the round's Remote may be a selection (a first plan's batch, the nodes
  // around a change): a node outside it is read from the state DB, so every
  // round excludes the paths a plan over the whole trees would
  const now = followServer(stored, { get: (id) => remote.get(id) ?? db.treeRows.remote(id)?.v });
  const paths = now.map((x) => x.path);
  const key = JSON.stringify(paths);
  if (now !== stored || db.meta.differs('exclusions_seen', key)) {
    db.tx(() => {
      // re-read inside the transaction: `syncd exclude` may have written since
      if (now !== stored && JSON.stringify(db.meta.get('exclusions')) === JSON.stringify(stored)) db.meta.set('exclusions', [...now]);
      db.meta.set('exclusions_seen', key);
    });
  }
  return paths;
}

/** `syncd exclude add|remove`: one transaction, so an agent's concurrent write is never lost. */
export function editExclusions(db: StateDB, edit: { add?: Exclusion[]; remove?: string[] }): { added: string[]; removed: string[]; missing: { path: string; coveredBy: string | undefined }[] } {
  return db.tx(() => {
    let list = db.meta.get('exclusions') ?? [];
    let added: string[] = [];
    let removed: string[] = [];
    let missing: { path: string; coveredBy: string | undefined }[] = [];
    if (edit.add) ({ list, added } = addExclusions(list, edit.add));
    if (edit.remove) ({ list, removed, missing } = removeExclusions(list, edit.remove));
    db.meta.set('exclusions', list.length ? list : null);
    return { added, removed, missing };
  });
}

/** Calls `wake` while the stored list differs from what the agent last planned with; returns the stop function. */
export function watchExclusions(db: StateDB, wake: () => void): () => void {
  const timer = setInterval(() => {
    try {
      if (exclusionsKey(db) !== (db.meta.get('exclusions_seen') ?? '[]')) wake();
    } catch {
      // a busy or closing DB: the next tick looks again
    }
  }, EXCLUSIONS_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
