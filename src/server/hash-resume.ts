// SHA-256 states at the chunk boundaries of files a namespace assembled
// lately, so that the next assembly of an edited version hashes only from
// the first chunk that differs: an edit in the middle of a big file, or an
// append, costs the server the bytes after it, not the whole file.
//
// A state is kept only once its file hashed right, and it stands for the
// exact chunk sequence before it (chunks are addressed by their SHA-256,
// so the same sequence is the same bytes). States are looked up per
// namespace only: one tenant's assembly never gets faster because another
// tenant assembled the same chunks (no timing signal across namespaces).
// In memory, bounded server-wide (MAX_STATES, ~1 KB each, and MAX_LISTED
// chunk hashes of the kept lists); a restart or
// an eviction only means hashing from the start again.

import type { Hash } from 'node:crypto';

/** states kept server-wide (~1 KB of memory each) */
export const MAX_STATES = 8192;
/**
 * chunk hashes of the kept files' lists, server-wide (~100 bytes each): a
 * list may name up to 262,144 chunks of one byte, so the states alone would
 * not bound the memory a hostile tenant's lists hold
 */
export const MAX_LISTED = 131_072;
/** files kept per namespace */
const FILES_PER_NAMESPACE = 4;

interface Entry {
  ns: number;
  chunks: readonly string[];
  /** the hash after the first `at` chunks, ascending by `at` */
  states: Checkpoint[];
}

/** the SHA-256 state after the first `at` chunks of a file (never updated: copied to go on from) */
export interface Checkpoint {
  at: number;
  hash: Hash;
}

/** Where an assembly can start: the first `at` chunks are already in `hash` (a copy of its own), `kept` the states up to there. */
export interface Resume {
  at: number;
  hash: Hash;
  kept: Checkpoint[];
}

export class HashCheckpoints {
  readonly #max: number;
  readonly #maxListed: number;
  /** least recently used first */
  #entries: Entry[] = [];
  #states = 0;
  #listed = 0;

  constructor(maxStates = MAX_STATES, maxListed = MAX_LISTED) {
    this.#max = maxStates;
    this.#maxListed = maxListed;
  }

  /** how many chunks apart the states of a file of `n` chunks are taken */
  every(n: number): number {
    return Math.max(1, Math.ceil(n / (this.#max / FILES_PER_NAMESPACE)));
  }

  /** the longest start of `chunks` this namespace hashed before, as a state to go on from; null when none */
  resume(ns: number, chunks: readonly string[]): Resume | null {
    let best: { e: Entry; i: number } | null = null;
    for (const e of this.#entries) {
      if (e.ns !== ns) continue;
      let same = 0;
      const n = Math.min(e.chunks.length, chunks.length);
      while (same < n && e.chunks[same] === chunks[same]) same++;
      // the last state within the common start
      let i = -1;
      while (i + 1 < e.states.length && e.states[i + 1]!.at <= same) i++;
      if (i >= 0 && (best === null || e.states[i]!.at > best.e.states[best.i]!.at)) best = { e, i };
    }
    if (best === null) return null;
    this.#touch(best.e);
    const s = best.e.states[best.i]!;
    return { at: s.at, hash: s.hash.copy(), kept: best.e.states.slice(0, best.i + 1) };
  }

  /**
   * Keeps the states of a file that hashed right. The namespace's oldest
   * file beyond FILES_PER_NAMESPACE (or one with the same chunks), and
   * then the server's least recently used, make room.
   */
  remember(ns: number, chunks: readonly string[], states: Checkpoint[]): void {
    const cap = this.#max / FILES_PER_NAMESPACE;
    if (states.length > cap) {
      const step = Math.ceil(states.length / cap);
      states = states.filter((_, i) => i % step === step - 1);
    }
    // a list longer than a namespace's share is not kept (hashed whole next time)
    if (states.length === 0 || chunks.length > this.#maxListed / FILES_PER_NAMESPACE) return;
    for (const e of this.#entries.filter((x) => x.ns === ns && sameList(x.chunks, chunks))) this.#drop(e);
    const mine = this.#entries.filter((e) => e.ns === ns);
    if (mine.length >= FILES_PER_NAMESPACE) this.#drop(mine[0]!);
    while ((this.#states + states.length > this.#max || this.#listed + chunks.length > this.#maxListed) && this.#entries.length > 0) this.#drop(this.#entries[0]!);
    this.#entries.push({ ns, chunks, states });
    this.#states += states.length;
    this.#listed += chunks.length;
  }

  /** states kept now, server-wide (tests) */
  get size(): number {
    return this.#states;
  }

  /** chunk hashes of the kept lists, server-wide (tests) */
  get listed(): number {
    return this.#listed;
  }

  #touch(e: Entry): void {
    this.#entries = this.#entries.filter((x) => x !== e);
    this.#entries.push(e);
  }

  #drop(e: Entry): void {
    this.#entries = this.#entries.filter((x) => x !== e);
    this.#states -= e.states.length;
    this.#listed -= e.chunks.length;
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((h, i) => h === b[i]);
}
