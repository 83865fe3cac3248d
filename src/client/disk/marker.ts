// The folder root's identity and its marker file: how the agent tells a
// folder that is really there from an empty mount point (core/guards.ts).

import { join } from 'node:path';
import { ROOT_MARKER } from '../../core/syncd-names.js';
import { isDiskError } from './errno.js';
import { nodeFsys, type Fsys } from './fsys.js';

/** Device and inode of the folder root ('' when it is gone). */
export function rootIdentity(folder: string, fs: Fsys): string {
  const st = fs.statSync(folder);
  return st ? `${st.dev}:${st.ino}` : '';
}

export function writeMarker(folder: string, fs: Fsys = nodeFsys): void {
  try {
    fs.writeNewSync(join(folder, ROOT_MARKER), 'This folder is synced by syncd. Do not delete this file: it tells syncd the folder is really there (not an empty mount point).\n');
  } catch (err) {
    if (!isDiskError(err, 'path_taken')) throw err;
  }
}
