import { describe, expect, it } from 'vitest';
import { parseWhen } from '../../../../src/core/history/when.js';

const NOW = Date.UTC(2026, 11, 5, 14, 0, 0);
const local = (y: number, mo: number, d: number, h = 0, mi = 0, s = 0) => new Date(y, mo - 1, d, h, mi, s).getTime();

describe('parseWhen', () => {
  it.each([
    ['minutes ago', '90m', NOW - 90 * 60_000],
    ['hours ago', '2h', NOW - 2 * 3_600_000],
    ['days ago', '3d', NOW - 3 * 86_400_000],
    ['seconds ago', '45s', NOW - 45_000],
    ['weeks ago', '1w', NOW - 7 * 86_400_000],
    ['a fraction of an hour', '1.5h', NOW - 5_400_000],
    ['UTC with Z', '2026-12-01T10:30:00Z', Date.UTC(2026, 11, 1, 10, 30)],
    ['an offset', '2026-12-01T10:30+02:00', Date.UTC(2026, 11, 1, 8, 30)],
    ['an offset without colon', '2026-12-01T10:30:00+0200', Date.UTC(2026, 11, 1, 8, 30)],
    ['local time without offset', '2026-12-01T10:30', local(2026, 12, 1, 10, 30)],
    ['local time with a space and seconds', '2026-12-01 10:30:15', local(2026, 12, 1, 10, 30, 15)],
    ['a bare date is local midnight (not UTC)', '2026-12-01', local(2026, 12, 1)],
  ])('%s: %s', (_d, text, ms) => {
    expect(parseWhen(text, NOW)).toEqual({ ok: true, ms });
  });

  it.each([
    ['empty', ''],
    ['a unit only', 'h'],
    ['an unknown unit', '3y'],
    ['a negative age', '-2h'],
    ['words', 'yesterday'],
    ['a month that does not exist', '2026-13-01'],
    ['a time without date', '10:30'],
  ])('refuses %s', (_d, text) => {
    const r = parseWhen(text, NOW);
    expect(r.ok).toBe(false);
  });
});
