// `syncd conflicts --keep`: resolves conflicted copies through checked
// operations. A copy or original that changed since syncd last saw it (its
// Local entry) is left alone and reported, never deleted or replaced.

import { mkdirSync, mkdtempSync, readFileSync, existsSync, rmSync, writeFileSync, utimesSync, lstatSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { runConflicts } from '../../../src/cli/client-commands.js';
import { folderStatePaths } from '../../../src/client/state/paths.js';
import { StateDB } from '../../../src/client/state/db.js';
import type { LocalEntry } from '../../../src/core/local.js';

let base: string;
let folder: string;
let prevEnv: string | undefined;
let out: string[];
let err: string[];

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'syncd-keep-'));
  folder = join(base, 'folder');
  mkdirSync(folder);
  prevEnv = process.env.SYNCD_STATE_DIR;
  process.env.SYNCD_STATE_DIR = join(base, 'state');
  out = [];
  err = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  process.exitCode = undefined;
});

afterEach(() => {
  vi.restoreAllMocks();
  if (prevEnv === undefined) delete process.env.SYNCD_STATE_DIR;
  else process.env.SYNCD_STATE_DIR = prevEnv;
  process.exitCode = undefined;
  rmSync(base, { recursive: true, force: true });
});

const COPY = 'plan (conflicted copy dev 2026-11-21 100000).txt';

/** Writes a file and records it in Local as syncd saw it. */
function seen(db: StateDB, rel: string, content: string): void {
  writeFileSync(join(folder, rel), content);
  const st = lstatSync(join(folder, rel));
  const e: LocalEntry = { path: rel, diskPath: rel, kind: 'file', size: st.size, mtimeMs: st.mtimeMs, ino: st.ino, hash: null, exec: false, target: null };
  db.putLocal(e);
}

/** A folder with plan.txt and its conflicted copy, both as syncd last saw them. */
function setup(): void {
  mkdirSync(join(base, 'state'), { recursive: true });
  const paths = folderStatePaths(folder);
  mkdirSync(join(paths.db, '..'), { recursive: true });
  const db = new StateDB(paths.db);
  seen(db, 'plan.txt', 'remote version');
  seen(db, COPY, 'local version');
  db.addConflict(COPY, 'plan.txt', 'both sides changed this file');
  db.close();
}

/** Changes a file behind syncd's back (new size and mtime, same inode). */
function edit(rel: string, content: string): void {
  writeFileSync(join(folder, rel), content);
  const t = new Date(Date.now() + 5000);
  utimesSync(join(folder, rel), t, t);
}

const read = (rel: string) => readFileSync(join(folder, rel), 'utf8');

describe('conflicts --keep', () => {
  const cases: { name: string; keep: 'local' | 'remote'; change?: string; want: Record<string, string | null>; resolved: boolean }[] = [
    { name: 'remote: the unchanged copy is deleted', keep: 'remote', want: { 'plan.txt': 'remote version', [COPY]: null }, resolved: true },
    { name: 'local: the unchanged copy replaces the unchanged original', keep: 'local', want: { 'plan.txt': 'local version', [COPY]: null }, resolved: true },
    { name: 'remote: a copy edited since syncd saw it is left alone', keep: 'remote', change: COPY, want: { 'plan.txt': 'remote version', [COPY]: 'local version, edited again' }, resolved: false },
    { name: 'local: a copy edited since syncd saw it is left alone', keep: 'local', change: COPY, want: { 'plan.txt': 'remote version', [COPY]: 'local version, edited again' }, resolved: false },
    { name: 'local: an original edited since syncd saw it is not replaced', keep: 'local', change: 'plan.txt', want: { 'plan.txt': 'local version, edited again', [COPY]: 'local version' }, resolved: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      setup();
      if (c.change) edit(c.change, 'local version, edited again');
      await runConflicts(folder, { keep: c.keep });
      for (const [rel, content] of Object.entries(c.want)) {
        if (content === null) expect(existsSync(join(folder, rel)), rel).toBe(false);
        else expect(read(rel), rel).toBe(content);
      }
      const db = new StateDB(folderStatePaths(folder).db);
      expect(db.conflicts().map((x) => x.path)).toEqual(c.resolved ? [] : [COPY]);
      db.close();
      if (c.resolved) expect(process.exitCode ?? 0).toBe(0);
      else {
        expect(process.exitCode).toBe(1);
        expect(err.join('')).toMatch(/changed since syncd last saw it/);
      }
    });
  }

  describe('a directory copy, keeping the remote version', () => {
    const DIR = 'd (conflicted copy dev 2026-11-21 100000)';
    const setupDir = (): void => {
      const db = new StateDB(folderStatePaths(folder).db);
      mkdirSync(join(folder, DIR));
      const st = lstatSync(join(folder, DIR));
      db.putLocal({ path: DIR, diskPath: DIR, kind: 'dir', size: null, mtimeMs: st.mtimeMs, ino: st.ino, hash: null, exec: false, target: null });
      seen(db, `${DIR}/a.txt`, 'A');
      db.addConflict(DIR, 'd', 'the server has a different item at this path');
      db.close();
    };
    it('is deleted with what syncd has seen in it', async () => {
      setupDir();
      await runConflicts(folder, { keep: 'remote' });
      expect(existsSync(join(folder, DIR))).toBe(false);
      expect(process.exitCode ?? 0).toBe(0);
    });
    it('is left whole when it holds a file syncd has not seen', async () => {
      setupDir();
      writeFileSync(join(folder, DIR, 'new.txt'), 'written after the last scan');
      await runConflicts(folder, { keep: 'remote' });
      expect(read(`${DIR}/new.txt`)).toBe('written after the last scan');
      expect(read(`${DIR}/a.txt`)).toBe('A');
      expect(process.exitCode).toBe(1);
      expect(err.join('')).toMatch(/has not been seen by syncd yet/);
    });
  });
});

describe('conflicts --keep and the local trash', () => {
  for (const keep of ['remote', 'local'] as const) {
    const loser = keep === 'remote' ? 'local version' : 'remote version';
    it(`keep ${keep}: the version not kept (${loser}) goes to the trash, reason conflict`, async () => {
      setup();
      await runConflicts(folder, { keep });
      const db = new StateDB(folderStatePaths(folder).db);
      const entries = db.trashEntries();
      db.close();
      expect(entries).toMatchObject([{ path: keep === 'remote' ? COPY : 'plan.txt', reason: 'conflict', size: loser.length }]);
      expect(read(entries[0]!.stored)).toBe(loser);
      expect(read('plan.txt')).toBe(keep === 'remote' ? 'remote version' : 'local version');
      expect(existsSync(join(folder, COPY))).toBe(false);
    });
  }

  it('with trashDays 0 the version not kept is unlinked, as before', async () => {
    setup();
    process.env.SYNCD_TRASH_DAYS = '0';
    try {
      await runConflicts(folder, { keep: 'remote' });
    } finally {
      delete process.env.SYNCD_TRASH_DAYS;
    }
    expect(existsSync(join(folder, '.syncd-trash'))).toBe(false);
    expect(existsSync(join(folder, COPY))).toBe(false);
  });
});
