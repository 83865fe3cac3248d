// The work of syncd revert [DIR] and syncd override [DIR] (src/cli/modes.ts
// defines their arguments). Both leave a request in the state DB, say what
// it will do, and then either wake the running agent and wait for it, or
// run one cycle here under the agent lock (as `syncd sync` does). The
// request changes what the planner is given (core/plan/prefer.ts); the
// ordinary executor does the work with its usual checks, and the
// mass-delete guard applies as always.

import { loadConfig } from '../client/state/config.js';
import type { StateDB } from '../client/state/db.js';
import { lockHolder } from '../client/state/lock.js';
import type { FolderStatePaths } from '../client/state/paths.js';
import { wakeAgent } from '../client/state/wake.js';
import type { PlanOp } from '../core/ops.js';
import { differences, requestRefusal, type ModeRequest } from '../core/policy/modes.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { withAgent } from './client-commands.js';
import { openLinked } from './folder.js';
import { folderModePlan } from './mode-plan.js';

/** Planned steps printed before acting; the rest is counted. */
const SHOWN_STEPS = 50;

function step(op: PlanOp): string | null {
  switch (op.type) {
    case 'download': case 'symlink': return `${op.expect === null ? 'restore' : 'replace'}   ${op.path}`;
    case 'chmod': return `chmod     ${op.path}`;
    case 'mkdir': return `restore   ${op.path}/`;
    case 'local_move': return `move      ${op.from} -> ${op.to}`;
    case 'local_delete': return `remove    ${op.path}${op.expect.kind === 'dir' ? '/' : ''}`;
    case 'conflict_rename': return `aside     ${op.path} -> ${op.to}`;
    case 'create': case 'update': return `upload    ${op.path}`;
    case 'move': return `move      ${op.path} (on the server)`;
    case 'delete': return `delete    ${op.path} (on the server)`;
    default: return null;
  }
}

/** What the request's first round will do, as of the last scan. */
function preview(paths: FolderStatePaths, db: StateDB, request: ModeRequest): string[] {
  const p = folderModePlan(paths, db, loadConfig(paths.folder), request);
  const steps = p.ops.map(step).filter((s): s is string => s !== null);
  const out = steps.slice(0, SHOWN_STEPS).map((s) => `  ${s}`);
  if (steps.length > SHOWN_STEPS) out.push(`  …and ${steps.length - SHOWN_STEPS} more`);
  return out;
}

function remaining(paths: FolderStatePaths, db: StateDB): number {
  return differences(folderModePlan(paths, db, loadConfig(paths.folder), null).held).length;
}

async function waitForAgent(db: StateDB, pid: number, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  while (db.meta.get('mode_request') !== null) {
    if (db.meta.get('paused')) throw new SyncdError(db.meta.get('pause_code') ?? 'mass_delete', `the agent (pid ${pid}) paused: ${db.meta.get('pause_reason') ?? 'paused'}; the request stays and goes ahead after \`syncd resume\``);
    if (Date.now() > deadline) throw new SyncdError('timeout', `the agent (pid ${pid}) has not finished after ${timeoutS} s; it goes on (see \`syncd status\`)`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function runModeRequest(dir: string | undefined, request: ModeRequest, o: { timeout: string }): Promise<void> {
  const timeoutS = Number(o.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) throw new UsageError('--timeout must be a positive number of seconds');
  const { paths, db } = openLinked(dir);
  let pid: number | null;
  try {
    const refusal = requestRefusal(request, loadConfig(paths.folder).mode);
    if (refusal) throw new UsageError(refusal);
    const steps = preview(paths, db, request);
    process.stdout.write(steps.length
      ? `${request} ${paths.folder}: as of the last scan, this will\n${steps.join('\n')}\n`
      : `${request} ${paths.folder}: no differences as of the last scan; looking again\n`);
    db.meta.set('mode_request', request);
    pid = lockHolder(paths.lock);
    if (pid !== null) {
      wakeAgent(paths);
      await waitForAgent(db, pid, timeoutS);
    }
  } finally {
    db.close();
  }
  if (pid === null) {
    await withAgent(dir, {}, async ({ db: adb, engine, hooks }) => {
      try {
        await engine.prepare();
        const r = await engine.cycle();
        hooks.stop();
        if (r.paused) throw new SyncdError(r.paused.code, `${r.paused.message}; the ${request} goes ahead after that`);
      } finally {
        // one cycle, done or not; only a pause keeps the request (resume continues it), so nothing surprising happens later
        if (!adb.meta.get('paused')) adb.meta.set('mode_request', null);
      }
    });
  }
  const after = openLinked(dir, { readonly: true });
  try {
    const left = remaining(after.paths, after.db);
    if (left > 0) throw new SyncdError('not_converged', `${left} difference(s) remain (changed again since the last scan, or could not be placed): see \`syncd status\`, then run \`syncd ${request}\` again`);
  } finally {
    after.db.close();
  }
  process.stdout.write(request === 'revert' ? `reverted: ${paths.folder} matches the server\n` : `overridden: the server matches ${paths.folder}\n`);
}
