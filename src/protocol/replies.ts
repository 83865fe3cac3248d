// Validation of the server's JSON replies (shared/PROTOCOL.md): untrusted
// JSON in, typed values out. A reply of the wrong shape becomes the caller's
// `malformed` error naming the bad field, never a TypeError deep in the
// engine. Names are not validated here (the engine re-validates every name),
// only types and shapes.

import { isSha256Hex } from './names.js';
import {
  OP_ERROR_CODES,
  type ChangesReply,
  type DeviceStatus,
  type JournalEntry,
  type ListReply,
  type LongpollReply,
  type NodeKind,
  type OpErrorCode,
  type OpKind,
  type OpResult,
  type StatusReply,
  type WireNode,
} from './types.js';

/** How the caller reports a reply that breaks the protocol; `detail` says what is wrong. */
export type Malformed = (detail: string) => Error;

/** Collects the context for "field must be Y, got Z" details. */
export class ReplyCheck {
  readonly #malformed: Malformed;

  constructor(malformed: Malformed) {
    this.#malformed = malformed;
  }

  fail(path: string, expected: string, got: unknown): never {
    throw this.#malformed(`${path} must be ${expected}, got ${describe(got)}`);
  }
  obj(v: unknown, path: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(path, 'an object', v);
    return v as Record<string, unknown>;
  }

  arr(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'an array', v);
    return v;
  }

  str(o: Record<string, unknown>, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== 'string') this.fail(`${path}.${k}`, 'a string', v);
    return v;
  }

  nonEmpty(o: Record<string, unknown>, k: string, path: string): string {
    const v = o[k];
    if (typeof v !== 'string' || v.length === 0) this.fail(`${path}.${k}`, 'a non-empty string', v);
    return v;
  }

  int(o: Record<string, unknown>, k: string, path: string, min = 0): number {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(`${path}.${k}`, `an integer >= ${min}`, v);
    return v;
  }

  num(o: Record<string, unknown>, k: string, path: string): number {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${k}`, 'a finite number', v);
    return v;
  }

  bool(o: Record<string, unknown>, k: string, path: string): boolean {
    const v = o[k];
    if (typeof v !== 'boolean') this.fail(`${path}.${k}`, 'true or false', v);
    return v;
  }

  intOrNull(o: Record<string, unknown>, k: string, path: string): number | null {
    const v = o[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) this.fail(`${path}.${k}`, 'an integer or null', v);
    return v;
  }

  numOrNull(o: Record<string, unknown>, k: string, path: string): number | null {
    const v = o[k];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${k}`, 'a number or null', v);
    return v;
  }
}

const KINDS: ReadonlySet<string> = new Set<NodeKind>(['file', 'dir', 'symlink']);
const OPS: ReadonlySet<string> = new Set<OpKind>(['create', 'update', 'move', 'delete']);
const OP_ERRORS: ReadonlySet<string> = new Set<string>(OP_ERROR_CODES);

export function checkNode(c: ReplyCheck, v: unknown, path: string): WireNode {
  const o = c.obj(v, path);
  const kind = o.kind;
  if (typeof kind !== 'string' || !KINDS.has(kind)) c.fail(`${path}.kind`, '"file", "dir" or "symlink"', kind);
  const exec = o.exec === undefined ? false : c.bool(o, 'exec', path);
  const node: WireNode = {
    id: c.nonEmpty(o, 'id', path),
    parent: c.nonEmpty(o, 'parent', path),
    name: c.str(o, 'name', path),
    kind: kind as NodeKind,
    rev: c.int(o, 'rev', path, 1),
    mtime: o.mtime === undefined || o.mtime === null ? 0 : c.num(o, 'mtime', path),
    exec,
    seq: c.int(o, 'seq', path, 0),
  };
  if (kind === 'file') {
    node.size = c.int(o, 'size', path, 0);
    const hash = o.hash;
    if (!isSha256Hex(hash)) c.fail(`${path}.hash`, '64 lowercase hex characters', hash);
    node.hash = hash;
  } else if (kind === 'symlink') {
    node.target = c.str(o, 'target', path);
  }
  return node;
}

export function checkStatus(v: unknown, c: ReplyCheck): StatusReply {
  const o = c.obj(v, 'reply');
  const ret = c.obj(o.retention, 'reply.retention');
  const devices = c.arr(o.devices, 'reply.devices').map((d, i): DeviceStatus => {
    const p = `reply.devices[${i}]`;
    const dv = c.obj(d, p);
    return {
      id: c.str(dv, 'id', p),
      label: typeof dv.label === 'string' ? dv.label : dv.label === null || dv.label === undefined ? '' : c.str(dv, 'label', p),
      cursor_seq: c.intOrNull(dv, 'cursor_seq', p),
      lag: c.intOrNull(dv, 'lag', p),
      last_seen: c.numOrNull(dv, 'last_seen', p),
    };
  });
  const out: StatusReply = {
    namespace: c.str(o, 'namespace', 'reply'),
    epoch: typeof o.epoch === 'number' ? String(o.epoch) : c.str(o, 'epoch', 'reply'),
    head: c.int(o, 'head', 'reply'),
    floor: c.int(o, 'floor', 'reply'),
    retention: { max_age_s: c.numOrNull(ret, 'max_age_s', 'reply.retention'), max_entries: c.intOrNull(ret, 'max_entries', 'reply.retention') },
    devices,
  };
  if (o.device !== undefined) out.device = c.str(o, 'device', 'reply');
  if (o.server_version !== undefined) out.server_version = c.str(o, 'server_version', 'reply');
  if (o.protocol !== undefined) out.protocol = c.int(o, 'protocol', 'reply');
  return out;
}

export function checkList(v: unknown, c: ReplyCheck): ListReply {
  const o = c.obj(v, 'reply');
  const entries = c.arr(o.entries, 'reply.entries').map((n, i) => checkNode(c, n, `reply.entries[${i}]`));
  const out: ListReply = {
    entries,
    cursor: c.nonEmpty(o, 'cursor', 'reply'),
    seq: c.int(o, 'seq', 'reply'),
    has_more: c.bool(o, 'has_more', 'reply'),
  };
  if (out.has_more) out.page_token = c.nonEmpty(o, 'page_token', 'reply');
  else if (typeof o.page_token === 'string' && o.page_token.length > 0) out.page_token = o.page_token;
  return out;
}

export function checkChanges(v: unknown, c: ReplyCheck): ChangesReply {
  const o = c.obj(v, 'reply');
  const entries = c.arr(o.entries, 'reply.entries').map((e, i): JournalEntry => {
    const p = `reply.entries[${i}]`;
    const eo = c.obj(e, p);
    const op = eo.op;
    if (typeof op !== 'string' || !OPS.has(op)) c.fail(`${p}.op`, '"create", "update", "move" or "delete"', op);
    return { seq: c.int(eo, 'seq', p, 1), op: op as OpKind, node: checkNode(c, eo.node, `${p}.node`), device: c.str(eo, 'device', p) };
  });
  return {
    entries,
    cursor: c.nonEmpty(o, 'cursor', 'reply'),
    has_more: c.bool(o, 'has_more', 'reply'),
    head: c.int(o, 'head', 'reply'),
  };
}

/** The longest longpoll `backoff` a client honours, s: beyond it the server is broken, not busy. */
export const MAX_BACKOFF_S = 300;

export function checkLongpoll(v: unknown, c: ReplyCheck): LongpollReply {
  const o = c.obj(v, 'reply');
  const out: LongpollReply = { changes: c.bool(o, 'changes', 'reply') };
  if (o.backoff !== undefined && o.backoff !== null) {
    const b = c.num(o, 'backoff', 'reply');
    if (b < 0) c.fail('reply.backoff', 'a number >= 0', b);
    // a broken or hostile server must not park the agent for days
    out.backoff = Math.min(b, MAX_BACKOFF_S);
  }
  return out;
}

export function checkCommit(v: unknown, c: ReplyCheck): OpResult[] {
  const o = c.obj(v, 'reply');
  return c.arr(o.results, 'reply.results').map((r, i): OpResult => {
    const p = `reply.results[${i}]`;
    const ro = c.obj(r, p);
    switch (ro.status) {
      case 'ok':
        return { status: 'ok', seq: c.int(ro, 'seq', p, 1), node: checkNode(c, ro.node, `${p}.node`) };
      case 'conflict':
        return { status: 'conflict', current: checkNode(c, ro.current, `${p}.current`) };
      case 'error': {
        const code = ro.error;
        if (typeof code !== 'string' || !OP_ERRORS.has(code)) c.fail(`${p}.error`, `one of ${OP_ERROR_CODES.join(', ')}`, code);
        const message = typeof ro.message === 'string' ? sanitize(ro.message) : String(code);
        return { status: 'error', error: code as OpErrorCode, message };
      }
      default:
        return c.fail(`${p}.status`, '"ok", "conflict" or "error"', ro.status);
    }
  });
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** A server-sent message, made safe to show: one line, bounded. */
export function sanitize(s: string): string {
  const t = s.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return t.length > 300 ? `${t.slice(0, 297)}...` : t;
}
