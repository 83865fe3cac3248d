// The agent's state DB (DESIGN.md "Client: the state DB"): one SQLite file
// per folder, outside the folder. This facade opens it and composes the
// modules that each own a concern, so one transaction can span them:
// trees.ts (Remote, Synced, Local and the plan memo), meta.ts (typed keys),
// outbox.ts, problems.ts, conflicts.ts, trash.ts (the local trash's index),
// chunks.ts (the chunk index of large files); store.ts is the connection and
// migrate.ts the numbered schema migrations.

import type Database from 'better-sqlite3';
import type { SyncedNode, SyncedTree } from '../../core/associate.js';
import type { LocalEntry, LocalTree } from '../../core/local.js';
import type { PlanProblem } from '../../core/ops.js';
import type { Seeds, TreeIndex } from '../../core/plan/select.js';
import type { Tree, TreeNode } from '../../core/tree.js';
import { ChunkIndex, type ChunkedIdentity, type ChunkPlace, type ChunkSpan } from './chunks.js';
import { Conflicts, type ConflictRecord } from './conflicts.js';
import { MetaTable } from './meta.js';
import { Outbox } from './outbox.js';
import { Problems, type ProblemScope } from './problems.js';
import { StateStore } from './store.js';
import { Trees } from './trees.js';
import { TrashIndex, type TrashEntry } from './trash.js';
import type { TreeRows } from './tree-index.js';

export class StateDB {
  readonly #store: StateStore;
  readonly #trees: Trees;
  readonly #outbox: Outbox;
  readonly #problems: Problems;
  readonly #conflicts: Conflicts;
  readonly #trash: TrashIndex;
  readonly #chunks: ChunkIndex;
  /** the typed meta keys (meta.ts declares them) */
  readonly meta: MetaTable;

  constructor(file: string, opts: { readonly?: boolean } = {}) {
    this.#store = new StateStore(file, opts);
    this.#trees = new Trees(this.#store);
    this.#outbox = new Outbox(this.#store);
    this.#problems = new Problems(this.#store);
    this.#conflicts = new Conflicts(this.#store);
    this.#trash = new TrashIndex(this.#store);
    this.#chunks = new ChunkIndex(this.#store);
    this.meta = new MetaTable(this.#store);
  }

  /** The SQLite connection (tests snapshot it). */
  get db(): Database.Database { return this.#store.db; }
  /** One durable (synchronous=FULL) transaction; a failed one drops the in-memory trees. */
  tx<T>(fn: () => T): T { return this.#store.tx(fn); }
  /** A transaction for what only describes the agent (store.ts says why it may be lost). */
  lightTx<T>(fn: () => T): T { return this.#store.lightTx(fn); }
  close(): void { this.#store.close(); }

  // ---- trees.ts
  dropCaches(): void { this.#trees.dropCaches(); }
  planMemo(): string | null { return this.#trees.planMemo(); }
  setPlanMemo(memo: string): void { this.#trees.setPlanMemo(memo); }
  planBase(): { memo: string; seeds: number } | null { return this.#trees.planBase(); }
  setPlanBase(memo: string, unsettled: Seeds): void { this.#trees.setPlanBase(memo, unsettled); }
  planSeeds(): Seeds { return this.#trees.planSeeds(); }
  /** the trees row by row through their indexes */
  get treeIndex(): TreeIndex { return this.#trees.index; }
  /** top-level names with their subtree sizes, and row counts (SQL only) */
  get treeRows(): TreeRows { return this.#trees.rows; }
  /** tree rows read since this DB was opened (a test's counter) */
  get rowsRead(): number { return this.#trees.rowsRead; }
  loadRemote(): Tree { return this.#trees.loadRemote(); }
  remoteRev(id: string): number | null { return this.#trees.remoteRev(id); }
  upsertRemote(n: TreeNode, seq: number): void { this.#trees.upsertRemote(n, seq); }
  deleteRemoteSubtree(id: string): void { this.#trees.deleteRemoteSubtree(id); }
  pruneRemoteOrphans(): number { return this.#trees.pruneRemoteOrphans(); }
  replaceRemote(nodes: Iterable<TreeNode>): void { this.#trees.replaceRemote(nodes); }
  startListing(): void { this.#trees.startListing(); }
  stageListing(nodes: Iterable<TreeNode>): void { this.#trees.stageListing(nodes); }
  swapInListing(): void { this.#trees.swapInListing(); }
  loadSynced(): SyncedTree { return this.#trees.loadSynced(); }
  putSynced(n: SyncedNode): void { this.#trees.putSynced(n); }
  getSynced(id: string): SyncedNode | null { return this.#trees.getSynced(id); }
  deleteSynced(id: string): void { this.#trees.deleteSynced(id); }
  deleteSyncedSubtree(id: string): void { this.#trees.deleteSyncedSubtree(id); }
  clearSynced(): void { this.#trees.clearSynced(); }
  reparentSynced(from: string, to: string): void { this.#trees.reparentSynced(from, to); }
  syncedCount(): number { return this.#trees.syncedCount(); }
  loadLocal(): LocalTree { return this.#trees.loadLocal(); }
  /** a file or symlink replaces what Local held below its path, and the chunk index's rows there */
  putLocal(e: LocalEntry): void {
    if (this.#trees.putLocal(e)) this.#chunks.forgetBelow(e.diskPath);
  }
  setLocalDirMtime(diskPath: string, mtimeMs: number): void { this.#trees.setLocalDirMtime(diskPath, mtimeMs); }
  /** the chunk index's rows of those paths go with them */
  deleteLocalSubtree(diskPath: string): void {
    this.#trees.deleteLocalSubtree(diskPath);
    this.#chunks.forgetSubtree(diskPath);
  }
  /** the chunk index's rows move along: a rename keeps the identity they were recorded with */
  moveLocalSubtree(from: string, to: string, toNfc: string): void {
    this.#trees.moveLocalSubtree(from, to, toNfc);
    this.#chunks.moveSubtree(from, to);
  }
  localAround(paths: Iterable<string>): LocalTree { return this.#trees.localAround(paths); }
  localCount(): number { return this.#trees.localCount(); }

  // ---- outbox.ts
  opIdFor(intent: string, make: () => string): string { return this.#outbox.opIdFor(intent, make); }
  clearIntent(intent: string): void { this.#outbox.clearIntent(intent); }
  clearAllIntents(): void { this.#outbox.clearAllIntents(); }
  outboxCount(): number { return this.#outbox.outboxCount(); }

  // ---- problems.ts, conflicts.ts
  setProblems(problems: PlanProblem[], scope: ProblemScope): void { this.#problems.setProblems(problems, scope); }
  problemsOf(scope: ProblemScope): PlanProblem[] { return this.#problems.problemsOf(scope); }
  addProblem(p: PlanProblem, scope?: ProblemScope): void { this.#problems.addProblem(p, scope); }
  problems(): (PlanProblem & { at: number })[] { return this.#problems.problems(); }
  addConflict(path: string, original: string, reason: string): void { this.#conflicts.addConflict(path, original, reason); }
  conflicts(): ConflictRecord[] { return this.#conflicts.conflicts(); }
  removeConflict(path: string): void { this.#conflicts.removeConflict(path); }

  // ---- trash.ts (the local trash's index)
  addTrash(e: Omit<TrashEntry, 'id'>): number { return this.#trash.addTrash(e); }
  trashEntries(): TrashEntry[] { return this.#trash.trashEntries(); }
  trashSummary(): { files: number; bytes: number } { return this.#trash.trashSummary(); }
  trashEntry(id: number): TrashEntry | null { return this.#trash.trashEntry(id); }
  trashOf(path: string): TrashEntry[] { return this.#trash.trashOf(path); }
  removeTrash(ids: readonly number[]): void { this.#trash.removeTrash(ids); }

  // ---- chunks.ts
  recordChunks(path: string, hash: string, identity: ChunkedIdentity, chunks: readonly ChunkSpan[]): void { this.#chunks.recordChunks(path, hash, identity, chunks); }
  chunkedIdentity(path: string): ChunkedIdentity | null { return this.#chunks.chunkedIdentity(path); }
  chunkPlaces(hashes: readonly string[]): Map<string, ChunkPlace[]> { return this.#chunks.chunkPlaces(hashes); }
  /** drops the chunk lists of paths Local has no file at (start-up); returns how many */
  pruneChunkOrphans(): number { return this.#chunks.pruneOrphans(); }
}
