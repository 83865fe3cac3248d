// Partials of downloads cut short (src/core/policy/partials.ts): which
// leftover temp files are kept, which partials stay (age, count, bytes),
// and which a download may resume from.

import { describe, expect, it } from 'vitest';
import { SINGLE_CHUNK_MAX } from '../../../../src/core/chunker.js';
import { keepsAsPartial, PARTIAL_BYTES_MAX, PARTIAL_MAX_AGE_MS, PARTIALS_MAX, partialsToKeep, resumeCandidates, type PartialFile } from '../../../../src/core/policy/partials.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const H = 3_600_000;
const MiB = 1024 * 1024;
const p = (name: string, hoursAgo: number, size = 10 * MiB): PartialFile => ({ path: `/f/${name}`, size, mtimeMs: NOW - hoursAgo * H });

describe('keepsAsPartial', () => {
  it.each([
    ['an empty temp file', 0, false],
    ['a small file, or a large one cut short in its first chunk', SINGLE_CHUNK_MAX, false],
    ['more than one chunk', SINGLE_CHUNK_MAX + 1, true],
  ])('%s', (_why, size, want) => {
    expect(keepsAsPartial(size)).toBe(want);
  });
});

describe('partialsToKeep', () => {
  const many = Array.from({ length: PARTIALS_MAX + 3 }, (_, i) => p(`n${i}`, i));
  const cases: { why: string; found: PartialFile[]; keep: string[] }[] = [
    { why: 'none', found: [], keep: [] },
    { why: 'fresh ones stay, the most recent first', found: [p('a', 2), p('b', 1)], keep: ['b', 'a'] },
    { why: 'older than 24 h goes', found: [p('a', 23), p('old', 25)], keep: ['a'] },
    { why: 'dated a day ahead or more (a clock that jumped) goes', found: [p('a', -1), p('future', -25)], keep: ['a'] },
    { why: `at most ${PARTIALS_MAX}, the most recent`, found: many, keep: many.slice(0, PARTIALS_MAX).map((x) => x.path.slice(3)) },
    { why: 'too small to be one goes', found: [p('a', 1), p('tiny', 0, SINGLE_CHUNK_MAX)], keep: ['a'] },
    {
      why: 'beside the most recent, at most the byte cap: older ones that do not fit go',
      found: [p('new', 0, 20 * 1024 * MiB), p('b', 1, PARTIAL_BYTES_MAX - 8 * MiB), p('c', 2, 10 * MiB), p('d', 3, 6 * MiB)],
      keep: ['new', 'b', 'd'],
    },
    { why: 'the most recent stays whatever its size', found: [p('huge', 0, 2 * PARTIAL_BYTES_MAX)], keep: ['huge'] },
  ];
  for (const c of cases) {
    it(c.why, () => {
      const got = partialsToKeep(c.found, NOW);
      expect(got.keep.map((x) => x.path.slice(3))).toEqual(c.keep);
      expect(got.keep.length + got.drop.length).toBe(c.found.length);
    });
  }

  it('the age limit is a day', () => {
    expect(PARTIAL_MAX_AGE_MS).toBe(24 * H);
  });
});

describe('resumeCandidates', () => {
  it('those no longer than the file, the most recent first', () => {
    expect(resumeCandidates([p('old', 5, 8 * MiB), p('long', 1, 30 * MiB), p('new', 2, 20 * MiB), p('exact', 3, 24 * MiB)], 24 * MiB)).toEqual(['/f/new', '/f/exact', '/f/old']);
  });
});
