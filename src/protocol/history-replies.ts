// Validation of the version-history replies (docs/api.md "History"), as the
// CLI reads them: untrusted JSON in, typed values out, like replies.ts does
// for the agent's verbs. Text the CLI prints (paths, device labels, server
// messages) comes back with control and bidi characters replaced, so a
// lying server cannot write escape sequences to the user's terminal.

import type { ActivityItem, ChangeReply, DeletedItem, HistoryReply, SnapshotReply, StepItem, VersionItem } from './history.js';
import { checkNode, type ReplyCheck } from './replies.js';
import type { NodeKind } from './types.js';

const KINDS: ReadonlySet<string> = new Set<NodeKind>(['file', 'dir', 'symlink']);
const ACTIONS: ReadonlySet<string> = new Set<StepItem['action']>(['create', 'move', 'update', 'delete']);
const STEP_STATUS: ReadonlySet<string> = new Set<StepItem['status']>(['ok', 'conflict', 'error', 'skipped']);

/** `s` safe to print: C0/C1 controls and bidi overrides become U+FFFD. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '\ufffd');
}

function text(c: ReplyCheck, o: Record<string, unknown>, k: string, path: string): string {
  return printable(c.str(o, k, path));
}

function textOrNull(c: ReplyCheck, o: Record<string, unknown>, k: string, path: string): string | null {
  const v = o[k];
  if (v === null || v === undefined) return null;
  return text(c, o, k, path);
}

function kind(c: ReplyCheck, o: Record<string, unknown>, path: string): NodeKind {
  const v = o.kind;
  if (typeof v !== 'string' || !KINDS.has(v)) c.fail(`${path}.kind`, '"file", "dir" or "symlink"', v);
  return v as NodeKind;
}

/** `{entries: [...]}` with each entry checked by `one`. */
function entries<T>(v: unknown, c: ReplyCheck, one: (o: Record<string, unknown>, path: string) => T): T[] {
  const o = c.obj(v, 'reply');
  return c.arr(o.entries, 'reply.entries').map((e, i) => one(c.obj(e, `reply.entries[${i}]`), `reply.entries[${i}]`));
}

function who(c: ReplyCheck, o: Record<string, unknown>, path: string): { device: string | null; device_label: string | null } {
  return { device: textOrNull(c, o, 'device', path), device_label: textOrNull(c, o, 'device_label', path) };
}

export function checkHistory(v: unknown, c: ReplyCheck): HistoryReply {
  const o = c.obj(v, 'reply');
  const n = c.obj(o.node, 'reply.node');
  const node: HistoryReply['node'] = { id: c.nonEmpty(n, 'id', 'reply.node'), path: textOrNull(c, n, 'path', 'reply.node'), kind: kind(c, n, 'reply.node'), deleted: c.bool(n, 'deleted', 'reply.node') };
  if (n.deleted_seq !== undefined) node.deleted_seq = c.int(n, 'deleted_seq', 'reply.node');
  const versions = c.arr(o.versions, 'reply.versions').map((x, i): VersionItem => {
    const p = `reply.versions[${i}]`;
    const e = c.obj(x, p);
    return { rev: c.int(e, 'rev', p, 1), seq: c.int(e, 'seq', p), op: textOrNull(c, e, 'op', p), time: c.intOrNull(e, 'time', p), ...who(c, e, p), node: checkNode(c, e.node, `${p}.node`) };
  });
  return o.more === undefined ? { node, versions } : { node, versions, more: c.bool(o, 'more', 'reply') };
}

export function checkDeleted(v: unknown, c: ReplyCheck): DeletedItem[] {
  return entries(v, c, (e, p) => {
    const d: DeletedItem = { id: c.nonEmpty(e, 'id', p), path: textOrNull(c, e, 'path', p), kind: kind(c, e, p), rev: c.int(e, 'rev', p, 1), seq: c.int(e, 'seq', p), time: c.intOrNull(e, 'time', p), ...who(c, e, p) };
    if (e.size !== undefined) d.size = c.int(e, 'size', p);
    return d;
  });
}

export function checkActivity(v: unknown, c: ReplyCheck): ActivityItem[] {
  return entries(v, c, (e, p) => ({
    seq: c.int(e, 'seq', p),
    time: c.int(e, 'time', p),
    op: text(c, e, 'op', p),
    kind: kind(c, e, p),
    path: textOrNull(c, e, 'path', p),
    rev: c.int(e, 'rev', p),
    device: text(c, e, 'device', p),
    device_label: textOrNull(c, e, 'device_label', p),
  }));
}

/** Snapshot paths are not rewritten: the CLI checks each segment before it writes a file under `--to`. */
export function checkSnapshot(v: unknown, c: ReplyCheck): SnapshotReply {
  const o = c.obj(v, 'reply');
  const list = c.arr(o.entries, 'reply.entries').map((x, i) => {
    const p = `reply.entries[${i}]`;
    const e = c.obj(x, p);
    return { path: c.str(e, 'path', p), node: checkNode(c, e.node, `${p}.node`) };
  });
  return { seq: c.int(o, 'seq', 'reply'), entries: list };
}

function checkStep(c: ReplyCheck, v: unknown, p: string): StepItem {
  const e = c.obj(v, p);
  if (typeof e.action !== 'string' || !ACTIONS.has(e.action)) c.fail(`${p}.action`, 'create, move, update or delete', e.action);
  if (typeof e.status !== 'string' || !STEP_STATUS.has(e.status)) c.fail(`${p}.status`, 'ok, conflict, error or skipped', e.status);
  const s: StepItem = { action: e.action as StepItem['action'], path: text(c, e, 'path', p), status: e.status as StepItem['status'] };
  for (const k of ['id', 'name', 'error', 'message'] as const) if (e[k] !== undefined) s[k] = text(c, e, k, p);
  return s;
}

export function checkChange(v: unknown, c: ReplyCheck): ChangeReply {
  const o = c.obj(v, 'reply');
  const r = c.obj(o.restored, 'reply.restored');
  const out: ChangeReply = {
    restored: { id: r.id === null || r.id === undefined ? null : c.nonEmpty(r, 'id', 'reply.restored'), path: textOrNull(c, r, 'path', 'reply.restored'), seq: c.int(r, 'seq', 'reply.restored') },
    dry_run: c.bool(o, 'dry_run', 'reply'),
    steps: c.arr(o.steps, 'reply.steps').map((s, i) => checkStep(c, s, `reply.steps[${i}]`)),
    ok: c.int(o, 'ok', 'reply'),
    conflicts: c.int(o, 'conflicts', 'reply'),
    errors: c.int(o, 'errors', 'reply'),
  };
  if (o.left !== undefined) out.left = c.arr(o.left, 'reply.left').map((l, i) => (typeof l === 'string' ? printable(l) : c.fail(`reply.left[${i}]`, 'a string', l)));
  return out;
}
