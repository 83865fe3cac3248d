// The plan a folder's state DB gives now, in the folder's mode: what
// `syncd status` counts as pending (and lists as differences) and what
// `syncd revert` / `syncd override` say they will do.

import { loadIgnore } from '../client/disk/syncignore.js';
import type { Config } from '../client/state/config.js';
import type { StateDB } from '../client/state/db.js';
import type { FolderStatePaths } from '../client/state/paths.js';
import { exclusionsKey } from '../client/state/exclusions.js';
import { narrowPlanInput } from '../core/plan/index.js';
import { selectAround } from '../core/plan/select.js';
import { planMemoKey, plansFromSelection } from '../core/policy/cycle.js';
import { VERSION } from '../version.js';
import { planInMode, type ModePlan, type ModeRequest } from '../core/policy/modes.js';

/**
 * `excluded`: the folder's selective-sync exclusions (paths), as the agent
 * plans with them. Like the agent, it plans over the nodes around what
 * changed since the plan base when the base was taken with these inputs
 * (issue #17: `status` in a 1,000,000-file folder reads what changed, not
 * the trees), and over the whole trees otherwise.
 */
export function folderModePlan(paths: FolderStatePaths, db: StateDB, config: Config, request: ModeRequest | null, excluded: readonly string[] = (db.meta.get('exclusions') ?? []).map((x) => x.path)): ModePlan {
  const device = db.meta.get('device_label') ?? 'device';
  const isIgnored = loadIgnore(paths.folder, config.ignore);
  const exclusions = exclusionsKey(db);
  const key = planMemoKey({ version: VERSION, ignoreVersion: isIgnored.version, extraIgnore: config.ignore, device, mode: config.mode, request, exclusions });
  const trees = plansFromSelection(db.planBase(), key, () => db.treeRows.rows().remote) && JSON.stringify(excluded) === exclusions
    ? selectAround(db.planSeeds(), db.treeIndex)
    : { remote: db.loadRemote(), synced: db.loadSynced(), local: db.loadLocal() };
  const input = narrowPlanInput({ ...trees, device, now: Date.now(), isIgnored, excluded: [...excluded] });
  return planInMode(input, config.mode, request);
}
