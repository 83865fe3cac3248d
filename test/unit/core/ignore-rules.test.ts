// Built-in ignores: syncd's own names, editor temp files and OS litter are
// never synced, in either direction; ordinary names are.

import { describe, expect, it } from 'vitest';
import { isBuiltinIgnoredName, isBuiltinIgnoredPath } from '../../../src/core/ignore-rules.js';

describe('isBuiltinIgnoredName', () => {
  const cases: { name: string; ignored: boolean; why: string }[] = [
    { name: '.syncd', ignored: true, why: "syncd's root marker" },
    { name: '.syncd-tmp-abc', ignored: true, why: 'a download temp file' },
    { name: '.DS_Store', ignored: true, why: 'macOS folder metadata' },
    { name: 'Thumbs.db', ignored: true, why: 'Windows thumbnails' },
    { name: 'THUMBS.DB', ignored: true, why: 'Windows names match in any case' },
    { name: 'Desktop.ini', ignored: true, why: 'Windows folder settings' },
    { name: '.notes.txt.swp', ignored: true, why: 'vim swap' },
    { name: 'notes.txt.swx', ignored: true, why: 'vim swap, other form' },
    { name: 'notes.txt~', ignored: true, why: 'editor backup' },
    { name: '.#notes.txt', ignored: true, why: 'emacs lock' },
    { name: '#notes.txt#', ignored: true, why: 'emacs autosave' },
    { name: '~$report.docx', ignored: true, why: 'Office owner file' },
    { name: '.~lock.report.odt#', ignored: true, why: 'LibreOffice lock' },
    { name: '.goutputstream-XYZ123', ignored: true, why: 'GTK atomic save' },
    { name: 'notes.txt', ignored: false, why: 'an ordinary file' },
    { name: '.bashrc', ignored: false, why: 'a dotfile' },
    { name: 'my.syncd', ignored: false, why: '.syncd only at the start of a name' },
    { name: '.ds_store', ignored: false, why: '.DS_Store matches in its own case only' },
    { name: 'swap.sw', ignored: false, why: 'not a vim swap suffix' },
    { name: 'report.syncd-swap-abc123', ignored: false, why: 'a swap name is visible and synced' },
  ];
  for (const c of cases) it(`${c.name}: ${c.why}`, () => expect(isBuiltinIgnoredName(c.name)).toBe(c.ignored));
});

describe('isBuiltinIgnoredPath', () => {
  const cases: { path: string; ignored: boolean; why: string }[] = [
    { path: 'a/b/c.txt', ignored: false, why: 'no ignored segment' },
    { path: 'a/.DS_Store', ignored: true, why: 'the last segment' },
    { path: '.syncd-tmp-x/inner.txt', ignored: true, why: 'anything below an ignored name' },
    { path: 'a/notes~/b', ignored: true, why: 'a middle segment' },
  ];
  for (const c of cases) it(`${c.path}: ${c.why}`, () => expect(isBuiltinIgnoredPath(c.path)).toBe(c.ignored));
});
