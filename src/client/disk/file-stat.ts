// What a stat says of a file (FsStat, fsys.ts's interface), and the
// identity fields of one kept instead of node's Stats (FileStat).

import { constants as fsc } from 'node:fs';

/** What the agent reads of an lstat or fstat. */
export interface FsStat {
  dev: number;
  ino: number;
  size: number;
  mtimeMs: number;
  mode: number;
  /** links to the inode: node's Stats (an open file's stat) has it, the slim stats of a scan need not */
  nlink?: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The identity fields of a Stats, kept instead of it: a batch holds
 * thousands of these until they are recorded, and node's Stats carries
 * four Dates each.
 */
export class FileStat implements FsStat {
  constructor(
    readonly dev: number,
    readonly ino: number,
    readonly size: number,
    readonly mtimeMs: number,
    readonly mode: number,
  ) {}

  isFile(): boolean {
    return (this.mode & fsc.S_IFMT) === fsc.S_IFREG;
  }

  isDirectory(): boolean {
    return (this.mode & fsc.S_IFMT) === fsc.S_IFDIR;
  }

  isSymbolicLink(): boolean {
    return (this.mode & fsc.S_IFMT) === fsc.S_IFLNK;
  }
}
