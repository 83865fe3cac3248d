// Random trees and random edits for the planner's property tests (scope,
// select): a synced base with twins and a settled subtree, then steps on
// either side (creates, edits, moves, deletes, hard links, inode reuse, NFD
// spellings).

import type { PlanOp } from '../../src/core/ops.js';
import { baseName, isWithin, joinPath } from '../../src/core/tree.js';
import { applyOp, localEdit, remoteEdit, remotePathIndex, ServerRefusal, type Model, type TreeSpec } from './plan-model.js';
import { pick, shuffle, type Rng } from './rng.js';

const NAMES = ['a', 'A', 'b', 'c.txt', 'C.TXT', 'é', 'e\u0301', 'Docs', 'docs'];

let counter = 0;
const fresh = (tag: string) => `${tag}${counter++}`;

/** A synced base: a few random entries (twins included) plus a settled subtree nothing touches. */
export function randomBase(r: Rng): TreeSpec {
  const spec: TreeSpec = {};
  const dirs = [''];
  const taken = new Set<string>();
  for (let i = 0; i < 4 + Math.floor(r() * 10); i++) {
    const parent = pick(r, dirs);
    const name = r() < 0.3 ? pick(r, NAMES) : `${pick(r, ['x', 'y', 'z'])}${i}`;
    const path = joinPath(parent, name);
    if (taken.has(path) || taken.has(path.normalize('NFC'))) continue;
    taken.add(path);
    if (r() < 0.4) {
      spec[path + '/'] = null;
      dirs.push(path);
    } else spec[path] = fresh('base');
  }
  const big = pick(r, dirs);
  for (let i = 0; i < 6; i++) {
    spec[joinPath(big, `settled${i}/`)] = null;
    for (let j = 0; j < 3; j++) spec[joinPath(big, `settled${i}/f${j}`)] = fresh('base');
  }
  return spec;
}

export function remoteStep(r: Rng, m: Model): void {
  const idx = [...remotePathIndex(m)];
  const dirs = ['', ...idx.filter(([, id]) => m.remote.get(id)!.kind === 'dir').map(([p]) => p)];
  const files = idx.filter(([, id]) => m.remote.get(id)!.kind !== 'dir').map(([p]) => p);
  const free = () => {
    const p = joinPath(pick(r, dirs), pick(r, NAMES).normalize('NFC'));
    return idx.some(([q]) => q.toLowerCase() === p.toLowerCase()) ? null : p;
  };
  const k = r();
  if (k < 0.25) {
    const p = free();
    if (p) remoteEdit.create(m, p, r() < 0.3 ? null : fresh('R'));
  } else if (k < 0.45 && files.length) remoteEdit.edit(m, pick(r, files), fresh('R'));
  else if (k < 0.6 && idx.length) {
    const from = pick(r, idx)[0];
    const to = free();
    if (to && !isWithin(to, from)) remoteEdit.move(m, from, to);
  } else if (k < 0.75 && idx.length) remoteEdit.delete(m, pick(r, idx)[0]);
  else if (idx.length) {
    // a new rev with the same content and place (another device's no-op, an mtime)
    const id = pick(r, idx)[1];
    const n = m.remote.get(id)!;
    m.remote.set(id, { ...n, rev: n.rev + 1, mtime: n.mtime + 1 });
  }
}

export function localStep(r: Rng, m: Model): void {
  const entries = [...m.local.values()];
  const dirs = ['', ...entries.filter((e) => e.kind === 'dir').map((e) => e.path)];
  const files = entries.filter((e) => e.kind === 'file');
  const free = () => {
    const p = joinPath(pick(r, dirs), pick(r, NAMES));
    return entries.some((e) => e.path.normalize('NFC').toLowerCase() === p.normalize('NFC').toLowerCase()) ? null : p;
  };
  const k = r();
  if (k < 0.2) {
    const p = free();
    if (p) localEdit.create(m, p, r() < 0.3 ? null : fresh('L'));
  } else if (k < 0.35 && files.length) {
    const e = pick(r, files);
    (r() < 0.5 ? localEdit.edit : localEdit.replace)(m, e.diskPath, fresh('L'));
  } else if (k < 0.5 && entries.length) {
    const from = pick(r, entries).path;
    const to = free();
    if (to && !isWithin(to, from) && !m.local.has(to)) localEdit.move(m, from, to);
  } else if (k < 0.62 && entries.length) localEdit.delete(m, pick(r, entries).diskPath);
  else if (k < 0.72 && files.length) {
    // a hard link: a second name for a file's inode
    const e = pick(r, files);
    const p = free();
    if (p && !m.local.has(p)) m.local.set(p, { ...e, path: p, diskPath: p });
  } else if (k < 0.82 && files.length) {
    // inode reuse: a file deleted, a new one gets its inode
    const gone = pick(r, files);
    localEdit.delete(m, gone.diskPath);
    const p = free();
    if (p && !m.local.has(p)) m.local.set(p, { ...gone, path: p, diskPath: p, hash: fresh('L') });
  } else if (k < 0.9 && entries.length) {
    // the same entry's name spelled NFD on disk (another tool wrote it): its
    // own name only, its parent keeps its spelling, and what is below it
    // (a directory's entries) is below the new spelling, as a scan finds it
    const e = pick(r, entries.filter((x) => x.path.includes('é')).concat(entries.slice(0, 1)));
    const cut = e.diskPath.lastIndexOf('/') + 1;
    const nfd = e.diskPath.slice(0, cut) + e.diskPath.slice(cut).normalize('NFD');
    if (nfd !== e.diskPath && !m.local.has(nfd)) {
      for (const [k, x] of [...m.local]) {
        if (k !== e.diskPath && !k.startsWith(`${e.diskPath}/`)) continue;
        m.local.delete(k);
        m.local.set(nfd + k.slice(e.diskPath.length), { ...x, diskPath: nfd + k.slice(e.diskPath.length) });
      }
    }
  } else if (entries.length) {
    const e = pick(r, entries);
    if (e.kind === 'file') m.local.set(e.diskPath, { ...e, exec: !e.exec });
  }
}

/** The executor's phase of each op type (ops of one round run in this order). */
const PHASE: Record<PlanOp['type'], number> = {
  adopt: 0, forget: 0, conflict_rename: 1, local_move: 2, mkdir: 3,
  download: 4, symlink: 4, chmod: 4, create: 4, update: 4, move: 4, delete: 4, local_delete: 5,
};


/** Applies a round's ops to the model in phase order (shuffled within a phase on even rounds), as far as the model accepts them. */
function applyRound(r: Rng, m: Model, ops: readonly PlanOp[], round: number): void {
  const phased = [...ops].sort((a, b) => PHASE[a.type] - PHASE[b.type]);
  for (const op of round % 2 ? phased : shuffle(r, phased).sort((a, b) => PHASE[a.type] - PHASE[b.type])) {
    try {
      applyOp(m, op);
    } catch (err) {
      if (!(err instanceof ServerRefusal)) break; // the model refuses a stale op; the plans still had to agree
    }
  }
}

/** The next round of a randomized run: false when the plan was empty, else its ops applied and maybe a step on each side. */
export function nextRound(r: Rng, m: Model, ops: readonly PlanOp[], round: number): boolean {
  if (ops.length === 0) return false;
  applyRound(r, m, ops, round);
  if (r() < 0.3) localStep(r, m);
  if (r() < 0.3) remoteStep(r, m);
  return true;
}

/** A failed randomized run, with the line that replays it. */
export function replayable(err: unknown, seed: number, runsVar: string, file: string): Error {
  if (process.env.SYNCD_PLAN_DEBUG) console.log((err as Error).stack);
  return new Error(`seed ${seed} failed (replay: SYNCD_SEED=${seed} ${runsVar}=1 npx vitest run ${file}): ${(err as Error).message}`);
}

/**
 * Planner options some runs use: an ignore rule (names "b", a fifth of the runs) and a
 * selective-sync exclusion of a path of the base (about a sixth; a changed list drops the
 * plan base in the agent).
 */
export function randomRules(r: Rng, m: Model): { ignore: ((p: string) => boolean) | undefined; excluded: string[] | undefined } {
  const ignore = r() < 0.2 ? (p: string) => baseName(p) === 'b' : undefined;
  const excluded = r() < 0.15 ? [pick(r, [...remotePathIndex(m).keys()])] : undefined;
  return { ignore, excluded };
}
