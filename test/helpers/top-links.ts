// The top level of a planner model's three trees and the top-level names
// its nodes and inodes span, computed the plain way (every node walked up):
// what client/state/tree-index.ts finds in SQL (topEntries, topLinks), for
// the tests of the plan in batches.

import type { TopEntry } from '../../src/core/plan/batches.js';
import { nameKey } from '../../src/protocol/names.js';
import { ROOT_ID } from '../../src/protocol/types.js';
import type { Model } from './plan-model.js';

/**
 * The top level of the three trees as the state DB lists it for a folder
 * with Synced (each id once, subtree sizes counted), and the top-level
 * names each node or inode spans (what client/state/tree-index.ts
 * `topLinks` finds in SQL); null when a node reaches no top-level name (an
 * orphan: the agent plans the whole trees then).
 */
export function topsAndLinks(m: Model): { tops: TopEntry[]; links: string[][] } | null {
  const topOf = (t: Map<string, { parent: string; name: string }>, id: string): string | null => {
    const seen = new Set<string>();
    for (let n = t.get(id); n && !seen.has(id); n = t.get(n.parent)) {
      seen.add(id);
      if (n.parent === ROOT_ID) return n.name;
      id = n.parent;
    }
    return null;
  };
  const tops = new Map<string, TopEntry>();
  const links: string[][] = [];
  for (const t of [m.remote, m.synced] as Map<string, { parent: string; name: string }>[]) {
    for (const [id, n] of t) {
      const top = topOf(t, id);
      if (top === null) return null;
      if (n.parent === ROOT_ID && !tops.has(id)) tops.set(id, { name: n.name, id, size: 0 });
      const other = t === m.remote ? m.synced : m.remote;
      if (other.has(id)) {
        const o = topOf(other, id);
        if (o === null) return null;
        if (o !== top) links.push([top, o]);
      }
    }
  }
  for (const t of tops.values()) t.size = 1;
  // a Local entry whose directory Local lacks (a scan never leaves one): the agent plans the whole trees
  for (const k of m.local.keys()) if (k.includes('/') && !m.local.has(k.slice(0, k.lastIndexOf('/')))) return null;
  const entries: TopEntry[] = [...tops.values()];
  for (const e of m.local.values()) {
    if (e.diskPath.includes('/')) continue;
    entries.push({ name: e.path, diskPath: e.diskPath, size: 1 + [...m.local.keys()].filter((k) => k.startsWith(e.diskPath + '/')).length });
  }
  const byIno = new Map<number, Set<string>>();
  const hold = (ino: number | null, top: string): void => {
    if (ino === null) return;
    const s = byIno.get(ino) ?? new Set<string>();
    s.add(top);
    byIno.set(ino, s);
  };
  for (const [id, n] of m.synced) hold(n.ino, topOf(m.synced, id)!);
  for (const e of m.local.values()) hold(e.ino, e.path.split('/')[0]!);
  for (const s of byIno.values()) if (s.size > 1) links.push([...s]);
  return { tops: entries, links };
}


/** Name keys grouped as `links` join them (only groups of two or more), in a canonical order to compare. */
export function linkedGroups(links: readonly (readonly string[])[]): string[][] {
  const up = new Map<string, string>();
  const find = (k: string): string => {
    while (up.has(k) && up.get(k) !== k) k = up.get(k)!;
    return k;
  };
  for (const names of links) {
    const keys = names.map(nameKey);
    for (const k of keys) if (!up.has(k)) up.set(k, k);
    for (const k of keys.slice(1)) {
      const a = find(keys[0]!);
      const b = find(k);
      if (a !== b) up.set(a < b ? b : a, a < b ? a : b);
    }
  }
  const groups = new Map<string, string[]>();
  for (const k of up.keys()) groups.set(find(k), [...(groups.get(find(k)) ?? []), k]);
  return [...groups.values()].filter((g) => g.length > 1).map((g) => g.sort()).sort((a, b) => (a[0]! < b[0]! ? -1 : 1));
}
