// PATH and DIR arguments of the history commands: a path inside a linked
// folder, absolute or relative to the current directory, that may no
// longer exist on disk (a deleted file). Finds the linked folder that
// holds it and the path relative to that folder, which is the path in the
// namespace (a linked folder mirrors its whole namespace).

import { existsSync, realpathSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';
import { folderStatePaths, type FolderStatePaths } from '../state/paths.js';

export interface Located {
  paths: FolderStatePaths;
  /** relative to the linked folder, `/`-separated; '' for the folder itself */
  rel: string;
  /** the absolute path on disk (symlinks above it resolved) */
  abs: string;
}

export function locate(arg: string | undefined, cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): Located {
  const given = resolve(cwd, arg ?? '.');
  // the deepest part that exists is resolved through symlinks; the rest (a deleted name) is kept as typed
  let existing = given;
  const tail: string[] = [];
  while (!existsSync(existing) && dirname(existing) !== existing) {
    tail.unshift(basename(existing));
    existing = dirname(existing);
  }
  let real = existing;
  try {
    real = realpathSync(existing);
  } catch {
    // unreadable: use it as typed
  }
  const abs = tail.length > 0 ? join(real, ...tail) : real;
  for (let dir = abs; ; dir = dirname(dir)) {
    const paths = folderStatePaths(dir, env);
    if (existsSync(paths.db)) {
      const rel = relative(paths.folder, abs).split(sep).join('/');
      return { paths, rel, abs };
    }
    if (dirname(dir) === dir) break;
  }
  throw new SyncdError('not_linked', `${given} is not inside a folder linked with \`syncd init\``);
}
