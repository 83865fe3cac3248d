// The tree limits a commit enforces (docs/server.md "Limits and tuning"); a
// module of their own so the pure decision (decide.ts) and the store
// interfaces (types.ts) can both name them without importing each other.

export interface TreeLimits {
  /** the root's children are at depth 1 */
  maxDepth: number;
  /** UTF-8 bytes of the path from the root, "/" between names */
  maxPathBytes: number;
}

export const DEFAULT_TREE_LIMITS: TreeLimits = { maxDepth: 1024, maxPathBytes: 4096 };
