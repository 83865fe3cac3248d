// The trees a plan round works on, and its plan: a selection around what
// changed since the plan base (core/plan/select.ts, through the state DB's
// indexes); without a usable base (a new device, new ignore rules, too much
// changed) in a big folder, batches of top-level names, one after another
// (core/plan/batches.ts; the names a node or an inode spans in one batch,
// TreeRows.topLinks), so a round holds one batch at a time, each planned
// again after its ops unless SQL finds it settled; or the whole trees (a
// small folder, or a node that reaches no top-level name).
// core/policy/cycle.ts decides which.

import type { SyncedTree } from '../../core/associate.js';
import type { Plan } from '../../core/ops.js';
import { batchesOf, batchPart, batchSettled, batchUnsettled, namesMoved, selectBatch } from '../../core/plan/batches.js';
import { nameKey } from '../../protocol/names.js';
import type { Narrowed } from '../../core/plan/scope.js';
import { selectAround, type Selection } from '../../core/plan/select.js';
import { plansFromSelection, plansInBatches } from '../../core/policy/cycle.js';
import type { StateDB } from '../state/db.js';
import { collectGarbageIfGrown } from './memory.js';

export interface RoundPlan<P extends Plan> {
  narrowed: Narrowed;
  plan: P;
  /** the Synced nodes the round planned over */
  synced: SyncedTree;
  /** files in the whole Local tree (the guards ask only when one trips) */
  localFiles: () => number;
  /** files in the whole Synced tree, when `synced` is a selection */
  syncedFiles: (() => number) | undefined;
}

type Batch = ReturnType<typeof batchesOf>[number];

interface Pass {
  batches: Batch[];
  at: number;
  /** name keys of every batch so far: a top-level name the rounds made (a conflict copy) is not among them */
  covered: Set<string>;
  /** batches whose ops achieved nothing in a round: tried again after the others */
  retry: Batch[];
  /** batches planned at least once in this pass */
  planned: Set<Batch>;
  problems: Plan['problems'];
  deferred: number;
  unsettled: Narrowed['unsettled'];
}

export class RoundPlanner {
  readonly #db: StateDB;
  readonly #batchNodes: number;
  readonly #wholeMax: number | undefined;
  #pass: Pass | null = null;
  /** batches of first plans begun so far (each may take a round of its own: roundLimit) */
  #begun = 0;

  /** `wholeMax`: Remote nodes up to which the first plan goes over the whole trees (default FIRST_PLAN_WHOLE_MAX) */
  constructor(db: StateDB, batchNodes: number, wholeMax?: number) {
    this.#db = db;
    this.#batchNodes = batchNodes;
    this.#wholeMax = wholeMax;
  }

  /**
   * The trees changed other than by this pass's own ops (a pull brought
   * entries, the disk changed): batches are no longer independent, so the
   * next round plans the whole trees (or around the seeds).
   */
  abandon(): void {
    this.#pass = null;
  }

  get batchesBegun(): number {
    return this.#begun;
  }

  /** A round of this batch's ops achieved nothing: the next round goes on with the next batch (it is tried again after the others). */
  fruitless(): void {
    const pass = this.#pass;
    if (pass && pass.at < pass.batches.length) pass.retry.push(pass.batches[pass.at++]!);
  }

  /** The round's plan, from `planTrees` over the trees this round reads. */
  plan<P extends Plan>(memoKey: string, planTrees: (t: Selection) => { narrowed: Narrowed; plan: P }): RoundPlan<P> {
    const db = this.#db;
    const counts = { localFiles: () => db.localCount(), syncedFiles: () => db.syncedCount() };
    if (plansFromSelection(db.planBase(), memoKey, () => db.treeRows.rows().remote)) {
      this.#pass = null;
      const sel = selectAround(db.planSeeds(), db.treeIndex);
      return { ...planTrees(sel), synced: sel.synced, ...counts };
    }
    const links = !this.#pass && plansInBatches(db.treeRows.rows(), this.#batchNodes, this.#wholeMax) ? db.treeRows.topLinks() : null;
    if (links) {
      const batches = batchesOf(db.treeRows.topEntries(), this.#batchNodes, links);
      const covered = new Set(batches.flatMap((b) => [...b.keys]));
      if (batches.length > 0) {
        this.#pass = { batches, at: 0, covered, retry: [], planned: new Set(), problems: [], deferred: 0, unsettled: { ids: [], paths: [] } };
        this.#begun += batches.length;
      }
    }
    const pass = this.#pass;
    if (!pass) {
      const local = db.loadLocal();
      const whole = { remote: db.loadRemote(), synced: db.loadSynced(), local };
      const localFiles = (): number => {
        let n = 0;
        for (const e of local.values()) if (e.kind !== 'dir') n++;
        return n;
      };
      return { ...planTrees(whole), synced: whole.synced, localFiles, syncedFiles: undefined };
    }
    for (;;) {
      for (; pass.at < pass.batches.length; pass.at++) {
        const b = pass.batches[pass.at]!;
        // after its ops, a batch whose rows say it is settled would plan nothing: its
        // confirming plan (the selection is a batch's most expensive part) is left out
        if (pass.planned.has(b) && batchSettled(b, db.treeRows.batchRows(b.seeds.ids))) {
          collectGarbageIfGrown();
          continue;
        }
        pass.planned.add(b);
        const sel = selectBatch(b, db.treeRows);
        const out = planTrees(sel);
        const plan = batchPart(out.plan, b.keys, sel);
        // the same batch again next round, until it plans nothing, with the names its ops move entries to
        if (plan.ops.length > 0) {
          for (const k of namesMoved(plan.ops)) {
            b.keys.add(k);
            pass.covered.add(k);
          }
          return { narrowed: out.narrowed, plan, synced: sel.synced, ...counts };
        }
        pass.problems.push(...plan.problems);
        pass.deferred += plan.deferred;
        const u = batchUnsettled(out.narrowed.unsettled, b.keys, sel);
        pass.unsettled.ids.push(...u.ids);
        pass.unsettled.paths.push(...u.paths);
        // the batch's rows and ops are garbage now: handed back before the next
        // batch, or V8 lets the heap grow towards its limit (at 300,000 files, batches of 20,000: 604 MiB)
        collectGarbageIfGrown();
      }
      // A batch's ops touch only paths under its own names (batchPart), so a
      // batch that planned nothing still does, unless a round made a new
      // top-level name (a conflict copy): those get batches of their own.
      let fresh: Batch[] = [];
      if (db.treeRows.topNames().some((n) => !pass.covered.has(nameKey(n)))) {
        // with the names the rounds' ops link to them now (a copy put aside holds an inode of Synced)
        const links = db.treeRows.topLinks();
        if (links === null) {
          this.#pass = null;
          return this.plan(memoKey, planTrees);
        }
        fresh = batchesOf(db.treeRows.topEntries(), this.#batchNodes, links).filter((b) => [...b.keys].some((k) => !pass.covered.has(k)));
      }
      const next = [...pass.retry, ...fresh];
      if (next.length === 0) {
        // every batch planned nothing: the trees agree
        this.#pass = null;
        const none = planTrees({ remote: new Map(), synced: new Map(), local: new Map() });
        return { narrowed: { ...none.narrowed, unsettled: pass.unsettled }, plan: { ...none.plan, problems: pass.problems, deferred: pass.deferred }, synced: new Map(), ...counts };
      }
      for (const b of fresh) for (const k of b.keys) pass.covered.add(k);
      Object.assign(pass, { batches: next, at: 0, retry: [] });
    }
  }
}
