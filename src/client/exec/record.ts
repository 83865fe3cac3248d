// Writes what an op achieved (core/apply.ts edits) into the state DB. Call
// inside the transaction that makes the round's results durable.

import { relocated, type TreeEdit } from '../../core/apply.js';
import type { StateDB } from '../state/db.js';

export function recordEdits(db: StateDB, edits: readonly TreeEdit[]): void {
  for (const e of edits) {
    switch (e.edit) {
      case 'upsert':
        db.upsertRemote(e.node, e.seq);
        break;
      case 'put':
        if (e.tree === 'synced') db.putSynced(e.node);
        else db.putLocal(e.entry);
        break;
      case 'relocate': {
        const n = relocated(e, db.getSynced(e.id));
        if (n) db.putSynced(n);
        break;
      }
      case 'delete':
        db.deleteSynced(e.id);
        break;
      case 'delete_subtree':
        if (e.tree === 'remote') db.deleteRemoteSubtree(e.id);
        else if (e.tree === 'synced') db.deleteSyncedSubtree(e.id);
        else db.deleteLocalSubtree(e.diskPath);
        break;
      case 'reparent':
        db.reparentSynced(e.from, e.to);
        break;
      case 'move_subtree':
        db.moveLocalSubtree(e.from, e.to, e.toNfc);
        break;
      case 'add':
        db.addConflict(e.path, e.original, e.reason);
        break;
    }
  }
}
