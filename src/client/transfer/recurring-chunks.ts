// Chunks that occur more than once in one file (a run of zeros in a disk
// image or a preallocated database, a block repeated in an archive) are
// got once per download: the first occurrence hands its bytes on to the
// later ones, which then neither fetch them again nor read them from disk.
// A run of zeros is handed on as such (no copy held; the writer leaves a
// hole there); other bytes as a copy, at most `budget` bytes held at a
// time; past that a later occurrence is got the usual way.

/** What a later occurrence gets: the bytes, zeros, or nothing (get them the usual way). */
export type Recurrence = Buffer | 'zero' | null;

const ZEROS = Buffer.alloc(64 * 1024);

/** Whether every byte of `b` is 0 (memcmp against a zero page, 64 KiB at a time). */
export function isZero(b: Buffer): boolean {
  for (let off = 0; off < b.length; off += ZEROS.length) {
    const n = Math.min(ZEROS.length, b.length - off);
    if (ZEROS.compare(b, off, off + n, 0, n) !== 0) return false;
  }
  return true;
}

export class RecurringChunks {
  /** chunk index → the index of the first chunk with its hash, for later occurrences only */
  readonly #firstOf = new Map<number, number>();
  /** first occurrence → later occurrences not yet served */
  readonly #left = new Map<number, number>();
  readonly #got = new Map<number, { promise: Promise<Recurrence>; resolve: (r: Recurrence) => void }>();
  readonly #budget: number;
  #held = 0;

  constructor(chunks: readonly { hash: string; size: number }[], budget: number) {
    this.#budget = budget;
    const first = new Map<string, number>();
    chunks.forEach((c, i) => {
      // by hash and size: a list that gave one hash two sizes (a lying server) hands nothing on between them
      const key = `${c.hash}:${c.size}`;
      const f = first.get(key);
      if (f === undefined) {
        first.set(key, i);
        return;
      }
      this.#firstOf.set(i, f);
      this.#left.set(f, (this.#left.get(f) ?? 0) + 1);
      if (!this.#got.has(f)) {
        let resolve!: (r: Recurrence) => void;
        const promise = new Promise<Recurrence>((r) => (resolve = r));
        this.#got.set(f, { promise, resolve });
      }
    });
  }

  /** Chunk `i` repeats an earlier chunk of the file. */
  isLater(i: number): boolean {
    return this.#firstOf.has(i);
  }

  /**
   * Chunk `i`, the first of its hash, got its bytes (`bytes` is checked
   * like any chunk of the assembly; null: it failed). Later occurrences
   * get zeros, a copy, or nothing when the budget is spent.
   */
  first(i: number, bytes: Buffer | null): void {
    const g = this.#got.get(i);
    if (!g) return;
    if (bytes === null) return g.resolve(null);
    if (isZero(bytes)) return g.resolve('zero');
    if (this.#held + bytes.length > this.#budget) return g.resolve(null);
    this.#held += bytes.length;
    g.resolve(Buffer.from(bytes));
  }

  /** For a later occurrence: what its first one handed on (waits for it). Call `served` once done with it. */
  async later(i: number): Promise<Recurrence> {
    const f = this.#firstOf.get(i)!;
    return this.#got.get(f)!.promise;
  }

  /** A later occurrence is done with what `later` gave it: the last one lets the copy go. */
  async served(i: number): Promise<void> {
    const f = this.#firstOf.get(i)!;
    const left = (this.#left.get(f) ?? 1) - 1;
    this.#left.set(f, left);
    if (left > 0) return;
    const g = this.#got.get(f)!;
    const r = await g.promise;
    if (Buffer.isBuffer(r)) this.#held -= r.length;
    this.#got.delete(f);
  }

  /** The assembly failed: whoever still waits gets nothing. */
  abandon(): void {
    for (const g of this.#got.values()) g.resolve(null);
  }
}
