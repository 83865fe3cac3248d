// Pause and resume (DESIGN.md "Guards"): what `syncd pause` records and what
// `syncd resume` may lift. Pure.

import type { GuardTrip } from '../guards.js';
import { isOwnName } from '../syncd-names.js';

/** Why syncing is paused: a guard tripped, or the user asked. */
export type PauseCode = GuardTrip['code'] | 'user';

/** What `syncd pause` records. */
export const USER_PAUSE: { code: PauseCode; reason: string } = {
  code: 'user',
  reason: 'paused by the user; `syncd resume` continues',
};

export type ResumeDecision =
  /** the folder is still missing or empty after a root guard: resuming would delete on the server */
  | { ok: false; folder: 'missing' | 'empty' }
  /** resume; `allowDeletes`: the next pass's deletions skip the mass-delete guard once */
  | { ok: true; allowDeletes: boolean };

/**
 * May `syncd resume` lift a pause with `code`? `entries` are the names in
 * the folder now (null: the folder is missing), asked only after a root guard. A root guard pause is lifted
 * only once the folder has something of the user's in it again, unless
 * forced; a forced resume still passes the mass-delete guard. Only a
 * mass-delete pause is a question about deletions: answering it lets them
 * through once.
 */
export function resumeDecision(code: string | null, force: boolean, entries: () => readonly string[] | null): ResumeDecision {
  if ((code === 'root_missing' || code === 'root_empty') && !force) {
    const names = entries();
    if (names === null) return { ok: false, folder: 'missing' };
    if (!names.some((n) => !isOwnName(n))) return { ok: false, folder: 'empty' };
  }
  return { ok: true, allowDeletes: code === 'mass_delete' };
}
