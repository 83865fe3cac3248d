// Administration without HTTP, straight on a server's store (like
// `gitea admin`): a data folder's SQLite file or a shared PostgreSQL
// database. Safe while servers run on it: SQLite WAL with busy_timeout, or
// PostgreSQL's transactions, serialise the writers.

import { SyncdError } from '../protocol/errors.js';
import { BlobStore } from './blobs.js';
import { collectGarbage, DEFAULT_GC, gcTrashDir, type GcOptions, type GcReport } from './gc.js';
import { hashToken, NAMESPACE_PATTERN, newDeviceId, newToken } from './ids.js';
import { fsckBlobs, type FsckOptions, type FsckReport } from './fsck.js';
import { openDataDirStore } from './store/open.js';
import { PostgresStore } from './store/postgres/store.js';
import type { DeviceRecord, JournalStore, NamespaceState, RetentionPolicy, TrimReport } from './store/types.js';

/** Where a server keeps its journal: a data folder (a plain string is one) or a PostgreSQL URL. */
export type StoreTarget = string | { dataDir: string } | { db: string };

export async function openTarget(target: StoreTarget): Promise<JournalStore> {
  if (typeof target === 'string') return openDataDirStore(target);
  if ('db' in target) return PostgresStore.open(target.db, { max: 2 });
  return openDataDirStore(target.dataDir);
}

async function withStore<T>(target: StoreTarget, fn: (s: JournalStore) => Promise<T>): Promise<T> {
  const store = await openTarget(target);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

export function checkNamespaceName(namespace: string): void {
  if (!NAMESPACE_PATTERN.test(namespace)) {
    throw new SyncdError('invalid_argument', `namespace "${namespace}" is invalid: use 1–64 of A–Z a–z 0–9 . _ - (not starting with . _ -)`);
  }
}

export function checkLabel(label: string): void {
  // eslint-disable-next-line no-control-regex
  if (label.length < 1 || label.length > 200 || /[\u0000-\u001f\u007f]/.test(label)) {
    throw new SyncdError('invalid_argument', 'label must be 1–200 characters without control characters');
  }
}

/** Creates the namespace if needed and a device in it; returns the token (shown once, stored hashed). */
export async function addDeviceToStore(store: JournalStore, namespace: string, label: string): Promise<{ token: string; deviceId: string }> {
  checkNamespaceName(namespace);
  checkLabel(label);
  const token = newToken();
  const deviceId = newDeviceId();
  await store.createDevice(namespace, label, deviceId, hashToken(token), Date.now());
  return { token, deviceId };
}

export function addDevice(target: StoreTarget, namespace: string, label: string): Promise<{ token: string; deviceId: string }> {
  return withStore(target, (s) => addDeviceToStore(s, namespace, label));
}

/** Re-hashes the blob folder and checks it against the store's references (`syncd server fsck`). */
export async function fsck(target: StoreTarget, blobsDir: string, opts: FsckOptions = {}): Promise<FsckReport> {
  return withStore(target, (s) => fsckBlobs(blobsDir, s, opts));
}

export async function revokeDevice(target: StoreTarget, deviceId: string): Promise<void> {
  const ok = await withStore(target, (s) => s.revokeDevice(deviceId));
  if (!ok) throw new SyncdError('not_found', `no active device ${deviceId}`);
}

/**
 * New epochs for one namespace or all: run after restoring a backup, so that
 * clients holding cursors from the lost history reset instead of silently
 * skipping entries that were re-numbered.
 */
export async function renewEpoch(target: StoreTarget, namespace: string | null): Promise<number> {
  if (namespace !== null) checkNamespaceName(namespace);
  const n = await withStore(target, (s) => s.renewEpoch(namespace));
  if (namespace !== null && n === 0) throw new SyncdError('not_found', `no namespace "${namespace}"`);
  return n;
}

/** One retention trim now, with the policy stored in the store. */
export function trim(target: StoreTarget, now: number = Date.now()): Promise<TrimReport> {
  return withStore(target, (s) => s.trim(now));
}

/** Stores a retention policy; undefined figures keep the stored ones, 0 means unlimited. */
export function setRetention(target: StoreTarget, p: RetentionChange): Promise<RetentionPolicy> {
  return withStore(target, (s) => updateRetention(s, p));
}

/** Figures to store; undefined keeps the stored one. `keepVersionsS`: the version period (0 = only back to the floor). */
export interface RetentionChange {
  maxEntries?: number;
  maxAgeS?: number;
  keepVersionsS?: number;
}

export async function updateRetention(store: JournalStore, p: RetentionChange): Promise<RetentionPolicy> {
  if (p.keepVersionsS !== undefined && p.keepVersionsS !== (await store.keepVersions())) await store.setKeepVersions(p.keepVersionsS);
  const cur = await store.retention();
  const next: RetentionPolicy = {
    maxEntries: p.maxEntries === undefined ? cur.maxEntries : p.maxEntries === 0 ? null : p.maxEntries,
    maxAgeS: p.maxAgeS === undefined ? cur.maxAgeS : p.maxAgeS === 0 ? null : p.maxAgeS,
  };
  if (next.maxEntries !== cur.maxEntries || next.maxAgeS !== cur.maxAgeS) await store.setRetention(next);
  return next;
}

export interface ServerStatus {
  retention: RetentionPolicy;
  /** how long versions are kept, seconds (docs/history.md) */
  keepVersionsS: number;
  namespaces: Array<NamespaceState & { devices: DeviceRecord[] }>;
}

export function serverStatus(target: StoreTarget): Promise<ServerStatus> {
  return withStore(target, async (s) => {
    const [retention, nss, devs, keepVersionsS] = await Promise.all([s.retention(), s.namespaces(), s.devices(), s.keepVersions()]);
    return {
      retention,
      keepVersionsS,
      namespaces: nss.map((n) => ({ ...n, devices: devs.filter((d) => d.namespace === n.name) })),
    };
  });
}

/**
 * One content collector pass (src/server/gc.ts) on a data folder, or on a
 * PostgreSQL store with its shared blob folder; safe while servers run
 * (the blob store is opened as shared, so no other process's uploads in
 * flight are touched).
 */
export async function gc(target: StoreTarget, blobsDir: string, opts: Partial<GcOptions> = {}, now: number = Date.now()): Promise<GcReport> {
  const blobs = await BlobStore.open(blobsDir, { shared: true });
  return withStore(target, (s) => collectGarbage(s, blobs, gcTrashDir(blobsDir), now, { ...DEFAULT_GC, ...opts }));
}
