// REST wire objects (protocol/types.ts) ⇄ syncd.v1 messages (src/gen). The
// two forms carry the same fields under the same names; only numbers differ
// (int64 is bigint in the generated code). Both roles use these.

import { create } from '@bufbuild/protobuf';
import {
  EntrySchema,
  NodeSchema,
  OpResultSchema,
  type Entry,
  type Node,
  type Op as ProtoOp,
  type OpResult as ProtoOpResult,
} from '../gen/syncd/v1/types_pb.js';
import {
  GetStatusResponseSchema,
  ListResponseSchema,
  type GetChangesResponse,
  type GetStatusResponse,
  type ListResponse,
} from '../gen/syncd/v1/sync_service_pb.js';
import type { ChangesReply, JournalEntry, ListReply, NodeKind, OpKind, OpResult, StatusReply, WireNode } from './types.js';

const big = (n: number): bigint => BigInt(n);
const optBig = (n: number | undefined | null): bigint | undefined => (n === undefined || n === null ? undefined : BigInt(n));
const num = (n: bigint): number => Number(n);
const optNum = (n: bigint | undefined): number | null => (n === undefined ? null : Number(n));

export function nodeToProto(n: WireNode): Node {
  return create(NodeSchema, {
    id: n.id,
    parent: n.parent,
    name: n.name,
    kind: n.kind,
    rev: big(n.rev),
    size: optBig(n.size),
    hash: n.hash,
    mtime: big(n.mtime),
    exec: n.exec,
    target: n.target,
    seq: big(n.seq),
  });
}

/** In the REST key order, with the optional keys only where REST has them. */
export function nodeFromProto(n: Node): WireNode {
  const w: WireNode = { id: n.id, parent: n.parent, name: n.name, kind: n.kind as NodeKind, rev: num(n.rev) } as WireNode;
  if (n.size !== undefined) w.size = num(n.size);
  if (n.hash !== undefined) w.hash = n.hash;
  if (n.target !== undefined) w.target = n.target;
  w.mtime = num(n.mtime);
  w.exec = n.exec;
  w.seq = num(n.seq);
  return w;
}

export function entryToProto(e: JournalEntry): Entry {
  return create(EntrySchema, { seq: big(e.seq), op: e.op, node: nodeToProto(e.node), device: e.device });
}

export function entryFromProto(e: Entry): JournalEntry {
  return { seq: num(e.seq), op: e.op as OpKind, node: nodeFromProto(e.node!), device: e.device };
}

export function opResultToProto(r: OpResult): ProtoOpResult {
  switch (r.status) {
    case 'ok':
      return create(OpResultSchema, { status: r.status, seq: big(r.seq), node: nodeToProto(r.node) });
    case 'conflict':
      return create(OpResultSchema, { status: r.status, current: nodeToProto(r.current) });
    default:
      return create(OpResultSchema, { status: r.status, error: r.error, message: r.message });
  }
}

export function opResultFromProto(r: ProtoOpResult): OpResult {
  if (r.status === 'ok') return { status: 'ok', seq: num(r.seq ?? 0n), node: nodeFromProto(r.node!) };
  if (r.status === 'conflict') return { status: 'conflict', current: nodeFromProto(r.current!) };
  return { status: 'error', error: r.error as never, message: r.message ?? '' };
}

/**
 * A proto op as the REST JSON op it stands for (only the fields it sets), so
 * one validator (protocol/validate.ts) judges both forms alike.
 */
export function opToJson(o: ProtoOp): Record<string, unknown> {
  const j: Record<string, unknown> = { op_id: o.opId, op: o.op };
  const put = (k: string, v: string | boolean | bigint | undefined): void => {
    if (v !== undefined) j[k] = typeof v === 'bigint' ? Number(v) : v;
  };
  put('id', o.id);
  put('base_rev', o.baseRev);
  put('parent', o.parent);
  put('name', o.name);
  put('kind', o.kind);
  put('hash', o.hash);
  put('size', o.size);
  put('mtime', o.mtime);
  put('exec', o.exec);
  put('target', o.target);
  put('subtree_seq', o.subtreeSeq);
  return j;
}

export function listToProto(r: ListReply): ListResponse {
  return create(ListResponseSchema, {
    entries: r.entries.map(nodeToProto),
    cursor: r.cursor,
    seq: big(r.seq),
    hasMore: r.has_more,
    pageToken: r.page_token,
  });
}

export function listFromProto(r: ListResponse): ListReply {
  const out: ListReply = { entries: r.entries.map(nodeFromProto), cursor: r.cursor, seq: num(r.seq), has_more: r.hasMore };
  if (r.pageToken !== undefined) out.page_token = r.pageToken;
  return out;
}

export function changesFromProto(r: GetChangesResponse): ChangesReply {
  return { entries: r.entries.map(entryFromProto), cursor: r.cursor, has_more: r.hasMore, head: num(r.head) };
}

export function statusToProto(s: StatusReply): GetStatusResponse {
  return create(GetStatusResponseSchema, {
    namespace: s.namespace,
    epoch: s.epoch,
    head: big(s.head),
    floor: big(s.floor),
    retention: { maxAgeS: optBig(s.retention.max_age_s), maxEntries: optBig(s.retention.max_entries) },
    devices: s.devices.map((d) => ({
      id: d.id,
      label: d.label,
      cursorSeq: optBig(d.cursor_seq),
      lag: optBig(d.lag),
      lastSeen: optBig(d.last_seen),
    })),
    device: s.device ?? '',
    serverVersion: s.server_version ?? '',
    protocol: s.protocol ?? 0,
  });
}

export function statusFromProto(s: GetStatusResponse): StatusReply {
  return {
    namespace: s.namespace,
    epoch: s.epoch,
    head: num(s.head),
    floor: num(s.floor),
    retention: { max_age_s: optNum(s.retention?.maxAgeS), max_entries: optNum(s.retention?.maxEntries) },
    devices: s.devices.map((d) => ({
      id: d.id,
      label: d.label,
      cursor_seq: optNum(d.cursorSeq),
      lag: optNum(d.lag),
      last_seen: optNum(d.lastSeen),
    })),
    device: s.device,
    server_version: s.serverVersion,
    protocol: s.protocol,
  };
}
