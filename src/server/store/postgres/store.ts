// The PostgreSQL journal store: the same JournalStore as SQLite, for many
// `syncd serve` processes sharing one database. Each op runs in a
// transaction, alone (commitOp) or after the ops before it in a slice
// (commitSlice: one WAL flush for many ops; commit.ts):
//
//   1. UPDATE namespaces SET head = head + 1 … RETURNING head — takes the
//      namespace's row lock and the op's seq. Every commit of the namespace,
//      in any process, queues behind this lock, so seqs are gap-free and
//      commit order is seq order.
//   2. the facts (decide.ts), in a NEW statement: under READ COMMITTED it
//      sees every commit that held the lock before us. (A single statement
//      would keep the snapshot it took before waiting for the lock.)
//   3. decideOp; a rejection, or an op_id that already succeeded, rolls the
//      transaction back, head bump included. (A slice locks the namespace
//      row first and counts seqs itself, writing the head once: commit.ts.)
//   4. node + subtree tombstones + journal entry + op result, one statement.
//
// Nothing is cached across calls: every process reads the same rows.

import { newEpoch } from '../../ids.js';
import { timingSafeEqual } from 'node:crypto';
import type pg from 'pg';
import { SyncdError } from '../../../protocol/errors.js';
import type { Op } from '../../../protocol/types.js';
import { checkKeep, DEFAULT_KEEP_VERSIONS_S, DEFAULT_RETENTION, parsePolicyFigure, planTrim, purgeLimit } from '../../retention.js';
import { storedNodeFromRow, wireNode, EMPTY_SHA256, type StoredNode } from '../decide.js';
import {
  STORE_UNAVAILABLE,
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
import { migrate } from './migrations.js';
import type { ContentStore } from '../content-types.js';
import { postgresContent } from './content.js';
import { clientConfig, createPool, query, transaction, translate, type PgPoolOptions, type Tx } from './pool.js';
import { SQL } from './sql.js';
import { COMMIT_BEGIN, commitInTx, commitSliceInTx, type NodeRow } from './commit.js';
import { purgeInSlices } from '../purge-slices.js';

export interface PostgresStoreOptions extends PgPoolOptions {
  /** most seqs purged per trim transaction (chunks are sized by time below it: retention.ts `nextTrimChunk`) */
  trimChunk?: number;
}

interface DeviceRow {
  id: string;
  label: string;
  namespace: string;
  created_at: number;
  cursor_seq: number | null;
  last_seen: number | null;
  revoked: boolean;
}

interface StateRow {
  ns_id: number;
  ns_name: string;
  epoch: string;
  head: number;
  floor: number;
}

function stateOf(r: StateRow): NamespaceState {
  return { id: r.ns_id, name: r.ns_name, epoch: r.epoch, head: r.head, floor: r.floor };
}

/** `postgres://user:secret@host/db` → `postgres://user@host/db`, for logs and messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = '';
    return u.toString().replace(/:@/, '@');
  } catch {
    return '<unparseable database URL>';
  }
}

export class PostgresStore implements JournalStore {
  readonly #pool: pg.Pool;
  readonly #url: string;
  readonly #opts: PostgresStoreOptions;
  readonly #trimChunk: number;
  #closed = false;
  readonly content: ContentStore;

  private constructor(url: string, opts: PostgresStoreOptions) {
    this.#url = url;
    this.#opts = opts;
    this.#trimChunk = opts.trimChunk ?? 20_000;
    this.#pool = createPool(url, opts);
    this.content = postgresContent(this.#pool);
  }

  /** Connects, applies pending migrations (once, whatever the number of processes) and returns the store. */
  static async open(url: string, opts: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const store = new PostgresStore(url, opts);
    try {
      await migrate(store.#pool);
    } catch (err) {
      await store.close().catch(() => undefined);
      if (err instanceof SyncdError && err.code !== STORE_UNAVAILABLE) throw err;
      throw new SyncdError(STORE_UNAVAILABLE, `cannot open the PostgreSQL store at ${redactUrl(url)}: ${(err as Error).message}`, {}, { cause: err });
    }
    return store;
  }

  /** The pool, for the LISTEN/NOTIFY bus of the same process. */
  get pool(): pg.Pool {
    return this.#pool;
  }

  /** Settings for a connection outside the pool (the LISTEN connection). */
  clientConfig(): pg.ClientConfig {
    return clientConfig(this.#url, this.#opts);
  }

  /** Schema version applied to the database (for tests and `server status`). */
  async schemaVersion(): Promise<number> {
    const { rows } = await query<{ v: number | null }>(this.#pool, 'SELECT max(version) AS v FROM schema_migrations');
    return rows[0]?.v ?? 0;
  }

  async cursorKey(): Promise<Buffer> {
    const { rows } = await query<{ value: string }>(this.#pool, SQL.metaGet, ['cursor_key']);
    if (!rows[0]) throw new SyncdError('store_corrupt', 'server_meta has no cursor_key');
    return Buffer.from(rows[0].value, 'hex');
  }

  createDevice(namespace: string, label: string, deviceId: string, tokenHash: Buffer, now: number): Promise<NewDevice> {
    return transaction(this.#pool, async (c) => {
      // ON CONFLICT DO NOTHING waits for a racing creator, then yields no row: read the winner's id
      let id = (await c.query<{ id: number }>(SQL.nsInsert, [namespace, newEpoch(), now])).rows[0]?.id;
      id ??= (await c.query<{ id: number }>(SQL.nsByName, [namespace])).rows[0]?.id;
      if (id === undefined) throw new SyncdError('store_corrupt', `namespace ${namespace} vanished while adding a device`);
      await c.query(SQL.deviceInsert, [deviceId, id, label, tokenHash, now]);
      return { deviceId, namespace: { id, name: namespace } };
    });
  }

  async revokeDevice(deviceId: string): Promise<boolean> {
    return (await query(this.#pool, SQL.deviceRevoke, [deviceId])).rowCount === 1;
  }

  async revokedAmong(deviceIds: string[]): Promise<string[]> {
    if (deviceIds.length === 0) return [];
    const live = new Set((await query<{ id: string }>(this.#pool, SQL.devicesLive, [deviceIds])).rows.map((r) => r.id));
    return deviceIds.filter((id) => !live.has(id));
  }

  renewEpoch(namespace: string | null): Promise<number> {
    return transaction(this.#pool, async (c) => {
      const all = (await c.query<{ id: number; name: string }>(SQL.nsLockAll)).rows;
      const rows = namespace === null ? all : all.filter((n) => n.name === namespace);
      for (const n of rows) {
        await c.query(SQL.setEpoch, [n.id, newEpoch()]);
        await c.query(SQL.clearCursors, [n.id]);
      }
      return rows.length;
    });
  }

  async authenticate(tokenHash: Buffer): Promise<DeviceIdentity | null> {
    const { rows } = await query<{ id: string; label: string; token_hash: Buffer; revoked: boolean; ns: number; name: string }>(
      this.#pool,
      SQL.auth,
      [tokenHash],
    );
    const r = rows[0];
    if (!r || r.token_hash.length !== tokenHash.length || !timingSafeEqual(r.token_hash, tokenHash) || r.revoked) return null;
    return { deviceId: r.id, label: r.label, namespace: { id: r.ns, name: r.name } };
  }

  async namespaceState(ns: NamespaceRef): Promise<NamespaceState> {
    const { rows } = await query<NamespaceState>(this.#pool, SQL.nsById, [ns.id]);
    if (!rows[0]) throw new SyncdError('not_found', `namespace ${ns.id} does not exist`);
    return rows[0];
  }

  async namespaces(): Promise<NamespaceState[]> {
    return (await query<NamespaceState>(this.#pool, SQL.nsAll)).rows;
  }

  /** The heads of the named namespaces that exist (the bus refreshes waiters with it after a lost signal). */
  async headsOf(names: string[]): Promise<Map<string, number>> {
    if (names.length === 0) return new Map();
    const { rows } = await query<{ name: string; head: number }>(this.#pool, SQL.headsOf, [names]);
    return new Map(rows.map((r) => [r.name, r.head]));
  }

  async devices(ns?: NamespaceRef): Promise<DeviceRecord[]> {
    const { rows } = ns ? await query<DeviceRow>(this.#pool, SQL.devicesOf, [ns.id]) : await query<DeviceRow>(this.#pool, SQL.devicesAll);
    return rows.map((r) => ({
      id: r.id,
      label: r.label,
      namespace: r.namespace,
      createdAt: r.created_at,
      cursorSeq: r.cursor_seq,
      lastSeen: r.last_seen,
      revoked: r.revoked,
    }));
  }

  async listNodes(ns: NamespaceRef, afterId: string, limit: number): Promise<ListRead> {
    const { rows } = await query<StateRow & { [k in keyof NodeRow]: NodeRow[k] | null }>(this.#pool, SQL.listNodes, [ns.id, afterId, limit]);
    if (!rows[0]) throw new SyncdError('not_found', `namespace ${ns.id} does not exist`);
    const nodes = rows.filter((r) => r.id !== null).map((r) => wireNode(storedNodeFromRow(r as NodeRow)));
    return { state: stateOf(rows[0]), nodes };
  }

  async readChanges(ns: NamespaceRef, afterSeq: number, limit: number): Promise<ChangesRead> {
    const { rows } = await query<StateRow & { seq: number | null; entry: string | null }>(this.#pool, SQL.changes, [ns.id, afterSeq, limit]);
    if (!rows[0]) throw new SyncdError('not_found', `namespace ${ns.id} does not exist`);
    const entries = rows.filter((r) => r.seq !== null).map((r) => ({ seq: r.seq!, json: r.entry! }));
    return { state: stateOf(rows[0]), entries };
  }

  commitOp(ns: NamespaceRef, op: Op, ctx: CommitContext): Promise<OpOutcome> {
    return transaction(this.#pool, (c) => commitInTx(c, ns.id, op, ctx), COMMIT_BEGIN);
  }

  commitSlice(ns: NamespaceRef, ops: readonly Op[], ctx: CommitContext, budgetMs: number): Promise<OpOutcome[]> {
    return transaction(this.#pool, (c) => commitSliceInTx(c, ns.id, ops, ctx, budgetMs), COMMIT_BEGIN);
  }


  async blobRef(ns: NamespaceRef, hash: string): Promise<{ size: number } | null> {
    if (hash === EMPTY_SHA256) return { size: 0 };
    const { rows } = await query<{ size: number }>(this.#pool, SQL.blobGet, [ns.id, hash]);
    return rows[0] ?? null;
  }

  async addBlobRef(ns: NamespaceRef, hash: string, size: number, now: number): Promise<boolean> {
    return (await query(this.#pool, SQL.blobInsert, [ns.id, hash, size, now])).rowCount === 1;
  }

  async referencedBlobs(): Promise<Array<{ hash: string; size: number; namespaces: string[] }>> {
    return (await query<{ hash: string; size: number; namespaces: string[] }>(this.#pool, SQL.blobsReferenced)).rows.map((r) => ({
      hash: r.hash,
      size: Number(r.size),
      namespaces: r.namespaces,
    }));
  }

  async saveActivity(records: ActivityRecord[]): Promise<void> {
    if (records.length === 0) return;
    // one statement; sorted so concurrent flushes of two processes lock rows in the same order
    const sorted = [...records].sort((a, b) => (a.deviceId < b.deviceId ? -1 : a.deviceId > b.deviceId ? 1 : 0));
    await transaction(this.#pool, async (c) => {
      await c.query(SQL.activity, [sorted.map((r) => r.deviceId), sorted.map((r) => r.lastSeen), sorted.map((r) => r.cursorSeq ?? null)]);
    });
  }

  async retention(): Promise<RetentionPolicy> {
    return this.#retention(this.#pool);
  }

  async keepVersions(): Promise<number> {
    const { rows } = await query<{ value: string }>(this.#pool, SQL.metaGet, ['keep_versions_s']);
    return rows[0] === undefined ? DEFAULT_KEEP_VERSIONS_S : Number(rows[0].value);
  }

  async setKeepVersions(seconds: number): Promise<void> {
    await query(this.#pool, SQL.metaSet, ['keep_versions_s', String(checkKeep(seconds))]);
  }

  async nodeHistory(ns: NamespaceRef, nodeId: string, limit?: number, beforeSeq?: number): Promise<HistoryRow[]> {
    // LIMIT NULL is none
    return (await query<HistoryRow>(this.#pool, SQL.nodeHistory, [ns.id, nodeId, beforeSeq ?? Number.MAX_SAFE_INTEGER, limit ?? null])).rows;
  }

  async historyAfter(ns: NamespaceRef, afterSeq: number, limit: number): Promise<HistoryRow[]> {
    return (await query<HistoryRow>(this.#pool, SQL.historyAfter, [ns.id, afterSeq, limit])).rows;
  }

  async historyBefore(ns: NamespaceRef, beforeSeq: number, limit: number): Promise<HistoryRow[]> {
    return (await query<HistoryRow>(this.#pool, SQL.historyBefore, [ns.id, beforeSeq, limit])).rows;
  }

  async allNodes(ns: NamespaceRef): Promise<StoredNode[]> {
    return (await query<NodeRow>(this.#pool, SQL.allNodes, [ns.id])).rows.map(storedNodeFromRow);
  }

  async seqAt(ns: NamespaceRef, time: number): Promise<number> {
    return Number((await query<{ seq: number | null }>(this.#pool, SQL.seqAt, [ns.id, time])).rows[0]?.seq ?? 0);
  }

  async historyStart(ns: NamespaceRef): Promise<number> {
    return Number((await query<{ lo: number }>(this.#pool, SQL.historyStart, [ns.id])).rows[0]?.lo ?? 1);
  }

  async retainedHashes(): Promise<Set<string>> {
    return new Set((await query<{ hash: string }>(this.#pool, SQL.retainedHashes, [])).rows.map((r) => r.hash));
  }

  async #retention(q: pg.Pool | Tx): Promise<RetentionPolicy> {
    let rows: Array<{ key: string; value: string }>;
    try {
      rows = (await q.query<{ key: string; value: string }>("SELECT key, value FROM server_meta WHERE key LIKE 'retention_%'")).rows;
    } catch (err) {
      translate(err);
    }
    const get = (k: string): string | undefined => rows.find((r) => r.key === k)?.value;
    const e = get('retention_max_entries');
    const a = get('retention_max_age_s');
    return {
      maxEntries: e === undefined ? DEFAULT_RETENTION.maxEntries : parsePolicyFigure(e, 'retention_max_entries'),
      maxAgeS: a === undefined ? DEFAULT_RETENTION.maxAgeS : parsePolicyFigure(a, 'retention_max_age_s'),
    };
  }

  setRetention(p: RetentionPolicy): Promise<void> {
    return transaction(this.#pool, async (c) => {
      await c.query(SQL.metaSet, ['retention_max_entries', p.maxEntries === null ? 'off' : String(p.maxEntries)]);
      await c.query(SQL.metaSet, ['retention_max_age_s', p.maxAgeS === null ? 'off' : String(p.maxAgeS)]);
    });
  }

  async trim(now: number): Promise<TrimReport> {
    const report: TrimReport = { namespaces: [] };
    const policy = await this.retention();
    const keepS = await this.keepVersions();
    for (const { id, name } of await this.namespaces()) {
      // 1. search the journal without a lock (a commit meanwhile only adds entries after `head`, all
      // recent, so "none found" means "none up to head"); 2. raise the floor under the namespace lock
      // (short); 3. delete below it in chunks.
      const seen = (await query<NamespaceState>(this.#pool, SQL.nsById, [id])).rows[0];
      if (!seen) continue;
      const cutoff = policy.maxAgeS === null ? 0 : now - policy.maxAgeS * 1000;
      const recent = (await query<{ seq: number }>(this.#pool, SQL.firstRecent, [id, seen.floor, cutoff])).rows[0]?.seq ?? seen.head + 1;
      // versions inside the version period are kept even below the floor
      const kept = (await query<{ seq: number | null }>(this.#pool, SQL.firstSince, [id, now - keepS * 1000])).rows[0]?.seq ?? seen.head + 1;
      const raised = await transaction(this.#pool, async (c) => {
        const st = (await c.query<NamespaceState>(SQL.nsLock, [id])).rows[0]!;
        const devs = (await c.query<DeviceRow>(SQL.devicesOf, [id])).rows;
        const plan = planTrim({
          head: st.head,
          floor: st.floor,
          policy,
          now,
          firstRecentSeq: recent,
          devices: devs.filter((d) => !d.revoked).map((d) => ({ cursorSeq: d.cursor_seq, lastSeen: d.last_seen })),
        });
        if (plan.floor > st.floor) await c.query(SQL.setFloor, [id, plan.floor]);
        const floor = Math.max(plan.floor, st.floor);
        return { old: st.floor, floor, head: st.head, misses: plan.misses, limit: purgeLimit(floor, st.head, kept) };
      });
      const dropped = await this.#purgeBelow(id, raised.limit);
      report.namespaces.push({ name, oldFloor: raised.old, newFloor: raised.floor, head: raised.head, dropped, misses: raised.misses });
    }
    return report;
  }

  /**
   * Deletes journal entries, op results and tombstones below `floor` (the
   * purge limit: below the journal floor and the version period), in chunks
   * sized by time with pauses between (purge-slices.ts).
   */
  async #purgeBelow(ns: number, floor: number): Promise<number> {
    const lowest = (await query<{ lo: number | null }>(this.#pool, SQL.minSeq, [ns])).rows[0]?.lo ?? null;
    return purgeInSlices(lowest, floor, this.#trimChunk, (from, hi) =>
      transaction(this.#pool, async (c) => {
        const n = (await c.query(SQL.journalPurge, [ns, from, hi])).rowCount ?? 0;
        await c.query(SQL.opResultsPurge, [ns, from, hi]);
        await c.query(SQL.tombstonePurge, [ns, from, hi]);
        return n;
      }),
    );
  }

  async healthCheck(now: number): Promise<void> {
    const { rows } = await query<{ value: string }>(this.#pool, SQL.metaSet, ['health_check', String(now)]);
    if (rows[0]?.value !== String(now)) throw new SyncdError(STORE_UNAVAILABLE, 'health check read back a different value');
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}
