// The folder watcher on a real folder: every change is reported as a dirty
// path (possibly more than needed, never fewer), one watch per directory,
// renamed directories keep reporting under their new name, symlinks are
// never followed, and a refused watch reaches the engine's fallback.

import { appendFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, watch as fsWatch, writeFileSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DirWatcher, type DirWatcherOptions } from '../../../../src/client/disk/watcher.js';

const linux = process.platform === 'linux';
const started: DirWatcher[] = [];

afterEach(async () => {
  for (const w of started.splice(0)) await w.close();
});

interface Probe {
  root: string;
  w: DirWatcher;
  /** every dirty path reported so far, in order */
  seen: string[];
  errors: unknown[];
  /** forget what was seen */
  reset(): void;
  /** waits until `rel` has been reported */
  saw(rel: string, timeoutMs?: number): Promise<void>;
  /** waits a little and returns what was reported meanwhile */
  quiet(ms?: number): Promise<string[]>;
}

async function until(cond: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function watchFolder(setup: (root: string) => void = () => {}, opts: Partial<DirWatcherOptions> = {}): Promise<Probe> {
  const root = mkdtempSync(join(tmpdir(), 'syncd-dirw-'));
  setup(root);
  const seen: string[] = [];
  const errors: unknown[] = [];
  const w = new DirWatcher({ root, onDirty: (rel) => seen.push(rel), onError: (err) => errors.push(err), recursive: false, detachGraceMs: 20, ...opts });
  started.push(w);
  await w.ready;
  return {
    root, w, seen, errors,
    reset: () => void seen.splice(0),
    saw: (rel, timeoutMs) => until(() => seen.includes(rel), `a hint for "${rel}" (saw ${JSON.stringify(seen.slice(-20))})`, timeoutMs),
    async quiet(ms = 150) {
      const from = seen.length;
      await new Promise((r) => setTimeout(r, ms));
      return seen.slice(from);
    },
  };
}

/** inotify watches this process holds (Linux) */
function inotifyWatches(): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      n += readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').split('\n').filter((l) => l.startsWith('inotify wd:')).length;
    } catch {}
  }
  return n;
}

describe.runIf(linux)('DirWatcher, one watch per directory', () => {
  it('watches directories, not files: 20 directories of 50 files are 21 watches', async () => {
    const before = inotifyWatches();
    const p = await watchFolder((root) => {
      for (let d = 0; d < 20; d++) {
        mkdirSync(join(root, `d${d}`));
        for (let f = 0; f < 50; f++) writeFileSync(join(root, `d${d}`, `f${f}.txt`), 'x');
      }
    });
    expect(p.w.watchedDirs).toBe(21);
    expect(inotifyWatches() - before).toBe(21);
    expect(p.seen).toEqual([]); // the initial walk reports nothing: the engine's first scan does
  });

  it.each([
    { what: 'a new file in the root', act: (r: string) => writeFileSync(join(r, 'new.txt'), 'n'), hint: 'new.txt' },
    { what: 'a new file in a subdirectory', act: (r: string) => writeFileSync(join(r, 'sub', 'new.txt'), 'n'), hint: 'sub/new.txt' },
    { what: 'a content change', act: (r: string) => appendFileSync(join(r, 'sub', 'old.txt'), 'more'), hint: 'sub/old.txt' },
    { what: 'a metadata change (chmod)', act: (r: string) => writeFileSync(join(r, 'sub', 'old.txt'), 'o', { mode: 0o755, flag: 'r+' }), hint: 'sub/old.txt' },
    { what: 'a delete', act: (r: string) => unlinkSync(join(r, 'sub', 'old.txt')), hint: 'sub/old.txt' },
    { what: 'a file rename (both names)', act: (r: string) => renameSync(join(r, 'sub', 'old.txt'), join(r, 'moved.txt')), hint: 'moved.txt', also: 'sub/old.txt' },
    { what: 'a new symlink', act: (r: string) => symlinkSync('sub/old.txt', join(r, 'link')), hint: 'link' },
    { what: 'a deleted directory', act: (r: string) => rmSync(join(r, 'sub'), { recursive: true }), hint: 'sub', also: 'sub/old.txt' },
  ])('reports $what', async ({ act, hint, also }) => {
    const p = await watchFolder((root) => {
      mkdirSync(join(root, 'sub'));
      writeFileSync(join(root, 'sub', 'old.txt'), 'o');
    });
    act(p.root);
    await p.saw(hint);
    if (also) await p.saw(also);
  });

  it('never reports syncd\'s own names, and does not watch .syncd directories', async () => {
    const p = await watchFolder((root) => mkdirSync(join(root, '.syncd-stage')));
    expect(p.w.watchedDirs).toBe(1);
    writeFileSync(join(p.root, '.syncd'), 'marker');
    writeFileSync(join(p.root, '.syncd-tmp-123'), 'temp');
    renameSync(join(p.root, '.syncd-tmp-123'), join(p.root, 'placed.txt'));
    mkdirSync(join(p.root, '.syncd-new'));
    writeFileSync(join(p.root, '.syncd-new', 'x'), 'x');
    writeFileSync(join(p.root, '.syncd-stage', 'y'), 'y');
    await p.saw('placed.txt');
    await p.quiet(100);
    expect(p.seen.filter((s) => s.split('/').some((seg) => seg.startsWith('.syncd')))).toEqual([]);
    expect(p.w.watchedDirs).toBe(1);
  });

  it('a new directory is watched: a file created in it later is reported', async () => {
    const p = await watchFolder();
    mkdirSync(join(p.root, 'fresh'));
    await p.saw('fresh');
    await until(() => p.w.watchedDirs === 2, 'the new watch');
    writeFileSync(join(p.root, 'fresh', 'later.txt'), 'l');
    await p.saw('fresh/later.txt');
  });

  it('nested directories created at once: every file in them is reported, and later ones too', async () => {
    const p = await watchFolder();
    // no pause between the steps: the deeper directories exist before their watches do
    mkdirSync(join(p.root, 'a', 'b', 'c'), { recursive: true });
    writeFileSync(join(p.root, 'a', 'top.txt'), '1');
    writeFileSync(join(p.root, 'a', 'b', 'mid.txt'), '2');
    writeFileSync(join(p.root, 'a', 'b', 'c', 'deep.txt'), '3');
    mkdirSync(join(p.root, 'a', 'b', 'c', 'd'));
    writeFileSync(join(p.root, 'a', 'b', 'c', 'd', 'deeper.txt'), '4');
    for (const rel of ['a', 'a/top.txt', 'a/b/mid.txt', 'a/b/c/deep.txt', 'a/b/c/d/deeper.txt']) await p.saw(rel);
    await until(() => p.w.watchedDirs === 5, 'watches on a, b, c, d');
    p.reset();
    writeFileSync(join(p.root, 'a', 'b', 'c', 'd', 'after.txt'), '5');
    await p.saw('a/b/c/d/after.txt');
  });

  it('a directory moved in from outside is watched, and its contents are reported', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'syncd-dirw-out-'));
    mkdirSync(join(outside, 'pack', 'inner'), { recursive: true });
    writeFileSync(join(outside, 'pack', 'inner', 'f.txt'), 'f');
    const p = await watchFolder();
    renameSync(join(outside, 'pack'), join(p.root, 'pack'));
    await p.saw('pack/inner/f.txt');
    await until(() => p.w.watchedDirs === 3, 'watches on pack and pack/inner');
    appendFileSync(join(p.root, 'pack', 'inner', 'f.txt'), 'g');
    await p.saw('pack/inner/f.txt');
  });

  it('a renamed directory reports an edit inside it under the NEW name, without re-watching', async () => {
    const p = await watchFolder((root) => {
      mkdirSync(join(root, 'photos', 'raw'), { recursive: true });
      writeFileSync(join(root, 'photos', 'a.jpg'), 'a');
      writeFileSync(join(root, 'photos', 'raw', 'b.cr2'), 'b');
    });
    const watches = inotifyWatches();
    renameSync(join(p.root, 'photos'), join(p.root, 'album'));
    await p.saw('photos');
    await p.saw('album');
    await p.quiet(30);
    expect(p.seen).not.toContain(''); // an ordinary rename never asks for a full scan
    p.reset();
    appendFileSync(join(p.root, 'album', 'a.jpg'), 'edit');
    appendFileSync(join(p.root, 'album', 'raw', 'b.cr2'), 'edit');
    writeFileSync(join(p.root, 'album', 'raw', 'c.cr2'), 'new');
    for (const rel of ['album/a.jpg', 'album/raw/b.cr2', 'album/raw/c.cr2']) await p.saw(rel);
    await p.quiet(60); // past the grace period: the watches were moved, not closed
    expect(p.seen.filter((s) => s.startsWith('photos'))).toEqual([]);
    expect(p.w.watchedDirs).toBe(3);
    expect(inotifyWatches()).toBe(watches);
  });

  it('a directory renamed twice, and into another watched directory, keeps reporting', async () => {
    const p = await watchFolder((root) => {
      mkdirSync(join(root, 'x'));
      mkdirSync(join(root, 'dest'));
    });
    renameSync(join(p.root, 'x'), join(p.root, 'y'));
    renameSync(join(p.root, 'y'), join(p.root, 'dest', 'z'));
    await p.saw('dest/z');
    p.reset();
    writeFileSync(join(p.root, 'dest', 'z', 'in.txt'), 'i');
    await p.saw('dest/z/in.txt');
    expect(p.seen.filter((s) => !s.startsWith('dest/z'))).toEqual([]);
  });

  it('a directory renamed over another one: the new one takes the name, the old one\'s watch closes', async () => {
    const p = await watchFolder((root) => {
      mkdirSync(join(root, 'src'));
      mkdirSync(join(root, 'dst'));
    });
    renameSync(join(p.root, 'src'), join(p.root, 'dst')); // dst is empty: replaced
    await p.saw('dst');
    await p.quiet(60);
    expect(p.w.watchedDirs).toBe(2);
    writeFileSync(join(p.root, 'dst', 'f.txt'), 'f');
    await p.saw('dst/f.txt');
  });

  it('a directory replaced by a file, and a directory moved out of the folder: their watches close', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'syncd-dirw-out-'));
    const p = await watchFolder((root) => {
      mkdirSync(join(root, 'swap'));
      mkdirSync(join(root, 'leaving', 'sub'), { recursive: true });
    });
    const before = inotifyWatches();
    rmSync(join(p.root, 'swap'), { recursive: true });
    writeFileSync(join(p.root, 'swap'), 'now a file');
    renameSync(join(p.root, 'leaving'), join(outside, 'gone'));
    await p.saw('swap');
    await p.saw('leaving');
    await until(() => p.w.watchedDirs === 1, 'only the root watched');
    expect(inotifyWatches()).toBe(before - 3);
    p.reset();
    writeFileSync(join(outside, 'gone', 'sub', 'after.txt'), 'not ours');
    expect(await p.quiet(100)).toEqual([]);
  });

  it('a directory moved out and back in within the grace period is still watched; what changed outside asks for a full scan', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'syncd-dirw-out-'));
    const p = await watchFolder((root) => mkdirSync(join(root, 'boomerang')), { detachGraceMs: 2000 });
    renameSync(join(p.root, 'boomerang'), join(outside, 'b'));
    await p.saw('boomerang');
    writeFileSync(join(outside, 'b', 'written-outside.txt'), 'w');
    await new Promise((r) => setTimeout(r, 50));
    expect(p.seen).not.toContain('');
    renameSync(join(outside, 'b'), join(p.root, 'back'));
    await p.saw('back');
    await p.saw('');
    writeFileSync(join(p.root, 'back', 'f.txt'), 'f');
    await p.saw('back/f.txt');
    expect(p.w.watchedDirs).toBe(2);
  });

  it('never follows a symlink to a directory', async () => {
    const outside = mkdtempSync(join(tmpdir(), 'syncd-dirw-out-'));
    mkdirSync(join(outside, 'target'));
    const p = await watchFolder((root) => symlinkSync(join(outside, 'target'), join(root, 'old-link')));
    expect(p.w.watchedDirs).toBe(1);
    symlinkSync(join(outside, 'target'), join(p.root, 'new-link'));
    await p.saw('new-link');
    await p.quiet(50);
    p.reset();
    writeFileSync(join(outside, 'target', 'secret.txt'), 's');
    expect(await p.quiet(100)).toEqual([]);
    expect(p.w.watchedDirs).toBe(1);
  });

  it('a deleted tree of directories closes all its watches', async () => {
    const p = await watchFolder((root) => {
      for (let i = 0; i < 5; i++) mkdirSync(join(root, 't', `d${i}`, 'e'), { recursive: true });
    });
    expect(p.w.watchedDirs).toBe(12);
    rmSync(join(p.root, 't'), { recursive: true });
    await p.saw('t');
    await until(() => p.w.watchedDirs === 1, 'only the root watched');
  });

  it('the root itself renamed away: reports the whole folder', async () => {
    const p = await watchFolder();
    renameSync(p.root, `${p.root}-moved`);
    await p.saw('');
  });

  it('close() stops all reports', async () => {
    const p = await watchFolder((root) => mkdirSync(join(root, 'd')));
    await p.w.close();
    writeFileSync(join(p.root, 'd', 'x'), 'x');
    expect(await p.quiet(80)).toEqual([]);
  });
});

describe('DirWatcher when the OS refuses watches', () => {
  /** fs.watch that throws ENOSPC from the `n`th call on (the inotify limit) */
  const refusingAfter = (n: number) => {
    let calls = 0;
    return ((...args: Parameters<typeof fsWatch>) => {
      if (++calls > n) throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      return (fsWatch as (...a: unknown[]) => ReturnType<typeof fsWatch>)(...args);
    }) as typeof fsWatch;
  };

  it.runIf(linux)('at start: reports ENOSPC once, stops adding watches, and ready still resolves', async () => {
    const p = await watchFolder((root) => {
      for (let i = 0; i < 10; i++) mkdirSync(join(root, `d${i}`));
    }, { watch: refusingAfter(4) });
    expect(p.errors.map((e) => (e as NodeJS.ErrnoException).code)).toEqual(['ENOSPC']);
    expect(p.w.watchedDirs).toBe(4);
  });

  it.runIf(linux)('for a new directory: reports ENOSPC (the engine falls back to scanning)', async () => {
    const p = await watchFolder(() => {}, { watch: refusingAfter(1) });
    expect(p.errors).toEqual([]);
    mkdirSync(join(p.root, 'one-too-many'));
    await p.saw('one-too-many');
    await until(() => p.errors.length === 1, 'the error');
    expect((p.errors[0] as NodeJS.ErrnoException).code).toBe('ENOSPC');
    mkdirSync(join(p.root, 'and-another'));
    await p.saw('and-another');
    expect(p.errors).toHaveLength(1);
  });

  it('an error a watcher emits later reaches onError', async () => {
    const fake = new EventEmitter() as EventEmitter & { close(): void };
    fake.close = () => {};
    const p = await watchFolder(() => {}, { watch: (() => fake) as unknown as typeof fsWatch });
    fake.emit('error', Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' }));
    expect((p.errors[0] as NodeJS.ErrnoException).code).toBe('EMFILE');
  });
});

describe('DirWatcher, one recursive watch (macOS, Windows)', () => {
  it('maps the OS\'s relative names to dirty paths, skips syncd\'s names, and asks for a full scan on a nameless event', async () => {
    let listener: ((event: string, name: string | null) => void) | null = null;
    const calls: unknown[] = [];
    const fake = Object.assign(new EventEmitter(), { close() {} });
    const watch = ((path: string, opts: unknown, l: typeof listener) => {
      calls.push({ path, opts });
      listener = l;
      return fake;
    }) as unknown as typeof fsWatch;
    const p = await watchFolder(() => {}, { recursive: true, watch });
    expect(calls).toEqual([{ path: p.root, opts: { recursive: true, persistent: true } }]);
    for (const name of ['a.txt', join('dir', 'sub', 'b.txt'), '.syncd-tmp-1', join('dir', '.syncd-tmp-2'), join('.syncd-x', 'c')]) listener!('rename', name);
    listener!('change', null);
    expect(p.seen).toEqual(['a.txt', 'dir/sub/b.txt', '']);
  });
});
