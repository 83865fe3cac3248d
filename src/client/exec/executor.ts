// The executor: carries out one round of the plan and records in the state DB
// what actually happened (STYLE.md: the merge base follows what the
// transition achieved, not the plan). Phases run in the planner's order:
// state, renames aside, local moves, mkdirs, content (downloads and uploads),
// local deletes. Every destructive step re-checks the disk against what the
// plan expected; a mismatch marks the path dirty instead of acting.

import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';
import PQueue from 'p-queue';
import { committedEdits, localDeleteEdits, movedEdits, placedEdits, relinkedEdits, stateEdits } from '../../core/apply.js';
import { isStateOp, type LocalOp, type PlanOp, type RemoteOp } from '../../core/ops.js';
import { TEMP_PREFIX } from '../../core/syncd-names.js';
import { fromWire, parentPath } from '../../core/tree.js';
import { nameKey } from '../../protocol/names.js';
import { SyncdError } from '../../protocol/errors.js';
import type { Op, OpResult } from '../../protocol/types.js';
import { detachAndDelete } from './detach.js';
import { moveNoReplace } from './no-replace.js';
import { recordEdits } from './record.js';
import { RoundTrash } from './to-trash.js';
import type { ExecContext, ExecResult, Unconfirmed } from './context.js';
import { downloads, exec, occupied, place } from './downloads.js';
import type { LocalExpect } from '../../core/local.js';
import { nodeFsys, runLimited, type Fsys, type FsStat } from '../disk/fsys.js';
import { isRetryable } from '../remote/errors.js';
import { assertRealParents, lstatOrNull, matchesExpect, parentChain, safeJoin, type ParentChain } from '../disk/safe-fs.js';
import { uploadFile } from '../transfer/upload.js';
import { rmdirPastPartials } from '../transfer/partials.js';
import { requestSlots, type Slots } from '../transfer/throttle.js';
import { isDiskError } from '../disk/errno.js';

export type { Unconfirmed } from './context.js';

type Phase = 0 | 1 | 2 | 3 | 4 | 5;
const PHASE: Record<PlanOp['type'], Phase> = {
  adopt: 0, forget: 0, conflict_rename: 1, local_move: 2, mkdir: 3,
  download: 4, symlink: 4, chmod: 4, create: 4, update: 4, move: 4, delete: 4, local_delete: 5,
};

const COMMIT_CHUNK = 500;
/** directory fsyncs in flight at once */
const SYNC_DIRS_PARALLEL = 16;

/** Errors that end the round (the engine backs off and retries); others are per-path problems. */
const FATAL = new Set(['network', 'unauthorized', 'unavailable', 'rate_limited', 'server_error', 'disk_full', 'ABORT_ERR']);

class Run {
  readonly res: ExecResult = { done: 0, failed: 0, needPull: false, dirty: new Set(), problems: [] };
  readonly parents = new Set<string>();
  /** directories this round was to make but did not record (failed, or the disk moved on): nothing below them is placed */
  readonly unmade = new Set<string>();
  readonly fs: Fsys;
  readonly trash: RoundTrash;
  /** the round's `concurrency` budget: every transfer request of the round (files, batches, chunks) takes a slot */
  readonly slots: Slots;
  constructor(readonly ctx: ExecContext) {
    this.fs = ctx.fs ?? nodeFsys;
    this.trash = new RoundTrash(ctx.trash, ctx.db, ctx.trashCause);
    this.slots = requestSlots(ctx.concurrency);
  }

  abs(rel: string): string {
    return safeJoin(this.ctx.root, rel);
  }

  problem(path: string, code: string, message: string): void {
    this.res.problems.push({ path, code, message });
    this.res.failed++;
  }

  /** The disk moved on since the scan: look again before acting. */
  stale(path: string): void {
    this.res.dirty.add(path);
    this.res.failed++;
  }

  async guard(rel: string): Promise<boolean> {
    // Local and Synced hold a directory's entries only below the directory itself
    for (let p = parentPath(rel); p !== '' && this.unmade.size > 0; p = parentPath(p)) {
      if (!this.unmade.has(p)) continue;
      this.stale(rel);
      return false;
    }
    try {
      await assertRealParents(this.ctx.root, rel, this.parents, this.fs);
      return true;
    } catch (err) {
      const e = err as SyncdError;
      if (e.code === 'unsafe_path') this.problem(rel, 'unsafe_path', e.message);
      else this.stale(parentPath(rel) || rel);
      return false;
    }
  }

  /** The identities of `rel`'s parents, or null (problem or dirty path recorded). */
  async chainOf(rel: string): Promise<ParentChain | null> {
    try {
      return await parentChain(this.ctx.root, rel, this.fs);
    } catch (err) {
      const e = err as SyncdError;
      if (e.code === 'unsafe_path') this.problem(rel, 'unsafe_path', e.message);
      else this.stale(parentPath(rel) || rel);
      return null;
    }
  }

  // ---- phase 0 ---------------------------------------------------------

  state(ops: PlanOp[]): void {
    const { db } = this.ctx;
    db.tx(() => {
      for (const op of ops) if (isStateOp(op)) recordEdits(db, stateEdits(op));
    });
    this.res.done += ops.length;
  }

  // ---- phases 1 and 2: renames and moves --------------------------------

  async move(op: Extract<LocalOp, { type: 'local_move' | 'conflict_rename' }>): Promise<void> {
    const from = op.type === 'local_move' ? op.from : op.path;
    if (!(await this.guard(from)) || !(await this.guard(op.to))) return;
    const st = await lstatOrNull(this.abs(from), this.fs);
    if (!matchesExpect(st, op.expect)) return this.stale(from);
    const target = await lstatOrNull(this.abs(op.to), this.fs);
    if (target && !(target.ino === st!.ino && nameKey(from) === nameKey(op.to))) return this.stale(op.to);
    // a case-only rename (the target is the entry itself) renames in place; otherwise
    // nothing that appears at the target after that check is ever replaced
    let moved: FsStat | null = st!;
    if (target) await this.fs.rename(this.abs(from), this.abs(op.to));
    else moved = await moveNoReplace(this.fs, this.abs(from), this.abs(op.to), op.expect, st!);
    if (moved === null) return this.stale(op.to);
    this.parents.clear();
    await this.fs.syncDir(dirname(this.abs(from)));
    if (dirname(from) !== dirname(op.to)) await this.fs.syncDir(dirname(this.abs(op.to)));
    const { db } = this.ctx;
    db.tx(() => {
      recordEdits(db, movedEdits(op, moved.ino));
      // a symlink is made again at its new name: Local takes its new identity
      if (moved !== st) recordEdits(db, relinkedEdits(db.localAround([op.to]).get(op.to), moved));
    });
    this.res.done++;
  }

  // ---- phase 3: directories ----------------------------------------------

  /**
   * Creates the directories in plan order (parents first), then makes the
   * new entries durable (one fsync per parent directory, in parallel) and
   * records them all in one transaction: Synced says a directory exists
   * only once its entry in its parent is on disk.
   */
  async mkdirs(ops: Extract<LocalOp, { type: 'mkdir' }>[]): Promise<void> {
    const made: { op: (typeof ops)[number]; st: FsStat }[] = [];
    for (const op of ops) {
      await this.step(op.path, async () => {
        if (!(await this.guard(op.path))) return;
        const abs = this.abs(op.path);
        try {
          await this.fs.mkdir(abs);
        } catch (err) {
          if (!isDiskError(err, 'path_taken')) throw err;
        }
        const st = await lstatOrNull(abs, this.fs);
        if (!st || !st.isDirectory()) return this.stale(op.path);
        this.parents.add(op.path);
        made.push({ op, st });
      });
    }
    const synced = await this.syncDirs(made.map((m) => dirname(this.abs(m.op.path))));
    const { db } = this.ctx;
    const recorded = made.filter((m) => synced.get(dirname(this.abs(m.op.path))) === undefined);
    db.tx(() => {
      for (const { op, st } of recorded) recordEdits(db, placedEdits(op, st));
    });
    this.res.done += recorded.length;
    const done = new Set(recorded.map((m) => m.op.path));
    for (const op of ops) if (!done.has(op.path)) this.unmade.add(op.path);
    for (const m of made) {
      const err = synced.get(dirname(this.abs(m.op.path)));
      if (err !== undefined) await this.step(m.op.path, () => Promise.reject(err));
    }
  }

  /** fsyncs each directory once, several at a time; returns the error of each one that failed. */
  async syncDirs(dirs: Iterable<string>): Promise<Map<string, unknown>> {
    const failed = new Map<string, unknown>();
    await runLimited(
      [...new Set(dirs)].map((d) => () => this.fs.syncDir(d).catch((e: unknown) => void failed.set(d, e))),
      SYNC_DIRS_PARALLEL,
    );
    return failed;
  }

  // ---- phase 4a: content from the server ------------------------------

  downloads(ops: Extract<LocalOp, { type: 'download' }>[]): Promise<void> {
    return downloads(this, ops);
  }

  place(tmp: string, st: FsStat, rel: string, abs: string, expect: LocalExpect | null, execBit: boolean): Promise<'linked' | 'renamed' | null> {
    return place(this, tmp, st, rel, abs, expect, execBit);
  }

  occupied(rel: string): void {
    occupied(this, rel);
  }

  async symlink(op: Extract<LocalOp, { type: 'symlink' }>): Promise<void> {
    if (!(await this.guard(op.path))) return;
    const abs = this.abs(op.path);
    let st: FsStat;
    if (op.expect === null) {
      // symlink() itself refuses to replace (EEXIST); never link() a symlink:
      // on macOS link() follows it and would pull its target into the folder
      try {
        await this.fs.symlink(op.node.target ?? '', abs);
      } catch (err) {
        if (isDiskError(err, 'path_taken')) return this.stale(op.path);
        throw err;
      }
      st = await this.fs.lstat(abs);
    } else {
      const tmp = join(dirname(abs), `${TEMP_PREFIX}${randomUUID()}`);
      await this.fs.symlink(op.node.target ?? '', tmp);
      try {
        st = await this.fs.lstat(tmp);
        if (!matchesExpect(await lstatOrNull(abs, this.fs), op.expect)) return this.stale(op.path);
        // the old file or link goes to the local trash first, checked once aside
        const dispose = op.expect.kind === 'dir' ? undefined : this.trash.dispose(op.path, 'remote_replace');
        if (dispose && (await detachAndDelete(this.fs, abs, op.expect, dispose)) === 'changed') return this.stale(op.path);
        await this.fs.rename(tmp, abs);
      } finally {
        await this.fs.unlink(tmp).catch(() => undefined);
      }
    }
    await this.fs.syncDir(dirname(abs));
    this.recordPlaced(op, st);
  }

  /** The node now sits at the op's path (with identity `st`): Local and Synced take it, in one transaction. */
  recordPlaced(op: Extract<LocalOp, { type: 'symlink' | 'chmod' }>, st: FsStat): void {
    const { db } = this.ctx;
    db.tx(() => recordEdits(db, placedEdits(op, st)));
    this.res.done++;
  }

  async chmod(op: Extract<LocalOp, { type: 'chmod' }>): Promise<void> {
    if (!(await this.guard(op.path))) return;
    // through a handle opened without following links, checked before and after
    const fh = await this.fs.openRead(this.abs(op.path)).catch(() => null);
    if (!fh) return this.stale(op.path);
    try {
      if (!matchesExpect(await fh.stat(), op.expect)) return this.stale(op.path);
      const before = await fh.stat();
      await fh.chmod(exec(before.mode, op.node.exec));
      const st = await fh.stat();
      this.recordPlaced(op, st);
    } finally {
      await fh.close();
    }
  }

  // ---- phase 4b: content to the server ---------------------------------

  async remote(ops: RemoteOp[]): Promise<void> {
    const { remote } = this.ctx;
    const queue = new PQueue({ concurrency: this.ctx.concurrency });
    const wire: Unconfirmed[] = [];
    const uploaded = new Map<RemoteOp, string>();
    // content first (streamed, never loaded whole)
    await Promise.all(ops.map((op) => queue.add(async () => {
      if ((op.type !== 'create' && op.type !== 'update') || op.local.kind !== 'file') return;
      if (!(await this.guard(op.path))) return;
      try {
        const got = await uploadFile(remote, this.abs(op.path), { size: op.local.size ?? 0, mtimeMs: op.local.mtimeMs, ino: op.local.ino }, this.ctx.throttle, this.fs, this.slots);
        if (got.hash !== op.local.hash) return this.stale(op.path);
        uploaded.set(op, got.hash);
        // the file was still this one when the upload ended: its chunks can feed later downloads
        if (got.chunks) this.ctx.db.recordChunks(op.path, got.hash, { size: got.size, mtimeMs: op.local.mtimeMs, ino: op.local.ino }, got.chunks);
        this.ctx.onTransfer?.(1, got.size);
      } catch (err) {
        const code = (err as SyncdError).code;
        if (code === 'changed_during_upload' || isDiskError(err, 'path_missing')) return this.stale(op.path);
        if (FATAL.has(code)) {
          // the round ends here: the uploads not yet started stay unstarted (they went on unseen before)
          queue.clear();
          throw err;
        }
        // this file cannot go up (too large, unreadable, …): say so and let the others go
        this.problem(op.path, code ?? 'upload_failed', `upload of "${op.path}" failed: ${(err as Error).message}`);
      }
    })));
    for (const op of ops) {
      const w = this.toWire(op, uploaded);
      if (w) wire.push(w);
    }
    for (let i = 0; i < wire.length; i += COMMIT_CHUNK) {
      await this.commit(wire.slice(i, i + COMMIT_CHUNK));
    }
  }

  async commit(chunk: Unconfirmed[]): Promise<void> {
    const { db, remote } = this.ctx;
    let results: OpResult[];
    try {
      results = await remote.commit(chunk.map((c) => c.wire));
    } catch (err) {
      if (isRetryable(err)) this.ctx.unconfirmed?.push(...chunk);
      throw err;
    }
    db.tx(() => chunk.forEach((c, k) => this.recordResult(c.op, c.intent, results[k]!)));
  }

  toWire(op: RemoteOp, uploaded: Map<RemoteOp, string>): { op: RemoteOp; wire: Op; intent: string } | null {
    const { db } = this.ctx;
    const id = (intent: string) => db.opIdFor(intent, randomUUID);
    const l = 'local' in op ? op.local : null;
    const content = (): Record<string, unknown> => {
      if (!l) return {};
      if (l.kind === 'file') {
        const hash = uploaded.get(op);
        return hash ? { hash, size: l.size ?? 0, mtime: Math.max(0, Math.trunc(l.mtimeMs)), exec: l.exec } : {};
      }
      if (l.kind === 'symlink') return { target: l.target ?? '' };
      return { mtime: Math.max(0, Math.trunc(l.mtimeMs)) };
    };
    switch (op.type) {
      case 'create': {
        const c = content();
        if (op.local.kind === 'file' && !('hash' in c)) return null;
        // the local object's incarnation is part of the intent: a folder or
        // file deleted and made again is a new intent (a new op_id), never a
        // replay of the first one's result
        const incarnation = `${op.local.ino}:${op.local.mtimeMs}:${op.local.size ?? ''}`;
        const intent = `create:${op.parentId}:${nameKey(op.name)}:${op.local.kind}:${(c.hash as string) ?? c.target ?? ''}:${incarnation}`;
        return { op, intent, wire: { op_id: id(intent), op: 'create', parent: op.parentId, name: op.name, kind: op.local.kind, ...c } as Op };
      }
      case 'update': {
        const c = content();
        if (op.local.kind === 'file' && !('hash' in c)) return null;
        const intent = `update:${op.id}:${op.baseRev}:${(c.hash as string) ?? c.target ?? ''}`;
        return { op, intent, wire: { op_id: id(intent), op: 'update', id: op.id, base_rev: op.baseRev, ...c } as Op };
      }
      case 'move': {
        const intent = `move:${op.id}:${op.baseRev}:${op.parentId}:${op.name}`;
        return { op, intent, wire: { op_id: id(intent), op: 'move', id: op.id, base_rev: op.baseRev, parent: op.parentId, name: op.name } };
      }
      case 'delete': {
        const intent = `delete:${op.id}:${op.baseRev}`;
        const wire: Op = { op_id: id(intent), op: 'delete', id: op.id, base_rev: op.baseRev };
        // a directory delete is conditional on its subtree being what we last
        // pulled: anything another device put inside since then survives (a
        // conflict, then the next round plans with it)
        if (db.getSynced(op.id)?.kind === 'dir') wire.subtree_seq = db.meta.get('cursor_seq');
        return { op, intent, wire };
      }
    }
  }

  /** Inside the caller's transaction: Remote and Synced take the returned node. */
  recordResult(op: RemoteOp, intent: string, r: OpResult): void {
    const { db } = this.ctx;
    db.clearIntent(intent);
    if (r.status === 'ok') {
      this.res.done++;
      recordEdits(db, committedEdits(op, fromWire(r.node), r.seq, db.meta.get('cursor_seq')));
      return;
    }
    this.res.needPull = true;
    if (r.status === 'conflict') {
      this.res.failed++;
      return;
    }
    if (r.error === 'name_taken' || r.error === 'invalid_name' || r.error === 'blob_missing') {
      this.problem(op.path, r.error, `the server refused "${op.path}": ${r.message}`);
    } else {
      this.res.failed++;
    }
  }

  // ---- phase 5: local deletes --------------------------------------------

  async localDelete(op: Extract<LocalOp, { type: 'local_delete' }>): Promise<void> {
    if (!(await this.guard(op.path))) return;
    const abs = this.abs(op.path);
    const st = await lstatOrNull(abs, this.fs);
    if (st === null) {
      // already gone: record it
    } else if (!matchesExpect(st, op.expect)) {
      return this.stale(op.path);
    } else if (op.expect.kind === 'dir') {
      try {
        // partials left in it are for downloads into a directory that goes
        await rmdirPastPartials(this.fs, abs);
      } catch (err) {
        if (!isDiskError(err, 'dir_not_empty', 'path_taken')) throw err;
        // something we do not sync (ignored) or something new lives there: keep the
        // directory; forgetting it makes the next round upload it as new
        recordEdits(this.ctx.db, localDeleteEdits(op, false));
        this.res.dirty.add(op.path);
        this.res.failed++;
        return;
      }
    } else {
      // renamed aside and checked there before it goes: a write that lands
      // between our check above and the delete is never what gets deleted
      const r = await detachAndDelete(this.fs, abs, op.expect, this.trash.dispose(op.path, op.excluded ? 'excluded' : 'remote_delete'));
      if (r === 'changed') return this.stale(op.path);
    }
    const { db } = this.ctx;
    db.tx(() => recordEdits(db, localDeleteEdits(op, true)));
    this.res.done++;
  }

  async run(ops: PlanOp[]): Promise<ExecResult> {
    try {
      return await this.phases(ops);
    } finally {
      this.trash.record();
    }
  }

  async phases(ops: PlanOp[]): Promise<ExecResult> {
    const byPhase = (p: Phase) => ops.filter((o) => PHASE[o.type] === p);
    this.state(byPhase(0));
    for (const op of [...byPhase(1), ...byPhase(2)]) await this.step(op.type === 'local_move' ? op.from : (op as { path: string }).path, () => this.move(op as Extract<LocalOp, { type: 'local_move' | 'conflict_rename' }>));
    await this.mkdirs(byPhase(3) as Extract<LocalOp, { type: 'mkdir' }>[]);
    const content = byPhase(4);
    const downloads = content.filter((o): o is Extract<LocalOp, { type: 'download' }> => o.type === 'download');
    const remoteOps = content.filter((o): o is RemoteOp => o.type === 'create' || o.type === 'update' || o.type === 'move' || o.type === 'delete');
    // all three settle before anything is rethrown: no transfer keeps
    // writing to the DB behind a failed round
    const settled = await Promise.allSettled([
      this.step('(downloads)', () => this.downloads(downloads)),
      this.step('(uploads)', () => this.remote(remoteOps)),
      (async () => {
        for (const op of content) {
          if (op.type === 'symlink') await this.step(op.path, () => this.symlink(op));
          if (op.type === 'chmod') await this.step(op.path, () => this.chmod(op));
        }
      })(),
    ]);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    for (const op of byPhase(5)) await this.step((op as { path: string }).path, () => this.localDelete(op as Extract<LocalOp, { type: 'local_delete' }>));
    return this.res;
  }

  /** Runs one step; an unexpected error becomes a problem (fatal ones propagate). */
  async step(path: string, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      const e = err as SyncdError & NodeJS.ErrnoException;
      if (isDiskError(err, 'disk_full')) throw new SyncdError('disk_full', `the disk is full while writing "${path}"; free some space and syncing resumes`, {}, { cause: err });
      if (FATAL.has(e.code)) throw err;
      if (isDiskError(err, 'path_missing', 'path_not_dir', 'path_taken', 'dir_not_empty')) {
        this.stale(path);
        return;
      }
      this.problem(path, e.code ?? 'error', `${path}: ${e.message}`);
    }
  }
}

export async function execute(ctx: ExecContext, ops: PlanOp[]): Promise<ExecResult> {
  const run = new Run(ctx);
  try {
    return await run.run(ops);
  } finally {
    ctx.countDone?.(run.res.done);
  }
}

/**
 * Sends parked commits again, verbatim, before anything is re-planned: the
 * same op_ids get the first result of what the server applied, and Synced
 * learns it. A re-plan instead would see our own node as someone else's
 * once the user renamed, edited or deleted the file meanwhile (a copy, a
 * conflict, a deleted file back). What fails again stays parked.
 */
export async function confirm(ctx: ExecContext & { unconfirmed: Unconfirmed[] }): Promise<void> {
  const run = new Run(ctx);
  const items = ctx.unconfirmed.splice(0);
  try {
    for (let i = 0; i < items.length; i += COMMIT_CHUNK) {
      try {
        await run.commit(items.slice(i, i + COMMIT_CHUNK));
      } catch (err) {
        if (isRetryable(err)) ctx.unconfirmed.push(...items.slice(i + COMMIT_CHUNK));
        throw err;
      }
    }
  } finally {
    ctx.countDone?.(run.res.done);
  }
}
