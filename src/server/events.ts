// Notification streams: Server-Sent Events (and, through follow(), the RPC
// Subscribe stream). SSE: `event: advanced` / `data: {"head":N}` each
// time the head passes what the stream last sent, plus `:` heartbeats so
// proxies and clients can tell a quiet stream from a dead one.

import type { ServerResponse } from 'node:http';
import type { Notifier } from './bus.js';

export class EventStreams {
  readonly #bus: Notifier;
  readonly #heartbeatMs: number;
  readonly #open = new Set<() => void>();

  constructor(bus: Notifier, heartbeatMs: number) {
    this.#bus = bus;
    this.#heartbeatMs = heartbeatMs;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Starts a stream on `res` for a client whose cursor is at `after`; the head was `head` when checked. */
  start(res: ServerResponse, ns: string, after: number, head: number): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let sent = after;
    const send = (h: number): void => {
      if (h <= sent || res.destroyed) return;
      sent = h;
      res.write(`event: advanced\ndata: ${JSON.stringify({ head: h })}\n\n`);
    };
    res.write(`retry: 3000\n\n`);
    send(head);
    const unsubscribe = this.#bus.subscribe(ns, send);
    const beat = setInterval(() => {
      if (!res.destroyed) res.write(`: heartbeat\n\n`);
    }, this.#heartbeatMs);
    const stop = (): void => {
      if (!this.#open.delete(stop)) return;
      clearInterval(beat);
      unsubscribe();
      if (!res.writableEnded) res.end();
    };
    this.#open.add(stop);
    res.on('close', stop);
  }

  /**
   * The same signal as an async sequence (the RPC Subscribe stream): first
   * the current head, then the latest head each time it passes what was
   * sent (advances in between coalesce: the signal is lossy), and a
   * heartbeat repeating the last head every heartbeat period. Ends when
   * `signal` aborts or closeAll() runs.
   */
  async *follow(ns: string, after: number, head: number, signal: AbortSignal): AsyncGenerator<{ head: number; heartbeat: boolean }> {
    let latest = Math.max(after, head);
    let beat = false;
    let stopped = false;
    let wake: (() => void) | null = null;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const unsubscribe = this.#bus.subscribe(ns, (h) => {
      if (h > latest) {
        latest = h;
        poke();
      }
    });
    const timer = setInterval(() => {
      beat = true;
      poke();
    }, this.#heartbeatMs);
    const stop = (): void => {
      stopped = true;
      poke();
    };
    this.#open.add(stop);
    signal.addEventListener('abort', stop, { once: true });
    try {
      let sent = latest;
      yield { head: sent, heartbeat: false };
      while (!stopped && !signal.aborted) {
        if (latest > sent) {
          sent = latest;
          yield { head: sent, heartbeat: false };
        } else if (beat) {
          beat = false;
          yield { head: sent, heartbeat: true };
        } else {
          await new Promise<void>((r) => (wake = r));
        }
      }
    } finally {
      this.#open.delete(stop);
      signal.removeEventListener('abort', stop);
      clearInterval(timer);
      unsubscribe();
    }
  }

  closeAll(): void {
    for (const stop of [...this.#open]) stop();
  }
}
