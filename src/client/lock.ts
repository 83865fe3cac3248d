// One agent per folder: a pid file in the folder's state dir, created
// exclusively. A lock whose process is gone is taken over.

import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SyncdError } from '../protocol/errors.js';

export function lockHolder(lockFile: string): number | null {
  let pid: number;
  try {
    pid = Number(readFileSync(lockFile, 'utf8').trim());
  } catch {
    return null;
  }
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM' ? pid : null;
  }
}

export interface FolderLock {
  release(): void;
}

export function acquireLock(lockFile: string, folder: string): FolderLock {
  mkdirSync(dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      let released = false;
      return {
        release() {
          if (released) return;
          released = true;
          try {
            if (readFileSync(lockFile, 'utf8').trim() === String(process.pid)) unlinkSync(lockFile);
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = lockHolder(lockFile);
      if (holder !== null && holder !== process.pid) {
        throw new SyncdError('locked', `another syncd agent (pid ${holder}) is already syncing ${folder}; stop it first (or use \`syncd status ${folder}\`)`);
      }
      try {
        unlinkSync(lockFile); // stale: its process is gone
      } catch {
        // raced with another taker
      }
    }
  }
  throw new SyncdError('locked', `could not lock ${folder} for syncing`);
}
