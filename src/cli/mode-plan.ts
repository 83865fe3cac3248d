// The plan a folder's state DB gives now, in the folder's mode: what
// `syncd status` counts as pending (and lists as differences) and what
// `syncd revert` / `syncd override` say they will do.

import { loadIgnore } from '../client/disk/syncignore.js';
import type { Config } from '../client/state/config.js';
import type { StateDB } from '../client/state/db.js';
import type { FolderStatePaths } from '../client/state/paths.js';
import { narrowPlanInput } from '../core/plan/index.js';
import { planInMode, type ModePlan, type ModeRequest } from '../core/policy/modes.js';

/** `excluded`: the folder's selective-sync exclusions (paths), as the agent plans with them. */
export function folderModePlan(paths: FolderStatePaths, db: StateDB, config: Config, request: ModeRequest | null, excluded: readonly string[] = (db.meta.get('exclusions') ?? []).map((x) => x.path)): ModePlan {
  const input = narrowPlanInput({
    remote: db.loadRemote(), synced: db.loadSynced(), local: db.loadLocal(),
    device: db.meta.get('device_label') ?? 'device', now: Date.now(), isIgnored: loadIgnore(paths.folder, config.ignore),
    excluded: [...excluded],
  });
  return planInMode(input, config.mode, request);
}
