// Notification streams: Server-Sent Events (and, through follow(), the RPC
// Subscribe stream, under the same rules). SSE: `event: advanced` / `data: {"head":N}` each
// time the head passes what the stream last sent, plus `:` heartbeats so
// proxies and clients can tell a quiet stream from a dead one.
//
// A stream never buffers more than one event: while the socket has not
// drained, advances only raise the head it will send when it does (the
// signal is lossy by contract, so the latest head says everything), and it
// sends at most one event per minIntervalMs, so a commit storm costs each
// stream a few writes, not one per op. A
// stream that stays undrained for `stallMs` is closed: its reader is gone
// or hostile, and it should not hold a slot. Streams are capped per device,
// per namespace and in total, and a revoked device's streams are ended.

import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import type { Notifier } from './bus.js';

/** The part of a ServerResponse a stream uses (tests pass a Writable). */
export type StreamSink = Pick<
  ServerResponse,
  'writeHead' | 'write' | 'end' | 'destroy' | 'on' | 'destroyed' | 'writableEnded' | 'writableNeedDrain' | 'writableLength'
>;

/** heartbeat slots: a stream's beat comes within heartbeatMs / HEARTBEAT_SLOTS of its period */
const HEARTBEAT_SLOTS = 16;

export interface StreamLimits {
  /** SSE heartbeat period, ms */
  heartbeatMs: number;
  /** open streams per device, per namespace and in total */
  perDevice: number;
  perNamespace: number;
  total: number;
  /** a stream whose writes have not drained for this long is closed, ms */
  stallMs: number;
  /** at most one event per stream this often, ms: a commit storm becomes a few writes carrying the latest head (default 50) */
  minIntervalMs?: number;
}

export interface StreamOwner {
  ns: string;
  deviceId: string;
}

/** Why a new stream is refused, or null when it may open. */
export type AdmitRefusal = 'device' | 'namespace' | 'total' | null;

/** The writable side of an RPC stream that follow() watches for backpressure. */
export type FollowSink = Pick<Writable, 'writableNeedDrain' | 'destroy' | 'on' | 'off'>;

interface Stream extends StreamOwner {
  /** the SSE response; null for an RPC Subscribe stream (follow()), which Connect writes */
  sink: StreamSink | null;
  stop: () => void;
}

export class EventStreams {
  readonly #bus: Notifier;
  readonly #limits: StreamLimits;
  readonly #open = new Set<Stream>();
  readonly #byDevice = new Map<string, number>();
  readonly #byNs = new Map<string, number>();
  /** heartbeats: one timer for every stream, ticking one of HEARTBEAT_SLOTS slots at a time so the beats stay spread over the period */
  readonly #beats: Array<Set<() => void>> = Array.from({ length: HEARTBEAT_SLOTS }, () => new Set());
  #beatTimer: NodeJS.Timeout | null = null;
  #beatSlot = 0;
  #beating = 0;

  constructor(bus: Notifier, limits: StreamLimits) {
    this.#bus = bus;
    this.#limits = limits;
  }

  get size(): number {
    return this.#open.size;
  }

  /** Bytes written to streams and not yet taken by their sockets (bounded by coalescing). */
  bufferedBytes(): number {
    let n = 0;
    for (const s of this.#open) n += s.sink?.writableLength ?? 0;
    return n;
  }

  /** Device ids with at least one open stream. */
  devices(): string[] {
    return [...this.#byDevice.keys()];
  }

  /** Calls `fn` once per heartbeat period until the returned function is called. */
  #onHeartbeat(fn: () => void): () => void {
    // joins the slot that just ticked: its first beat comes one full period from now
    const slot = this.#beats[(this.#beatSlot + HEARTBEAT_SLOTS - 1) % HEARTBEAT_SLOTS]!;
    slot.add(fn);
    if (this.#beating++ === 0) {
      this.#beatTimer = setInterval(() => {
        const due = this.#beats[this.#beatSlot]!;
        this.#beatSlot = (this.#beatSlot + 1) % HEARTBEAT_SLOTS;
        for (const f of [...due]) f();
      }, this.#limits.heartbeatMs / HEARTBEAT_SLOTS);
      this.#beatTimer.unref?.();
    }
    return () => {
      if (!slot.delete(fn)) return;
      if (--this.#beating === 0 && this.#beatTimer) {
        clearInterval(this.#beatTimer);
        this.#beatTimer = null;
      }
    };
  }

  admit(owner: StreamOwner): AdmitRefusal {
    if ((this.#byDevice.get(owner.deviceId) ?? 0) >= this.#limits.perDevice) return 'device';
    if ((this.#byNs.get(owner.ns) ?? 0) >= this.#limits.perNamespace) return 'namespace';
    if (this.#open.size >= this.#limits.total) return 'total';
    return null;
  }

  /** Starts a stream on `res` for a client whose cursor is at `after`; the head was `head` when checked. Call admit() first. */
  start(res: StreamSink, owner: StreamOwner, after: number, head: number): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    let sent = after;
    let latest = after;
    let stall: NodeJS.Timeout | null = null;
    let lastEventAt = -Infinity;
    let later: NodeJS.Timeout | null = null;
    const minInterval = this.#limits.minIntervalMs ?? 50;
    const write = (text: string): void => {
      if (!res.write(text) && stall === null) {
        stall = setTimeout(() => res.destroy(), this.#limits.stallMs);
        stall.unref?.();
      }
    };
    const flush = (): void => {
      if (latest <= sent || res.destroyed || res.writableNeedDrain || later !== null) return;
      const wait = lastEventAt + minInterval - Date.now();
      if (wait > 0) {
        later = setTimeout(() => {
          later = null;
          flush();
        }, wait);
        later.unref?.();
        return;
      }
      sent = latest;
      lastEventAt = Date.now();
      write(`event: advanced\ndata: ${JSON.stringify({ head: latest })}\n\n`);
    };
    const send = (h: number): void => {
      if (h > latest) latest = h;
      flush();
    };
    res.on('drain', () => {
      if (stall) clearTimeout(stall);
      stall = null;
      flush();
    });
    write(`retry: 3000\n\n`);
    send(head);
    const unsubscribe = this.#bus.subscribe(owner.ns, send);
    const stopBeats = this.#onHeartbeat(() => {
      if (!res.destroyed && !res.writableNeedDrain) write(`: heartbeat\n\n`);
    });
    const stream: Stream = {
      ...owner,
      sink: res,
      stop: () => {
        if (!this.#open.delete(stream)) return;
        dec(this.#byDevice, owner.deviceId);
        dec(this.#byNs, owner.ns);
        stopBeats();
        if (stall) clearTimeout(stall);
        if (later) clearTimeout(later);
        unsubscribe();
        // an undrained stream cannot take a graceful end: cut it
        if (res.writableNeedDrain) res.destroy();
        else if (!res.writableEnded) res.end();
      },
    };
    this.#open.add(stream);
    this.#byDevice.set(owner.deviceId, (this.#byDevice.get(owner.deviceId) ?? 0) + 1);
    this.#byNs.set(owner.ns, (this.#byNs.get(owner.ns) ?? 0) + 1);
    res.on('close', stream.stop);
  }

  /** Ends every stream of these devices (revoked) and cuts their connections; returns how many. */
  endDevices(deviceIds: Iterable<string>): number {
    const ids = new Set(deviceIds);
    let n = 0;
    for (const s of [...this.#open]) {
      if (!ids.has(s.deviceId)) continue;
      s.stop();
      // not only the response: a kept-alive connection of a revoked device has nothing left to do
      s.sink?.destroy();
      n++;
    }
    return n;
  }

  /**
   * The same signal as an async sequence (the RPC Subscribe stream): first
   * the current head, then the latest head each time it passes what was
   * sent (advances in between coalesce: the signal is lossy), and a
   * heartbeat repeating the last head every heartbeat period. Ends when
   * `signal` aborts or closeAll() runs.
   *
   * `sink` is what the RPC framework writes the messages into (the HTTP/2
   * stream, or the HTTP/1.1 socket): the same rules as an SSE stream then
   * hold. Nothing is produced while it has not drained (the framework
   * writes one message and waits; advances meanwhile only raise the head
   * the next message carries, and heartbeats are skipped), at most one
   * advance per minIntervalMs, and a sink undrained for stallMs is
   * destroyed and its slot freed even though the framework, blocked in its
   * write, never asks for the next message.
   */
  async *follow(
    owner: StreamOwner,
    after: number,
    head: number,
    signal: AbortSignal,
    sink: FollowSink | null = null,
  ): AsyncGenerator<{ head: number; heartbeat: boolean }> {
    let latest = Math.max(after, head);
    let beat = false;
    let stopped = false;
    let wake: (() => void) | null = null;
    let stall: NodeJS.Timeout | null = null;
    let later: NodeJS.Timeout | null = null;
    const minInterval = this.#limits.minIntervalMs ?? 50;
    const poke = (): void => {
      const w = wake;
      wake = null;
      w?.();
    };
    const sleep = (): Promise<void> => new Promise<void>((r) => (wake = r));
    /** true when the sink holds unsent bytes: arm the stall cut and produce nothing */
    const backedUp = (): boolean => {
      if (!sink?.writableNeedDrain) return false;
      if (stall === null) {
        stall = setTimeout(() => {
          release();
          sink.destroy();
        }, this.#limits.stallMs);
        stall.unref?.();
      }
      return true;
    };
    const onDrain = (): void => {
      if (stall) clearTimeout(stall);
      stall = null;
      poke();
    };
    const unsubscribe = this.#bus.subscribe(owner.ns, (h) => {
      if (h <= latest) return;
      latest = h;
      if (!backedUp()) poke();
    });
    const stopBeats = this.#onHeartbeat(() => {
      // a heartbeat says "still here"; a backed-up sink has an unsent message saying it
      if (backedUp()) return;
      beat = true;
      poke();
    });
    // idempotent, and callable from outside the generator: a framework blocked in a write never resumes it
    const release = (): void => {
      if (stopped) return;
      stopped = true;
      if (this.#open.delete(stream)) {
        dec(this.#byDevice, owner.deviceId);
        dec(this.#byNs, owner.ns);
      }
      signal.removeEventListener('abort', release);
      sink?.off('drain', onDrain);
      stopBeats();
      if (stall) clearTimeout(stall);
      if (later) clearTimeout(later);
      unsubscribe();
      poke();
    };
    const stream: Stream = { ...owner, sink: null, stop: release };
    // counted like an SSE stream: the same caps, and revocation ends it
    this.#open.add(stream);
    this.#byDevice.set(owner.deviceId, (this.#byDevice.get(owner.deviceId) ?? 0) + 1);
    this.#byNs.set(owner.ns, (this.#byNs.get(owner.ns) ?? 0) + 1);
    signal.addEventListener('abort', release, { once: true });
    sink?.on('drain', onDrain);
    try {
      let sent = latest;
      let lastEventAt = Date.now();
      yield { head: sent, heartbeat: false };
      while (!stopped && !signal.aborted) {
        if ((latest > sent || beat) && backedUp()) {
          beat = false;
          await sleep();
        } else if (latest > sent) {
          const wait = lastEventAt + minInterval - Date.now();
          if (wait > 0) {
            later = setTimeout(poke, wait);
            await sleep();
            clearTimeout(later);
            later = null;
            continue;
          }
          sent = latest;
          lastEventAt = Date.now();
          yield { head: sent, heartbeat: false };
        } else if (beat) {
          beat = false;
          yield { head: sent, heartbeat: true };
        } else {
          await sleep();
        }
      }
    } finally {
      release();
    }
  }

  closeAll(): void {
    for (const s of [...this.#open]) s.stop();
  }
}

function dec(m: Map<string, number>, k: string): void {
  const v = (m.get(k) ?? 0) - 1;
  if (v <= 0) m.delete(k);
  else m.set(k, v);
}
