// Per-device activity (last seen, applied cursor) recorded from every
// request, buffered in memory and written in one transaction per interval:
// a fsync per read request would cap the rate at which changes are served.
// Trim and status flush first, so they always see fresh positions.

import type { ActivityRecord, JournalStore } from './store/types.js';

export class ActivityRecorder {
  readonly #store: JournalStore;
  #pending = new Map<string, ActivityRecord>();
  #timer: NodeJS.Timeout | null = null;
  readonly #intervalMs: number;
  #flushing: Promise<void> = Promise.resolve();
  readonly #onError: (err: unknown) => void;

  constructor(store: JournalStore, intervalMs: number, onError: (err: unknown) => void) {
    this.#store = store;
    this.#intervalMs = intervalMs;
    this.#onError = onError;
  }

  record(deviceId: string, now: number, cursorSeq?: number): void {
    const prev = this.#pending.get(deviceId);
    const rec: ActivityRecord = { deviceId, lastSeen: Math.max(now, prev?.lastSeen ?? 0) };
    // a device's position never moves backwards (retention protects from it)
    const seq = cursorSeq === undefined || prev?.cursorSeq === undefined ? (cursorSeq ?? prev?.cursorSeq) : Math.max(cursorSeq, prev.cursorSeq);
    if (seq !== undefined) rec.cursorSeq = seq;
    this.#pending.set(deviceId, rec);
    if (this.#timer === null && this.#intervalMs > 0) {
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.flush().catch(this.#onError);
      }, this.#intervalMs);
      this.#timer.unref();
    }
  }

  /** Writes everything recorded so far. Safe to call concurrently. */
  flush(): Promise<void> {
    const batch = [...this.#pending.values()];
    this.#pending = new Map();
    const run = this.#flushing.then(() => this.#store.saveActivity(batch));
    this.#flushing = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.flush();
  }
}
