// The local trash's decisions (src/core/policy/trash.ts): what a prune
// drops, batch folder names, restore names, what a restore puts back.

import { describe, expect, it } from 'vitest';
import { entriesToRestore, restoredName, trashBatchName, trashToPrune, type TrashAge } from '../../../../src/core/policy/trash.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 5, 12, 0, 0);
const e = (id: number, daysAgo: number, size = 10): TrashAge => ({ id, deletedAt: NOW - daysAgo * DAY, size });

describe('trashToPrune', () => {
  const cases: { why: string; entries: TrashAge[]; days: number; maxBytes: number; want: number[] }[] = [
    { why: 'an empty trash prunes nothing', entries: [], days: 30, maxBytes: 0, want: [] },
    { why: 'entries younger than trashDays stay', entries: [e(1, 1), e(2, 29.9)], days: 30, maxBytes: 0, want: [] },
    { why: 'entries older than trashDays go', entries: [e(1, 31), e(2, 2), e(3, 30.01)], days: 30, maxBytes: 0, want: [1, 3] },
    { why: 'trashDays 0 means no trash: everything goes', entries: [e(1, 0), e(2, 0.001)], days: 0, maxBytes: 0, want: [1, 2] },
    { why: 'an entry from the future (clock set back) stays', entries: [e(1, -5)], days: 1, maxBytes: 0, want: [] },
    { why: 'over the size cap the oldest go first', entries: [e(1, 3, 40), e(2, 2, 40), e(3, 1, 40)], days: 30, maxBytes: 100, want: [1] },
    { why: 'exactly at the cap nothing goes', entries: [e(1, 3, 50), e(2, 2, 50)], days: 30, maxBytes: 100, want: [] },
    { why: 'a single entry larger than the cap goes, smaller older ones may stay', entries: [e(1, 3, 10), e(2, 1, 500)], days: 30, maxBytes: 100, want: [2] },
    { why: 'age and size together', entries: [e(1, 40, 1), e(2, 3, 80), e(3, 2, 80)], days: 30, maxBytes: 100, want: [1, 2] },
    { why: 'maxBytes 0 means no size cap', entries: [e(1, 1, 1e12)], days: 30, maxBytes: 0, want: [] },
    { why: 'same time: the higher id counts as newer', entries: [{ id: 1, deletedAt: NOW, size: 60 }, { id: 2, deletedAt: NOW, size: 60 }], days: 30, maxBytes: 100, want: [1] },
  ];
  for (const c of cases) {
    it(c.why, () => {
      expect(trashToPrune(c.entries, NOW, { days: c.days, maxBytes: c.maxBytes })).toEqual(c.want);
    });
  }
});

describe('trashBatchName', () => {
  it('is the UTC time to the millisecond, sortable', () => {
    expect(trashBatchName(Date.UTC(2026, 0, 2, 3, 4, 5, 6))).toBe('20260102-030405-006');
    expect(trashBatchName(Date.UTC(2026, 11, 31, 23, 59, 59, 999))).toBe('20261231-235959-999');
    expect(trashBatchName(NOW) < trashBatchName(NOW + 1)).toBe(true);
  });
});

describe('restoredName', () => {
  const cases: [string, number, string][] = [
    ['report.pdf', 0, 'report.pdf'],
    ['report.pdf', 1, 'report (restored).pdf'],
    ['report.pdf', 2, 'report (restored 2).pdf'],
    ['Makefile', 1, 'Makefile (restored)'],
    ['.bashrc', 1, '.bashrc (restored)'],
    ['a.tar.gz', 3, 'a.tar (restored 3).gz'],
  ];
  for (const [name, n, want] of cases) it(`${name} attempt ${n} → ${want}`, () => expect(restoredName(name, n)).toBe(want));
});

describe('entriesToRestore', () => {
  const v = (id: number, path: string, at: number) => ({ id, path, deletedAt: at });
  const all = [v(1, 'a.txt', 1), v(2, 'a.txt', 5), v(3, 'dir/x', 2), v(4, 'dir/sub/y', 2), v(5, 'dir/x', 3), v(6, 'dirt', 9), v(7, 'a.txt', 5)];
  const cases: { why: string; rel: string; want: number[] }[] = [
    { why: 'a file: its newest version (ties: the later id)', rel: 'a.txt', want: [7] },
    { why: 'a folder: the newest version of each file under it, not of a sibling sharing the prefix', rel: 'dir', want: [4, 5] },
    { why: 'the folder itself: the newest of everything', rel: '', want: [7, 4, 5, 6] },
    { why: 'nothing for that path', rel: 'nope', want: [] },
  ];
  for (const c of cases) it(c.why, () => expect(entriesToRestore(all, c.rel).map((e) => e.id)).toEqual(c.want));
});
