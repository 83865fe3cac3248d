import { describe, expect, it } from 'vitest';
import { checkName, checkNewName, isSha256Hex, nameKey } from '../../../src/protocol/names.js';

describe('checkName', () => {
  it.each([
    ['plain', 'report.pdf', 'report.pdf'],
    ['NFD is stored as NFC', 'cafe\u0301', 'caf\u00e9'],
    ['spaces and dots inside', ' a . b ', ' a . b '],
    ['leading dot', '.hidden', '.hidden'],
    ['three dots', '...', '...'],
    ['emoji (astral plane)', '📁 files', '📁 files'],
    ['255 ASCII bytes', 'a'.repeat(255), 'a'.repeat(255)],
    ['255 bytes of 3-byte chars', '€'.repeat(85), '€'.repeat(85)],
    ['backslash is a name char', 'a\\b', 'a\\b'],
  ])('accepts %s', (_d, raw, want) => {
    expect(checkName(raw)).toEqual({ ok: true, name: want });
  });

  it.each([
    ['empty', ''],
    ['dot', '.'],
    ['dot-dot', '..'],
    ['slash', 'a/b'],
    ['NUL', 'a\u0000b'],
    ['newline', 'a\nb'],
    ['unit separator U+001F', 'a\u001fb'],
    ['DEL U+007F', 'a\u007fb'],
    ['256 ASCII bytes', 'a'.repeat(256)],
    ['256 bytes of 2-byte chars', 'é'.repeat(128)],
    ['lone high surrogate', 'a\ud800b'],
    ['lone low surrogate', '\udc00'],
    ['not a string', 42],
    ['null', null],
  ])('rejects %s', (_d, raw) => {
    const r = checkName(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason.length).toBeGreaterThan(0);
  });

  it('measures the byte limit on the NFC form', () => {
    // 127 × "e + combining acute" is 381 bytes in NFD but 254 in NFC
    const nfd = 'e\u0301'.repeat(127);
    expect(Buffer.byteLength(nfd)).toBe(381);
    expect(checkName(nfd)).toEqual({ ok: true, name: 'é'.repeat(127) });
  });
});

describe('nameKey', () => {
  it.each([
    ['case twins', 'Foo.TXT', 'foo.txt'],
    ['NFC/NFD twins', 'caf\u00e9', 'cafe\u0301'],
    ['ß and ss', 'straße', 'STRASSE'],
    ['final sigma', 'ΣΊΣΥΦΟΣ', 'σίσυφος'],
    ['ligature fi', 'ﬁle', 'FILE'],
    ['case + normalization', 'CAFE\u0301', 'caf\u00e9'],
  ])('gives %s the same key', (_d, a, b) => {
    expect(nameKey(a)).toBe(nameKey(b));
  });

  it.each([
    ['different letters', 'a', 'b'],
    ['accent matters', 'cafe', 'café'],
    ['trailing space matters', 'a', 'a '],
  ])('keeps %s apart', (_d, a, b) => {
    expect(nameKey(a)).not.toBe(nameKey(b));
  });
});

describe('isSha256Hex', () => {
  it.each([
    ['lowercase 64 hex', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', true],
    ['uppercase', 'E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855', false],
    ['63 chars', 'a'.repeat(63), false],
    ['65 chars', 'a'.repeat(65), false],
    ['non-hex', 'g'.repeat(64), false],
    ['number', 5, false],
  ])('%s → %s', (_d, v, want) => {
    expect(isSha256Hex(v)).toBe(want);
  });
});

describe('checkNewName: no bidirectional controls in new names', () => {
  const cases = [
    { desc: 'right-to-left override (Trojan Source)', name: 'report\u202Egpj.exe', ok: false },
    { desc: 'left-to-right mark', name: 'a\u200Eb', ok: false },
    { desc: 'right-to-left isolate', name: '\u2067x', ok: false },
    { desc: 'Arabic letter mark', name: 'x\u061Cy', ok: false },
    { desc: 'plain right-to-left text is fine', name: 'מסמך.txt', ok: true },
    { desc: 'an ordinary name', name: 'notes.md', ok: true },
    { desc: 'still applies the base rules', name: 'a/b', ok: false },
  ];
  for (const c of cases) {
    it(c.desc, () => {
      expect(checkNewName(c.name).ok).toBe(c.ok);
      // stored names stay readable to clients: the base rule does not look at bidi
      if (c.name !== 'a/b') expect(checkName(c.name).ok).toBe(true);
    });
  }
});
