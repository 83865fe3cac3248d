// Longpoll waiters per namespace. A waiter is answered when the head passes
// its cursor (after a random spread that is 0 for a lone waiter and grows
// with the number woken together, capped), or at its timeout (S to 1.1 × S,
// never early), or with `backoff` when the server is overloaded or closing.

import type { LongpollReply } from '../protocol/types.js';
import type { Notifier } from './bus.js';

export interface LongpollOptions {
  /** cap of the wake spread, ms (default 1000: 10,000 waiters all woken within ~1 s) */
  spreadMaxMs: number;
  /** spread added per extra waiter woken at once, ms (default 0.1) */
  spreadPerWaiterMs: number;
  /** more waiters than this, server-wide, get `backoff` (default 50,000) */
  maxWaiters: number;
  /** more waiters than this per device / per namespace get `backoff` (default: no cap) */
  maxPerDevice?: number;
  maxPerNamespace?: number;
  random?: () => number;
}

export type LongpollOutcome = 'changes' | 'timeout' | 'backoff' | 'revoked';

interface Waiter {
  ns: string;
  deviceId: string;
  after: number;
  finish: (reply: LongpollReply, outcome: LongpollOutcome) => void;
  timer: NodeJS.Timeout | null;
  waking: boolean;
}

export class LongpollHub {
  readonly #bus: Notifier;
  readonly #opts: Required<LongpollOptions>;
  readonly #byNs = new Map<string, { waiters: Set<Waiter>; unsubscribe: () => void }>();
  readonly #byDevice = new Map<string, Set<Waiter>>();
  #count = 0;
  #closing = false;

  constructor(bus: Notifier, opts: LongpollOptions) {
    this.#bus = bus;
    this.#opts = { random: Math.random, maxPerDevice: Infinity, maxPerNamespace: Infinity, ...opts };
  }

  /** open longpolls, including those woken and inside their spread */
  get size(): number {
    return this.#count;
  }

  /** the spread window for n waiters woken by one advance, ms */
  spreadFor(n: number): number {
    return n <= 1 ? 0 : Math.min(this.#opts.spreadMaxMs, (n - 1) * this.#opts.spreadPerWaiterMs);
  }

  /** A backoff in whole seconds: `base` to `base + span`. */
  #backoff(base: number, span: number): number {
    return base + Math.floor(this.#opts.random() * (span + 1));
  }

  /**
   * Holds until the namespace's head passes `after`. The waiter subscribes
   * first and reads the head second (`readHead`), so an advance that lands
   * between the caller's checks and this call is never missed, whatever the
   * store's latency. `signal` aborts the wait silently (client gone).
   */
  async wait(
    ns: string,
    after: number,
    readHead: () => Promise<number>,
    timeoutS: number,
    signal?: AbortSignal,
    deviceId = '',
  ): Promise<{ reply: LongpollReply; outcome: LongpollOutcome }> {
    if (this.#closing) return { reply: { changes: false, backoff: this.#backoff(1, 4) }, outcome: 'backoff' };
    // one device or one tenant cannot take the whole budget and push every other tenant into backoff
    const overCap =
      this.#count >= this.#opts.maxWaiters ||
      (this.#byDevice.get(deviceId)?.size ?? 0) >= this.#opts.maxPerDevice ||
      (this.#byNs.get(ns)?.waiters.size ?? 0) >= this.#opts.maxPerNamespace;
    if (overCap) {
      if ((await readHead()) > after) return { reply: { changes: true }, outcome: 'changes' };
      return { reply: { changes: false, backoff: this.#backoff(5, 10) }, outcome: 'backoff' };
    }
    let entry = this.#byNs.get(ns);
    if (!entry) {
      const waiters = new Set<Waiter>();
      entry = { waiters, unsubscribe: this.#bus.subscribe(ns, (h) => this.#advance(ns, h)) };
      this.#byNs.set(ns, entry);
    }
    this.#count++;
    let done = false;
    let resolve!: (v: { reply: LongpollReply; outcome: LongpollOutcome }) => void;
    const result = new Promise<{ reply: LongpollReply; outcome: LongpollOutcome }>((r) => (resolve = r));
    const onAbort = (): void => w.finish({ changes: false }, 'timeout');
    const w: Waiter = {
      ns,
      deviceId,
      after,
      timer: null,
      waking: false,
      finish: (reply, outcome) => {
        if (done) return;
        done = true;
        if (w.timer) clearTimeout(w.timer);
        this.#remove(w);
        this.#count--;
        signal?.removeEventListener('abort', onAbort);
        resolve({ reply, outcome });
      },
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    entry.waiters.add(w);
    let mine = this.#byDevice.get(deviceId);
    if (!mine) this.#byDevice.set(deviceId, (mine = new Set()));
    mine.add(w);
    const deadline = performance.now() + timeoutS * 1000 * (1 + 0.1 * this.#opts.random());
    const arm = (): void => {
      // Node timers may fire a hair early; re-arm rather than answer before S
      const left = deadline - performance.now();
      if (left <= 0) w.finish({ changes: false }, 'timeout');
      else w.timer = setTimeout(arm, Math.ceil(left));
    };
    arm();
    if (signal?.aborted) onAbort();
    try {
      if (!done && !w.waking && (await readHead()) > after) w.finish({ changes: true }, 'changes');
    } catch {
      // the store hiccuped: keep waiting; a commit or the timeout will answer
    }
    return result;
  }

  #remove(w: Waiter): void {
    const mine = this.#byDevice.get(w.deviceId);
    mine?.delete(w);
    if (mine?.size === 0) this.#byDevice.delete(w.deviceId);
    const entry = this.#byNs.get(w.ns);
    if (!entry) return;
    entry.waiters.delete(w);
    if (entry.waiters.size === 0) {
      entry.unsubscribe();
      this.#byNs.delete(w.ns);
    }
  }

  #advance(ns: string, head: number): void {
    const entry = this.#byNs.get(ns);
    if (!entry) return;
    const woken = [...entry.waiters].filter((w) => !w.waking && w.after < head);
    const spread = this.spreadFor(woken.length);
    for (const w of woken) {
      w.waking = true;
      if (w.timer) clearTimeout(w.timer);
      w.timer = null;
      const delay = spread * this.#opts.random();
      if (delay < 1) w.finish({ changes: true }, 'changes');
      else w.timer = setTimeout(() => w.finish({ changes: true }, 'changes'), delay);
    }
  }

  /** Device ids with at least one open longpoll. */
  devices(): string[] {
    return [...this.#byDevice.keys()];
  }

  /** Ends the longpolls of these devices (revoked) with outcome `revoked`; returns how many. */
  endDevices(deviceIds: Iterable<string>): number {
    let n = 0;
    for (const id of deviceIds) {
      for (const w of [...(this.#byDevice.get(id) ?? [])]) {
        w.finish({ changes: false }, 'revoked');
        n++;
      }
    }
    return n;
  }

  /** Answers every waiter now (woken ones with changes, the rest with backoff); later waits get backoff. */
  shutdown(): void {
    this.#closing = true;
    for (const { waiters } of [...this.#byNs.values()]) {
      for (const w of [...waiters]) {
        if (w.waking) w.finish({ changes: true }, 'changes');
        else w.finish({ changes: false, backoff: this.#backoff(1, 4) }, 'backoff');
      }
    }
  }
}
