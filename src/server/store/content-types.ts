// The content index: which files are stored as chunk lists, and the garbage
// collector's view of what is still needed. Reached as `store.content` of a
// JournalStore and backed by the same database, so its transactions
// serialise with commits.
//
// Contract for every implementation:
// - Who may read or reference a hash is blob_refs (ns, hash) and nothing
//   else: one primary-key lookup per hash, so neither the answer nor its
//   time depends on what other namespaces store.
// - addFile is one transaction: the file's chunk list (the first recorded
//   list wins; any list that assembles to the hash is as good), the
//   namespace's ref to the file and to each of its chunks.
// - sweepRefs takes, per namespace, the same lock a commit takes before it
//   reads its facts, so a commit either ran before (its node keeps the ref)
//   or runs after and sees the ref gone (`blob_missing`, the client uploads
//   again): a commit never names content the collector is about to drop.

import type { NamespaceRef } from './namespace-ref.js';

export interface ChunkRef {
  hash: string;
  size: number;
}

export interface FileRecipe {
  hash: string;
  size: number;
  chunks: ChunkRef[];
}

export interface RefSweep {
  droppedRefs: number;
  droppedFiles: number;
}

export interface ContentStore {
  /** the subset of `hashes` this namespace may read or reference */
  readable(ns: NamespaceRef, hashes: readonly string[]): Promise<Set<string>>;
  /** the chunk list of a file stored as chunks, or null (access is the caller's check) */
  recipe(hash: string): Promise<FileRecipe | null>;
  /** records the file (see the contract above); true when the namespace did not have it yet */
  addFile(ns: NamespaceRef, recipe: FileRecipe, now: number): Promise<boolean>;
  /**
   * Drops refs made before `madeBefore` that no node (live or tombstone),
   * no retained journal entry, and no chunk list of such a file needs, in
   * every namespace; then the chunk lists of files no namespace references.
   */
  sweepRefs(madeBefore: number): Promise<RefSweep>;
  /** true while some namespace references the hash or a recorded file lists it as a chunk */
  needed(hash: string): Promise<boolean>;
  /** remembers that the hash was found unneeded (first time wins) and returns since when */
  markOrphan(hash: string, now: number): Promise<number>;
  clearOrphan(hash: string): Promise<void>;
}
