// One op's commit on PostgreSQL, inside a transaction the caller opened
// (store.ts): the steps its header lists. A slice runs several ops in one
// transaction, so a 1000-op request costs a few WAL flushes instead of 1000
// (each op alone is a transaction with its own COMMIT and fsync). The slice
// takes the namespace's row lock first (SELECT … FOR UPDATE), then each op
// reads its facts in a new statement, so it sees every commit before the
// lock and the slice's own ops before it; seqs are counted from the locked
// head and the head is written once at the end. A rejected or replayed op
// takes no seq and writes nothing, so seqs stay gap-free without savepoints;
// an error takes the whole slice back, as for the SQLite store's slices.

import { SyncdError } from '../../../protocol/errors.js';
import { ROOT_ID, type Op, type OpResult, type WireNode } from '../../../protocol/types.js';
import { decideOp, opHash, opName, ROOT, storedNodeFromRow, wireNode, EMPTY_SHA256, type OpFacts } from '../decide.js';
import { DEFAULT_TREE_LIMITS, type CommitContext, type OpOutcome, type TreeLimits } from '../types.js';
import { Rollback, type Tx } from './pool.js';
import { SQL } from './sql.js';

/**
 * The least a slice holds the namespace lock for when the caller's budget
 * is smaller (the service's budget is meant for SQLite's synchronous
 * transactions; here the event loop is free while PostgreSQL works): enough
 * for a few hundred ops per WAL flush, short enough that other writers of
 * the namespace wait at most this long.
 */
const MIN_SLICE_MS = 50;

/**
 * How a commit transaction begins. Its statements' plans are made once per
 * connection (below) and kept: made as generic plans (re-planning them per
 * op cost 2.5× the op, measured), and without sequential scans, because a
 * plan made while the tables are small (a new database, before
 * autovacuum's first ANALYZE) would otherwise scan a table that grows
 * under it (up to 37 ms per op at 800 nodes). Every commit statement is an
 * index lookup (test/contract/query-plans.test.ts).
 */
export const COMMIT_BEGIN = 'BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL enable_seqscan = off; SET LOCAL plan_cache_mode = force_generic_plan';

/**
 * A commit statement as a named prepared statement: PostgreSQL parses it
 * once per connection instead of on every op (the facts statement took
 * ~5 ms to parse and plan against ~1 ms to run).
 */
function prepared(name: 'bumpHead' | 'nsLock' | 'setHead' | 'facts' | 'writeCreate' | 'writeChange', values: unknown[]): { name: string; text: string; values: unknown[] } {
  return { name: `syncd_${name}`, text: SQL[name], values };
}

/** Runs `ops` in order in this transaction while within the budget (at least one); their outcomes. */
export async function commitSliceInTx(c: Tx, ns: number, ops: readonly Op[], ctx: CommitContext, budgetMs: number): Promise<OpOutcome[]> {
  const start = performance.now();
  const locked = (await c.query<{ head: number }>(prepared('nsLock', [ns]))).rows[0];
  if (!locked) throw new SyncdError('not_found', `namespace ${ns} does not exist`);
  const first = Number(locked.head);
  let head = first;
  const out: OpOutcome[] = [];
  for (const op of ops) {
    const r = await commitInTx(c, ns, op, ctx, head + 1);
    if (r instanceof Rollback) {
      out.push(r.value);
    } else {
      head += 1;
      out.push(r);
    }
    if (performance.now() - start >= Math.max(budgetMs, MIN_SLICE_MS)) break;
  }
  if (head !== first) await c.query(prepared('setHead', [ns, head]));
  return out;
}

export interface NodeRow {
  id: string;
  parent: string;
  name: string;
  kind: 'file' | 'dir' | 'symlink';
  rev: number;
  size: number | null;
  hash: string | null;
  target: string | null;
  mtime: number;
  exec: boolean;
  seq: number;
  deleted: number;
}

interface FactsRow {
  prior: string | null;
  node: NodeRow | null;
  parent: NodeRow | null;
  sibling: string | null;
  blob_size: number | null;
  chain: string[] | null;
  chain_bytes: number | null;
  reach_height: number | null;
  reach_bytes: number | null;
  subtree_seq: number | null;
  /** the journal row that made the node's current state (its pre-image) */
  prev_row: { at: number; entry: string } | null;
}

/**
 * One op. `lockedSeq`: the caller holds the namespace lock and this op's
 * seq if it succeeds (a slice, which writes the head itself); without it
 * the head bump takes the lock and the seq, and a Rollback undoes it.
 */
export async function commitInTx(c: Tx, ns: number, op: Op, ctx: CommitContext, lockedSeq?: number): Promise<OpOutcome | Rollback<OpOutcome>> {
  let seq = lockedSeq;
  if (seq === undefined) {
    const bumped = (await c.query<{ head: number }>(prepared('bumpHead', [ns]))).rows[0];
    if (!bumped) throw new SyncdError('not_found', `namespace ${ns} does not exist`);
    seq = bumped.head;
  }
  const limits = ctx.limits ?? DEFAULT_TREE_LIMITS;
  const raw = await readFacts(c, ns, op, limits);
  let prev: string | null = null;
  let prevAt: number | null = null;
  if (op.op !== 'create' && raw.facts.node) {
    prev = raw.prevRow?.entry ?? JSON.stringify({ seq: raw.facts.node.seq, op: null, node: wireNode(raw.facts.node), device: null });
    prevAt = raw.prevRow === null ? null : Number(raw.prevRow.at);
  }
  if (raw.prior !== null) return new Rollback({ result: JSON.parse(raw.prior) as OpResult, replayed: true });
  const decision = decideOp(op, raw.facts, ctx.newNodeId, limits);
  if (decision.kind === 'reject') return new Rollback({ result: decision.result, replayed: false });
  const node: WireNode = wireNode({ ...decision.node, seq });
  const entry = JSON.stringify({ seq, op: decision.op, node, device: ctx.deviceId });
  const result: OpResult = { status: 'ok', seq, node };
  const params: unknown[] = [
    ns,
    node.id,
    node.parent,
    node.name,
    decision.nameKey,
    node.kind,
    node.rev,
    node.size ?? null,
    node.hash ?? null,
    node.target ?? null,
    node.mtime,
    node.exec,
    seq,
    decision.op === 'delete' ? seq : 0,
    ctx.now,
    entry,
    op.op_id,
    JSON.stringify(result),
  ];
  const written =
    decision.op === 'create'
      ? await c.query(prepared('writeCreate', params))
      : await c.query(prepared('writeChange', [...params, decision.cascade, prev, prevAt]));
  if (written.rowCount !== 1) throw new SyncdError('store_corrupt', `node ${node.id} changed under the namespace lock`);
  return { result, replayed: false };
}

async function readFacts(c: Tx, ns: number, op: Op, limits: TreeLimits): Promise<{ prior: string | null; facts: OpFacts; prevRow: FactsRow['prev_row'] }> {
  const n = opName(op);
  const parentId = op.op === 'create' || op.op === 'move' ? op.parent : null;
  const hash = opHash(op);
  const { rows } = await c.query<FactsRow>(prepared('facts', [
    ns,
    op.op_id,
    op.op === 'create' ? null : op.id,
    parentId,
    n?.key ?? null,
    hash === undefined || hash === EMPTY_SHA256 ? null : hash,
    op.op === 'move' || op.op === 'create',
    op.op === 'delete' && op.subtree_seq !== undefined,
    limits.maxDepth + 1,
    op.op === 'move',
  ]));
  const r = rows[0]!;
  const chain = r.chain ?? [];
  const facts: OpFacts = {
    node: r.node ? storedNodeFromRow(r.node) : null,
    parent: parentId === ROOT_ID ? ROOT : r.parent ? storedNodeFromRow(r.parent) : null,
    sibling: r.sibling !== null && n ? { id: r.sibling } : null,
    parentChain: chain,
    // the names of the chain's nodes, and a "/" between each two
    parentPathBytes: Number(r.chain_bytes ?? 0) + Math.max(0, chain.length - 1),
    subtreeHeight: Number(r.reach_height ?? 0),
    subtreePathBytes: Number(r.reach_bytes ?? 0),
    blob: hash === EMPTY_SHA256 ? { size: 0 } : r.blob_size === null ? null : { size: r.blob_size },
    subtreeSeq: Number(r.subtree_seq ?? 0),
  };
  return { prior: r.prior, facts, prevRow: r.prev_row };
}
