// The seeded two-sided workload of the real-process tests
// (random-workload, fault-proxy): random file and directory steps on one
// side's folder, bookkeeping of every content written and every content the
// test itself overwrote or deleted where it could see it, and convergence.

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { snapshot, waitFor, type Snapshot } from './agent.js';
import { cliAsync, start, type Proc } from './procs.js';
import { pick, type Rng } from './rng.js';
import type { Api } from './server.js';

export interface Side {
  name: string;
  dir: string;
  env: NodeJS.ProcessEnv;
  agent: Proc | null;
}

/** What the workload wrote, and what of it the test itself overwrote or deleted. */
export interface Written {
  written: Set<string>;
  superseded: Set<string>;
}

export async function walk(root: string, rel = ''): Promise<{ path: string; dir: boolean }[]> {
  const out: { path: string; dir: boolean }[] = [];
  let ents;
  try {
    ents = await readdir(join(root, rel), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const d of ents) {
    if (d.name.startsWith('.syncd')) continue;
    const p = rel ? `${rel}/${d.name}` : d.name;
    out.push({ path: p, dir: d.isDirectory() });
    if (d.isDirectory()) out.push(...(await walk(root, p)));
  }
  return out;
}

async function contentsUnder(root: string, p: string): Promise<string[]> {
  const abs = join(root, p);
  const st = await stat(abs).catch(() => null);
  if (!st) return [];
  if (st.isFile()) return [await readFile(abs, 'utf8').catch(() => '')];
  const out: string[] = [];
  for (const e of await walk(root, p)) if (!e.dir) out.push(await readFile(join(root, e.path), 'utf8').catch(() => ''));
  return out;
}

const NAMES = ['a.txt', 'b.txt', 'C.txt', 'c.txt', 'notes', 'docs', 'é.md', 'x'];

/** One random step on `side`: write a file (content `tag`), mkdir, move, delete a file or a subtree. */
export async function step(r: Rng, side: Side, w: Written, tag: string): Promise<void> {
  const { written, superseded } = w;
  const items = await walk(side.dir);
  const dirs = ['', ...items.filter((i) => i.dir).map((i) => i.path)];
  const files = items.filter((i) => !i.dir).map((i) => i.path);
  const parent = pick(r, dirs);
  const target = (parent ? parent + '/' : '') + pick(r, NAMES);
  const k = r();
  try {
    if (k < 0.35) {
      const content = `${tag}`;
      if (existsSync(join(side.dir, target))) {
        if ((await stat(join(side.dir, target))).isDirectory()) return;
        superseded.add(await readFile(join(side.dir, target), 'utf8'));
      }
      await writeFile(join(side.dir, target), content);
      written.add(content);
    } else if (k < 0.45) {
      if (!existsSync(join(side.dir, target))) await mkdir(join(side.dir, target));
    } else if (k < 0.7 && items.length) {
      const from = pick(r, items).path;
      if (existsSync(join(side.dir, target)) || target === from || target.startsWith(from + '/')) return;
      await rename(join(side.dir, from), join(side.dir, target));
    } else if (k < 0.85 && files.length) {
      const f = pick(r, files);
      for (const c of await contentsUnder(side.dir, f)) superseded.add(c);
      await rm(join(side.dir, f), { force: true });
    } else if (items.length) {
      const d = pick(r, items).path;
      for (const c of await contentsUnder(side.dir, d)) superseded.add(c);
      await rm(join(side.dir, d), { recursive: true, force: true });
    }
  } catch (err) {
    // the agent moved something under our feet: that is fine, skip the step
    if (!['ENOENT', 'ENOTDIR', 'EISDIR', 'ENOTEMPTY', 'EEXIST'].includes((err as NodeJS.ErrnoException).code ?? '')) throw err;
  }
}

/** Contents written and not superseded by the test itself that appear nowhere in `final` (at their path or as a conflict copy). */
export function lostContents(final: Snapshot, w: Written): string[] {
  const present = new Set(Object.values(final));
  return [...w.written].filter((c) => !w.superseded.has(c) && !present.has(c));
}

/** A long text as its head, length and hash, so diffs and dumps of big files stay readable. */
export function shorten(text: string): string {
  if (text.length <= 200) return text;
  return `${text.slice(0, 60)}… [${Buffer.byteLength(text)} bytes, sha256 ${createHash('sha256').update(text).digest('hex').slice(0, 16)}]`;
}

export function shortenSnapshot(s: Snapshot): Snapshot {
  return Object.fromEntries(Object.entries(s).map(([k, v]) => [k, shorten(v)]));
}

/**
 * Starts any stopped agent and waits until every side's `syncd wait` passes
 * and all folders are equal; dumps each side on failure. The commands run
 * without blocking the event loop (the test process may be the fault proxy).
 */
export async function converge(sides: Side[], seed: number, timeoutMs = 60_000): Promise<void> {
  for (const s of sides) if (!s.agent) s.agent = start(['watch', s.dir], s.env);
  try {
    await waitFor(async () => {
      for (const s of sides) if ((await cliAsync(['wait', s.dir, '--timeout', '10'], s.env)).code !== 0) return false;
      // an agent may still remove a file between readdir and lstat: not settled yet
      const snaps = await Promise.all(sides.map((s) => snapshot(s.dir))).catch(() => null);
      return snaps !== null && snaps.every((x) => JSON.stringify(x) === JSON.stringify(snaps[0]));
    }, timeoutMs, `convergence (seed ${seed})`);
  } catch (err) {
    for (const s of sides) {
      process.stderr.write(`--- ${s.name}\n${JSON.stringify(shortenSnapshot(await snapshot(s.dir)))}\n${(await cliAsync(['status', s.dir, '--json'], s.env)).stdout}\n${s.agent?.output.join('').slice(-3000)}\n`);
    }
    throw err;
  }
}

/** The server's tree in `snapshot()`'s format (path → "dir", "-> target" or the file's text), via `api`'s device. */
export async function serverSnapshot(api: Api): Promise<Snapshot> {
  const { nodes } = await api.listAll();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const pathOf = (id: string): string => {
    const n = byId.get(id)!;
    return n.parent === 'root' ? n.name : `${pathOf(n.parent)}/${n.name}`;
  };
  const out: Snapshot = {};
  for (const n of nodes) {
    const p = pathOf(n.id);
    if (p.split('/').some((seg) => seg.startsWith('.syncd'))) continue;
    if (n.kind === 'dir') out[p + '/'] = 'dir';
    else if (n.kind === 'symlink') out[p] = `-> ${n.target}`;
    else {
      const r = await api.get(`/v1/blobs/${n.hash}`);
      if (r.status !== 200) throw new Error(`blob of ${p}: ${r.status} ${r.text}`);
      out[p] = r.text;
    }
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
