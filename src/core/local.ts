// The Local tree: what the folder looked like at the last scan, keyed by
// the NFC form of the relative path. Pure types and helpers.

import type { NodeKind } from '../protocol/types.js';
import { nameKey } from '../protocol/names.js';

export interface LocalEntry {
  /** relative path, NFC, "/"-separated (the key) */
  path: string;
  /** the path as it is spelled on disk (may be NFD) */
  diskPath: string;
  kind: NodeKind;
  size: number | null;
  mtimeMs: number;
  ino: number;
  /** files: SHA-256 hex; null while unknown */
  hash: string | null;
  exec: boolean;
  target: string | null;
}

export type LocalTree = Map<string, LocalEntry>;

/** What a destructive step expects to find on disk before it acts. */
export interface LocalExpect {
  kind: NodeKind;
  size: number | null;
  mtimeMs: number;
  ino: number;
}

export function expectOf(e: LocalEntry): LocalExpect {
  return { kind: e.kind, size: e.size, mtimeMs: e.mtimeMs, ino: e.ino };
}

/** What lstat shows at a path now ('other': a pipe, socket or device). */
export interface DiskState {
  kind: NodeKind | 'other';
  size: number;
  mtimeMs: number;
  ino: number;
}

/**
 * Is what is on disk (null: nothing) still what a step expects to replace
 * (null: nothing)? The same object (inode) of the same kind, and for files
 * and links unchanged since (mtime, and size for files); a directory's
 * mtime moves with its entries, so it counts by identity alone.
 */
export function stillExpected(disk: DiskState | null, expect: LocalExpect | null): boolean {
  if (expect === null) return disk === null;
  if (disk === null) return false;
  if (disk.kind !== expect.kind || disk.ino !== expect.ino) return false;
  if (expect.kind === 'dir') return true;
  return disk.mtimeMs === expect.mtimeMs && (expect.kind !== 'file' || disk.size === expect.size);
}

/** Case- and normalization-insensitive key of a relative path. */
export function pathKey(path: string): string {
  return nameKey(path);
}

/**
 * Whether the only change from `prev` to `next` is a directory's mtime,
 * which moves whenever an entry is created, renamed or removed in it (the
 * downloads of a round, after its mkdir was recorded). No plan reads it: the
 * planner knows a directory by inode and path, and a step re-checks one by
 * identity alone (stillExpected). So writing it into Local needs neither
 * void the plan memo nor seed the next selection.
 */
export function onlyDirMtimeMoved(prev: LocalEntry | undefined, next: LocalEntry): boolean {
  return prev !== undefined && prev.kind === 'dir' && next.kind === 'dir' && prev.ino === next.ino && prev.path === next.path &&
    prev.diskPath === next.diskPath && prev.exec === next.exec && prev.size === next.size && prev.hash === next.hash && prev.target === next.target;
}
