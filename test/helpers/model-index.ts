// The plan model's trees behind a TreeIndex (core/plan/select.ts), as the
// state DB's indexes serve them in the agent, counting the rows handed out
// and the lookups made.

import type { BatchIndex } from '../../src/core/plan/batches.js';
import type { Placed, TreeIndex } from '../../src/core/plan/select.js';
import { parentPath } from '../../src/core/tree.js';
import type { Model } from './plan-model.js';

/** True when `id` or one of its ancestors in `tree` is among `ids`. */
function below(tree: Map<string, { parent: string }>, id: string, ids: readonly string[]): boolean {
  const seen = new Set<string>();
  for (let k: string | undefined = id; k !== undefined && !seen.has(k); k = tree.get(k)?.parent) {
    if (ids.includes(k)) return true;
    seen.add(k);
  }
  return false;
}

/** The model's trees behind a TreeIndex, counting the rows it hands out. */
export function indexOf(m: Model): TreeIndex & BatchIndex & { rows: number; calls: number } {
  const placed = <T>(map: Map<string, T>, pred: (k: string, v: T) => boolean): Placed<T>[] => {
    const out: Placed<T>[] = [];
    let i = 0;
    for (const [k, v] of map) {
      if (pred(k, v)) out.push({ at: i, v });
      i++;
    }
    ix.rows += out.length;
    ix.calls++;
    return out;
  };
  const ix = {
    rows: 0,
    calls: 0,
    remote: (id: string) => placed(m.remote, (k) => k === id)[0],
    synced: (id: string) => placed(m.synced, (k) => k === id)[0],
    remoteChildren: (p: string) => placed(m.remote, (_, n) => n.parent === p),
    syncedChildren: (p: string) => placed(m.synced, (_, n) => n.parent === p),
    local: (d: string) => placed(m.local, (k) => k === d)[0],
    localChildren: (dir: string) => placed(m.local, (k) => k !== '' && parentPath(k) === dir),
    localBelow: (dir: string) => placed(m.local, (k) => k.startsWith(dir + '/')),
    syncedByIno: (ino: number) => placed(m.synced, (_, n) => n.ino === ino),
    localByIno: (ino: number) => placed(m.local, (_, e) => e.ino === ino),
    remoteSubtrees: (ids: readonly string[]) => placed(m.remote, (k) => below(m.remote, k, ids)),
    syncedSubtrees: (ids: readonly string[]) => placed(m.synced, (k) => below(m.synced, k, ids)),
    localSubtrees: (paths: readonly string[]) => placed(m.local, (k) => paths.some((p) => k === p || k.startsWith(p + '/'))),
  };
  return ix;
}

