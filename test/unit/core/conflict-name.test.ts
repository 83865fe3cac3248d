// Conflicted-copy names: the stamp, the extension split, uniqueness among
// siblings and the 255-byte limit.

import { describe, expect, it } from 'vitest';
import { conflictedCopyName, conflictStamp, splitExt } from '../../../src/core/conflict-name.js';
import { nameKey } from '../../../src/protocol/names.js';

const NOW = Date.UTC(2026, 10, 21, 9, 5, 7);

describe('conflictStamp', () => {
  const cases: { ms: number; want: string; why: string }[] = [
    { ms: NOW, want: '2026-11-21 090507', why: 'zero-padded, UTC' },
    { ms: Date.UTC(1999, 0, 1, 23, 59, 59), want: '1999-01-01 235959', why: 'end of a day' },
    { ms: 0, want: '1970-01-01 000000', why: 'the epoch' },
  ];
  for (const c of cases) it(`${c.want}: ${c.why}`, () => expect(conflictStamp(c.ms)).toBe(c.want));
});

describe('splitExt', () => {
  const cases: { name: string; dir: boolean; want: [string, string]; why: string }[] = [
    { name: 'report.pdf', dir: false, want: ['report', '.pdf'], why: 'a plain extension' },
    { name: 'report.final.pdf', dir: false, want: ['report.final', '.pdf'], why: 'only the last dot' },
    { name: '.bashrc', dir: false, want: ['.bashrc', ''], why: 'a leading dot is no extension' },
    { name: 'trailing.', dir: false, want: ['trailing.', ''], why: 'a trailing dot is no extension' },
    { name: 'Makefile', dir: false, want: ['Makefile', ''], why: 'no dot' },
    { name: 'photos.2024', dir: true, want: ['photos.2024', ''], why: 'directories have no extension' },
  ];
  for (const c of cases) it(`${c.name}: ${c.why}`, () => expect(splitExt(c.name, c.dir)).toEqual(c.want));
});

describe('conflictedCopyName', () => {
  const cases: { name: string; dir?: boolean; device?: string; taken?: string[]; want: string; why: string }[] = [
    { name: 'plan.txt', want: 'plan (conflicted copy dev 2026-11-21 090507).txt', why: 'the tag goes before the extension' },
    { name: 'notes', dir: true, want: 'notes (conflicted copy dev 2026-11-21 090507)', why: 'a directory keeps its whole name' },
    { name: 'a.txt', device: 'lap/top\u0001', want: 'a (conflicted copy lap_top_ 2026-11-21 090507).txt', why: 'slashes and control characters in the device label are replaced' },
    { name: 'a.txt', device: '', want: 'a (conflicted copy device 2026-11-21 090507).txt', why: 'an empty device label' },
    { name: 'a.txt', taken: ['a (conflicted copy dev 2026-11-21 090507).txt'], want: 'a (conflicted copy dev 2026-11-21 090507 2).txt', why: 'a taken name gets a number' },
    { name: 'a.txt', taken: ['A (CONFLICTED COPY DEV 2026-11-21 090507).TXT', 'a (conflicted copy dev 2026-11-21 090507 2).txt'], want: 'a (conflicted copy dev 2026-11-21 090507 3).txt', why: 'taken is compared case-insensitively, and numbers go on' },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      const taken = new Set((c.taken ?? []).map(nameKey));
      expect(conflictedCopyName(c.name, c.dir ?? false, c.device ?? 'dev', NOW, taken)).toBe(c.want);
    });
  }
  it('a long name is cut (at a character boundary) to stay within 255 bytes, keeping tag and extension', () => {
    const long = `${'é'.repeat(200)}.txt`;
    const got = conflictedCopyName(long, false, 'dev', NOW, new Set());
    expect(Buffer.byteLength(got, 'utf8')).toBeLessThanOrEqual(255);
    expect(got.endsWith(' (conflicted copy dev 2026-11-21 090507).txt')).toBe(true);
    expect(got.startsWith('é')).toBe(true);
    expect(got).not.toContain('\ufffd');
  });
});
