import { describe, expect, it } from 'vitest';
import { parseRange } from '../../../src/server/http/range.js';

describe('parseRange', () => {
  it.each([
    ['no header', undefined, 10, { kind: 'full' }],
    ['first bytes', 'bytes=0-3', 10, { kind: 'partial', start: 0, end: 3 }],
    ['open end', 'bytes=4-', 10, { kind: 'partial', start: 4, end: 9 }],
    ['suffix', 'bytes=-2', 10, { kind: 'partial', start: 8, end: 9 }],
    ['suffix longer than content', 'bytes=-50', 10, { kind: 'partial', start: 0, end: 9 }],
    ['end past size is clamped', 'bytes=5-99', 10, { kind: 'partial', start: 5, end: 9 }],
    ['start at size', 'bytes=10-', 10, { kind: 'unsatisfiable' }],
    ['suffix of zero', 'bytes=-0', 10, { kind: 'unsatisfiable' }],
    ['any range of empty content', 'bytes=0-0', 0, { kind: 'unsatisfiable' }],
    ['several ranges → full', 'bytes=0-1,3-4', 10, { kind: 'full' }],
    ['other unit → full', 'items=0-1', 10, { kind: 'full' }],
    ['reversed → full', 'bytes=5-2', 10, { kind: 'full' }],
    ['garbage → full', 'bytes=x-y', 10, { kind: 'full' }],
    ['bare dash → full', 'bytes=-', 10, { kind: 'full' }],
  ] as const)('%s', (_d, header, size, want) => {
    expect(parseRange(header, size)).toEqual(want);
  });
});
