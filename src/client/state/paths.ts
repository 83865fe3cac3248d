// Where an agent keeps its state: one directory per synced folder under
// $SYNCD_STATE_DIR, else $XDG_STATE_HOME/syncd, else ~/.local/state/syncd.
// Nothing of syncd's lives inside the synced folder but its `.syncd*` names
// (the root marker, temp files, the local trash: core/syncd-names.ts).

import { createHash } from 'node:crypto';
import { realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

export function stateRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SYNCD_STATE_DIR) return resolve(env.SYNCD_STATE_DIR);
  if (env.XDG_STATE_HOME) return join(resolve(env.XDG_STATE_HOME), 'syncd');
  return join(homedir(), '.local', 'state', 'syncd');
}

/** The folder's canonical absolute path (symlinks resolved when it exists). */
export function canonicalFolder(dir: string): string {
  const abs = resolve(dir);
  try {
    return realpathSync(abs);
  } catch {
    return abs;
  }
}

export interface FolderStatePaths {
  folder: string;
  dir: string;
  db: string;
  lock: string;
  config: string;
  log: string;
}

export function folderStatePaths(folder: string, env: NodeJS.ProcessEnv = process.env): FolderStatePaths {
  const canonical = canonicalFolder(folder);
  const key = createHash('sha256').update(canonical).digest('hex').slice(0, 16);
  const dir = join(stateRoot(env), 'folders', key);
  return {
    folder: canonical,
    dir,
    db: join(dir, 'state.db'),
    lock: join(dir, 'agent.lock'),
    config: join(dir, 'config.json'),
    log: join(dir, 'agent.log'),
  };
}
