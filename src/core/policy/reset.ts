// Resets (DESIGN.md loop step 3): why the Remote tree is rebuilt from a full
// listing, and whether Synced can still serve as the merge base after it.
// Pure.

import type { ResetReason } from '../../protocol/types.js';

export type ResetCause =
  /** no cursor yet: the first listing of this folder */
  | { kind: 'first_sync' }
  /** the server answered 409 reset with this reason */
  | { kind: 'server'; reason: ResetReason }
  /** a pulled page did not continue from the cursor */
  | { kind: 'gap' };

/** How a reset is shown in status and logs (and stored as last_reset_reason). */
export function resetLabel(cause: ResetCause): string {
  if (cause.kind === 'first_sync') return 'first sync';
  if (cause.kind === 'gap') return 'journal gap';
  return `reset: ${cause.reason}`;
}

/**
 * After these the server's history is not the one Synced was built on (a
 * restored or re-created namespace, a foreign or tampered cursor, a server
 * behind us): Synced is then no merge base. Dropping it makes every node
 * "new on both sides", so equal files are adopted, different ones become
 * conflicted copies, and nothing local is deleted or overwritten. An expired
 * cursor or a gap only lost us entries of the same history: Synced holds.
 */
export function distrustsSynced(cause: ResetCause): boolean {
  if (cause.kind !== 'server') return false;
  switch (cause.reason) {
    case 'epoch':
    case 'invalid':
    case 'future':
      return true;
    case 'expired':
      return false;
  }
}
