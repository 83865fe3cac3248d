// The start-up check: is the folder exactly what Local says? A `syncd sync`
// (or an agent's first cycle) must lstat every entry to know nothing
// changed, but it need not build a Local tree to compare with: it walks the
// disk against the identity columns of the Local rows (StateDB
// localIdentities) and stops at the first entry a full scan would not keep
// as it is (core/local.ts `unchangedEntry`). Only then does the full scan
// run (client/disk/scan.ts), reusing the directory listings read so far.
// The check never decides more than "no change": whatever it is unsure of
// (an unreadable entry, a temp file, a name that is not UTF-8, a special
// file) is left to the full scan.

import { join } from 'node:path';
import { isBuiltinIgnoredName } from '../../core/ignore-rules.js';
import { unchangedEntry, type LocalIdentity, type SeenEntry } from '../../core/local.js';
import { TEMP_PREFIX, TRASH_PREFIX } from '../../core/syncd-names.js';
import type { Fsys, FsDirStat, FsStat } from './fsys.js';
import type { IgnoreFn } from './scan.js';

export interface LocalRows {
  /** how many rows Local holds */
  size: number;
  get(diskPath: string): LocalIdentity | undefined;
}

/** `same`: the disk holds exactly Local's entries, each as Local has it. Otherwise the listings read so far, by directory ('' the root). */
export type CheckResult = { same: true } | { same: false; listed: Map<string, FsDirStat[]> };

/** Why the walk stopped: a difference the full scan must look at. */
const CHANGED = Symbol('changed');

async function seenOf(fs: Fsys, root: string, rel: string, st: FsStat): Promise<SeenEntry> {
  const kind = st.isFile() ? 'file' : st.isDirectory() ? 'dir' : st.isSymbolicLink() ? 'symlink' : 'other';
  const target = kind === 'symlink' ? await fs.readlink(join(root, rel)) : null;
  return { kind, size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, exec: (st.mode & 0o100) !== 0, target };
}

/** Compares the folder at `root` with Local's rows; see CheckResult. */
export async function checkAgainstLocal(root: string, rows: LocalRows, isIgnored: IgnoreFn, fs: Fsys): Promise<CheckResult> {
  const listed = new Map<string, FsDirStat[]>();
  let matched = 0;
  const walk = async (dir: string): Promise<void> => {
    const list = await fs.lstatDir(dir === '' ? root : join(root, dir));
    listed.set(dir, list);
    const subdirs: string[] = [];
    for (const d of list) {
      if (typeof d.name !== 'string' || d.err) throw CHANGED;
      const st = d.st;
      if (!st) continue; // vanished since readdir: its row goes unmatched
      const name = d.name;
      const rel = dir === '' ? name : `${dir}/${name}`;
      if ((name.startsWith(TEMP_PREFIX) || name.startsWith(TRASH_PREFIX)) && !st.isDirectory()) throw CHANGED;
      const row = rows.get(rel);
      // the same test as the scan's (scan.ts `ignored`)
      if (isBuiltinIgnoredName(name) || isIgnored(row?.path ?? rel.normalize('NFC'), st.isDirectory())) continue;
      if (!row || !unchangedEntry(row, await seenOf(fs, root, rel, st), rel)) throw CHANGED;
      matched++;
      if (row.kind === 'dir') subdirs.push(rel);
    }
    for (const s of subdirs) await walk(s);
  };
  try {
    await walk('');
  } catch (err) {
    // a listing or a readlink that failed is the full scan's to report
    if (err === CHANGED || (err as NodeJS.ErrnoException).code !== undefined) return { same: false, listed };
    throw err;
  }
  // a row nothing on disk matched: something was deleted (or is now ignored)
  return matched === rows.size ? { same: true } : { same: false, listed };
}
