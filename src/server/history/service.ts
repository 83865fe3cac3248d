// The version-history operations behind /v1/history, /v1/deleted,
// /v1/activity, /v1/snapshot, /v1/restore and /v1/rewind: each reads the
// store, lets a pure function of src/core/history decide, and (restore,
// rewind) commits the result as ordinary ops (./apply.ts).

import { setImmediate as yieldTurn } from 'node:timers/promises';
import { NodeIndex, splitPath, type Resolved } from '../../core/history/resolve.js';
import { nameKey } from '../../protocol/names.js';
import { planRewindSteps, type RewindPlan } from '../../core/history/rewind.js';
import { TreePaths, type NodeRowState } from '../../core/history/tree-at.js';
import { versionsOf, type Version } from '../../core/history/versions.js';
import { HttpError } from '../../protocol/errors.js';
import type { DeletedItem as WireDeletedItem } from '../../protocol/history.js';
import { ROOT_ID, type JournalEntry, type WireNode } from '../../protocol/types.js';
import type { ServerContext } from '../context.js';
import type { DeviceIdentity, HistoryRow, NamespaceRef } from '../store/types.js';
import { applyPlan, type ApplyReport } from './apply.js';
import { parseRow, pastTree } from './read.js';
import { drive, eachSliced, sortSliced } from '../slices.js';

/** Where a request points: a path relative to the namespace root, or a node id. */
export type Target = { path: string } | { id: string };

/** What restore and rewind go back to: a version of the node, or a moment. */
export type Moment = { rev: number } | { at: number } | null;

interface Loaded {
  index: NodeIndex;
  present: Map<string, WireNode>;
  head: number;
}

function notFound(message: string): HttpError {
  return new HttpError('not_found', message);
}

async function load(ctx: ServerContext, ns: NamespaceRef): Promise<Loaded> {
  const state = await ctx.store.namespaceState(ns);
  const rows = await ctx.store.allNodes(ns);
  const present = new Map<string, WireNode>();
  const index = new NodeIndex();
  // a big namespace is indexed a slice at a time: other requests (any tenant's) get turns
  await eachSliced(rows, (r) => {
    index.add(r);
    if (r.deleted === 0) {
      const { deleted: _d, ...n } = r;
      present.set(r.id, n);
    }
  });
  return { index, present, head: state.head };
}

function resolve(l: Loaded, t: Target): Resolved {
  if ('path' in t) return l.index.resolve(t.path);
  if (t.id === ROOT_ID) return { kind: 'root' };
  const node = l.index.byId.get(t.id);
  return node ? { kind: 'node', node } : { kind: 'missing', at: t.id };
}

function describe(t: Target): string {
  return 'path' in t ? `"${t.path}"` : `node ${t.id}`;
}

function nodeOrThrow(l: Loaded, t: Target): NodeRowState {
  const r = resolve(l, t);
  if (r.kind === 'root') throw new HttpError('bad_request', 'the root has no versions of its own; name a file or folder, or use rewind');
  if (r.kind === 'missing') throw notFound(`nothing is or was at ${describe(t)} in the kept history`);
  return r.node;
}

/** The seq of a moment, refused when the kept history does not reach back to it. */
async function seqOf(ctx: ServerContext, ns: NamespaceRef, at: number): Promise<number> {
  const [seq, start] = await Promise.all([ctx.store.seqAt(ns, at), ctx.store.historyStart(ns)]);
  if (seq < start - 1) {
    throw new HttpError('not_found', `${new Date(at).toISOString()} is older than the kept history (versions are kept for ${Math.round((await ctx.store.keepVersions()) / 864) / 100} days)`, {
      reason: 'too_old',
    });
  }
  return seq;
}

export interface HistoryReply {
  node: { id: string; path: string | null; kind: WireNode['kind']; deleted: boolean; deleted_seq?: number };
  versions: Version[];
  /** older versions were left out (the newest `limit` were asked for) */
  more: boolean;
}

/**
 * The node last seen at a path nothing is at now (renamed or moved away):
 * the newest retained row that put a node under that parent with that name.
 */
async function lastSeenAt(ctx: ServerContext, ns: NamespaceRef, l: Loaded, path: string): Promise<NodeRowState | null> {
  const parts = splitPath(path);
  const parentPath = parts.slice(0, -1).join('/');
  const parent = l.index.resolve(parentPath);
  if (parent.kind === 'missing' || parts.length === 0) return null;
  const parentId = parent.kind === 'root' ? ROOT_ID : parent.node.id;
  const key = nameKey(parts[parts.length - 1]!);
  // a name never seen there reads the whole kept journal
  for await (const page of journalBackwards(ctx, ns, l.head)) {
    for (const raw of page) {
      const node = (JSON.parse(raw.entry) as JournalEntry).node;
      if (node.parent === parentId && nameKey(node.name) === key) return l.index.byId.get(node.id) ?? null;
    }
  }
  return null;
}

/** rows of the kept journal read at a time going back */
const JOURNAL_PAGE = 1000;

/** A namespace's kept journal from `head` back, a page at a time, a turn of the event loop between pages. */
async function* journalBackwards(ctx: ServerContext, ns: NamespaceRef, head: number): AsyncGenerator<HistoryRow[]> {
  for (let before = head + 1; ; await yieldTurn()) {
    const page = await ctx.store.historyBefore(ns, before, JOURNAL_PAGE);
    yield page;
    if (page.length < JOURNAL_PAGE) return;
    before = Number(page[page.length - 1]!.seq);
  }
}

export async function nodeHistory(ctx: ServerContext, ns: NamespaceRef, t: Target, limit: number): Promise<HistoryReply> {
  const l = await load(ctx, ns);
  const seen = 'path' in t && resolve(l, t).kind === 'missing' ? await lastSeenAt(ctx, ns, l, t.path) : null;
  const node = seen ?? nodeOrThrow(l, t);
  // one row more than asked says whether there are older ones; the pre-image of
  // the oldest row (versionsOf) is a version of its own, so it too counts
  const rows = (await ctx.store.nodeHistory(ns, node.id, limit + 1)).map(parseRow);
  const all = versionsOf(rows.slice(0, limit));
  const more = rows.length > limit || all.length > limit;
  const versions = all.slice(0, limit);
  if (versions.length === 0) {
    // unchanged since before the kept history and its row trimmed: the node row is its one version
    const { deleted: _d, ...n } = node;
    versions.push({ rev: n.rev, seq: n.seq, op: null, at: null, device: null, node: n });
  }
  // a file deleted with its folder has no row of its own for that: show the folder's
  if (node.deleted !== 0 && versions[0]!.seq < node.deleted) {
    const { deleted: _d, ...n } = node;
    const dirRow = (await ctx.store.historyAfter(ns, node.deleted - 1, 1)).map(parseRow)[0];
    versions.unshift({ rev: n.rev + 1, seq: node.deleted, op: 'delete', at: dirRow?.at ?? null, device: dirRow?.device ?? null, node: { ...n, rev: n.rev + 1, seq: node.deleted } });
  }
  return {
    node: { id: node.id, path: l.index.path(node.id), kind: node.kind, deleted: node.deleted !== 0, ...(node.deleted !== 0 ? { deleted_seq: node.deleted } : {}) },
    versions,
    more,
  };
}

/** a deleted node as the route sends it, before device labels are added; `at` is its `time` */
export type DeletedItem = Omit<WireDeletedItem, 'time' | 'device_label'> & { at: number | null };

/** Nodes deleted by a delete of their own (a folder's content goes with it) below `t`, newest first. */
export async function deletedBelow(ctx: ServerContext, ns: NamespaceRef, t: Target): Promise<DeletedItem[]> {
  const l = await load(ctx, ns);
  const r = resolve(l, t);
  if (r.kind === 'missing') throw notFound(`nothing is or was at ${describe(t)}`);
  const dir = r.kind === 'root' ? ROOT_ID : r.node.id;
  const out: DeletedItem[] = [];
  await eachSliced(l.index.byId.values(), (n) => {
    if (n.deleted === 0 || n.seq !== n.deleted) return;
    if (dir !== ROOT_ID && !l.index.isBelow(n.id, dir)) return;
    out.push({ id: n.id, path: l.index.path(n.id), kind: n.kind, rev: n.rev, seq: n.deleted, at: null, device: null, ...(n.kind === 'file' ? { size: n.size } : {}) });
  });
  const sorted = await sortSliced(out, (a, b) => b.seq - a.seq);
  // times and devices from the delete rows themselves (one query each: a turn for others every slice)
  for (let i = 0; i < sorted.length; i++) {
    const item = sorted[i]!;
    const row = (await ctx.store.nodeHistory(ns, item.id, 1))[0];
    if (row) {
      const p = parseRow(row);
      item.at = p.at;
      item.device = p.device;
    }
    if (i % 1000 === 999) await yieldTurn();
  }
  return sorted;
}

export interface ActivityItem {
  seq: number;
  at: number;
  op: string;
  kind: WireNode['kind'];
  path: string | null;
  rev: number;
  device: string;
}

/** The latest changes below `t`, newest first. */
export async function activity(ctx: ServerContext, ns: NamespaceRef, t: Target, limit: number): Promise<ActivityItem[]> {
  const l = await load(ctx, ns);
  const r = resolve(l, t);
  if (r.kind === 'missing') throw notFound(`nothing is or was at ${describe(t)}`);
  const dir = r.kind === 'root' ? ROOT_ID : r.node.id;
  const out: ActivityItem[] = [];
  // back until `limit` changes below the folder are found or the history ends (a quiet folder: all of it)
  for await (const page of journalBackwards(ctx, ns, l.head)) {
    for (const raw of page) {
      const e = parseRow(raw);
      if (dir !== ROOT_ID && e.node.id !== dir && !l.index.isBelow(e.node.id, dir)) continue;
      out.push({ seq: e.seq, at: e.at, op: e.op, kind: e.node.kind, path: l.index.path(e.node.id), rev: e.node.rev, device: e.device });
      if (out.length >= limit) return out;
    }
  }
  return out;
}

export interface SnapshotItem {
  /** relative to the target */
  path: string;
  node: WireNode;
}

/** The target and everything below it as it was at `at` (for `restore --to`). */
export async function snapshot(ctx: ServerContext, ns: NamespaceRef, t: Target, at: number | null, rev: number | null): Promise<{ seq: number; entries: SnapshotItem[] }> {
  const l = await load(ctx, ns);
  const r = resolve(l, t);
  if (r.kind === 'missing') throw notFound(`nothing is or was at ${describe(t)}`);
  let seq: number;
  if (rev !== null) {
    if (r.kind === 'root') throw new HttpError('bad_request', 'the root has no revisions; use a time');
    seq = (await versionByRev(ctx, ns, r.node.id, rev)).seq;
  } else if (at !== null) seq = await seqOf(ctx, ns, at);
  else seq = r.kind === 'node' && r.node.deleted !== 0 ? r.node.deleted - 1 : l.head;
  const past = await pastTree(ctx.store, ns, l.index.byId.values(), seq);
  const top = r.kind === 'root' ? ROOT_ID : r.node.id;
  if (top !== ROOT_ID && !past.has(top)) throw notFound(`${describe(t)} did not exist at that moment`);
  const paths = new TreePaths(past);
  const base = top === ROOT_ID ? '' : paths.path(top);
  const entries: SnapshotItem[] = [];
  await eachSliced(past, ([id, n]) => {
    if (id !== top && !paths.isBelow(id, top)) return;
    const p = paths.path(id);
    if (p === null || base === null) return;
    entries.push({ path: base === '' ? p : p === base ? '' : p.slice(base.length + 1), node: n });
  });
  return { seq, entries: await sortSliced(entries, (a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) };
}

/** rows of one node read at a time looking for a rev (a node saved every second keeps 2.6 million in 30 days) */
const REV_PAGE = 1000;

async function versionByRev(ctx: ServerContext, ns: NamespaceRef, id: string, rev: number): Promise<Version> {
  let newest: number | null = null;
  let oldest: number | null = null;
  // newest first, a page at a time, until the rev is found or passed; each page's
  // last version is the pre-image of its oldest row (the next page's first)
  for (let before = Number.MAX_SAFE_INTEGER; ; await yieldTurn()) {
    const page = (await ctx.store.nodeHistory(ns, id, REV_PAGE, before)).map(parseRow);
    const versions = versionsOf(page);
    for (const v of versions) {
      newest ??= v.rev;
      oldest = v.rev;
    }
    const v = versions.find((x) => x.rev === rev);
    if (v) {
      if (v.op === 'delete') throw new HttpError('bad_request', `rev ${rev} is the deletion; restore rev ${rev - 1} or omit --rev`);
      return v;
    }
    if (newest !== null && rev > newest) throw notFound(`rev ${rev} is not in the kept history of this node (the newest is rev ${newest})`);
    if (page.length < REV_PAGE || (oldest !== null && oldest < rev)) break;
    before = page[page.length - 1]!.seq;
  }
  const kept = newest === null ? 'none' : oldest === newest ? `rev ${newest}` : `revs ${oldest}–${newest}`;
  throw notFound(`rev ${rev} is not in the kept history of this node (kept: ${kept})`);
}

export interface RestoreReply extends Omit<ApplyReport, 'created'> {
  /** what was restored: the node (its new id when it was brought back) and its path */
  restored: { id: string | null; path: string | null; seq: number };
  dry_run: boolean;
  left?: string[];
}

function reply(plan: RewindPlan, applied: ApplyReport | null, restored: RestoreReply['restored'], dryRun: boolean): RestoreReply {
  const steps = applied?.steps ?? plan.steps.map((s) => ({ action: s.action, path: s.path, status: 'skipped' as const, ...('from' in s ? { message: `from ${s.from}` } : {}) }));
  const r: RestoreReply = {
    restored,
    dry_run: dryRun,
    steps,
    ok: applied?.ok ?? 0,
    conflicts: applied?.conflicts ?? 0,
    errors: applied?.errors ?? 0,
  };
  if (plan.left.length > 0) r.left = plan.left;
  return r;
}

/**
 * Restore: a live file gets the content of the chosen version (one update);
 * a live folder with a moment is rewound; a deleted node comes back as it
 * was just before its deletion (or at the chosen version/moment), with the
 * deleted folders above it that it needs.
 */
export async function restore(
  ctx: ServerContext,
  device: DeviceIdentity,
  t: Target,
  moment: Moment,
  opts: { opId: string; dryRun: boolean; baseRev?: number },
): Promise<RestoreReply> {
  const ns = device.namespace;
  const l = await load(ctx, ns);
  const node = nodeOrThrow(l, t);
  if (opts.baseRev !== undefined && node.rev !== opts.baseRev) {
    throw new HttpError('conflict', `${describe(t)} changed meanwhile (rev ${node.rev}, expected ${opts.baseRev}); look at its history again`, { current_rev: node.rev });
  }
  if (node.deleted === 0 && node.kind === 'dir') {
    if (moment === null || 'rev' in moment) throw new HttpError('bad_request', "a folder's versions are its contents: restore it to a time (--at), or rewind it");
    return rewind(ctx, device, { id: node.id }, moment.at, opts);
  }
  if (moment === null && node.deleted === 0) throw new HttpError('bad_request', `${describe(t)} exists; say which version to restore (rev or at)`);
  let seq: number;
  if (moment === null) seq = node.deleted - 1;
  else if ('rev' in moment) seq = (await versionByRev(ctx, ns, node.id, moment.rev)).seq;
  else seq = await seqOf(ctx, ns, moment.at);
  if (node.deleted !== 0 && seq >= node.deleted) throw notFound(`${describe(t)} was already deleted at that moment`);

  const past = await pastTree(ctx.store, ns, l.index.byId.values(), seq);
  const was = past.get(node.id);
  if (!was) throw notFound(`${describe(t)} did not exist at that moment`);
  const scope = new Set<string>([node.id]);
  const now = l.present.get(node.id);
  // a live file keeps its place: restore brings back content, not an old name (history spans renames)
  if (now) past.set(node.id, { ...was, parent: now.parent, name: now.name });
  if (node.deleted !== 0) {
    const paths = new TreePaths(past);
    await eachSliced(past.keys(), (id) => {
      if (paths.isBelow(id, node.id)) scope.add(id);
    });
    // the deleted folders above it, up to one that is still there (or the root)
    for (let p = was.parent; p !== ROOT_ID && !l.present.has(p); ) {
      const up = past.get(p);
      if (!up) break;
      scope.add(p);
      p = up.parent;
    }
  }
  const plan = await drive(planRewindSteps({ past, present: l.present, scope, alias: 'dirs', removeBelow: null }));
  if (opts.dryRun) return reply(plan, null, { id: node.deleted === 0 ? node.id : null, path: l.index.path(node.id), seq }, true);
  const applied = await applyPlan(ctx, device, plan, l.present, { opId: opts.opId, head: l.head });
  const id = node.deleted === 0 ? node.id : (applied.created.get(node.id) ?? null);
  const created = applied.steps.find((s) => s.id === id);
  const path = created?.name !== undefined ? `${(created.path.split('/').slice(0, -1).concat(created.name)).join('/')}` : l.index.path(node.id);
  return reply(plan, applied, { id, path, seq }, false);
}

/** Rewind: everything below the folder back to how it was at `at`, as one batch of ordinary changes. */
export async function rewind(ctx: ServerContext, device: DeviceIdentity, t: Target, at: number, opts: { opId: string; dryRun: boolean }): Promise<RestoreReply> {
  const ns = device.namespace;
  const l = await load(ctx, ns);
  const r = resolve(l, t);
  if (r.kind === 'missing') throw notFound(`nothing is at ${describe(t)}`);
  if (r.kind === 'node' && r.node.deleted !== 0) throw notFound(`${describe(t)} is deleted; restore it first (syncd restore)`);
  if (r.kind === 'node' && r.node.kind !== 'dir') throw new HttpError('bad_request', `${describe(t)} is a ${r.node.kind}, not a folder; use restore`);
  const dir = r.kind === 'root' ? ROOT_ID : r.node.id;
  const seq = await seqOf(ctx, ns, at);
  const past = await pastTree(ctx.store, ns, l.index.byId.values(), seq);
  const paths = new TreePaths(past);
  const scope = new Set<string>();
  await eachSliced(past.keys(), (id) => {
    if (paths.isBelow(id, dir)) scope.add(id);
  });
  const plan = await drive(planRewindSteps({ past, present: l.present, scope, alias: 'all', removeBelow: dir }));
  const restored = { id: dir, path: dir === ROOT_ID ? '' : l.index.path(dir), seq };
  if (opts.dryRun) return reply(plan, null, restored, true);
  return reply(plan, await applyPlan(ctx, device, plan, l.present, { opId: opts.opId, head: l.head }), restored, false);
}
