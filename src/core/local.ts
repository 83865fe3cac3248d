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

/** A Local row as the start-up check reads it (StateDB.localIdentities): the columns a scan compares. */
export interface LocalIdentity {
  path: string;
  kind: NodeKind;
  size: number | null;
  mtimeMs: number;
  ino: number;
  /** the row holds a hash (a file without one is hashed by the next scan) */
  hashed: boolean;
  exec: boolean;
  target: string | null;
}

/** What lstat (and readlink, for a symlink) says of an entry now. */
export interface SeenEntry {
  kind: NodeKind | 'other';
  size: number;
  mtimeMs: number;
  ino: number;
  /** the owner's execute bit */
  exec: boolean;
  /** a symlink's target (null for other kinds) */
  target: string | null;
}

/**
 * True when a full scan would leave this Local row exactly as it is: the
 * same kind and inode, the same mtime, and for a file the same size and
 * execute bit and a known hash (the identity the scan trusts instead of
 * hashing); a symlink also keeps its target. Anything else (a special file,
 * a file never hashed, any difference) is a change the full scan must look
 * at. The scan's own rules (client/disk/scan.ts `entryOf`, `localDiff`) are
 * what this mirrors; test/unit/client/disk/scan-check.test.ts compares the two.
 */
export function unchangedEntry(row: LocalIdentity, seen: SeenEntry, diskPath: string): boolean {
  if (seen.kind !== row.kind || seen.ino !== row.ino || seen.mtimeMs !== row.mtimeMs) return false;
  switch (seen.kind) {
    case 'file':
      return row.hashed && row.size === seen.size && row.exec === seen.exec;
    case 'dir':
      return true;
    case 'symlink':
      // the scan re-reads a link and writes it again unless every column agrees
      return row.target === seen.target && row.path === diskPath.normalize('NFC') && row.size === null && !row.exec && !row.hashed;
    default:
      return false;
  }
}
