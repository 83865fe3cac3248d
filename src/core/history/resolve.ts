// PATH arguments on the server's side: a path relative to the namespace root
// names the live node there, or else the node most recently deleted there
// (each step may pass through deleted folders, so a file inside a deleted
// folder is found too). Pure: works on the node rows.

import { nameKey } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import type { NodeRowState } from './tree-at.js';

export type Resolved = { kind: 'root' } | { kind: 'node'; node: NodeRowState } | { kind: 'missing'; at: string };

export class NodeIndex {
  readonly byId = new Map<string, NodeRowState>();
  readonly #children = new Map<string, NodeRowState[]>();

  constructor(rows: Iterable<NodeRowState> = []) {
    for (const r of rows) this.add(r);
  }

  /** One more row (the server adds a big namespace's rows a slice at a time, giving other requests turns). */
  add(r: NodeRowState): void {
    this.byId.set(r.id, r);
    const k = `${r.parent}\u0000${nameKey(r.name)}`;
    const list = this.#children.get(k);
    if (list) list.push(r);
    else this.#children.set(k, [r]);
  }

  /** the live child of `parent` named `name`, else the one deleted last */
  child(parent: string, name: string): NodeRowState | null {
    const list = this.#children.get(`${parent}\u0000${nameKey(name)}`);
    if (!list) return null;
    let best: NodeRowState | null = null;
    for (const r of list) {
      if (r.deleted === 0) return r;
      if (!best || r.deleted > best.deleted) best = r;
    }
    return best;
  }

  resolve(path: string): Resolved {
    const parts = splitPath(path);
    if (parts.length === 0) return { kind: 'root' };
    let parent = ROOT_ID;
    let node: NodeRowState | null = null;
    for (let i = 0; i < parts.length; i++) {
      node = this.child(parent, parts[i]!);
      if (!node) return { kind: 'missing', at: parts.slice(0, i + 1).join('/') };
      parent = node.id;
    }
    return { kind: 'node', node: node! };
  }

  /** the node's path through live and deleted rows; null when its chain is broken (rows trimmed) */
  path(id: string): string | null {
    const names: string[] = [];
    let cur = id;
    for (let guard = 0; cur !== ROOT_ID; guard++) {
      const r = this.byId.get(cur);
      if (!r || guard > 10_000) return null;
      names.push(r.name);
      cur = r.parent;
    }
    return names.reverse().join('/');
  }

  /** true when `dir` (or the root) is a proper ancestor of `id` through the rows */
  isBelow(id: string, dir: string): boolean {
    let cur = this.byId.get(id)?.parent;
    for (let guard = 0; cur !== undefined && guard <= 10_000; guard++) {
      if (cur === dir) return true;
      if (cur === ROOT_ID) return false;
      cur = this.byId.get(cur)?.parent;
    }
    return false;
  }
}

/** `a//b/./c/` → ['a', 'b', 'c']; a `..` is refused by the caller's validation. */
export function splitPath(path: string): string[] {
  return path.split('/').filter((s) => s !== '' && s !== '.');
}
