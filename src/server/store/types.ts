// The journal store: everything the server keeps except blob bytes, behind
// one async interface so a PostgreSQL implementation can follow the SQLite
// one. Contract for every implementation:
//
// - commitOp is ONE transaction: it reads the facts an op needs, lets the
//   pure `decideOp` (./decide.ts) judge them, and on success takes
//   head + 1 from the namespace row, writes the node, the journal entry and
//   the op result. Seqs are therefore gap-free and totally ordered per
//   namespace under any concurrency, across processes.
// - Node ids compare bytewise (SQLite BINARY, PostgreSQL COLLATE "C") so a
//   listing's keyset order is the same on every implementation.
// - Nothing is cached across calls: several processes may share one store.

import type { Op, OpResult, WireNode } from '../../protocol/types.js';
import type { StoredNode } from './decide.js';
import type { ContentStore } from './content-types.js';

import type { NamespaceRef } from './namespace-ref.js';
export type { NamespaceRef } from './namespace-ref.js';

export interface NamespaceState extends NamespaceRef {
  epoch: string;
  /** seq of the latest entry, 0 when empty */
  head: number;
  /** lowest seq `changes` can still return; cursors at floor - 1 or later are served */
  floor: number;
}

export interface DeviceIdentity {
  deviceId: string;
  label: string;
  namespace: NamespaceRef;
}

export interface DeviceRecord {
  id: string;
  label: string;
  namespace: string;
  createdAt: number;
  cursorSeq: number | null;
  lastSeen: number | null;
  revoked: boolean;
}

/** One journal entry as stored: the exact JSON text of the wire entry. */
export interface RawEntry {
  seq: number;
  json: string;
}

export interface ChangesRead {
  state: NamespaceState;
  entries: RawEntry[];
}

export interface ListRead {
  state: NamespaceState;
  /** live nodes with id > afterId in id order, at most `limit` */
  nodes: WireNode[];
}

export interface OpOutcome {
  result: OpResult;
  /** true when op_id had already succeeded and its first result came back */
  replayed: boolean;
}

export interface CommitContext {
  deviceId: string;
  now: number;
  newNodeId: () => string;
  /** depth and path length a create or move may reach (default DEFAULT_TREE_LIMITS) */
  limits?: TreeLimits;
}

import type { TreeLimits } from './limits.js';
export { DEFAULT_TREE_LIMITS, type TreeLimits } from './limits.js';

export interface ActivityRecord {
  deviceId: string;
  lastSeen: number;
  /** the applied position the device's request carried, if any */
  cursorSeq?: number;
}

/** null = that rule is off */
export interface RetentionPolicy {
  maxEntries: number | null;
  maxAgeS: number | null;
}

export interface TrimReport {
  namespaces: Array<{
    name: string;
    oldFloor: number;
    newFloor: number;
    head: number;
    dropped: number;
    /** active devices whose cursor the count cap forced below the floor */
    misses: number;
  }>;
}

/**
 * One retained journal row, for version history (docs/history.md). `entry`
 * is the wire entry's JSON; `prev` the JSON of the entry that made the
 * node's previous state (its pre-image), null for a create. When that
 * earlier row was already trimmed, `prev` still carries the node state,
 * with `op` and `device` null and `prevAt` null.
 */
export interface HistoryRow {
  seq: number;
  at: number;
  entry: string;
  prev: string | null;
  prevAt: number | null;
}

export interface NewDevice {
  deviceId: string;
  namespace: NamespaceRef;
}

export interface JournalStore {
  /** the HMAC key of cursors and page tokens, shared by every process on this store */
  cursorKey(): Promise<Buffer>;

  /** creates the namespace when missing */
  createDevice(namespace: string, label: string, deviceId: string, tokenHash: Buffer, now: number): Promise<NewDevice>;
  revokeDevice(deviceId: string): Promise<boolean>;
  /** those of `deviceIds` that are revoked or gone (a running server ends their open streams) */
  revokedAmong(deviceIds: string[]): Promise<string[]>;
  /** gives the namespace (all when null) a new epoch: every cursor issued before gets reset/epoch. Returns how many. */
  renewEpoch(namespace: string | null): Promise<number>;
  /** null for unknown or revoked tokens; compares the hash in constant time */
  authenticate(tokenHash: Buffer): Promise<DeviceIdentity | null>;

  namespaceState(ns: NamespaceRef): Promise<NamespaceState>;
  namespaces(): Promise<NamespaceState[]>;
  devices(ns?: NamespaceRef): Promise<DeviceRecord[]>;

  listNodes(ns: NamespaceRef, afterId: string, limit: number): Promise<ListRead>;
  readChanges(ns: NamespaceRef, afterSeq: number, limit: number): Promise<ChangesRead>;
  commitOp(ns: NamespaceRef, op: Op, ctx: CommitContext): Promise<OpOutcome>;
  /**
   * Optional: commits `ops` in order as commitOp would, as many as fit in
   * `budgetMs` (at least one; a store may hold a floor of its own), in ONE
   * transaction; returns the outcomes of those it ran. A store with one
   * fsync per transaction (SQLite, PostgreSQL) offers it so a 1000-op batch
   * costs a few fsyncs, not 1000; without it the service commits op by op.
   */
  commitSlice?(ns: NamespaceRef, ops: readonly Op[], ctx: CommitContext, budgetMs: number): Promise<OpOutcome[]>;

  /** size of the blob if this namespace may read/reference it */
  blobRef(ns: NamespaceRef, hash: string): Promise<{ size: number } | null>;
  /** true when the namespace did not have it yet */
  addBlobRef(ns: NamespaceRef, hash: string, size: number, now: number): Promise<boolean>;
  /** chunk lists and garbage collection (./content-types.ts) */
  readonly content: ContentStore;

  /** every blob some namespace references, with the size it was uploaded with, and the namespaces (fsck) */
  referencedBlobs(): Promise<Array<{ hash: string; size: number; namespaces: string[] }>>;

  saveActivity(records: ActivityRecord[]): Promise<void>;

  retention(): Promise<RetentionPolicy>;
  /**
   * Version history (docs/history.md). Trim keeps every journal row newer
   * than `keepVersions()` seconds (and every tombstone deleted by one),
   * whatever the floor: the floor only decides which cursors are served.
   * 0 = history reaches back only as far as the floor. Default 30 days.
   */
  keepVersions(): Promise<number>;
  setKeepVersions(seconds: number): Promise<void>;
  /** the retained rows of one node, newest first; at most `limit` when given, only those before `beforeSeq` when given */
  nodeHistory(ns: NamespaceRef, nodeId: string, limit?: number, beforeSeq?: number): Promise<HistoryRow[]>;
  /** retained rows after `afterSeq`, oldest first, at most `limit` */
  historyAfter(ns: NamespaceRef, afterSeq: number, limit: number): Promise<HistoryRow[]>;
  /** retained rows before `beforeSeq`, newest first, at most `limit` */
  historyBefore(ns: NamespaceRef, beforeSeq: number, limit: number): Promise<HistoryRow[]>;
  /** every node row of the namespace, live and tombstoned */
  allNodes(ns: NamespaceRef): Promise<StoredNode[]>;
  /** the seq of the last change committed at or before `time` (ms), 0 when none */
  seqAt(ns: NamespaceRef, time: number): Promise<number>;
  /** the lowest retained journal seq; head + 1 when the journal is empty */
  historyStart(ns: NamespaceRef): Promise<number>;
  /**
   * Every content hash that a live node, a retained tombstone or a retained
   * journal row (its state or its pre-image) references, over all
   * namespaces. A blob garbage collector must keep all of these: they are
   * the versions `syncd restore` and `syncd rewind` may bring back.
   */
  retainedHashes(): Promise<Set<string>>;
  setRetention(policy: RetentionPolicy): Promise<void>;
  trim(now: number): Promise<TrimReport>;

  /** throws unless the store can read and write */
  healthCheck(now: number): Promise<void>;
  close(): Promise<void>;
}

/** Raised by stores when the database is busy or failing: the route answers 503. */
export const STORE_UNAVAILABLE = 'store_unavailable';
