// syncd's own names: which names are syncd's, and the names it makes and
// reads back (swap, trash) round-trip.

import { describe, expect, it } from 'vitest';
import { isBuiltinIgnoredName } from '../../../src/core/ignore-rules.js';
import { isOwnName, isSwapName, ROOT_MARKER, swapName, TEMP_PREFIX, TRASH_PREFIX, trashIno, trashName } from '../../../src/core/syncd-names.js';

describe('isOwnName', () => {
  const cases: { name: string; own: boolean; why: string }[] = [
    { name: ROOT_MARKER, own: true, why: 'the root marker' },
    { name: `${TEMP_PREFIX}abc-1`, own: true, why: 'a download temp file' },
    { name: `${TRASH_PREFIX}12-ab`, own: true, why: 'a file renamed aside before its delete' },
    { name: '.syncdfoo', own: true, why: 'anything beginning with .syncd is reserved' },
    { name: 'syncd', own: false, why: 'no leading dot' },
    { name: '.SYNCD', own: false, why: 'the prefix is case-sensitive (as on disk)' },
    { name: 'a.syncd', own: false, why: 'the prefix must begin the name' },
    { name: swapName('report.txt', 'abc123'), own: false, why: 'a swap name is visible and synced on purpose' },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.name)}: ${c.own ? 'own' : 'not own'} (${c.why})`, () => {
      expect(isOwnName(c.name)).toBe(c.own);
      // what is syncd's is never synced; the swap name is the one visible exception
      expect(isBuiltinIgnoredName(c.name)).toBe(c.own);
    });
  }
});

describe('swap names', () => {
  const cases: { path: string; swap: boolean; why: string }[] = [
    { path: swapName('a.txt', 'n00001'), swap: true, why: 'made by swapName' },
    { path: `dir/${swapName('d', '42')}`, swap: true, why: 'in a subdirectory' },
    { path: 'a (conflicted copy dev 2026-11-21 100000).txt', swap: false, why: 'a conflicted copy is no swap' },
    { path: 'a.syncd-swapped', swap: false, why: 'needs the full infix' },
  ];
  for (const c of cases) it(`${c.path}: ${c.why}`, () => expect(isSwapName(c.path)).toBe(c.swap));
  it('keeps the original name in front, so a user can tell what it was', () => {
    expect(swapName('notes.md', 'x1').startsWith('notes.md')).toBe(true);
  });
});

describe('trash names', () => {
  const cases: { name: string; ino: number | null; why: string }[] = [
    { name: trashName(1234, 'deadbeef'), ino: 1234, why: 'made by trashName' },
    { name: trashName(0, 'x'), ino: 0, why: 'inode 0' },
    { name: `${TRASH_PREFIX}abc-1`, ino: null, why: 'no inode number' },
    { name: `${TRASH_PREFIX}12`, ino: null, why: 'no separator after the inode' },
    { name: 'x.syncd-trash-12-a', ino: null, why: 'the prefix must begin the name' },
    { name: `${TEMP_PREFIX}12-a`, ino: null, why: 'a temp file is no trash' },
  ];
  for (const c of cases) it(`${c.name}: ${c.why}`, () => expect(trashIno(c.name)).toBe(c.ino));
});
