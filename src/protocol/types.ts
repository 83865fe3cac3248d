// Wire types of protocol v1 (shared/PROTOCOL.md). Shared by server and client.

export type NodeKind = 'file' | 'dir' | 'symlink';
export type OpKind = 'create' | 'update' | 'move' | 'delete';

export const ROOT_ID = 'root';

/** A node as it travels on the wire. */
export interface WireNode {
  id: string;
  parent: string;
  name: string;
  kind: NodeKind;
  rev: number;
  /** files only */
  size?: number;
  /** files only: SHA-256 hex of the content */
  hash?: string;
  /** client-supplied, ms since epoch, informational */
  mtime: number;
  /** owner-execute bit of a file */
  exec: boolean;
  /** symlinks only: link text */
  target?: string;
  /** journal position of the node's latest change */
  seq: number;
}

export interface JournalEntry {
  seq: number;
  op: OpKind;
  node: WireNode;
  device: string;
}

export interface CreateOp {
  op_id: string;
  op: 'create';
  parent: string;
  name: string;
  kind: NodeKind;
  hash?: string;
  size?: number;
  mtime?: number;
  exec?: boolean;
  target?: string;
}

export interface UpdateOp {
  op_id: string;
  op: 'update';
  id: string;
  base_rev: number;
  /** files: new content */
  hash?: string;
  size?: number;
  mtime?: number;
  exec?: boolean;
  /** symlinks: new link text */
  target?: string;
}

export interface MoveOp {
  op_id: string;
  op: 'move';
  id: string;
  base_rev: number;
  parent: string;
  name: string;
}

export interface DeleteOp {
  op_id: string;
  op: 'delete';
  id: string;
  base_rev: number;
  /**
   * Extension (docs/api.md): the journal seq the client's view of a
   * directory's subtree is complete to. If anything below the directory
   * changed after it (created, updated or moved in), the delete is a
   * `conflict` instead of taking content the client never saw.
   */
  subtree_seq?: number;
}

export type Op = CreateOp | UpdateOp | MoveOp | DeleteOp;

/** Errors an individual op can end in (PROTOCOL.md "POST /v1/commit"). */
export const OP_ERROR_CODES = [
  'name_taken',
  'invalid_name',
  'not_found',
  'parent_not_found',
  'not_a_directory',
  'cycle',
  'blob_missing',
  'too_deep',
  'path_too_long',
] as const;
export type OpErrorCode = (typeof OP_ERROR_CODES)[number];

export type OpResult =
  | { status: 'ok'; seq: number; node: WireNode }
  | { status: 'conflict'; current: WireNode }
  | { status: 'error'; error: OpErrorCode; message: string };

export interface CommitReply {
  results: OpResult[];
}

export interface ListReply {
  entries: WireNode[];
  cursor: string;
  seq: number;
  has_more: boolean;
  page_token?: string;
}

export interface ChangesReply {
  entries: JournalEntry[];
  cursor: string;
  has_more: boolean;
  head: number;
}

export interface LongpollReply {
  changes: boolean;
  backoff?: number;
}

export interface DeviceStatus {
  id: string;
  label: string;
  cursor_seq: number | null;
  lag: number | null;
  last_seen: number | null;
}

export interface StatusReply {
  namespace: string;
  epoch: string;
  head: number;
  floor: number;
  retention: { max_age_s: number | null; max_entries: number | null };
  devices: DeviceStatus[];
  /** the device this token belongs to */
  device?: string;
  /** server software version, so clients can refuse a too old/new server */
  server_version?: string;
  protocol?: number;
}

export type ResetReason = 'invalid' | 'expired' | 'future' | 'epoch';

export interface ErrorBody {
  error: string;
  message: string;
  reason?: ResetReason;
  [extra: string]: unknown;
}

export const PROTOCOL_VERSION = 1;

export const LIMITS = {
  /** default and max page size of list and changes */
  pageDefault: 1000,
  pageMax: 10000,
  /** longpoll timeout range, seconds */
  longpollDefault: 30,
  longpollMin: 1,
  longpollMax: 480,
  /** symlink target max bytes */
  targetMaxBytes: 4096,
  /** name max bytes (UTF-8, NFC) */
  nameMaxBytes: 255,
  /** max ops in one commit request */
  commitMaxOps: 1000,
  /** max JSON body of a commit request, bytes */
  commitMaxBytes: 4 * 1024 * 1024,
  /** max bytes of one chunk (twice the chunker's max of 4 MiB, so other chunk parameters stay possible); a file stored whole is its own one chunk of any size */
  chunkMaxBytes: 8 * 1024 * 1024,
} as const;
