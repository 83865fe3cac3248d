// storePage: a page with entries is one fsynced (FULL) transaction with the
// trees; an empty page only moves the cursor and the head timestamps, and is
// committed without waiting for the disk (what a power cut may lose is asked
// for again). Either way the cursor lands, and a gap still throws.

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it, vi } from 'vitest';
import { GapError, storePage } from '../../../../src/client/exec/pull.js';
import { StateDB } from '../../../../src/client/state/db.js';
import type { JournalEntry } from '../../../../src/protocol/types.js';

let db: StateDB;
afterEach(() => db?.close());

function open(): StateDB {
  db = new StateDB(join(mkdtempSync(join(tmpdir(), 'syncd-page-')), 'state.db'));
  return db;
}

const entry = (seq: number, name: string): JournalEntry => ({
  seq,
  op: 'create',
  device: 'd',
  node: { id: `n_${name}`, parent: 'root', name, kind: 'dir', rev: 1, mtime: 1, exec: false, seq },
});

it('an empty page moves the cursor in a light transaction', () => {
  const db = open();
  const full = vi.spyOn(db, 'tx');
  const light = vi.spyOn(db, 'lightTx');
  expect(storePage(db, 0, [], 'c-1', 0)).toBe(0);
  expect(db.meta.get('cursor')).toBe('c-1');
  expect(db.meta.get('cursor_seq')).toBe(0);
  expect(light).toHaveBeenCalledTimes(1);
  expect(full).not.toHaveBeenCalled();
});

it('a page with entries is a FULL transaction with the trees', () => {
  const db = open();
  const full = vi.spyOn(db, 'tx');
  const light = vi.spyOn(db, 'lightTx');
  expect(storePage(db, 0, [entry(1, 'a'), entry(2, 'b')], 'c-2', 2)).toBe(2);
  expect(db.meta.get('cursor')).toBe('c-2');
  expect(db.meta.get('cursor_seq')).toBe(2);
  expect(db.remoteRev('n_b')).toBe(1);
  expect(full).toHaveBeenCalledTimes(1);
  expect(light).not.toHaveBeenCalled();
  // a gap rolls the page back: the cursor stays
  expect(() => storePage(db, 2, [entry(4, 'c')], 'c-3', 4)).toThrow(GapError);
  expect(db.meta.get('cursor')).toBe('c-2');
  expect(db.remoteRev('n_c')).toBeNull();
});
