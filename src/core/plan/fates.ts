// Deletion fates: when one side deleted a node, may the other side delete
// it too? Decided bottom-up over whole subtrees before any rule runs,
// because "edit beats delete" reaches upwards: a directory is deleted only
// when nothing below it must survive. Pure.
//
// - delete:  unchanged on the surviving side, and so is everything below it
// - survive: changed, ignored, new, or something below it survives
// - wait:    something below it (or it) is still moving out; decide later

import { ROOT_ID } from '../../protocol/types.js';
import { parentPath, sameContent } from '../tree.js';
import { localMoveOverridden } from './moves.js';
import { sortByDepth } from './order.js';
import { localContentEquals, type Fate, type PlanState } from './state.js';

interface Below {
  survive: boolean;
  wait: boolean;
}

function fold(agg: Map<string, Below>, parent: string, fate: Fate): void {
  const pa = agg.get(parent) ?? { survive: false, wait: false };
  if (fate === 'survive') pa.survive = true;
  if (fate === 'wait') pa.wait = true;
  agg.set(parent, pa);
}

/** Bottom-up: can a locally unchanged subtree whose remote is gone be deleted locally? */
export function computeLocalFates(st: PlanState): void {
  const entries = sortByDepth([...st.assoc.byPath.values()], (e) => e.path, -1);
  const agg = new Map<string, Below>();
  for (const e of entries) {
    const id = st.assoc.claimedAt.get(e.path);
    let fate: Fate;
    if (st.ignored(e.path, e.kind === 'dir')) fate = 'survive';
    else if (id === undefined) fate = 'survive';
    else if (st.remoteNode(id)) {
      // alive remotely elsewhere: it moves out (wait), unless only the
      // local side moved it in here, which makes this directory needed
      const r = st.remoteNode(id)!;
      const s = st.input.synced.get(id)!;
      fate = r.parent !== s.parent || r.name !== s.name ? 'wait' : 'survive';
    }
    else if (!st.input.remote.has(id)) {
      const s = st.input.synced.get(id)!;
      const view = st.assoc.localOf.get(id)!;
      const changed = !localContentEquals(s, e) || view.parentId !== s.parent || view.name !== s.name;
      const a = agg.get(e.path);
      fate = changed || a?.survive ? 'survive' : a?.wait ? 'wait' : 'delete';
    } else fate = 'wait'; // remote has it but cannot place it: leave alone
    st.localFate.set(e.path, fate);
    const pp = parentPath(e.path);
    if (pp === '') continue;
    fold(agg, pp, fate);
  }
}

/** Bottom-up: can a remotely unchanged subtree whose local is gone be deleted remotely? */
export function computeRemoteFates(st: PlanState): void {
  const ids = sortByDepth([...st.rp.pathOf.entries()], (x) => x[1], -1);
  const agg = new Map<string, Below>();
  for (const [id, path] of ids) {
    const r = st.input.remote.get(id)!;
    const s = st.input.synced.get(id);
    let fate: Fate;
    // excluded here (selective sync) is not deleted: the server keeps it and what holds it
    if (st.ignored(path, r.kind === 'dir') || st.excludedRoot(path) !== undefined) fate = 'survive';
    else if (!s) fate = 'survive';
    else if (st.assoc.localOf.has(id)) {
      // alive locally: the server moved it in here (needs this directory,
      // remote location wins), or the folder moved it out (wait for that),
      // unless that local move loses to a server move and it comes back
      fate = r.parent !== s.parent || r.name !== s.name || localMoveOverridden(st, id) ? 'survive' : 'wait';
    }
    else {
      const changed = !sameContent(r, s) || r.parent !== s.parent || r.name !== s.name;
      const a = agg.get(id);
      fate = changed || a?.survive ? 'survive' : a?.wait ? 'wait' : 'delete';
    }
    st.remoteFate.set(id, fate);
    if (r.parent === ROOT_ID) continue;
    fold(agg, r.parent, fate);
  }
}
