// Test servers and a tiny protocol client for tests. `startTestServer` runs
// a real server in-process on a free port over a fresh temp data folder.

import { createHash, randomUUID } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addDevice } from '../../src/server/admin.js';
import { startServer, type RunningServer, type ServerOptions } from '../../src/server/app.js';
import type { ChangesReply, CommitReply, JournalEntry, ListReply, Op, OpResult, WireNode } from '../../src/protocol/types.js';

export interface TestServer {
  url: string;
  dataDir: string;
  server: RunningServer;
  /** lines the server logged (unexpected failures land here) */
  logs: string[];
  /** a new device's token; the namespace is created when needed */
  addDevice(namespace?: string, label?: string): Promise<string>;
  close(): Promise<void>;
}

export async function startTestServer(opts: Partial<ServerOptions> = {}): Promise<TestServer> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'syncd-server-')));
  const logs: string[] = [];
  const server = await startServer({ port: 0, trimIntervalMs: 0, log: (l) => logs.push(l), ...opts, dataDir });
  let closed = false;
  return {
    url: server.url,
    dataDir,
    server,
    logs,
    addDevice: async (namespace = 'default', label = 'test-device') => (await addDevice(dataDir, namespace, label)).token,
    close: async () => {
      if (closed) return;
      closed = true;
      await server.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface Reply<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

/** A minimal protocol client over fetch: enough to drive every endpoint from tests. */
export class Api {
  constructor(
    readonly url: string,
    readonly token: string,
  ) {}

  async request<T = any>(method: string, path: string, init: { body?: string | Buffer | Uint8Array; headers?: Record<string, string> } = {}): Promise<Reply<T>> {
    const res = await fetch(this.url + path, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...init.headers },
      body: init.body as string | Uint8Array | undefined,
    });
    const text = await res.text();
    let body: any = text;
    if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') body = JSON.parse(text);
    return { status: res.status, headers: res.headers, body: body as T, text };
  }

  get<T = any>(path: string, headers: Record<string, string> = {}): Promise<Reply<T>> {
    return this.request<T>('GET', path, { headers });
  }

  async putBlob(content: Buffer | string): Promise<{ hash: string; size: number; status: number }> {
    const buf = Buffer.from(content);
    const hash = sha256(buf);
    const r = await this.request('PUT', `/v1/blobs/${hash}`, { body: buf });
    if (r.status !== 200 && r.status !== 201) throw new Error(`PUT blob: ${r.status} ${r.text}`);
    return { hash, size: buf.length, status: r.status };
  }

  async commit(ops: Array<Partial<Op> & { op: Op['op'] }>): Promise<OpResult[]> {
    const r = await this.commitRaw(ops);
    if (r.status !== 200) throw new Error(`commit: ${r.status} ${r.text}`);
    return r.body.results;
  }

  commitRaw(ops: Array<Partial<Op> & { op: Op['op'] }>): Promise<Reply<CommitReply>> {
    const full = ops.map((o) => ({ op_id: randomUUID(), ...o }));
    return this.request<CommitReply>('POST', '/v1/commit', { body: JSON.stringify({ ops: full }), headers: { 'content-type': 'application/json' } });
  }

  /** commits one op and returns its ok result, or throws */
  async one(op: Partial<Op> & { op: Op['op'] }): Promise<{ seq: number; node: WireNode }> {
    const [r] = await this.commit([op]);
    if (!r || r.status !== 'ok') throw new Error(`op not ok: ${JSON.stringify(r)}`);
    return r;
  }

  async mkdir(name: string, parent = 'root'): Promise<WireNode> {
    return (await this.one({ op: 'create', kind: 'dir', parent, name })).node;
  }

  async file(name: string, content = name, parent = 'root'): Promise<WireNode> {
    const b = await this.putBlob(content);
    return (await this.one({ op: 'create', kind: 'file', parent, name, hash: b.hash, size: b.size, mtime: 1 })).node;
  }

  /** every page of /v1/list */
  async listAll(limit = 1000, between?: () => Promise<void>): Promise<{ nodes: WireNode[]; cursor: string; seq: number; pages: number }> {
    const nodes: WireNode[] = [];
    let token: string | undefined;
    let first: ListReply | null = null;
    let pages = 0;
    for (;;) {
      const q = `/v1/list?limit=${limit}` + (token ? `&page_token=${encodeURIComponent(token)}` : '');
      const r = await this.get<ListReply>(q);
      if (r.status !== 200) throw new Error(`list: ${r.status} ${r.text}`);
      pages++;
      first ??= r.body;
      if (r.body.seq !== first.seq || r.body.cursor !== first.cursor) throw new Error('list pages disagree on seq/cursor');
      nodes.push(...r.body.entries);
      if (!r.body.has_more) break;
      token = r.body.page_token;
      if (between) await between();
    }
    return { nodes, cursor: first!.cursor, seq: first!.seq, pages };
  }

  /** every page of /v1/changes from a cursor */
  async changesAll(cursor: string, limit = 1000): Promise<{ entries: JournalEntry[]; cursor: string; head: number }> {
    const entries: JournalEntry[] = [];
    let head = 0;
    for (;;) {
      const r = await this.get<ChangesReply>(`/v1/changes?cursor=${encodeURIComponent(cursor)}&limit=${limit}`);
      if (r.status !== 200) throw new Error(`changes: ${r.status} ${r.text}`);
      entries.push(...r.body.entries);
      cursor = r.body.cursor;
      head = r.body.head;
      if (!r.body.has_more) break;
    }
    return { entries, cursor, head };
  }

  /** the cursor at seq 0 of an empty namespace, or the list cursor */
  async startCursor(): Promise<string> {
    return (await this.get<ListReply>('/v1/list?limit=1')).body.cursor;
  }
}

/**
 * Applies journal entries to a tree the way a client must: node-keyed, an
 * entry whose rev is not above the known rev is a no-op, a delete removes
 * the node and (for a directory) everything known under it. A node whose
 * parent is not known yet (a listing walked it before its new parent was
 * created) is kept: a later entry brings the parent.
 */
export function applyEntries(tree: Map<string, WireNode>, entries: JournalEntry[]): void {
  for (const e of entries) {
    const known = tree.get(e.node.id);
    if (known && known.rev >= e.node.rev) continue;
    if (e.op === 'delete') removeSubtree(tree, e.node.id);
    else tree.set(e.node.id, e.node);
  }
}

function removeSubtree(tree: Map<string, WireNode>, id: string): void {
  tree.delete(id);
  for (const [cid, n] of [...tree]) if (n.parent === id && tree.has(cid)) removeSubtree(tree, cid);
}

/**
 * After a listing and the changes from its cursor up to the head are applied,
 * drops nodes whose parent chain does not reach the root. A listing is not a
 * snapshot: if a directory is deleted while pages are walked, a child may have
 * been listed although the directory (and the parents between) were never
 * walked, so the delete entry cannot find it. Once caught up, every live node's
 * parent is known, so what remains unattached is dead.
 */
export function removeOrphans(tree: Map<string, WireNode>): void {
  const reaches = new Map<string, boolean>();
  const ok = (id: string, depth = 0): boolean => {
    if (id === 'root') return true;
    const known = reaches.get(id);
    if (known !== undefined) return known;
    const n = tree.get(id);
    const r = n !== undefined && depth < 10_000 && ok(n.parent, depth + 1);
    reaches.set(id, r);
    return r;
  };
  for (const id of [...tree.keys()]) if (!ok(id)) tree.delete(id);
}

export function treeOf(nodes: WireNode[]): Map<string, WireNode> {
  return new Map(nodes.map((n) => [n.id, n]));
}

export function sortedNodes(tree: Map<string, WireNode>): WireNode[] {
  return [...tree.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

function newestMtime(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    max = Math.max(max, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return max;
}

/** `npm test` builds first; a test file run alone builds when dist/ is older than src/. */
export function ensureBuilt(): void {
  let stale = true;
  try {
    stale = statSync(join(REPO_ROOT, 'dist/server/app.js')).mtimeMs < newestMtime(join(REPO_ROOT, 'src'));
  } catch {
    stale = true;
  }
  if (stale) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, stdio: 'pipe' });
}
