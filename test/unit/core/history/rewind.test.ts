import { describe, expect, it } from 'vitest';
import { planRewindSteps, type RewindInput } from '../../../../src/core/history/rewind.js';
import { runSteps } from '../../../helpers/steps.js';
import type { WireNode } from '../../../../src/protocol/types.js';

const f = (id: string, parent: string, name: string, hash = 'h', rev = 1): WireNode => ({ id, parent, name, kind: 'file', rev, size: 1, hash, mtime: 0, exec: false, seq: 1 });
const d = (id: string, parent: string, name: string, rev = 1): WireNode => ({ id, parent, name, kind: 'dir', rev, mtime: 0, exec: false, seq: 1 });
const map = (...ns: WireNode[]) => new Map(ns.map((n) => [n.id, n]));
const rewindOf = (past: Map<string, WireNode>, present: Map<string, WireNode>, dir = 'root'): RewindInput => {
  const scope = new Set<string>();
  for (const [id, n] of past) {
    let p = n.parent;
    while (p !== 'root' && p !== dir && past.has(p)) p = past.get(p)!.parent;
    if (id !== dir && (dir === 'root' || p === dir)) scope.add(id);
  }
  return { past, present, scope, alias: 'all', removeBelow: dir };
};
const planRewind = (i: RewindInput) => runSteps(planRewindSteps(i));
const summary = (i: RewindInput) => planRewind(i).steps.map((s) => `${s.action} ${s.path}${'from' in s ? ` from ${s.from}` : ''}`);

describe('planRewind', () => {
  it.each<[string, RewindInput, string[]]>([
    ['nothing changed: nothing to do', rewindOf(map(d('D', 'root', 'D'), f('a', 'D', 'a')), map(d('D', 'root', 'D'), f('a', 'D', 'a'))), []],
    ['rewritten content is updated back', rewindOf(map(f('a', 'root', 'a', 'old')), map(f('a', 'root', 'a', 'new', 2))), ['update a']],
    [
      'renamed back, and a file created since is deleted first (it may hold the name)',
      rewindOf(map(f('a', 'root', 'a')), map(f('a', 'root', 'a.locked', 'h', 2), f('n', 'root', 'a.note'))),
      ['delete a.note', 'move a from a.locked'],
    ],
    [
      'a deleted folder is created again, parents first, then its files',
      rewindOf(map(d('D', 'root', 'D'), d('E', 'D', 'E'), f('a', 'E', 'a')), map()),
      ['create D', 'create D/E', 'create D/E/a'],
    ],
    [
      'a file deleted and created again at the same path is taken over (updated), not duplicated',
      rewindOf(map(f('a', 'root', 'a', 'old')), map(f('a2', 'root', 'A', 'evil'))),
      ['move a from A', 'update a'],
    ],
    [
      'a folder created since that holds a file moved into it: the file moves out, then the folder goes',
      rewindOf(map(f('a', 'root', 'a')), map(d('N', 'root', 'N'), f('a', 'N', 'a', 'h', 2))),
      ['move a from N/a', 'delete N'],
    ],
    [
      'a folder created since with new content only goes whole (one delete)',
      rewindOf(map(), map(d('N', 'root', 'N'), f('x', 'N', 'x'), f('y', 'N', 'y'))),
      ['delete N'],
    ],
  ])('%s', (_d, input, want) => {
    expect(summary(input)).toEqual(want);
  });

  it('only below the folder: a node moved in from outside since is left where it is, and what holds it stays', () => {
    const past = map(d('D', 'root', 'D'), f('o', 'root', 'outside'));
    const present = map(d('D', 'root', 'D'), d('N', 'D', 'N'), f('o', 'N', 'outside', 'h', 2), f('n', 'N', 'new'));
    const plan = planRewind(rewindOf(past, present, 'D'));
    expect(plan.steps.map((s) => `${s.action} ${s.path}`)).toEqual(['delete D/N/new']);
    expect(plan.left).toEqual(['D/N/outside']);
  });

  it('restore (alias: dirs, no removal) puts a deleted file beside one that took its name, and merges into a folder of the same path', () => {
    const past = map(d('W', 'root', 'work'), f('q', 'W', 'q.txt', 'old'));
    const present = map(d('W2', 'root', 'work'), f('q2', 'W2', 'q.txt', 'new'));
    const plan = planRewind({ past, present, scope: new Set(['W', 'q']), alias: 'dirs', removeBelow: null });
    expect(plan.steps).toEqual([expect.objectContaining({ action: 'create', ref: 'q', parent: { id: 'W2' }, path: 'work/q.txt' })]);
  });
});

describe('planRewindSteps', () => {
  it('works through a big folder in steps, to the same plan as in one go', () => {
    // 30,000 files in 30 folders: half rewritten, a third renamed, the rest gone; 5,000 created since
    const past = new Map<string, WireNode>();
    const present = new Map<string, WireNode>();
    for (let k = 0; k < 30; k++) past.set(`D${k}`, d(`D${k}`, 'root', `d${k}`)), present.set(`D${k}`, d(`D${k}`, 'root', `d${k}`));
    for (let i = 0; i < 30_000; i++) {
      const parent = `D${i % 30}`;
      past.set(`f${i}`, f(`f${i}`, parent, `f${i}`, 'old'));
      if (i % 6 === 0) continue;
      present.set(`f${i}`, f(`f${i}`, parent, i % 3 === 0 ? `g${i}` : `f${i}`, i % 2 === 0 ? 'new' : 'old', 2));
    }
    for (let i = 0; i < 5_000; i++) present.set(`n${i}`, f(`n${i}`, `D${i % 30}`, `n${i}`));
    const input = rewindOf(past, present);
    const steps = planRewindSteps(input);
    let n = 0;
    let r = steps.next();
    for (; !r.done; r = steps.next()) n++;
    // a step per 10,000 nodes at least, in each pass over the scope and the present tree
    expect(n).toBeGreaterThanOrEqual(9);
    expect(r.value).toEqual(planRewind(input));
    const count = (a: string) => r.value.steps.filter((s) => s.action === a).length;
    expect([count('create'), count('move'), count('update'), count('delete')]).toEqual([5_000, 5_000, 10_000, 5_000]);
  });
});
