// Folder watching: turns OS notifications into dirty paths for the engine
// (hints, STYLE.md 10: the engine re-stats what they name).
//
// Linux: one inotify watch per DIRECTORY. A watch on a directory reports
// creates, deletes, renames, content and metadata changes of its children by
// name, so 100,000 files in 1,000 directories take 1,001 watches (chokidar
// watched every file: 101,001 watches and ~800 MiB). Elsewhere (macOS,
// Windows) one recursive watch of the root (FSEvents, ReadDirectoryChanges).
//
// An inotify watch follows the directory's inode, not its path: a renamed
// directory keeps reporting, under whatever name we give it. So directories
// are kept as a tree of {name, inode, watcher} nodes, never as path strings:
// a rename inside the folder re-hangs one node (its subtree follows, no
// watch is closed or opened), and paths are derived when an event arrives.

import { lstatSync, statSync, watch as fsWatch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { isDiskError, isWatchLimit } from './errno.js';
import { isOwnName } from '../../core/syncd-names.js';

export interface DirWatcherOptions {
  /** the synced folder (absolute) */
  root: string;
  /** a path that may have changed: relative to root, '/'-separated, '' = the whole folder */
  onDirty: (rel: string) => void;
  /** a watch failed; `code` ENOSPC or EMFILE means the OS limit (the engine falls back to scanning) */
  onError: (err: unknown) => void;
  /** one recursive watch of the root instead of one per directory (default: everywhere but Linux) */
  recursive?: boolean;
  /** `fs.watch`; tests inject failures (ENOSPC) through it */
  watch?: typeof fsWatch;
  /** how long a directory that left its place may take to reappear elsewhere (a rename) before its watches close */
  detachGraceMs?: number;
}

/** A watched directory. Its path is its parents' names: nothing to rewrite on a rename. */
interface Dir {
  name: string;
  parent: Dir | null;
  /** `dev:ino`: how a renamed directory is recognised */
  key: string;
  w: FSWatcher | null;
  children: Map<string, Dir> | null;
  /** root, or under a node that is attached */
  attached: boolean;
  /** (top of a detached subtree) an event inside it was dropped while it was away */
  lost?: boolean;
}

export class DirWatcher {
  readonly #root: string;
  readonly #rootName: string;
  readonly #onDirty: (rel: string) => void;
  readonly #onError: (err: unknown) => void;
  readonly #watch: typeof fsWatch;
  readonly #graceMs: number;
  #top: Dir | null = null;
  #recursive: FSWatcher | null = null;
  readonly #byKey = new Map<string, Dir>();
  /** directories that left their place; closed after the grace period unless re-hung */
  readonly #detached = new Set<Dir>();
  #flushTimer: NodeJS.Timeout | null = null;
  /** the OS refused a watch: add no more (the engine scans periodically instead) */
  #limited = false;
  #closed = false;
  /** resolves once the initial walk has set up every watch (never rejects) */
  readonly ready: Promise<void>;

  constructor(opts: DirWatcherOptions) {
    if (!opts.root) throw new TypeError('DirWatcher: root is required');
    this.#root = opts.root;
    this.#rootName = basename(opts.root);
    this.#onDirty = opts.onDirty;
    this.#onError = opts.onError;
    this.#watch = opts.watch ?? fsWatch;
    this.#graceMs = opts.detachGraceMs ?? 50;
    const recursive = opts.recursive ?? process.platform !== 'linux';
    this.ready = (recursive ? this.#startRecursive() : this.#startPerDir()).catch((err) => this.#fail(err));
  }

  /** Directories watched one by one (0 in recursive mode). */
  get watchedDirs(): number {
    return this.#byKey.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#flushTimer) clearTimeout(this.#flushTimer);
    this.#recursive?.close();
    this.#recursive = null;
    for (const d of this.#byKey.values()) d.w?.close();
    this.#byKey.clear();
    this.#detached.clear();
    this.#top = null;
  }

  // ---- recursive (macOS, Windows) ----------------------------------------

  async #startRecursive(): Promise<void> {
    const w = this.#watch(this.#root, { recursive: true, persistent: true }, (_event, name) => {
      if (this.#closed) return;
      // no name: the OS lost track (e.g. an overflow); only a full scan knows
      if (name === null || name === undefined) return this.#onDirty('');
      const rel = String(name).split(sep).join('/');
      if (rel.split('/').some(isOwnName)) return;
      this.#onDirty(rel);
    });
    w.on('error', (err) => this.#fail(err));
    this.#recursive = w;
  }

  // ---- one watch per directory (Linux) -----------------------------------

  async #startPerDir(): Promise<void> {
    const key = rootKey(this.#root);
    if (key === null) throw Object.assign(new Error(`cannot watch ${this.#root}: not a directory`), { code: 'ENOTDIR' });
    const top: Dir = { name: '', parent: null, key, w: null, children: null, attached: true };
    this.#install(top, this.#root);
    if (!top.w) return;
    this.#top = top;
    this.#byKey.set(top.key, top);
    await this.#walk(top, false);
  }

  /** Watches every directory below `from` (itself already watched); `hint`: report what is found. */
  async #walk(from: Dir, hint: boolean): Promise<void> {
    const queue: Dir[] = [from];
    for (let d = queue.shift(); d; d = queue.shift()) {
      if (this.#closed || this.#limited) return;
      const rel = relOf(d);
      if (rel === null) continue; // moved out of the folder meanwhile
      let entries: import('node:fs').Dirent[];
      try {
        entries = await readdir(this.#abs(rel), { withFileTypes: true });
      } catch {
        continue; // gone or unreadable: the parent's watch and the scanner report it
      }
      if (this.#closed) return;
      const now = relOf(d);
      if (now === null) continue;
      for (const e of entries) {
        if (isOwnName(e.name)) continue;
        const childRel = join2(now, e.name);
        if (hint) this.#onDirty(childRel);
        // a Dirent's type is the entry's own (lstat): a symlink is never a directory here
        if (e.isDirectory()) {
          const c = this.#add(d, e.name, childRel);
          if (c) queue.push(c);
        }
      }
    }
  }

  /**
   * Watches the directory `name` under `parent` if it is one and not yet
   * watched; returns the new node (its children are not looked at).
   */
  #add(parent: Dir, name: string, rel: string): Dir | null {
    if (this.#limited || this.#closed) return null;
    const abs = this.#abs(rel);
    const key = dirKey(abs);
    if (key === null || parent.children?.has(name)) return null;
    const known = this.#byKey.get(key);
    if (known) {
      // moved here from a place that was given up (e.g. out and back in):
      // its watches are still live, re-hang it
      if (!known.attached && known !== this.#top && !within(parent, known)) this.#attach(known, parent, name);
      return null;
    }
    const d: Dir = { name, parent, key, w: null, children: null, attached: true };
    this.#install(d, abs);
    if (!d.w) return null;
    // fs.watch follows symlinks: if the directory was swapped for one
    // between the lstat and the watch, this watch is not ours to keep
    if (dirKey(abs) !== key) {
      d.w.close();
      return null;
    }
    (parent.children ??= new Map()).set(name, d);
    this.#byKey.set(key, d);
    return d;
  }

  #install(d: Dir, abs: string): void {
    try {
      d.w = this.#watch(abs, { persistent: true }, (event, name) => this.#event(d, event, name));
      d.w.on('error', (err) => {
        this.#close(d);
        this.#fail(err);
        this.#onDirty(''); // what this watch would have reported is unknown now
      });
    } catch (err) {
      d.w = null;
      if (isDiskError(err, 'path_missing', 'path_not_dir')) return; // gone already: its parent's watch said so
      this.#fail(err);
    }
  }

  #event(d: Dir, event: string, name: string | Buffer | null): void {
    if (this.#closed) return;
    if (!d.attached) {
      // outside the folder for now; should it come back, this is unknown
      let top = d;
      while (top.parent) top = top.parent;
      top.lost = true;
      return;
    }
    const rel = relOf(d);
    if (rel === null) return;
    if (name === null || name === undefined) {
      // which child is unknown: the directory and everything in it
      this.#onDirty(rel);
      void this.#walk(d, true);
      return;
    }
    const n = String(name);
    if (isOwnName(n)) return;
    const childRel = join2(rel, n);
    this.#onDirty(childRel);
    // creates, deletes and renames are 'rename'; a 'change' on a watched
    // child directory may still mean it was replaced
    if (event === 'rename' || d.children?.has(n)) this.#reconcile(d, n, childRel);
    // the root's own rename or delete arrives with the root's name
    if (d === this.#top && event === 'rename' && n === this.#rootName && rootKey(this.#root) !== d.key) this.#onDirty('');
  }

  /** After an event for `parent/name`: start, move or stop watches so they match the disk. */
  #reconcile(parent: Dir, name: string, rel: string): void {
    const had = parent.children?.get(name);
    const key = dirKey(this.#abs(rel));
    if (had && had.key === key) return;
    if (had) this.#detach(had);
    if (key === null) return;
    const moved = this.#byKey.get(key);
    if (moved) {
      // a directory renamed inside the folder: its watches followed the
      // inode, so re-hang the node; nothing below it is re-listed
      if (moved === this.#top || within(parent, moved)) return;
      const from = relOf(moved);
      if (from !== null) this.#onDirty(from); // still hung at its old place: a missed event
      this.#attach(moved, parent, name);
      return;
    }
    // a new directory (created, or moved in from outside): watch it first,
    // then report it and everything already in it, so nothing created
    // before its watch existed goes unreported
    const d = this.#add(parent, name, rel);
    if (d) void this.#walk(d, true);
  }

  #detach(d: Dir): void {
    unhang(d);
    setAttached(d, false);
    this.#detached.add(d);
    this.#flushTimer ??= setTimeout(() => this.#flush(), this.#graceMs);
  }

  #attach(d: Dir, parent: Dir, name: string): void {
    this.#detached.delete(d);
    unhang(d); // also from under a detached parent, whose closing must not take it along
    const clash = parent.children?.get(name);
    if (clash && clash !== d) this.#detach(clash);
    d.name = name;
    d.parent = parent;
    (parent.children ??= new Map()).set(name, d);
    setAttached(d, true);
    // changed while it was outside the folder (moved out and back within
    // the grace period): those events were dropped, only a full scan knows
    if (d.lost) {
      d.lost = false;
      this.#onDirty('');
    }
  }

  /** Directories that left and did not come back (deleted, or moved out of the folder): stop watching them. */
  #flush(): void {
    this.#flushTimer = null;
    for (const d of this.#detached) this.#close(d);
    this.#detached.clear();
  }

  #close(d: Dir): void {
    for (const c of d.children?.values() ?? []) this.#close(c);
    d.w?.close();
    d.w = null;
    if (this.#byKey.get(d.key) === d) this.#byKey.delete(d.key);
    d.children = null;
    d.attached = false;
  }

  #fail(err: unknown): void {
    if (this.#closed) return;
    if (isWatchLimit(err)) {
      if (this.#limited) return;
      this.#limited = true;
    }
    this.#onError(err);
  }

  #abs(rel: string): string {
    return rel === '' ? this.#root : join(this.#root, rel);
  }
}

/** The directory's path relative to the root, or null when it is not attached to the root. */
function relOf(d: Dir): string | null {
  if (!d.attached) return null;
  let rel = '';
  for (let n: Dir | null = d; n && n.parent; n = n.parent) rel = rel === '' ? n.name : `${n.name}/${rel}`;
  return rel;
}

/** `d` is `anc` or below it (hanging `anc` under `d` would make a cycle). */
function within(d: Dir, anc: Dir): boolean {
  for (let n: Dir | null = d; n; n = n.parent) if (n === anc) return true;
  return false;
}

function unhang(d: Dir): void {
  if (d.parent?.children?.get(d.name) === d) d.parent.children.delete(d.name);
  d.parent = null;
}

function setAttached(d: Dir, attached: boolean): void {
  d.attached = attached;
  for (const c of d.children?.values() ?? []) setAttached(c, attached);
}

function join2(dir: string, name: string): string {
  return dir === '' ? name : `${dir}/${name}`;
}

/** `dev:ino` of a real directory (never through a symlink), or null. */
function dirKey(abs: string): string | null {
  try {
    const st = lstatSync(abs);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}

/** `dev:ino` of the root, through a symlink if the user chose one, or null. */
function rootKey(abs: string): string | null {
  try {
    const st = statSync(abs);
    return st.isDirectory() ? `${st.dev}:${st.ino}` : null;
  } catch {
    return null;
  }
}
