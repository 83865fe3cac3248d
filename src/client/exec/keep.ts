// Resolves conflicted copies in bulk (`syncd conflicts --keep`): observes
// the copy and its original, lets core/policy/conflicts decide, and acts
// through the executor's checked steps (a delete goes through
// detachAndDelete; a replace re-checks both paths right before the rename
// or link). Whatever moved on since syncd's last scan is left alone. With a
// trash, the version that loses (the copy, or the file the copy replaces)
// goes to the local trash (reason `conflict`) instead of being unlinked.

import { dirname } from 'node:path';
import type { LocalTree } from '../../core/local.js';
import { planKeep, type KeepPlan, type KeepSide, type Observed } from '../../core/policy/conflicts.js';
import type { StateDB } from '../state/db.js';
import { nodeFsys, type Fsys } from '../disk/fsys.js';
import { assertRealParents, diskState, lstatOrNull, matchesExpect, safeJoin } from '../disk/safe-fs.js';
import { detachAndDelete } from './detach.js';
import { rmdirPastPartials } from '../transfer/partials.js';
import type { RoundTrash } from './to-trash.js';

export interface KeepReport {
  resolved: number;
  skipped: { path: string; message: string }[];
}

/** The copy and everything below it, as Local knew them and as they are now (disk paths). */
async function observeBelow(root: string, rel: string, local: LocalTree, fs: Fsys): Promise<Observed[]> {
  const out: Observed[] = [];
  const stack = [rel];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const ent of await fs.readdir(safeJoin(root, dir))) {
      const path = `${dir}/${ent.name.toString('utf8')}`;
      const disk = diskState(await lstatOrNull(safeJoin(root, path), fs));
      out.push({ path, known: local.get(path), disk });
      if (disk?.kind === 'dir') stack.push(path);
    }
  }
  return out;
}

async function observe(root: string, rel: string, local: LocalTree, fs: Fsys): Promise<Observed> {
  await assertRealParents(root, rel, undefined, fs);
  return { path: rel, known: local.get(rel), disk: diskState(await lstatOrNull(safeJoin(root, rel), fs)) };
}

/** Carries out a plan; returns null when done, or why it stopped (what is left stays as it is). */
async function act(root: string, p: KeepPlan, fs: Fsys, trash?: RoundTrash): Promise<string | null> {
  switch (p.do) {
    case 'forget':
      return null;
    case 'skip':
      return p.message;
    case 'delete':
      for (const s of p.steps) {
        const abs = safeJoin(root, s.path);
        if (s.expect.kind === 'dir') {
          if (!matchesExpect(await lstatOrNull(abs, fs), s.expect)) return `"${s.path}" changed since syncd last saw it`;
          try {
            await rmdirPastPartials(fs, abs);
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === 'ENOTEMPTY' || code === 'EEXIST') return `"${s.path}" holds something syncd has not seen; run \`syncd sync\` and try again`;
            throw err;
          }
        } else if ((await detachAndDelete(fs, abs, s.expect, trash?.dispose(s.path, 'conflict'))) === 'changed') {
          return `"${s.path}" changed since syncd last saw it; run \`syncd sync\` and try again`;
        }
        await fs.syncDir(dirname(abs));
      }
      return null;
    case 'replace': {
      const from = safeJoin(root, p.from);
      const to = safeJoin(root, p.to);
      const st = await lstatOrNull(from, fs);
      if (!matchesExpect(st, p.expect)) return `"${p.from}" changed since syncd last saw it; run \`syncd sync\` and try again`;
      // the version the copy replaces goes to the local trash first, checked once aside
      const dispose = p.expectTo !== null && p.expectTo.kind !== 'dir' && st!.isFile() ? trash?.dispose(p.to, 'conflict') : undefined;
      if (dispose && (await detachAndDelete(fs, to, p.expectTo!, dispose)) === 'changed') return `"${p.to}" changed since syncd last saw it; run \`syncd sync\` and try again`;
      if ((p.expectTo === null || dispose) && st!.isFile()) {
        // nothing (left) there: a link fails rather than replace what appeared
        try {
          await fs.link(from, to);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EEXIST') return `"${p.to}" appeared meanwhile; run \`syncd sync\` and try again`;
          throw err;
        }
        await fs.unlink(from);
      } else {
        if (!matchesExpect(await lstatOrNull(to, fs), p.expectTo)) return `"${p.to}" changed since syncd last saw it; run \`syncd sync\` and try again`;
        await fs.rename(from, to);
      }
      await fs.syncDir(dirname(to));
      if (dirname(from) !== dirname(to)) await fs.syncDir(dirname(from));
      return null;
    }
  }
}

/**
 * Resolves every listed conflict keeping `keep`'s version. A conflict that
 * cannot be resolved safely stays listed and is reported.
 */
export async function keepConflicts(root: string, db: StateDB, keep: KeepSide, conflicts: readonly { path: string; original: string }[], fs: Fsys = nodeFsys, trash?: RoundTrash): Promise<KeepReport> {
  const report: KeepReport = { resolved: 0, skipped: [] };
  const local = db.loadLocal();
  for (const c of conflicts) {
    const copy = await observe(root, c.path, local, fs);
    // keeping the remote version never touches the original
    const original = keep === 'local' ? await observe(root, c.original, local, fs) : { path: c.original, known: undefined, disk: null };
    const below = keep === 'remote' && copy.disk?.kind === 'dir' && copy.known?.kind === 'dir' ? await observeBelow(root, c.path, local, fs) : [];
    const stopped = await act(root, planKeep(keep, copy, below, original), fs, trash);
    trash?.record();
    if (stopped !== null) {
      report.skipped.push({ path: c.path, message: stopped });
      continue;
    }
    db.removeConflict(c.path);
    report.resolved++;
  }
  return report;
}
