// .syncignore at the folder root: gitignore syntax, via the `ignore` package.
// Built-in ignores (core/ignore-rules.ts) always apply on top.

import ignore from 'ignore';
import { join } from 'node:path';
import { nodeFsys, type Fsys } from './fsys.js';

export const SYNCIGNORE = '.syncignore';

export interface IgnoreMatcher {
  (path: string, isDir: boolean): boolean;
  /** mtime of the .syncignore it was built from (0 when absent) */
  version: number;
}

export function loadIgnore(root: string, extra: readonly string[] = [], fs: Fsys = nodeFsys): IgnoreMatcher {
  const ig = ignore();
  let version = 0;
  try {
    const file = join(root, SYNCIGNORE);
    const st = fs.statSync(file);
    if (st) {
      version = st.mtimeMs;
      ig.add(fs.readFileSync(file).toString('utf8'));
    }
  } catch {
    // no .syncignore
  }
  if (extra.length) ig.add([...extra]);
  const rules = version !== 0 || extra.length > 0;
  const fn = ((path: string, isDir: boolean) => {
    // no rules: nothing to match (a scan and a plan ask for every path)
    if (path === '' || !rules) return false;
    try {
      return ig.ignores(isDir ? `${path}/` : path);
    } catch {
      return false; // a path the matcher cannot take (e.g. odd characters) is not ignored
    }
  }) as IgnoreMatcher;
  fn.version = version;
  return fn;
}
