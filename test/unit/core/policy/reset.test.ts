// Which resets keep Synced as the merge base, and how each is labelled.

import { describe, expect, it } from 'vitest';
import { distrustsSynced, resetLabel, type ResetCause } from '../../../../src/core/policy/reset.js';

const cases: { cause: ResetCause; label: string; distrust: boolean; why: string }[] = [
  { cause: { kind: 'first_sync' }, label: 'first sync', distrust: false, why: 'nothing synced yet to distrust' },
  { cause: { kind: 'gap' }, label: 'journal gap', distrust: false, why: 'the same history, some entries missed' },
  { cause: { kind: 'server', reason: 'expired' }, label: 'reset: expired', distrust: false, why: 'the same history, trimmed past our cursor' },
  { cause: { kind: 'server', reason: 'epoch' }, label: 'reset: epoch', distrust: true, why: 'the namespace was restored or re-created' },
  { cause: { kind: 'server', reason: 'invalid' }, label: 'reset: invalid', distrust: true, why: 'a foreign or tampered cursor' },
  { cause: { kind: 'server', reason: 'future' }, label: 'reset: future', distrust: true, why: 'the server is behind what we saw' },
];

describe('reset policy', () => {
  for (const c of cases) {
    it(`${c.label}: ${c.distrust ? 'drops' : 'keeps'} Synced (${c.why})`, () => {
      expect(resetLabel(c.cause)).toBe(c.label);
      expect(distrustsSynced(c.cause)).toBe(c.distrust);
    });
  }
});
