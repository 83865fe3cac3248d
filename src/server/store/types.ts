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

export interface NamespaceRef {
  /** store-internal key */
  id: number;
  name: string;
}

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

export interface TreeLimits {
  /** the root's children are at depth 1 */
  maxDepth: number;
  /** UTF-8 bytes of the path from the root, "/" between names */
  maxPathBytes: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxDepth: 1024, maxPathBytes: 4096 };

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

  /** size of the blob if this namespace may read/reference it */
  blobRef(ns: NamespaceRef, hash: string): Promise<{ size: number } | null>;
  /** true when the namespace did not have it yet */
  addBlobRef(ns: NamespaceRef, hash: string, size: number, now: number): Promise<boolean>;

  /** every blob some namespace references, with the size it was uploaded with, and the namespaces (fsck) */
  referencedBlobs(): Promise<Array<{ hash: string; size: number; namespaces: string[] }>>;

  saveActivity(records: ActivityRecord[]): Promise<void>;

  retention(): Promise<RetentionPolicy>;
  setRetention(policy: RetentionPolicy): Promise<void>;
  trim(now: number): Promise<TrimReport>;

  /** throws unless the store can read and write */
  healthCheck(now: number): Promise<void>;
  close(): Promise<void>;
}

/** Raised by stores when the database is busy or failing: the route answers 503. */
export const STORE_UNAVAILABLE = 'store_unavailable';
