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

/** Case- and normalization-insensitive key of a relative path. */
export function pathKey(path: string): string {
  return nameKey(path);
}
