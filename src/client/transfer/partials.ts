// Partials on disk: a large download cut short (the agent killed or
// stopped, a fetch that kept failing) leaves a temp file holding the
// chunks it had written, each at its offset in the new file. Instead of
// being removed, it is renamed `.syncd-part-<random>` beside its target,
// and the next large download into that directory whose first chunk it
// holds takes it over as its own temp file (renamed back to a temp name)
// and fetches only the chunks it lacks, every kept chunk hashed first
// (chunked-download.ts). A partial is only a hint: the registry below may
// drop any of them at any time; the bounds are core/policy/partials.ts.

import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { keepsAsPartial, partialsToKeep, resumeCandidates, type PartialFile } from '../../core/policy/partials.js';
import { PART_PREFIX, partName } from '../../core/syncd-names.js';
import { isDiskError } from '../disk/errno.js';
import type { Fsys } from '../disk/fsys.js';
import { lstatOrNull } from '../disk/safe-fs.js';
import { readExactly, sha256 } from './chunk-file.js';

/** What a chunked download needs of the partials: candidates, a claim, and where a cut-short temp file goes. */
export interface PartialSource {
  /** the partials in `dir` (absolute) a download of `size` bytes may resume from, the most recent first */
  candidates(dir: string, size: number): string[];
  /** takes `abs` off the offer; false when it is taken or gone already */
  claim(abs: string): boolean;
  /** a download's temp file cut short: kept as a partial when worth it (true); else the caller removes it */
  keep(abs: string): Promise<boolean>;
}

/** The partials of one synced folder, as the scans met them and the downloads left them (absolute paths). */
export class Partials implements PartialSource {
  readonly #fs: Fsys;
  readonly #now: () => number;
  readonly #known = new Map<string, PartialFile>();

  constructor(fs: Fsys, now: () => number) {
    this.#fs = fs;
    this.#now = now;
  }

  /** How many are offered now. */
  get size(): number {
    return this.#known.size;
  }

  /**
   * The `.syncd-part-*` files a scan met: offered from now on, within the
   * bounds (the rest are removed). After a scan of the whole folder, those
   * it did not meet are gone (or moved with their directory: met there).
   */
  async met(found: readonly PartialFile[], whole: boolean): Promise<void> {
    if (whole) this.#known.clear();
    for (const p of found) this.#known.set(p.path, p);
    await this.#bound();
  }

  candidates(dir: string, size: number): string[] {
    return resumeCandidates([...this.#known.values()].filter((p) => dirname(p.path) === dir), size);
  }

  claim(abs: string): boolean {
    return this.#known.delete(abs);
  }

  /** A download temp file cut short (or a crash's): true when it was kept as a partial (renamed, offered). */
  async keep(abs: string): Promise<boolean> {
    const st = await lstatOrNull(abs, this.#fs);
    if (st?.isFile() && keepsAsPartial(st.size)) {
      const to = join(dirname(abs), partName(randomBytes(6).toString('hex')));
      try {
        await this.#fs.rename(abs, to);
        // its age counts from now: a finished temp file has the server's mtime, a crash's may be days old by the restart
        const now = this.#now();
        await this.#fs.utimes(to, new Date(now), new Date(now)).catch(() => undefined);
        this.#known.set(to, { path: to, size: st.size, mtimeMs: now });
        await this.#bound();
        return this.#known.has(to);
      } catch {
        // not renamed: the caller removes it, like any other temp file
      }
    }
    return false;
  }

  /**
   * Removes every partial: the cycle converged with nothing left to fetch
   * (none of them will be resumed), or the disk is full. Returns how many.
   */
  async dropAll(): Promise<number> {
    const all = [...this.#known.keys()];
    this.#known.clear();
    for (const p of all) await this.#fs.unlink(p).catch(() => undefined);
    return all.length;
  }

  async #bound(): Promise<void> {
    const { drop } = partialsToKeep([...this.#known.values()], this.#now());
    for (const p of drop) {
      this.#known.delete(p.path);
      await this.#fs.unlink(p.path).catch(() => undefined);
    }
  }
}

/**
 * Takes over the first partial of `source` beside `to` that holds the new
 * file's first chunk (read and hashed here): it is renamed `to` and its
 * length returned (the extent a resume checks chunk by chunk); 0 when none
 * does.
 */
export async function adoptPartial(fs: Fsys, source: PartialSource, to: string, first: { hash: string; size: number }, size: number): Promise<number> {
  for (const abs of source.candidates(dirname(to), size)) {
    let extent = -1;
    try {
      const fh = await fs.openRead(abs);
      try {
        const st = await fh.stat();
        const head = st.isFile() ? await readExactly(fh, Buffer.allocUnsafe(first.size), 0) : null;
        if (head !== null && sha256(head) === first.hash) extent = st.size;
      } finally {
        await fh.close().catch(() => undefined);
      }
    } catch {
      continue; // gone, or not readable: not a source
    }
    if (extent < 0 || !source.claim(abs)) continue;
    try {
      await fs.rename(abs, to);
      return extent;
    } catch {
      // gone meanwhile: the next one
    }
  }
  return 0;
}

/**
 * rmdir that no partial can block: when nothing but partials is left in
 * the directory (a directory the plan deletes, its entries gone), they are
 * removed and the rmdir tried again; otherwise its error stands.
 */
export async function rmdirPastPartials(fs: Fsys, abs: string): Promise<void> {
  try {
    await fs.rmdir(abs);
  } catch (err) {
    if (!isDiskError(err, 'dir_not_empty', 'path_taken')) throw err;
    const left = await fs.lstatDir(abs).catch(() => null);
    if (!left?.length || !left.every((d) => typeof d.name === 'string' && d.name.startsWith(PART_PREFIX) && d.st?.isFile())) throw err;
    for (const d of left) await fs.unlink(join(abs, d.name as string)).catch(() => undefined);
    await fs.rmdir(abs);
  }
}
