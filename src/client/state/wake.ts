// Nudging a running agent from another syncd process. The agent watches
// its state directory (never the synced folder): a rewritten config file
// (`syncd config set`, e.g. a new mode) or the wake file (`syncd revert` /
// `syncd override` left a request in the state DB) starts a cycle now
// instead of at the next safety-net pull.

import { watch, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { FolderStatePaths } from './paths.js';

const WAKE_FILE = 'wake';

/** Tells a running agent to look at its state DB and config now. */
export function wakeAgent(paths: FolderStatePaths): void {
  writeFileSync(join(paths.dir, WAKE_FILE), `${Date.now()}\n`);
}

/** Calls `onNudge` whenever the config file or the wake file is written; returns the stop function. */
export function watchNudges(paths: FolderStatePaths, onNudge: () => void): () => void {
  const config = basename(paths.config);
  try {
    const w = watch(paths.dir, (_event, name) => {
      if (name === config || name === WAKE_FILE) onNudge();
    });
    w.on('error', () => w.close()); // the state dir went away: the safety-net pull still comes
    return () => w.close();
  } catch {
    return () => undefined; // no watch possible: changes take effect at the next cycle
  }
}
