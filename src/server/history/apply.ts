// Commits a rewind/restore plan (src/core/history/rewind.ts) through the
// normal commit path: one ordinary op per step, each its own transaction
// and journal entry, published on the bus like any commit. base_rev comes
// from the present tree the plan was made from, so a device that changed
// a node meanwhile wins and the step is reported as a conflict: nothing it
// wrote is overwritten.
//
// op_ids are derived from the request's op_id and the step, so a retried
// request replays what already landed instead of doing it twice.

import { createHash } from 'node:crypto';
import { restoredName } from '../../core/history/names.js';
import type { ParentRef, RewindPlan, RewindStep } from '../../core/history/rewind.js';
import type { StepItem } from '../../protocol/history.js';
import { nameKey } from '../../protocol/names.js';
import type { Op, OpResult, WireNode } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import type { DeviceIdentity } from '../store/types.js';

/** one step's outcome, as the reply carries it */
export type StepReport = StepItem;

export interface ApplyReport {
  steps: StepReport[];
  ok: number;
  conflicts: number;
  errors: number;
  /** the node each created past id became */
  created: Map<string, string>;
}

function stepOpId(base: string, sig: string): string {
  return `h_${createHash('sha256').update(base).update('\u0000').update(sig).digest('base64url').slice(0, 40)}`;
}

export async function applyPlan(
  ctx: ServerContext,
  device: DeviceIdentity,
  plan: RewindPlan,
  present: ReadonlyMap<string, WireNode>,
  opts: { opId: string; head: number },
): Promise<ApplyReport> {
  const revs = new Map<string, number>();
  for (const [id, n] of present) revs.set(id, n.rev);
  const created = new Map<string, string>();
  const report: ApplyReport = { steps: [], ok: 0, conflicts: 0, errors: 0, created };

  const commit = async (op: Op): Promise<OpResult> => {
    const { result, replayed } = await ctx.store.commitOp(device.namespace, op, {
      deviceId: device.deviceId,
      now: ctx.now(),
      newNodeId: ctx.opts.newNodeId,
    });
    ctx.metrics.commitOps.inc({ op: op.op, status: replayed ? 'replayed' : result.status });
    if (result.status === 'conflict') ctx.metrics.conflicts.inc();
    if (result.status === 'ok' && !replayed) ctx.bus.publish(device.namespace.name, result.seq);
    return result;
  };
  const parentId = (p: ParentRef): string | null => ('id' in p ? p.id : (created.get(p.ref) ?? null));

  const opFor = (s: RewindStep, attempt: number): Op | null => {
    const sig = (extra: string) => stepOpId(opts.opId, `${s.action}:${'id' in s ? s.id : s.ref}:${extra}:${attempt}`);
    switch (s.action) {
      case 'create': {
        const parent = parentId(s.parent);
        if (parent === null) return null;
        const name = attempt === 0 ? s.node.name : restoredName(s.node.name, s.node.kind === 'dir', ctx.now(), new Set([nameKey(s.node.name)]));
        const n = s.node;
        const base = { op_id: sig(parent), op: 'create' as const, parent, name, kind: n.kind, mtime: n.mtime };
        if (n.kind === 'file') return { ...base, hash: n.hash, size: n.size, exec: n.exec };
        if (n.kind === 'symlink') return { ...base, target: n.target };
        return base;
      }
      case 'move': {
        const parent = parentId(s.parent);
        if (parent === null) return null;
        const rev = revs.get(s.id)!;
        return { op_id: sig(String(rev)), op: 'move', id: s.id, base_rev: rev, parent, name: s.name };
      }
      case 'update': {
        const rev = revs.get(s.id)!;
        const n = s.node;
        const base = { op_id: sig(String(rev)), op: 'update' as const, id: s.id, base_rev: rev, mtime: n.mtime };
        if (n.kind === 'file') return { ...base, hash: n.hash, size: n.size, exec: n.exec };
        if (n.kind === 'symlink') return { ...base, target: n.target };
        return base;
      }
      case 'delete': {
        const rev = revs.get(s.id)!;
        // a folder that got new content after the plan was made is not deleted (the usual conditional delete)
        const cond = s.kind === 'dir' ? { subtree_seq: opts.head } : {};
        return { op_id: sig(String(rev)), op: 'delete', id: s.id, base_rev: rev, ...cond };
      }
    }
  };

  const run = async (s: RewindStep, attempt: number): Promise<{ done: boolean; report: StepReport }> => {
    const op = opFor(s, attempt);
    if (op === null) {
      return { done: true, report: { action: s.action, path: s.path, status: 'skipped', message: 'its folder could not be restored' } };
    }
    const r = await commit(op);
    if (r.status === 'ok') {
      revs.set(r.node.id, r.node.rev);
      if (s.action === 'create') created.set(s.ref, r.node.id);
      const rep: StepReport = { action: s.action, path: s.path, status: 'ok', id: r.node.id };
      if (op.op === 'create' && op.name !== s.path.split('/').pop()) rep.name = op.name;
      return { done: true, report: rep };
    }
    if (r.status === 'conflict') {
      return { done: true, report: { action: s.action, path: s.path, status: 'conflict', message: `changed meanwhile (now rev ${r.current.rev}); left as it is` } };
    }
    return { done: false, report: { action: s.action, path: s.path, status: 'error', error: r.error, message: r.message } };
  };

  const deferred: RewindStep[] = [];
  for (const s of plan.steps) {
    const first = await run(s, 0);
    if (!first.done && first.report.error === 'name_taken') {
      // a create whose name is taken by a present node: restored beside it under another name
      if (s.action === 'create') {
        report.steps.push((await run(s, 1)).report);
        continue;
      }
      // a move may wait for another move to free its name (a swap): retried once at the end
      if (s.action === 'move') {
        deferred.push(s);
        continue;
      }
    }
    report.steps.push(first.report);
  }
  for (const s of deferred) report.steps.push((await run(s, 1)).report);
  for (const r of report.steps) {
    if (r.status === 'ok') report.ok++;
    else if (r.status === 'conflict') report.conflicts++;
    else report.errors++;
  }
  return report;
}
