// The SQLite journal store (better-sqlite3): WAL, synchronous=FULL so an
// acknowledged commit survives kill -9 and power loss, busy_timeout so the
// admin CLI and a running server can share the file. Each op is one
// IMMEDIATE transaction: facts → decideOp → head + 1 → node, journal, result.

import { newEpoch } from '../../ids.js';
import { timingSafeEqual } from 'node:crypto';
import Database from 'better-sqlite3';
import { SyncdError } from '../../../protocol/errors.js';
import { ROOT_ID, type Op, type OpResult, type WireNode } from '../../../protocol/types.js';
import { checkKeep, DEFAULT_KEEP_VERSIONS_S, DEFAULT_RETENTION, parsePolicyFigure, planTrim, purgeLimit } from '../../retention.js';
import { purgeInSlices } from '../purge-slices.js';
import { decideOp, opHash, opName, ROOT, storedNodeFromRow, wireNode, wireNodeFromRow, EMPTY_SHA256, type OpFacts, type StoredNode } from '../decide.js';
import {
  DEFAULT_TREE_LIMITS,
  STORE_UNAVAILABLE,
  type TreeLimits,
  type ActivityRecord,
  type ChangesRead,
  type CommitContext,
  type DeviceIdentity,
  type DeviceRecord,
  type HistoryRow,
  type JournalStore,
  type ListRead,
  type NamespaceRef,
  type NamespaceState,
  type NewDevice,
  type OpOutcome,
  type RetentionPolicy,
  type TrimReport,
} from '../types.js';
import type { ContentStore } from '../content-types.js';
import { sqliteContent } from './content.js';
import { migrate } from './migrations.js';
import { translate } from './errors.js';
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { prepare, type NodeRow, type Statements } from './statements.js';
import { SnapshotReader } from './snapshot-read.js';

export interface SqliteStoreOptions {
  /** how long a writer waits for another process's lock, ms (default 10 s) */
  busyTimeoutMs?: number;
  /** most rows deleted per trim transaction (chunks are sized by time below it: `nextTrimChunk`) */
  trimChunk?: number;
}

export class SqliteStore implements JournalStore {
  readonly #db: Database.Database;
  readonly #history: SnapshotReader;
  readonly #trimChunk: number;
  readonly #s: Statements;
  readonly content: ContentStore;

  constructor(file: string, opts: SqliteStoreOptions = {}) {
    this.#trimChunk = opts.trimChunk ?? 20_000;
    try {
      this.#db = new Database(file);
      this.#history = new SnapshotReader(file);
      this.#db.pragma(`busy_timeout = ${Math.max(0, Math.floor(opts.busyTimeoutMs ?? 10_000))}`);
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = FULL');
      this.#db.pragma('foreign_keys = ON');
      migrate(this.#db);
      this.#s = prepare(this.#db);
      this.content = sqliteContent(this.#db, (fn) => this.#run(fn));
    } catch (err) {
      translate(err);
    }
  }

  async #run<T>(fn: () => T): Promise<T> {
    try {
      return fn();
    } catch (err) {
      translate(err);
    }
  }

  cursorKey(): Promise<Buffer> {
    return this.#run(() => {
      const row = this.#s.metaGet.get('cursor_key') as { value: string } | undefined;
      if (!row) throw new SyncdError('store_corrupt', 'server_meta has no cursor_key');
      return Buffer.from(row.value, 'hex');
    });
  }

  createDevice(namespace: string, label: string, deviceId: string, tokenHash: Buffer, now: number): Promise<NewDevice> {
    return this.#run(() =>
      this.#db
        .transaction((): NewDevice => {
          let ns = this.#s.nsByName.get(namespace) as { id: number } | undefined;
          if (!ns) {
            ns = this.#s.nsInsert.get(namespace, newEpoch(), now) as { id: number };
          }
          this.#s.deviceInsert.run(deviceId, ns.id, label, tokenHash, now);
          return { deviceId, namespace: { id: ns.id, name: namespace } };
        })
        .immediate(),
    );
  }

  revokeDevice(deviceId: string): Promise<boolean> {
    return this.#run(() => this.#s.deviceRevoke.run(deviceId).changes === 1);
  }

  revokedAmong(deviceIds: string[]): Promise<string[]> {
    return this.#run(() =>
      deviceIds.filter((id) => {
        const r = this.#s.deviceRevoked.get(id) as { revoked: number } | undefined;
        return r === undefined || r.revoked !== 0;
      }),
    );
  }

  renewEpoch(namespace: string | null): Promise<number> {
    return this.#run(() =>
      this.#db
        .transaction(() => {
          const all = this.#s.nsAll.all() as NamespaceState[];
          const rows = namespace === null ? all : all.filter((n) => n.name === namespace);
          for (const n of rows) {
            this.#s.setEpoch.run(newEpoch(), n.id);
            this.#s.clearCursors.run(n.id);
          }
          return rows.length;
        })
        .immediate(),
    );
  }

  authenticate(tokenHash: Buffer): Promise<DeviceIdentity | null> {
    return this.#run(() => {
      const r = this.#s.auth.get(tokenHash) as
        | { id: string; label: string; token_hash: Buffer; revoked: number; ns: number; name: string }
        | undefined;
      if (!r || r.token_hash.length !== tokenHash.length || !timingSafeEqual(r.token_hash, tokenHash) || r.revoked !== 0) {
        return null;
      }
      return { deviceId: r.id, label: r.label, namespace: { id: r.ns, name: r.name } };
    });
  }

  namespaceState(ns: NamespaceRef): Promise<NamespaceState> {
    return this.#run(() => this.#state(ns.id));
  }

  #state(id: number): NamespaceState {
    const s = this.#s.nsById.get(id) as NamespaceState | undefined;
    if (!s) throw new SyncdError('not_found', `namespace ${id} does not exist`);
    return s;
  }

  namespaces(): Promise<NamespaceState[]> {
    return this.#run(() => this.#s.nsAll.all() as NamespaceState[]);
  }

  devices(ns?: NamespaceRef): Promise<DeviceRecord[]> {
    return this.#run(() => {
      const rows = (ns ? this.#s.devicesOf.all(ns.id) : this.#s.devicesAll.all()) as Array<{
        id: string;
        label: string;
        namespace: string;
        created_at: number;
        cursor_seq: number | null;
        last_seen: number | null;
        revoked: number;
      }>;
      return rows.map((r) => ({
        id: r.id,
        label: r.label,
        namespace: r.namespace,
        createdAt: r.created_at,
        cursorSeq: r.cursor_seq,
        lastSeen: r.last_seen,
        revoked: r.revoked !== 0,
      }));
    });
  }

  listNodes(ns: NamespaceRef, afterId: string, limit: number): Promise<ListRead> {
    return this.#run(() =>
      this.#db.transaction((): ListRead => {
        const state = this.#state(ns.id);
        const rows = this.#s.listNodes.all(ns.id, afterId, limit) as NodeRow[];
        return { state, nodes: rows.map(wireNodeFromRow) };
      })(),
    );
  }

  readChanges(ns: NamespaceRef, afterSeq: number, limit: number): Promise<ChangesRead> {
    return this.#run(() =>
      this.#db.transaction((): ChangesRead => {
        const state = this.#state(ns.id);
        const rows = this.#s.changes.raw().all(ns.id, afterSeq, limit) as Array<[number, string]>;
        return { state, entries: rows.map(([seq, json]) => ({ seq, json })) };
      })(),
    );
  }

  commitOp(ns: NamespaceRef, op: Op, ctx: CommitContext): Promise<OpOutcome> {
    return this.#run(() => this.#db.transaction(() => this.#commit(ns.id, op, ctx)).immediate());
  }

  /** Ops in order in ONE transaction (one fsync, not one per op) until `budgetMs` is spent; the outcomes of those run. */
  commitSlice(ns: NamespaceRef, ops: readonly Op[], ctx: CommitContext, budgetMs: number): Promise<OpOutcome[]> {
    return this.#run(() =>
      this.#db
        .transaction(() => {
          const start = performance.now();
          const out: OpOutcome[] = [];
          for (const op of ops) {
            out.push(this.#commit(ns.id, op, ctx));
            if (performance.now() - start >= budgetMs) break;
          }
          return out;
        })
        .immediate(),
    );
  }

  #commit(ns: number, op: Op, ctx: CommitContext): OpOutcome {
    const prior = this.#s.opResultGet.get(ns, op.op_id) as { result: string } | undefined;
    if (prior) return { result: JSON.parse(prior.result) as OpResult, replayed: true };
    const limits = ctx.limits ?? DEFAULT_TREE_LIMITS;
    const facts = this.#facts(ns, op, limits);
    const decision = decideOp(op, facts, ctx.newNodeId, limits);
    if (decision.kind === 'reject') return { result: decision.result, replayed: false };
    const { head: seq } = this.#s.bumpHead.get(ns) as { head: number };
    const node: WireNode = wireNode({ ...decision.node, seq });
    const deleted = decision.op === 'delete' ? seq : 0;
    const row = {
      ns,
      id: node.id,
      parent: node.parent,
      name: node.name,
      name_key: decision.nameKey,
      kind: node.kind,
      rev: node.rev,
      size: node.size ?? null,
      hash: node.hash ?? null,
      target: node.target ?? null,
      mtime: node.mtime,
      exec: node.exec ? 1 : 0,
      seq,
      deleted,
    };
    if (decision.op === 'create') this.#s.nodeInsert.run(row);
    else this.#s.nodeUpdate.run(row);
    if (decision.cascade) this.#s.cascade.run({ ns, id: node.id, seq });
    const entry = JSON.stringify({ seq, op: decision.op, node, device: ctx.deviceId });
    const pre = decision.op === 'create' ? null : this.#preImage(ns, facts.node!);
    this.#s.journalInsert.run({ ns, seq, at: ctx.now, entry, node: node.id, hash: node.hash ?? null, prev: pre?.prev ?? null, prevAt: pre?.at ?? null });
    const result: OpResult = { status: 'ok', seq, node };
    this.#s.opResultInsert.run(ns, op.op_id, seq, JSON.stringify(result));
    return { result, replayed: false };
  }

  /** The entry that made `node`'s current state, or the bare state when that row is trimmed. */
  #preImage(ns: number, node: StoredNode): { prev: string; at: number | null } {
    const row = this.#s.journalAtSeq.get(ns, node.seq) as { at: number; entry: string } | undefined;
    if (row) return { prev: row.entry, at: row.at };
    return { prev: JSON.stringify({ seq: node.seq, op: null, node: wireNode(node), device: null }), at: null };
  }

  #facts(ns: number, op: Op, limits: TreeLimits): OpFacts {
    const facts: OpFacts = {
      node: null,
      parent: null,
      sibling: null,
      parentChain: [],
      parentPathBytes: 0,
      subtreeHeight: 0,
      subtreePathBytes: 0,
      blob: null,
      subtreeSeq: 0,
    };
    if (op.op !== 'create') {
      const r = this.#s.nodeGet.get(ns, op.id) as NodeRow | undefined;
      facts.node = r ? storedNodeFromRow(r) : null;
      if (op.op === 'delete' && op.subtree_seq !== undefined && r?.kind === 'dir') {
        facts.subtreeSeq = (this.#s.subtreeSeq.get({ ns, id: op.id }) as { m: number }).m;
      }
    }
    if (op.op === 'create' || op.op === 'move') {
      if (op.parent === ROOT_ID) facts.parent = ROOT;
      else {
        const p = this.#s.nodeGet.get(ns, op.parent) as NodeRow | undefined;
        facts.parent = p ? storedNodeFromRow(p) : null;
      }
      const n = opName(op);
      if (n) {
        const sib = this.#s.sibling.get(ns, op.parent, n.key) as { id: string } | undefined;
        facts.sibling = sib ?? null;
      }
      if (op.parent !== ROOT_ID) {
        const up = this.#s.ancestry.raw().all({ ns, id: op.parent, cap: limits.maxDepth + 1 }) as Array<[string, number]>;
        facts.parentChain = up.map((r) => r[0]);
        facts.parentPathBytes = up.reduce((a, r) => a + r[1], 0) + Math.max(0, up.length - 1);
      }
      if (op.op === 'move' && facts.node?.kind === 'dir') {
        const reach = this.#s.subtreeReach.get({ ns, id: op.id, cap: limits.maxDepth + 1 }) as { h: number; b: number };
        facts.subtreeHeight = reach.h;
        facts.subtreePathBytes = reach.b;
      }
    }
    const hash = opHash(op);
    if (hash !== undefined) facts.blob = this.#blobRef(ns, hash);
    return facts;
  }

  #blobRef(ns: number, hash: string): { size: number } | null {
    if (hash === EMPTY_SHA256) return { size: 0 };
    return (this.#s.blobGet.get(ns, hash) as { size: number } | undefined) ?? null;
  }

  blobRef(ns: NamespaceRef, hash: string): Promise<{ size: number } | null> {
    return this.#run(() => this.#blobRef(ns.id, hash));
  }

  addBlobRef(ns: NamespaceRef, hash: string, size: number, now: number): Promise<boolean> {
    return this.#run(() => this.#s.blobInsert.run(ns.id, hash, size, now).changes === 1);
  }

  referencedBlobs(): Promise<Array<{ hash: string; size: number; namespaces: string[] }>> {
    return this.#run(() =>
      (this.#s.blobsReferenced.all() as Array<{ hash: string; size: number; namespaces: string }>).map((r) => ({
        hash: r.hash,
        size: r.size,
        namespaces: r.namespaces.split(','),
      })),
    );
  }

  saveActivity(records: ActivityRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.#run(() =>
      this.#db.transaction(() => {
        for (const r of records) {
          this.#s.activity.run({ id: r.deviceId, lastSeen: r.lastSeen, cursorSeq: r.cursorSeq ?? null });
        }
      })(),
    );
  }

  retention(): Promise<RetentionPolicy> {
    return this.#run(() => this.#retention());
  }

  #retention(): RetentionPolicy {
    const get = (k: string): string | undefined => (this.#s.metaGet.get(k) as { value: string } | undefined)?.value;
    const e = get('retention_max_entries');
    const a = get('retention_max_age_s');
    return {
      maxEntries: e === undefined ? DEFAULT_RETENTION.maxEntries : parsePolicyFigure(e, 'retention_max_entries'),
      maxAgeS: a === undefined ? DEFAULT_RETENTION.maxAgeS : parsePolicyFigure(a, 'retention_max_age_s'),
    };
  }

  setRetention(p: RetentionPolicy): Promise<void> {
    return this.#run(() =>
      this.#db
        .transaction(() => {
          this.#s.metaSet.run('retention_max_entries', p.maxEntries === null ? 'off' : String(p.maxEntries));
          this.#s.metaSet.run('retention_max_age_s', p.maxAgeS === null ? 'off' : String(p.maxAgeS));
        })
        .immediate(),
    );
  }

  keepVersions(): Promise<number> {
    return this.#run(() => this.#keepVersions());
  }

  #keepVersions(): number {
    const v = (this.#s.metaGet.get('keep_versions_s') as { value: string } | undefined)?.value;
    return v === undefined ? DEFAULT_KEEP_VERSIONS_S : Number(v);
  }

  setKeepVersions(seconds: number): Promise<void> {
    return this.#run(() => void this.#s.metaSet.run('keep_versions_s', String(checkKeep(seconds))));
  }

  nodeHistory(ns: NamespaceRef, nodeId: string, limit?: number, beforeSeq?: number): Promise<HistoryRow[]> {
    return this.#run(() => this.#s.nodeHistory.all(ns.id, nodeId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit ?? -1) as HistoryRow[]);
  }

  historyAfter(ns: NamespaceRef, afterSeq: number, limit: number): Promise<HistoryRow[]> {
    return this.#run(() => this.#s.historyAfter.all(ns.id, afterSeq, limit) as HistoryRow[]);
  }

  historyBefore(ns: NamespaceRef, beforeSeq: number, limit: number): Promise<HistoryRow[]> {
    return this.#run(() => this.#s.historyBefore.all(ns.id, beforeSeq, limit) as HistoryRow[]);
  }

  allNodes(ns: NamespaceRef): Promise<StoredNode[]> {
    return this.#history.allNodes(ns.id, (r: NodeRow) => storedNodeFromRow(r)).catch(translate);
  }

  seqAt(ns: NamespaceRef, time: number): Promise<number> {
    return this.#run(() => (this.#s.seqAt.get(ns.id, time) as { seq: number | null }).seq ?? 0);
  }

  historyStart(ns: NamespaceRef): Promise<number> {
    return this.#run(() =>
      this.#db.transaction(() => {
        const lo = (this.#s.minSeq.get(ns.id) as { lo: number | null }).lo;
        return lo ?? this.#state(ns.id).head + 1;
      })(),
    );
  }

  retainedHashes(): Promise<Set<string>> {
    return this.#run(() => new Set((this.#s.retainedHashes.raw().all() as Array<[string]>).map((r) => r[0])));
  }

  /**
   * Raises each namespace's floor in one short transaction, then deletes
   * below the purge limit (below the floor and the version period) chunk by chunk. SQLite runs on the event loop, so the trim
   * yields between chunks and namespaces: other requests are served in
   * between instead of waiting for the whole trim.
   */
  async trim(now: number): Promise<TrimReport> {
    const report: TrimReport = { namespaces: [] };
    const policy = await this.#run(() => this.#retention());
    const keepS = await this.#run(() => this.#keepVersions());
    const all = await this.#run(() => this.#s.nsAll.all() as NamespaceState[]);
    for (const { id, name } of all) {
      const raised = await this.#run(() => this.#raiseFloor(id, policy, keepS, now));
      const lowest = (this.#s.minSeq.get(id) as { lo: number | null }).lo;
      const dropped = await purgeInSlices(lowest, raised.limit, this.#trimChunk, (from, hi) => this.#run(() => this.#purge(id, from, hi)));
      report.namespaces.push({ name, oldFloor: raised.old, newFloor: raised.floor, head: raised.head, dropped, misses: raised.misses });
      await yieldTurn();
    }
    // one fsynced write makes every chunk before it durable (the WAL is written in order)
    if (report.namespaces.some((n) => n.dropped > 0)) await this.#run(() => this.#db.transaction(() => this.#s.metaSet.run('last_trim', String(now))).immediate());
    return report;
  }

  /**
   * One chunk of a trim's deletions, without an fsync of its own (`synchronous = NORMAL` for it only): the
   * trim's last, fsynced write takes it along. Lost to a crash before that, it is rows the next trim deletes.
   */
  #purge(ns: number, from: number, hi: number): number {
    this.#db.pragma('synchronous = NORMAL');
    try {
      return this.#db
        .transaction(() => {
          const n = this.#s.journalPurge.run(ns, from, hi).changes;
          this.#s.opResultsPurge.run(ns, from, hi);
          this.#s.tombstonePurge.run(ns, from, hi);
          return n;
        })
        .immediate();
    } finally {
      this.#db.pragma('synchronous = FULL');
    }
  }

  #raiseFloor(id: number, policy: RetentionPolicy, keepS: number, now: number): { old: number; floor: number; head: number; misses: number; limit: number } {
    // the journal is searched before the write lock is taken (a WAL reader never blocks a commit): a commit
    // meanwhile only adds entries after `head`, all of them recent, so "none found" means "none up to head"
    const seen = this.#state(id);
    const recent = (this.#s.firstRecent.get(id, seen.floor, policy.maxAgeS === null ? 0 : now - policy.maxAgeS * 1000) as { seq: number } | undefined)?.seq ?? seen.head + 1;
    // versions inside the version period are kept even below the floor
    const kept = (this.#s.firstSince.get(id, now - keepS * 1000) as { seq: number | null }).seq ?? seen.head + 1;
    return this.#db
      .transaction(() => {
        const st = this.#state(id);
        const devs = this.#s.devicesOf.all(id) as Array<{ cursor_seq: number | null; last_seen: number | null; revoked: number }>;
        const plan = planTrim({
          head: st.head,
          floor: st.floor,
          policy,
          now,
          firstRecentSeq: recent,
          devices: devs.filter((d) => d.revoked === 0).map((d) => ({ cursorSeq: d.cursor_seq, lastSeen: d.last_seen })),
        });
        if (plan.floor > st.floor) this.#s.setFloor.run({ floor: plan.floor, id });
        const floor = Math.max(plan.floor, st.floor);
        return { old: st.floor, floor, head: st.head, misses: plan.misses, limit: purgeLimit(floor, st.head, kept) };
      })
      .immediate();
  }

  healthCheck(now: number): Promise<void> {
    return this.#run(() => {
      this.#db.transaction(() => this.#s.metaSet.run('health_check', String(now))).immediate();
      const back = this.#s.metaGet.get('health_check') as { value: string } | undefined;
      if (back?.value !== String(now)) throw new SyncdError(STORE_UNAVAILABLE, 'health check read back a different value');
    });
  }

  async close(): Promise<void> {
    this.#history.close();
    if (this.#db.open) this.#db.close();
  }
}
