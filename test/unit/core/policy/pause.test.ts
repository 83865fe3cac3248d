// What `syncd resume` may lift, per pause code, folder state and --force.

import { describe, expect, it } from 'vitest';
import { resumeDecision, type ResumeDecision } from '../../../../src/core/policy/pause.js';

const cases: { code: string | null; force: boolean; entries: string[] | null; want: ResumeDecision; why: string }[] = [
  { code: 'root_missing', force: false, entries: null, want: { ok: false, folder: 'missing' }, why: 'the folder is still gone' },
  { code: 'root_empty', force: false, entries: [], want: { ok: false, folder: 'empty' }, why: 'nothing in the folder' },
  { code: 'root_empty', force: false, entries: ['.syncd', '.syncd-tmp-1'], want: { ok: false, folder: 'empty' }, why: "only syncd's own names count as empty" },
  { code: 'root_missing', force: false, entries: ['a.txt'], want: { ok: true, allowDeletes: false }, why: 'the folder is back' },
  { code: 'root_empty', force: true, entries: [], want: { ok: true, allowDeletes: false }, why: '--force: emptied on purpose; the mass-delete guard still applies' },
  { code: 'mass_delete', force: false, entries: [], want: { ok: true, allowDeletes: true }, why: 'answering the mass-delete question lets the deletions through once' },
  { code: 'user', force: false, entries: null, want: { ok: true, allowDeletes: false }, why: "a user's pause is lifted whatever the folder" },
  { code: null, force: false, entries: null, want: { ok: true, allowDeletes: false }, why: 'not paused at all' },
];

describe('resumeDecision', () => {
  for (const c of cases) {
    it(`${c.code ?? 'no pause'}${c.force ? ' --force' : ''}, folder ${c.entries === null ? 'missing' : JSON.stringify(c.entries)}: ${c.why}`, () => {
      expect(resumeDecision(c.code, c.force, () => c.entries)).toEqual(c.want);
    });
  }
  it('does not look at the folder unless a root guard paused', () => {
    const look = () => {
      throw new Error('looked');
    };
    expect(resumeDecision('mass_delete', false, look)).toEqual({ ok: true, allowDeletes: true });
    expect(resumeDecision('root_empty', true, look)).toEqual({ ok: true, allowDeletes: false });
  });
});
