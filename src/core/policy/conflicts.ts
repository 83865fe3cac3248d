// `syncd conflicts --keep local|remote`: what resolving one conflicted copy
// does. Like every destructive step of the executor, it acts only on what
// syncd has seen: a copy or original that changed since the last scan (its
// Local entry) is left alone and reported, so no byte syncd has not synced
// is deleted or replaced. Pure: the adapter supplies the Local entries and
// what lstat shows now, and re-checks right before each step.

import { expectOf, stillExpected, type DiskState, type LocalEntry, type LocalExpect } from '../local.js';
import { depth } from '../tree.js';

export type KeepSide = 'local' | 'remote';

/** One path as syncd last saw it (Local) and as it is now. */
export interface Observed {
  /** disk path, relative to the folder */
  path: string;
  known: LocalEntry | undefined;
  disk: DiskState | null;
}

export type KeepPlan =
  /** keep remote: delete the copy and everything below it, children first, each only if still as expected */
  | { do: 'delete'; steps: { path: string; expect: LocalExpect }[] }
  /** keep local: the copy takes the original's place (`expectTo` null: nothing there) */
  | { do: 'replace'; from: string; to: string; expect: LocalExpect; expectTo: LocalExpect | null }
  /** the copy is gone already: the conflict is resolved */
  | { do: 'forget' }
  | { do: 'skip'; message: string };

function unseen(o: Observed): string | null {
  if (o.known === undefined) return `"${o.path}" has not been seen by syncd yet; run \`syncd sync\` and try again`;
  if (!stillExpected(o.disk, expectOf(o.known))) return `"${o.path}" changed since syncd last saw it; run \`syncd sync\` and try again`;
  return null;
}

/**
 * `copy` is the conflicted copy (with, for a directory, everything below it
 * in `below`); `original` the path it is a copy of.
 */
export function planKeep(keep: KeepSide, copy: Observed, below: readonly Observed[], original: Observed): KeepPlan {
  if (copy.disk === null) return { do: 'forget' };
  const why = unseen(copy);
  if (why) return { do: 'skip', message: why };
  if (keep === 'remote') {
    for (const o of below) {
      const w = unseen(o);
      if (w) return { do: 'skip', message: w };
    }
    const steps = [copy, ...below]
      .sort((a, b) => depth(b.path) - depth(a.path))
      .map((o) => ({ path: o.path, expect: expectOf(o.known!) }));
    return { do: 'delete', steps };
  }
  // the copy replaces the original only when both are files (or links)
  if (copy.disk.kind === 'dir' || original.disk?.kind === 'dir') {
    return { do: 'skip', message: `a directory cannot replace "${original.path}"; merge them by hand` };
  }
  if (original.disk?.kind === 'other') return { do: 'skip', message: `"${original.path}" is something syncd cannot sync; move it away first` };
  if (original.disk === null) return { do: 'replace', from: copy.path, to: original.path, expect: expectOf(copy.known!), expectTo: null };
  const w = unseen(original);
  if (w) return { do: 'skip', message: w };
  return { do: 'replace', from: copy.path, to: original.path, expect: expectOf(copy.known!), expectTo: expectOf(original.known!) };
}
