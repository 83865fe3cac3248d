// Reads of the version history from the journal store, turned into the
// shapes the pure functions of src/core/history take.

import type { JournalEntry, OpKind, WireNode } from '../../protocol/types.js';
import type { ChangeRow, NodeRowState } from '../../core/history/tree-at.js';
import { PastTree } from '../../core/history/tree-at.js';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { eachSliced } from '../slices.js';
import type { ParsedRow } from '../../core/history/versions.js';
import type { HistoryRow, JournalStore, NamespaceRef } from '../store/types.js';

const PAGE = 10_000;

interface PrevJson {
  seq: number;
  op: OpKind | null;
  node: WireNode;
  device: string | null;
}

export function parseRow(r: HistoryRow): ParsedRow {
  const e = JSON.parse(r.entry) as JournalEntry;
  const p = r.prev === null ? null : (JSON.parse(r.prev) as PrevJson);
  return {
    seq: Number(r.seq),
    at: Number(r.at),
    op: e.op,
    node: e.node,
    device: e.device,
    prev: p === null ? null : { seq: p.seq, at: r.prevAt === null ? null : Number(r.prevAt), op: p.op, node: p.node, device: p.device },
  };
}

/** Every retained row after `seq`, oldest first, as the tree rebuild needs them; the event loop gets a turn between pages. */
export async function changesAfter(store: JournalStore, ns: NamespaceRef, seq: number): Promise<ChangeRow[]> {
  const out: ChangeRow[] = [];
  for (let after = seq; ; ) {
    const page = await store.historyAfter(ns, after, PAGE);
    for (const r of page) {
      const p = r.prev === null ? null : (JSON.parse(r.prev) as PrevJson).node;
      const id = (JSON.parse(r.entry) as JournalEntry).node.id;
      out.push({ seq: Number(r.seq), id, prev: p });
    }
    if (page.length < PAGE) return out;
    after = Number(page[page.length - 1]!.seq);
    await yieldTurn();
  }
}

/** The namespace tree at journal position `seq`: every node alive then, with its state then. */
export async function pastTree(store: JournalStore, ns: NamespaceRef, rows: Iterable<NodeRowState>, seq: number): Promise<Map<string, WireNode>> {
  const t = new PastTree(seq);
  await eachSliced(await changesAfter(store, ns, seq), (r) => t.change(r));
  await eachSliced(rows, (r) => t.row(r));
  return t.nodes;
}
