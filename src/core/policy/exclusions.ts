// Selective sync (docs/folder-modes.md "Selective sync"): which paths this
// device keeps out of its folder, and how `syncd exclude add|remove` and a
// server rename change that list. Pure.
//
// - An exclusion covers its whole subtree.
// - Exclusions are independent entries: excluding "a/b" under an excluded
//   "a" records "a/b" too, so removing "a" later keeps "a/b" excluded.
// - Each entry remembers the server node it named when it was added; when the
//   server renames or moves that node, the entry follows it (as Dropbox does),
//   so a rename never downloads an excluded folder.

import { checkName } from '../../protocol/names.js';
import { ROOT_ID } from '../../protocol/types.js';
import { isWithin, type Tree } from '../tree.js';

/** One excluded path, relative to the folder (NFC, `/`-separated), and the server node it named (null: none yet). */
export interface Exclusion {
  path: string;
  id: string | null;
}

/** A path argument, checked: a relative path inside the folder, never the folder itself. */
export function checkExclusionPath(rel: string): { ok: true; path: string } | { ok: false; reason: string } {
  if (rel === '' || rel === '.') return { ok: false, reason: 'the linked folder itself cannot be excluded (use `syncd pause` to stop syncing it)' };
  if (rel.startsWith('/') || rel.split('/').some((s) => s === '..')) return { ok: false, reason: 'the path is outside the linked folder' };
  const parts = rel.split('/').filter((s) => s !== '' && s !== '.');
  for (const p of parts) {
    const c = checkName(p);
    if (!c.ok) return { ok: false, reason: `"${p}" is not a name syncd can sync: ${c.reason}` };
  }
  return { ok: true, path: parts.join('/').normalize('NFC') };
}

/** The exclusion covering `path` (the shortest one, if several do), or undefined. */
export function coveringExclusion(path: string, paths: readonly string[]): string | undefined {
  let best: string | undefined;
  for (const x of paths) if (isWithin(path, x) && (best === undefined || x.length < best.length)) best = x;
  return best;
}

/** `exclude add`: the new list, and which of `paths` were new. Adding one already listed changes nothing. */
export function addExclusions(list: readonly Exclusion[], add: readonly Exclusion[]): { list: Exclusion[]; added: string[] } {
  const out = [...list];
  const added: string[] = [];
  for (const x of add) {
    if (out.some((o) => o.path === x.path)) continue;
    out.push(x);
    added.push(x.path);
  }
  return { list: out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)), added };
}

/**
 * `exclude remove`: the new list; `missing` are paths that were not listed
 * (with the exclusion that still covers each, if any: removing that one is
 * what the user has to do).
 */
export function removeExclusions(list: readonly Exclusion[], remove: readonly string[]): { list: Exclusion[]; removed: string[]; missing: { path: string; coveredBy: string | undefined }[] } {
  const drop = new Set(remove);
  const out = list.filter((x) => !drop.has(x.path));
  const removed = list.filter((x) => drop.has(x.path)).map((x) => x.path);
  const missing = remove.filter((p) => !removed.includes(p)).map((p) => ({ path: p, coveredBy: coveringExclusion(p, out.map((x) => x.path)) }));
  return { list: out, removed, missing };
}

/** The path of node `id` in `remote` by its parent links; undefined when it is gone or cannot be placed. */
export function remotePathOf(remote: Pick<Tree, 'get'>, id: string): string | undefined {
  const names: string[] = [];
  const seen = new Set<string>();
  for (let cur = id; cur !== ROOT_ID; ) {
    const n = remote.get(cur);
    if (!n || seen.has(cur)) return undefined;
    seen.add(cur);
    names.push(n.name);
    cur = n.parent;
  }
  return names.reverse().join('/');
}

/**
 * The list after the server moved on: an entry whose node the server
 * renamed or moved takes the node's new path; one whose node is gone keeps
 * its path (something new there is excluded too). Returns the same array
 * when nothing changed (the caller writes only then).
 */
export function followServer(list: readonly Exclusion[], remote: Pick<Tree, 'get'>): readonly Exclusion[] {
  let changed = false;
  const out = list.map((x) => {
    if (x.id === null) return x;
    const now = remotePathOf(remote, x.id);
    if (now === undefined || now === x.path) return x;
    changed = true;
    return { ...x, path: now };
  });
  return changed ? out : list;
}
