// The work of syncd trash list | restore. Both work whether or not an agent
// runs on the folder: the index is a table of the state DB (SQLite, shared
// safely), and a restore only adds files that were not there, which a
// running agent then meets as local changes and uploads.

import { lstatSync } from 'node:fs';
import { entriesToRestore } from '../core/policy/trash.js';
import { locate } from '../client/history/locate.js';
import { nodeFsys } from '../client/disk/fsys.js';
import { safeJoin } from '../client/disk/safe-fs.js';
import { restoreEntry } from '../client/disk/trash.js';
import { StateDB } from '../client/state/db.js';
import type { TrashEntry } from '../client/state/trash.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { printJson } from './folder.js';

/** Entries whose file is still in the trash (one removed by hand is no longer offered). */
function present(folder: string, entries: TrashEntry[]): TrashEntry[] {
  return entries.filter((e) => {
    try {
      lstatSync(safeJoin(folder, e.stored));
      return true;
    } catch {
      return false;
    }
  });
}

export function runTrashList(dir: string | undefined, o: { json?: boolean }): void {
  const loc = locate(dir);
  const db = new StateDB(loc.paths.db);
  try {
    const under = (p: string) => loc.rel === '' || p === loc.rel || p.startsWith(`${loc.rel}/`);
    const list = present(loc.paths.folder, db.trashEntries().filter((e) => under(e.path)));
    if (o.json) {
      printJson(list.map((e) => ({ id: e.id, path: e.path, deleted_at: new Date(e.deletedAt).toISOString(), size: e.size, reason: e.reason, kind: e.kind, hash: e.hash })));
      return;
    }
    if (list.length === 0) {
      process.stdout.write('the local trash is empty\n');
      return;
    }
    for (const e of list) process.stdout.write(`${String(e.id).padStart(6)}  ${new Date(e.deletedAt).toISOString()}  ${String(e.size).padStart(10)}  ${e.reason.padEnd(14)}  ${e.path}\n`);
  } finally {
    db.close();
  }
}

export async function runTrashRestore(path: string, o: { id?: string }): Promise<void> {
  const loc = locate(path);
  const db = new StateDB(loc.paths.db);
  try {
    let picked: TrashEntry[];
    if (o.id !== undefined) {
      if (!/^\d+$/.test(o.id)) throw new UsageError(`--id must be an entry id from \`syncd trash list\` (got "${o.id}")`);
      const e = db.trashEntry(Number(o.id));
      if (!e) throw new SyncdError('trash_not_found', `the local trash of ${loc.paths.folder} has no entry ${o.id}`);
      picked = [e];
    } else {
      picked = entriesToRestore(present(loc.paths.folder, db.trashEntries()), loc.rel);
      if (picked.length === 0) throw new SyncdError('trash_not_found', `the local trash of ${loc.paths.folder} holds nothing for "${loc.rel || '.'}" (see \`syncd trash list\`)`);
    }
    for (const e of picked) {
      const at = await restoreEntry(loc.paths.folder, nodeFsys, db, e);
      process.stdout.write(at === e.path ? `restored ${e.path}\n` : `restored ${e.path} as ${at} (the name was taken)\n`);
    }
  } finally {
    db.close();
  }
}
