// Server-Sent Events streams: `event: advanced` / `data: {"head":N}` each
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

  closeAll(): void {
    for (const stop of [...this.#open]) stop();
  }
}
