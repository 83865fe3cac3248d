// The tree as it was at a past journal position, rebuilt from what the
// server keeps (docs/history.md): the node rows (live and tombstoned) and,
// for every node changed since, the pre-image carried by its first journal
// row after that position. Pure.

import { ROOT_ID, type WireNode } from '../../protocol/types.js';

/** A node row: the wire state plus the seq that deleted it (0 while live). */
export interface NodeRowState extends WireNode {
  deleted: number;
}

/** One journal row, reduced to what the rebuild needs. */
export interface ChangeRow {
  seq: number;
  /** the node the row changed */
  id: string;
  /** the node's state before the row; null when the row created it */
  prev: WireNode | null;
}

/**
 * The nodes alive at `seq`, with their state then, built a row at a time (the
 * server gives other requests turns between slices of a big namespace).
 * Every retained journal row with a seq greater than `seq` goes to `change`
 * first, in any order; then every node row to `row`. A node's state at `seq`
 * is the pre-image of its first row after it, or its row when it has not
 * changed since (a directory delete tombstones its subtree without rows of
 * their own, so `deleted` decides for those).
 */
export class PastTree {
  readonly #first = new Map<string, ChangeRow>();
  /** the tree so far: complete once every row went through `row` */
  readonly nodes = new Map<string, WireNode>();

  constructor(readonly seq: number) {}

  change(r: ChangeRow): void {
    if (r.seq <= this.seq) return;
    const seen = this.#first.get(r.id);
    if (!seen || r.seq < seen.seq) this.#first.set(r.id, r);
  }

  row(row: NodeRowState): void {
    const change = this.#first.get(row.id);
    if (change) {
      if (change.prev) this.nodes.set(row.id, change.prev);
      return;
    }
    if (row.seq > this.seq) return; // its rows were trimmed: not knowable, never guessed
    if (row.deleted === 0 || row.deleted > this.seq) {
      const { deleted: _d, ...node } = row;
      this.nodes.set(row.id, node);
    }
  }
}

/** Paths (`a/b/c`) of the nodes of one tree, memoised; null when the chain does not reach the root. */
export class TreePaths {
  readonly #tree: ReadonlyMap<string, Pick<WireNode, 'parent' | 'name'>>;
  readonly #memo = new Map<string, string | null>();

  constructor(tree: ReadonlyMap<string, Pick<WireNode, 'parent' | 'name'>>) {
    this.#tree = tree;
  }

  path(id: string): string | null {
    if (id === ROOT_ID) return '';
    const hit = this.#memo.get(id);
    if (hit !== undefined) return hit;
    const chain: string[] = [];
    let cur = id;
    const seen = new Set<string>();
    let base: string | null = '';
    while (cur !== ROOT_ID) {
      const known = this.#memo.get(cur);
      if (known !== undefined) {
        base = known;
        break;
      }
      const n = this.#tree.get(cur);
      if (!n || seen.has(cur)) {
        base = null;
        break;
      }
      seen.add(cur);
      chain.push(cur);
      cur = n.parent;
    }
    // fill the memo from the top down
    for (let i = chain.length - 1; i >= 0; i--) {
      const n = this.#tree.get(chain[i]!)!;
      base = base === null ? null : base === '' ? n.name : `${base}/${n.name}`;
      this.#memo.set(chain[i]!, base);
    }
    return this.#memo.get(id) ?? null;
  }

  /** true when `dir` is a proper ancestor of `id` */
  isBelow(id: string, dir: string): boolean {
    if (id === dir) return false;
    if (dir === ROOT_ID) return this.path(id) !== null;
    let cur = this.#tree.get(id)?.parent;
    const seen = new Set<string>();
    while (cur !== undefined && cur !== ROOT_ID && !seen.has(cur)) {
      if (cur === dir) return true;
      seen.add(cur);
      cur = this.#tree.get(cur)?.parent;
    }
    return false;
  }

  depth(id: string): number {
    const p = this.path(id);
    return p === null ? Infinity : p === '' ? 0 : p.split('/').length;
  }
}
