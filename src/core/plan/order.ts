// Orderings the planner uses to walk trees and to sort a round's ops. Pure.

import { depth } from '../tree.js';

export function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export function byDepthThenPath(a: string, b: string): number {
  return depth(a) - depth(b) || cmp(a, b);
}

/**
 * Sorts by path depth (dir = 1 parents first, -1 children first), then by
 * path when `thenPath`; depths are computed once, not in the comparator.
 */
export function sortByDepth<T>(items: T[], pathOf: (x: T) => string, dir: 1 | -1, thenPath = false): T[] {
  const keyed = items.map((x) => {
    const p = pathOf(x);
    return { x, p, d: depth(p) };
  });
  keyed.sort((a, b) => dir * (a.d - b.d) || (thenPath ? cmp(a.p, b.p) : 0));
  return keyed.map((k) => k.x);
}
