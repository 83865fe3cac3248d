import { describe, expect, it } from 'vitest';
import { nextTrimChunk, planTrim, parsePolicyFigure, TRIM_SLICE_MS, type TrimInput } from '../../../src/server/retention.js';

const NOW = 1_000_000_000;
const DAY = 86_400;
const base = (t: Partial<TrimInput>): TrimInput => ({
  head: 100,
  floor: 1,
  policy: { maxEntries: null, maxAgeS: null },
  now: NOW,
  firstRecentSeq: null,
  devices: [],
  ...t,
});

describe('planTrim', () => {
  it.each<[string, Partial<TrimInput>, number, number]>([
    ['no policy keeps everything', {}, 1, 0],
    ['count cap', { policy: { maxEntries: 10, maxAgeS: null } }, 91, 0],
    ['count cap never lowers the floor', { floor: 95, policy: { maxEntries: 10, maxAgeS: null } }, 95, 0],
    ['age: drop what is older than the first recent entry', { policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: 60 }, 60, 0],
    ['age: everything old → floor = head + 1', { policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: null }, 101, 0],
    [
      'age: an active device at seq 40 keeps 41 on',
      { policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: 60, devices: [{ cursorSeq: 40, lastSeen: NOW - 1000 }] },
      41,
      0,
    ],
    [
      'age: an inactive device protects nothing',
      { policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: 60, devices: [{ cursorSeq: 40, lastSeen: NOW - 2 * DAY * 1000 }] },
      60,
      0,
    ],
    [
      'age: a device already behind the floor protects nothing',
      { floor: 50, policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: 60, devices: [{ cursorSeq: 10, lastSeen: NOW }] },
      60,
      0,
    ],
    [
      'count cap overrides protection and counts a miss',
      { policy: { maxEntries: 20, maxAgeS: DAY }, firstRecentSeq: 60, devices: [{ cursorSeq: 40, lastSeen: NOW }, { cursorSeq: 95, lastSeen: NOW }] },
      81,
      1,
    ],
    ['a never-seen device protects nothing', { policy: { maxEntries: null, maxAgeS: DAY }, firstRecentSeq: 70, devices: [{ cursorSeq: 5, lastSeen: null }] }, 70, 0],
    ['empty journal', { head: 0, policy: { maxEntries: 10, maxAgeS: DAY } }, 1, 0],
  ])('%s', (_d, input, floor, misses) => {
    expect(planTrim(base(input))).toEqual({ floor, misses });
  });
});

describe('parsePolicyFigure', () => {
  it.each([
    ['10', 10],
    ['0', null],
    ['off', null],
    [null, null],
    [5, 5],
  ])('%j → %j', (raw, want) => {
    expect(parsePolicyFigure(raw as string, 'x')).toBe(want);
  });
  it.each(['-1', '1.5', 'ten'])('rejects %j', (raw) => {
    expect(() => parsePolicyFigure(raw, 'x')).toThrow(RangeError);
  });
});

describe('nextTrimChunk', () => {
  it('sizes the next chunk to take about TRIM_SLICE_MS, growing at most twofold', () => {
    // 500 rows in 50 ms: 10 rows/ms, so a slice holds 100
    expect(nextTrimChunk(500, 50, 20_000)).toBe(10 * TRIM_SLICE_MS);
    // 500 rows in 1 ms would fit 5,000 in a slice, but a chunk only doubles
    expect(nextTrimChunk(500, 1, 20_000)).toBe(1000);
    expect(nextTrimChunk(500, 0, 20_000)).toBe(1000);
  });

  it('keeps within 64 rows and the store’s most', () => {
    expect(nextTrimChunk(100, 5_000, 20_000)).toBe(64);
    expect(nextTrimChunk(16_000, 1, 20_000)).toBe(20_000);
    // a store set to tiny chunks (the tests' 7) stays there
    expect(nextTrimChunk(7, 0.01, 7)).toBe(7);
    expect(nextTrimChunk(7, 500, 7)).toBe(7);
  });
});
