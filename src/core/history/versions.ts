// The versions of one node, from its retained journal rows (newest first)
// and the pre-image of the oldest one: that pre-image is the version that
// was current when the kept history begins (the content before the first
// kept change), so "undo my last save" works even when the file is older
// than the version period. Pure.

import type { OpKind, WireNode } from '../../protocol/types.js';

export interface ParsedRow {
  seq: number;
  at: number;
  op: OpKind;
  node: WireNode;
  device: string;
  /** the state before the row, with what is known of the change that made it */
  prev: { seq: number; at: number | null; op: OpKind | null; node: WireNode; device: string | null } | null;
}

export interface Version {
  rev: number;
  seq: number;
  /** null only for the version before the kept history, when its own row is gone */
  op: OpKind | null;
  at: number | null;
  device: string | null;
  node: WireNode;
}

/** rows: one node's rows, newest first */
export function versionsOf(rows: readonly ParsedRow[]): Version[] {
  const out: Version[] = rows.map((r) => ({ rev: r.node.rev, seq: r.seq, op: r.op, at: r.at, device: r.device, node: r.node }));
  const oldest = rows[rows.length - 1];
  if (oldest?.prev) {
    const p = oldest.prev;
    out.push({ rev: p.node.rev, seq: p.seq, op: p.op, at: p.at, device: p.device, node: p.node });
  }
  return out;
}
