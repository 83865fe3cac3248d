import { describe, expect, it } from 'vitest';
import { Conflicts } from '../../../../src/client/state/conflicts.js';
import { Problems } from '../../../../src/client/state/problems.js';
import { StateStore } from '../../../../src/client/state/store.js';
import { tempDbFile } from './helpers.js';

const p = (path: string, code = 'c') => ({ path, code, message: `${path} ${code}` });

describe('problems', () => {
  it.each([
    { desc: 'a report replaces its own scope', steps: (x: Problems) => { x.setProblems([p('a'), p('b')], 'plan'); x.setProblems([p('c')], 'plan'); }, plan: ['c'], exec: [] },
    { desc: 'and leaves the other scopes alone', steps: (x: Problems) => { x.addProblem(p('e')); x.setProblems([p('a')], 'plan'); x.setProblems([], 'plan'); }, plan: [], exec: ['e'] },
    { desc: 'added problems default to the executor scope', steps: (x: Problems) => { x.addProblem(p('e1')); x.addProblem(p('e2')); }, plan: [], exec: ['e1', 'e2'] },
    { desc: 'one path and code is one problem (the newest message)', steps: (x: Problems) => { x.addProblem(p('e')); x.addProblem({ ...p('e'), message: 'newer' }); }, plan: [], exec: ['e'] },
    { desc: 'a scope lists in report order', steps: (x: Problems) => x.setProblems([p('z'), p('a'), p('m')], 'plan'), plan: ['z', 'a', 'm'], exec: [] },
  ])('$desc', ({ steps, plan, exec }) => {
    const x = new Problems(new StateStore(tempDbFile()));
    steps(x);
    expect(x.problemsOf('plan').map((q) => q.path)).toEqual(plan);
    expect(x.problemsOf('exec').map((q) => q.path)).toEqual(exec);
  });

  it('all scopes together, without the scope in the code', () => {
    const x = new Problems(new StateStore(tempDbFile()));
    x.setProblems([p('a', 'invalid_name')], 'plan');
    x.setProblems([p('(server)', 'remote_orphan')], 'pull');
    x.setProblems([p('s', 'unreadable')], 'scan');
    x.addProblem(p('e', 'changed_on_disk'));
    expect(x.problems().map((q) => `${q.path} ${q.code}`).sort()).toEqual(['(server) remote_orphan', 'a invalid_name', 'e changed_on_disk', 's unreadable']);
    expect(x.problemsOf('exec')).toEqual([{ path: 'e', code: 'changed_on_disk', message: 'e changed_on_disk' }]);
  });
});

describe('conflict log', () => {
  it.each([
    { desc: 'records a conflicted copy', steps: (c: Conflicts) => c.addConflict('a (conflicted copy).txt', 'a.txt', 'both changed'), want: [['a (conflicted copy).txt', 'a.txt', 'both changed']] },
    { desc: 'one row per copy', steps: (c: Conflicts) => { c.addConflict('x', 'a', 'r1'); c.addConflict('x', 'a', 'r2'); }, want: [['x', 'a', 'r2']] },
    { desc: 'a resolved copy leaves the log', steps: (c: Conflicts) => { c.addConflict('x', 'a', 'r'); c.addConflict('y', 'b', 'r'); c.removeConflict('x'); }, want: [['y', 'b', 'r']] },
  ])('$desc', ({ steps, want }) => {
    const c = new Conflicts(new StateStore(tempDbFile()));
    steps(c);
    expect(c.conflicts().map((r) => [r.path, r.original, r.reason])).toEqual(want);
  });
});
