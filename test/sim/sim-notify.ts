// How a simulated device follows the server: the Subscribe stream or the
// longpoll, as the agent's notify loop holds them (src/client/agent/
// notify.ts), in scheduler turns instead of wall-clock time so a seed
// replays exactly. The channel decisions are the agent's own pure ones
// (core/notify-channel.ts: which channel next, how a stream's end counts,
// which message is news); the server side follows the Subscribe contract
// (events.ts follow()): the first message carries the current head, later
// advances coalesce into one pending message with the latest head, and
// heartbeats fill the quiet.
//
// Faults, each drawn from the seed: a stream cut (the server restarts or
// the connection drops: its pending message is lost), a duplicated
// message, a stalled stream (a proxy that buffers: nothing arrives, not
// even heartbeats, until the agent's idle watchdog cuts it; three in a row
// make the agent fall back to the longpoll), a path that has no stream at
// all (an old server or a proxy answering 404: the longpoll at once), and a
// lost longpoll answer. The agent retries the stream after a while on the
// longpoll. Whatever is lost, the pull is authoritative: a new stream's
// first message or the next longpoll says the head moved.

import { afterStream, INITIAL_CHANNEL, isNews, nextChannel, type ChannelPolicy, type ChannelState, type StreamEnd } from '../../src/core/notify-channel.js';
import type { Scheduler } from './scheduler.js';

/** Where a device can follow the server from. */
export type NotifyPath = 'stream' | 'no-stream' | 'longpoll-only';

export interface NotifyFaults {
  /** per stream message: the stream is cut before it arrives (lost) or after; per longpoll answer: the answer is lost */
  drop: number;
  /** per delivered message: it arrives twice */
  duplicate: number;
  /** per opened stream: it stalls (nothing arrives) */
  stall: number;
}

export interface NotifyCounters {
  streamMessages: number;
  streamsCut: number;
  streamsStalled: number;
  fallbacks: number;
  longpollAnswers: number;
  notificationsDropped: number;
  notificationsDuplicated: number;
}

export const newNotifyCounters = (): NotifyCounters => ({
  streamMessages: 0, streamsCut: 0, streamsStalled: 0, fallbacks: 0, longpollAnswers: 0, notificationsDropped: 0, notificationsDuplicated: 0,
});

/** The agent's policy, in turns: fall back after three failed streams, try the stream again 300 turns later. */
const POLICY: ChannelPolicy = { failuresBeforeFallback: 3, retryStreamAfterMs: 300 };
/** the agent's idle watchdog, in this follower's turns */
const IDLE_TURNS = 6;
/** a quiet turn carries a heartbeat this often */
const HEARTBEAT = 0.3;

type Held =
  | { kind: 'none' }
  | { kind: 'stream'; pending: number | null; delivered: boolean; stalled: boolean; silent: number }
  | { kind: 'longpoll'; from: number };

export class SimFollower {
  faults: NotifyFaults = { drop: 0, duplicate: 0, stall: 0 };
  #state: ChannelState;
  #held: Held = { kind: 'none' };
  #head = 0;
  #turns = 0;

  constructor(
    readonly path: NotifyPath,
    readonly sched: Scheduler,
    readonly counters: NotifyCounters,
    /** the device's cursor as its last pull stored it */
    readonly cursorSeq: () => number,
    /** "pull now": the agent's onNews */
    readonly onNews: () => void,
  ) {
    this.#state = path === 'longpoll-only' ? { channel: 'longpoll', failures: 0, streamAgainAt: Infinity } : INITIAL_CHANNEL;
  }

  /** the channel the agent holds (what `syncd status` shows) */
  get channel(): 'stream' | 'longpoll' {
    return this.#state.channel;
  }

  /** The server's head moved (a commit of any device). */
  advance(head: number): void {
    if (head <= this.#head) return;
    this.#head = head;
    // coalesced: one pending message, carrying the latest head
    if (this.#held.kind === 'stream' && !this.#held.stalled) this.#held.pending = head;
  }

  /** One turn of this device's notify loop. */
  turn(): void {
    this.#turns++;
    const held = this.#held;
    if (held.kind === 'none') return this.#open();
    if (held.kind === 'longpoll') return this.#longpoll(held);
    if (held.stalled) {
      if (++held.silent >= IDLE_TURNS) this.#end('stalled', held);
      return;
    }
    if (held.pending === null) {
      if (this.sched.chance(HEARTBEAT)) held.delivered = true;
      return;
    }
    // cut before the message arrives (it is lost) or after
    const cut = this.sched.chance(this.faults.drop) ? (this.sched.chance(0.5) ? 'before' : 'after') : null;
    if (cut === 'before') return this.#end(this.sched.chance(0.5) ? 'closed' : 'error', held);
    const head = held.pending;
    held.pending = null;
    held.delivered = true;
    this.#deliver(head);
    if (this.sched.chance(this.faults.duplicate)) {
      this.counters.notificationsDuplicated++;
      this.#deliver(head);
    }
    if (cut === 'after') this.#end(this.sched.chance(0.5) ? 'closed' : 'error', held);
  }

  #open(): void {
    this.#state = nextChannel(this.#state, this.#turns);
    if (this.#state.channel === 'longpoll') {
      this.#held = { kind: 'longpoll', from: this.cursorSeq() };
      return;
    }
    if (this.path === 'no-stream') {
      this.#end('unsupported', { kind: 'stream', pending: null, delivered: false, stalled: false, silent: 0 });
      return;
    }
    const stalled = this.sched.chance(this.faults.stall);
    // the first message carries the head as the server knows it now
    this.#held = { kind: 'stream', pending: stalled ? null : this.#head, delivered: false, stalled, silent: 0 };
  }

  #deliver(head: number): void {
    this.counters.streamMessages++;
    if (isNews(head, false, this.cursorSeq())) this.onNews();
  }

  #end(end: StreamEnd, held: Extract<Held, { kind: 'stream' }>): void {
    if (end === 'stalled') this.counters.streamsStalled++;
    else if (end !== 'unsupported') this.counters.streamsCut++;
    if (held.pending !== null) this.counters.notificationsDropped++;
    const before = this.#state.channel;
    this.#state = afterStream(this.#state, end, held.delivered, this.#turns, POLICY);
    if (before === 'stream' && this.#state.channel === 'longpoll') this.counters.fallbacks++;
    this.#held = { kind: 'none' };
  }

  #longpoll(held: Extract<Held, { kind: 'longpoll' }>): void {
    // a longpoll answers once the head passes the cursor it was asked with, or times out
    if (this.#head <= held.from && !this.sched.chance(0.1)) return;
    this.#held = { kind: 'none' };
    if (this.#head <= held.from) return;
    if (this.sched.chance(this.faults.drop)) {
      this.counters.notificationsDropped++;
      return;
    }
    this.counters.longpollAnswers++;
    this.onNews();
    if (this.sched.chance(this.faults.duplicate)) {
      this.counters.notificationsDuplicated++;
      this.onNews();
    }
  }
}
