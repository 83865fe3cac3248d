// `syncd server fsck`: the integrity check of a blob folder against the
// journal store. Every stored blob file is re-hashed (its name must be its
// SHA-256), and every blob a namespace references must exist with the size
// it was uploaded with. With `repair`, a damaged file is moved aside into
// DIR/damaged/ (kept for inspection, never served again), so the next
// upload of that content stores it afresh, and file modes are made
// owner-only. A referenced blob that is missing cannot be repaired here:
// the report names the namespaces whose clients must upload it again.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, mkdir, readdir, rename, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { isSha256Hex } from '../protocol/names.js';
import { EMPTY_SHA256 } from './store/decide.js';
import { DIR_MODE, FILE_MODE } from './store/open.js';
import type { JournalStore } from './store/types.js';

export interface FsckReport {
  /** blob files re-hashed */
  checked: number;
  /** files whose content does not hash to their name (moved aside with repair) */
  damaged: Array<{ hash: string; actual: string; movedTo?: string }>;
  /** referenced blobs absent from the folder (or moved aside as damaged) */
  missing: Array<{ hash: string; size: number; namespaces: string[] }>;
  /** referenced blobs whose file has another size than the reference */
  wrongSize: Array<{ hash: string; size: number; actual: number; namespaces: string[] }>;
  /** files in blobs/ that are not named by a hash */
  stray: string[];
  /** files and folders whose mode was not owner-only (made so with repair) */
  badModes: number;
  /** true when nothing is wrong after the run (repairs included) */
  ok: boolean;
}

export interface FsckOptions {
  repair?: boolean;
  /** progress lines */
  log?: (line: string) => void;
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Walks blobs/ab/cd/<hash> without following links. */
async function* blobFiles(root: string): AsyncGenerator<{ path: string; name: string; isDir: boolean; isFile: boolean }> {
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw err;
    }
    yield { path: dir, name: '', isDir: true, isFile: false };
    for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else yield { path: p, name: e.name, isDir: false, isFile: e.isFile() };
    }
  }
}

export async function fsckBlobs(blobsDir: string, store: JournalStore, opts: FsckOptions = {}): Promise<FsckReport> {
  const root = join(blobsDir, 'blobs');
  const report: FsckReport = { checked: 0, damaged: [], missing: [], wrongSize: [], stray: [], badModes: 0, ok: true };
  const sizes = new Map<string, number>();
  const fixMode = async (path: string, mode: number): Promise<void> => {
    const st = await stat(path);
    if ((st.mode & 0o777) !== mode) {
      if (opts.repair) await chmod(path, mode);
      report.badModes++;
    }
  };
  for await (const f of blobFiles(root)) {
    if (f.isDir) {
      await fixMode(f.path, DIR_MODE);
      continue;
    }
    if (!f.isFile || !isSha256Hex(f.name) || !f.path.endsWith(join(f.name.slice(0, 2), f.name.slice(2, 4), f.name))) {
      report.stray.push(f.path);
      continue;
    }
    report.checked++;
    if (report.checked % 1000 === 0) opts.log?.(`fsck: ${report.checked} blobs checked`);
    const actual = await hashFile(f.path);
    if (actual !== f.name) {
      const bad: FsckReport['damaged'][number] = { hash: f.name, actual };
      if (opts.repair) {
        const aside = join(blobsDir, 'damaged');
        await mkdir(aside, { recursive: true, mode: DIR_MODE });
        bad.movedTo = join(aside, `${f.name}.${Date.now()}`);
        await rename(f.path, bad.movedTo);
      } else {
        sizes.set(f.name, (await stat(f.path)).size);
      }
      report.damaged.push(bad);
      continue;
    }
    await fixMode(f.path, FILE_MODE);
    sizes.set(f.name, (await stat(f.path)).size);
  }
  for (const ref of await store.referencedBlobs()) {
    if (ref.hash === EMPTY_SHA256) continue;
    const actual = sizes.get(ref.hash);
    if (actual === undefined) report.missing.push(ref);
    else if (actual !== ref.size) report.wrongSize.push({ ...ref, actual });
  }
  // damaged files left in place are still wrong; moved-aside ones show up as missing when referenced
  report.ok =
    report.missing.length === 0 && report.wrongSize.length === 0 && (opts.repair ? true : report.damaged.length === 0);
  return report;
}
