// Per-path problems (STYLE.md 4: problems are data that `status` shows). Each
// reporter owns a scope, stored as a prefix of the code ('plan:invalid_name'),
// and replaces its whole scope with every report.

import type { PlanProblem } from '../../core/ops.js';
import type { StateStore } from './store.js';

/** Who reported a problem: each scope is replaced as a whole by its next report. */
export type ProblemScope = 'plan' | 'exec' | 'pull' | 'scan';

export class Problems {
  readonly #s: StateStore;

  constructor(store: StateStore) {
    this.#s = store;
  }

  setProblems(problems: PlanProblem[], scope: ProblemScope): void {
    this.#s.tx(() => {
      this.#s.stmt("DELETE FROM problems WHERE code LIKE ?").run(`${scope}:%`);
      for (const p of problems) this.addProblem(p, scope);
    });
  }

  /** One scope's problems, in the order they were reported. */
  problemsOf(scope: ProblemScope): PlanProblem[] {
    return (this.#s.stmt('SELECT path, code, message FROM problems WHERE code LIKE ? ORDER BY rowid').all(`${scope}:%`) as PlanProblem[])
      .map((p) => ({ ...p, code: p.code.slice(scope.length + 1) }));
  }

  addProblem(p: PlanProblem, scope: ProblemScope = 'exec'): void {
    this.#s.stmt('INSERT OR REPLACE INTO problems (path, code, message, at) VALUES (?, ?, ?, ?)').run(p.path, `${scope}:${p.code}`, p.message, Date.now());
  }

  /** Every scope's problems, newest first, codes without their scope. */
  problems(): (PlanProblem & { at: number })[] {
    return (this.#s.stmt('SELECT path, code, message, at FROM problems ORDER BY at DESC').all() as (PlanProblem & { at: number })[]).map((p) => ({ ...p, code: p.code.replace(/^(plan|exec|pull|scan):/, '') }));
  }
}
