// Pull (DESIGN.md loop step 2 and 3): the journal delta page by page, each
// page stored into Remote in ONE transaction together with its cursor; seqs
// must continue from the cursor (a gap is corruption → reset). A reset
// lists the whole tree into a fresh Remote and swaps it in with the list's
// cursor; Synced is kept, so a reset alone never deletes a local file.

import { distrustsSynced, resetLabel, type ResetCause } from '../../core/policy/reset.js';
import { fromWire } from '../../core/tree.js';
import { SyncdError } from '../../protocol/errors.js';
import { LIMITS, type JournalEntry } from '../../protocol/types.js';
import type { RemoteClient } from '../remote/remote.js';
import { RemoteError } from '../remote/errors.js';
import type { StateDB } from '../state/db.js';

export interface PullResult {
  applied: number;
  head: number;
  resets: number;
}

export class GapError extends SyncdError {
  constructor(expected: number, got: number) {
    super('journal_gap', `the server skipped journal entries (expected seq ${expected}, got ${got}); rebuilding from a full listing`);
  }
}

/** Stores one page: checks contiguity, applies newer revs, moves the cursor. One transaction. */
export function storePage(db: StateDB, fromSeq: number, entries: JournalEntry[], cursor: string, head: number): number {
  return db.tx(() => {
    let expect = fromSeq + 1;
    let applied = 0;
    for (const e of entries) {
      if (e.seq !== expect) throw new GapError(expect, e.seq);
      expect++;
      const known = db.remoteRev(e.node.id);
      if (known !== null && e.node.rev <= known) continue;
      if (e.op === 'delete') db.deleteRemoteSubtree(e.node.id);
      else db.upsertRemote(fromWire(e.node), e.seq);
      applied++;
    }
    const seq = fromSeq + entries.length;
    db.meta.set('cursor', cursor);
    db.meta.set('cursor_seq', seq);
    db.meta.set('head_seq', Math.max(head, seq));
    db.meta.set('head_seen_at', Date.now());
    if (seq >= head) db.meta.set('caught_up_at', Date.now());
    return applied;
  });
}

/** The most nodes a listing may hold before the client calls it a broken server (default; `maxListEntries`). */
export const DEFAULT_MAX_LIST_ENTRIES = 10_000_000;

/** A server reply that breaks the protocol in a way no retry fixes. */
export class ListingError extends SyncdError {
  constructor(message: string) {
    super('protocol_error', message);
  }
}

/**
 * Full listing into a fresh Remote tree, swapped in with the list's cursor.
 * Each page is staged in the state DB as it arrives (never the whole
 * listing in memory: a page at a time, and the next one on its way while
 * it is staged: at most two); the swap is one transaction. A
 * listing whose page token does not advance, or that passes `maxEntries`
 * nodes, is a protocol error: a server that says `has_more` forever must
 * not grow the client without bound.
 */
export async function resetFromList(db: StateDB, remote: RemoteClient, reason: string, maxEntries = DEFAULT_MAX_LIST_ENTRIES, pageSize: number = LIMITS.pageMax): Promise<void> {
  const seen = new Set<string>();
  let pageToken: string | undefined;
  let cursor = '';
  let seq = 0;
  let listed = 0;
  db.lightTx(() => db.startListing());
  let next = remote.list({ pageToken, limit: pageSize });
  for (let first = true; ; first = false) {
    const page = await next;
    if (first) {
      cursor = page.cursor;
      seq = page.seq;
    }
    listed += page.entries.length;
    if (listed > maxEntries) {
      throw new ListingError(`the server's listing passed ${maxEntries} nodes (maxListEntries); stopped reading it`);
    }
    const token = page.has_more ? page.page_token : undefined;
    if (token) {
      if (seen.has(token)) throw new ListingError('the server sent a listing page token it had already sent: the listing does not advance');
      seen.add(token);
      pageToken = token;
      // the server lists the next page while this one is staged (a failure
      // shows when it is awaited; if staging fails first, nobody needs it)
      next = remote.list({ pageToken, limit: pageSize });
      next.catch(() => undefined);
    }
    // staged without waiting for the disk: until the swap it is nothing the agent relies on
    db.lightTx(() => db.stageListing(page.entries.map(fromWire)));
    if (!token) break;
  }
  db.tx(() => {
    db.swapInListing();
    if (db.meta.get('distrust_synced')) db.clearSynced();
    db.meta.set('distrust_synced', false);
    db.meta.set('pending_reset_reason', null);
    db.meta.set('cursor', cursor);
    db.meta.set('cursor_seq', seq);
    db.meta.set('last_reset_at', Date.now());
    db.meta.set('last_reset_reason', reason);
  });
}

export async function pull(
  db: StateDB,
  remote: RemoteClient,
  opts: { pageSize?: number; maxResets?: number; maxListEntries?: number } = {},
): Promise<PullResult> {
  let applied = 0;
  let resets = 0;
  let head = 0;
  for (;;) {
    const cursor = db.meta.get('cursor');
    if (!cursor) {
      // a reset interrupted before its listing landed keeps its reason (and its distrust)
      await resetFromList(db, remote, db.meta.get('pending_reset_reason') ?? resetLabel({ kind: 'first_sync' }), opts.maxListEntries);
      resets++;
      continue;
    }
    const fromSeq = db.meta.get('cursor_seq');
    try {
      const page = await remote.changes(cursor, opts.pageSize ?? LIMITS.pageMax);
      head = page.head;
      applied += storePage(db, fromSeq, page.entries, page.cursor, page.head);
      if (!page.has_more) {
        if (resets > 0) {
          const pruned = db.pruneRemoteOrphans();
          db.setProblems(pruned ? [{ path: '(server)', code: 'remote_orphan', message: `the server's listing had ${pruned} nodes whose parents do not lead to the root (orphaned or cyclic); they were left out` }] : [], 'pull');
        }
        return { applied, head, resets };
      }
    } catch (err) {
      const isReset = err instanceof RemoteError && err.code === 'reset';
      if (!isReset && !(err instanceof GapError)) throw err;
      if (resets >= (opts.maxResets ?? 3)) throw new SyncdError('reset_loop', `the server keeps asking for a reset (${(err as Error).message}); giving up for now`);
      const cause: ResetCause = isReset ? { kind: 'server', reason: (err as RemoteError).reason ?? 'invalid' } : { kind: 'gap' };
      const reason = resetLabel(cause);
      db.tx(() => {
        db.meta.set('cursor', null);
        db.meta.set('pending_reset_reason', reason);
        // Synced is dropped (in the listing's transaction) when the history changed
        if (distrustsSynced(cause)) db.meta.set('distrust_synced', true);
      });
      await resetFromList(db, remote, reason, opts.maxListEntries);
      resets++;
    }
  }
}
