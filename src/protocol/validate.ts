// Request validators: turn untrusted JSON and query strings into typed
// values or a 400 with a message that says exactly what is wrong.

import { badRequest, HttpError } from './errors.js';
import { isSha256Hex } from './names.js';
import { LIMITS, type CreateOp, type DeleteOp, type MoveOp, type NodeKind, type Op, type UpdateOp } from './types.js';

type Json = Record<string, unknown>;

const OP_ID = /^[A-Za-z0-9_-]{8,128}$/;
const NODE_ID = /^[A-Za-z0-9_-]{1,64}$/;

export function parseLimit(raw: string | null, max: number = LIMITS.pageMax, dflt: number = LIMITS.pageDefault): number {
  if (raw === null) return dflt;
  if (!/^[0-9]{1,6}$/.test(raw)) throw badRequest(`limit must be an integer from 1 to ${max}`);
  const n = Number(raw);
  if (n < 1 || n > max) throw badRequest(`limit must be an integer from 1 to ${max}`);
  return n;
}

export function parseLongpollTimeout(raw: string | null): number {
  if (raw === null) return LIMITS.longpollDefault;
  if (!/^[0-9]{1,4}$/.test(raw)) throw badRequest(`timeout must be an integer from ${LIMITS.longpollMin} to ${LIMITS.longpollMax}`);
  const n = Number(raw);
  if (n < LIMITS.longpollMin || n > LIMITS.longpollMax) {
    throw badRequest(`timeout must be an integer from ${LIMITS.longpollMin} to ${LIMITS.longpollMax}`);
  }
  return n;
}

function isObj(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function field(i: number, k: string): string {
  return `ops[${i}].${k}`;
}

function reqString(o: Json, i: number, k: string, re?: RegExp): string {
  const v = o[k];
  if (typeof v !== 'string') throw badRequest(`${field(i, k)} must be a string`);
  if (re && !re.test(v)) throw badRequest(`${field(i, k)} is malformed`);
  return v;
}

function reqRev(o: Json, i: number): number {
  const v = o.base_rev;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw badRequest(`${field(i, 'base_rev')} must be an integer >= 1`);
  return v;
}

function optInt(o: Json, i: number, k: string, min = 0): number | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) throw badRequest(`${field(i, k)} must be an integer >= ${min}`);
  return v;
}

function optBool(o: Json, i: number, k: string): boolean | undefined {
  const v = o[k];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${field(i, k)} must be true or false`);
  return v;
}

function optHash(o: Json, i: number): string | undefined {
  const v = o.hash;
  if (v === undefined || v === null) return undefined;
  if (!isSha256Hex(v)) throw badRequest(`${field(i, 'hash')} must be 64 lowercase hex characters (SHA-256)`);
  return v;
}

function optTarget(o: Json, i: number): string | undefined {
  const v = o.target;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v.length === 0) throw badRequest(`${field(i, 'target')} must be a non-empty string`);
  if (v.includes('\0')) throw badRequest(`${field(i, 'target')} contains NUL`);
  if (Buffer.byteLength(v, 'utf8') > LIMITS.targetMaxBytes) throw badRequest(`${field(i, 'target')} exceeds ${LIMITS.targetMaxBytes} bytes`);
  return v;
}

/** The name stays unvalidated here (only its type): rule violations are the op result `invalid_name`. */
function reqNameString(o: Json, i: number): string {
  const v = o.name;
  if (typeof v !== 'string') throw badRequest(`${field(i, 'name')} must be a string`);
  if (v.length > 4096) throw badRequest(`${field(i, 'name')} is far too long`);
  return v;
}

function parseOp(raw: unknown, i: number): Op {
  if (!isObj(raw)) throw badRequest(`ops[${i}] must be an object`);
  const op_id = reqString(raw, i, 'op_id', OP_ID);
  const kind = raw.op;
  switch (kind) {
    case 'create': {
      const nodeKind = raw.kind;
      if (nodeKind !== 'file' && nodeKind !== 'dir' && nodeKind !== 'symlink') {
        throw badRequest(`ops[${i}].kind must be "file", "dir" or "symlink"`);
      }
      const op: CreateOp = {
        op_id,
        op: 'create',
        parent: reqString(raw, i, 'parent', NODE_ID),
        name: reqNameString(raw, i),
        kind: nodeKind as NodeKind,
        mtime: optInt(raw, i, 'mtime') ?? 0,
        exec: optBool(raw, i, 'exec') ?? false,
      };
      const hash = optHash(raw, i);
      const size = optInt(raw, i, 'size');
      const target = optTarget(raw, i);
      if (nodeKind === 'file') {
        if (hash === undefined || size === undefined) throw badRequest(`ops[${i}]: a file needs "hash" and "size"`);
        if (target !== undefined) throw badRequest(`ops[${i}]: a file has no "target"`);
        op.hash = hash;
        op.size = size;
      } else if (nodeKind === 'symlink') {
        if (target === undefined) throw badRequest(`ops[${i}]: a symlink needs "target"`);
        if (hash !== undefined || size !== undefined) throw badRequest(`ops[${i}]: a symlink has no "hash"/"size"`);
        op.target = target;
        op.exec = false;
      } else {
        if (hash !== undefined || size !== undefined || target !== undefined) throw badRequest(`ops[${i}]: a directory has no "hash", "size" or "target"`);
        op.exec = false;
      }
      return op;
    }
    case 'update': {
      const op: UpdateOp = { op_id, op: 'update', id: reqString(raw, i, 'id', NODE_ID), base_rev: reqRev(raw, i) };
      const hash = optHash(raw, i);
      const size = optInt(raw, i, 'size');
      if ((hash === undefined) !== (size === undefined)) throw badRequest(`ops[${i}]: "hash" and "size" go together`);
      if (hash !== undefined) op.hash = hash;
      if (size !== undefined) op.size = size;
      const mtime = optInt(raw, i, 'mtime');
      if (mtime !== undefined) op.mtime = mtime;
      const exec = optBool(raw, i, 'exec');
      if (exec !== undefined) op.exec = exec;
      const target = optTarget(raw, i);
      if (target !== undefined) op.target = target;
      return op;
    }
    case 'move': {
      const op: MoveOp = {
        op_id,
        op: 'move',
        id: reqString(raw, i, 'id', NODE_ID),
        base_rev: reqRev(raw, i),
        parent: reqString(raw, i, 'parent', NODE_ID),
        name: reqNameString(raw, i),
      };
      return op;
    }
    case 'delete': {
      const op: DeleteOp = { op_id, op: 'delete', id: reqString(raw, i, 'id', NODE_ID), base_rev: reqRev(raw, i) };
      const subtree = optInt(raw, i, 'subtree_seq');
      if (subtree !== undefined) op.subtree_seq = subtree;
      return op;
    }
    default:
      throw badRequest(`ops[${i}].op must be "create", "update", "move" or "delete"`);
  }
}

/** Parses a commit body. Throws HttpError(400) with a precise message. */
export function parseCommitRequest(body: unknown): Op[] {
  if (!isObj(body)) throw badRequest('body must be a JSON object {"ops": [...]}');
  const ops = body.ops;
  if (!Array.isArray(ops)) throw badRequest('"ops" must be an array');
  if (ops.length === 0) throw badRequest('"ops" is empty');
  if (ops.length > LIMITS.commitMaxOps) throw new HttpError('too_large', `at most ${LIMITS.commitMaxOps} ops per commit`);
  const parsed = ops.map(parseOp);
  const seen = new Set<string>();
  for (const op of parsed) {
    if (seen.has(op.op_id)) throw badRequest(`op_id ${op.op_id} appears twice in one commit`);
    seen.add(op.op_id);
  }
  return parsed;
}
