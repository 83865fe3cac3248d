// Wire shapes of the version-history endpoints (docs/api.md "History"),
// shared by the server's routes and the CLI's client. Times are ms since
// the epoch; paths are relative to the namespace root.

import type { WireNode } from './types.js';

export interface VersionItem {
  rev: number;
  seq: number;
  op: string | null;
  time: number | null;
  device: string | null;
  device_label: string | null;
  node: WireNode;
}

export interface HistoryReply {
  node: { id: string; path: string | null; kind: WireNode['kind']; deleted: boolean; deleted_seq?: number };
  versions: VersionItem[];
  /** true when older versions were left out (past the request's `limit`) */
  more?: boolean;
}

export interface DeletedItem {
  id: string;
  path: string | null;
  kind: WireNode['kind'];
  rev: number;
  seq: number;
  time: number | null;
  device: string | null;
  device_label: string | null;
  size?: number;
}

export interface ActivityItem {
  seq: number;
  time: number;
  op: string;
  kind: WireNode['kind'];
  path: string | null;
  rev: number;
  device: string;
  device_label: string | null;
}

export interface StepItem {
  action: 'create' | 'move' | 'update' | 'delete';
  path: string;
  status: 'ok' | 'conflict' | 'error' | 'skipped';
  id?: string;
  name?: string;
  error?: string;
  message?: string;
}

export interface ChangeReply {
  restored: { id: string | null; path: string | null; seq: number };
  dry_run: boolean;
  steps: StepItem[];
  ok: number;
  conflicts: number;
  errors: number;
  left?: string[];
}

export interface SnapshotReply {
  seq: number;
  entries: Array<{ path: string; node: WireNode }>;
}
