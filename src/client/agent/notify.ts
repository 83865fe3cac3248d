// The agent's lossy notification: holds the Subscribe stream and falls back
// to the longpoll when the stream cannot be held (core/notify-channel.ts
// decides which). Either way it only says "pull now"; the pull is
// authoritative, so a lost, late or duplicated message costs nothing but a
// pull. The channel in use is recorded in the state DB for `syncd status`.

import { afterStream, DEFAULT_CHANNEL_POLICY, FLAP_CAP_MS, INITIAL_CHANNEL, isNews, nextChannel, streamOutcome, type Channel, type ChannelPolicy, type ChannelState, type StreamEnd } from '../../core/notify-channel.js';
import type { SyncdError } from '../../protocol/errors.js';
import type { LongpollReply } from '../../protocol/types.js';
import { RemoteError } from '../remote/errors.js';
import { Backoff, retryAfterMs, sleep, type RandomFn } from './backoff.js';

export interface NotifyRemote {
  longpoll(cursor: string, timeoutS: number, signal?: AbortSignal): Promise<LongpollReply>;
  /** absent on a remote without the stream (the longpoll is used) */
  subscribe?(cursor: string, onHead: (head: number, heartbeat: boolean) => void, signal: AbortSignal): Promise<void>;
}

export interface NotifyOptions {
  remote: NotifyRemote;
  /** the cursor and its seq as last stored by a pull */
  cursor(): { cursor: string | null; seq: number };
  /** the server moved on: pull */
  onNews(): void;
  /** the channel now held (stream or longpoll) */
  onChannel(channel: Channel): void;
  longpollTimeoutS: number;
  /** a stream silent this long (the server sends heartbeats) is stalled: cut and reopen, ms */
  streamIdleMs: number;
  /** false: the longpoll only */
  useStream: boolean;
  policy?: ChannelPolicy;
  now(): number;
  /** the retry delays' jitter source (default Math.random; tests pass a fixed one) */
  random?: RandomFn;
  debug(msg: string, fields?: Record<string, unknown>): void;
}

export async function followServer(o: NotifyOptions, signal: AbortSignal): Promise<void> {
  const backoff = new Backoff({ random: o.random });
  const policy = o.policy ?? DEFAULT_CHANNEL_POLICY;
  const flap = new Backoff({ random: o.random, capMs: policy.flapCapMs ?? FLAP_CAP_MS });
  let state: ChannelState = o.useStream && o.remote.subscribe ? INITIAL_CHANNEL : { channel: 'longpoll', failures: 0, streamAgainAt: Infinity };
  let announced: Channel | null = null;
  while (!signal.aborted) {
    const { cursor } = o.cursor();
    if (!cursor) {
      await sleep(200, signal).catch(() => undefined);
      continue;
    }
    state = nextChannel(state, o.now());
    if (state.channel !== announced) {
      announced = state.channel;
      o.onChannel(state.channel);
    }
    if (state.channel === 'stream') {
      const started = o.now();
      const { end, delivered, error } = await holdStream(o, cursor, signal);
      if (signal.aborted) return;
      state = afterStream(state, end, delivered, o.now(), policy);
      if (error instanceof RemoteError && error.code === 'reset') o.onNews();
      const outcome = streamOutcome(end, delivered, o.now() - started, policy);
      // a stream that carried messages worked: failures start from the first delay again. Counted as
      // failures, a proxy cutting streams now and then (each one working) grew the wait to a minute,
      // deaf all along (the fault proxy's seed 11 in CI). One that ended soon after its messages is a
      // flapping path (or a server ending every stream at once): its own waits grow to flapCapMs
      if (outcome !== 'failed') backoff.reset();
      if (outcome === 'steady') flap.reset();
      const waitMs =
        outcome === 'steady' ? (end === 'closed' ? 0 : backoff.nextFor(error))
        : outcome === 'flapping' ? Math.max(retryAfterMs(error) ?? 0, flap.next())
        : state.channel === 'stream' ? (error ? backoff.nextFor(error) : backoff.next()) : 0;
      o.debug(`stream ended (${end})`, { delivered, outcome, code: (error as SyncdError | undefined)?.code, next: state.channel, waitMs });
      if (waitMs > 0) await sleep(waitMs, signal).catch(() => undefined);
      continue;
    }
    try {
      const r = await o.remote.longpoll(cursor, o.longpollTimeoutS, signal);
      o.debug('longpoll answered', { changes: r.changes, backoff: r.backoff });
      backoff.reset();
      if (r.changes) o.onNews();
      if (r.backoff) await sleep(r.backoff * 1000, signal).catch(() => undefined);
      else if (r.changes) await waitCursorMoves(o, cursor, signal);
    } catch (err) {
      if (signal.aborted) return;
      o.debug(`longpoll failed: ${(err as Error).message}`, { code: (err as SyncdError).code });
      if (err instanceof RemoteError && err.code === 'reset') o.onNews();
      await sleep(backoff.nextFor(err), signal).catch(() => undefined);
    }
  }
}

/** One stream, until it ends, fails, stalls or `signal` aborts. */
async function holdStream(o: NotifyOptions, cursor: string, signal: AbortSignal): Promise<{ end: StreamEnd; delivered: boolean; error?: unknown }> {
  const ac = new AbortController();
  const stop = (): void => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  let delivered = false;
  let stalled = false;
  let watchdog: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (watchdog) clearTimeout(watchdog);
    watchdog = setTimeout(() => {
      stalled = true;
      ac.abort();
    }, o.streamIdleMs);
  };
  arm();
  try {
    await o.remote.subscribe!(
      cursor,
      (head, heartbeat) => {
        delivered = true;
        arm();
        if (isNews(head, heartbeat, o.cursor().seq)) o.onNews();
      },
      ac.signal,
    );
    return { end: stalled ? 'stalled' : 'closed', delivered };
  } catch (err) {
    if (stalled) return { end: 'stalled', delivered, error: err };
    return { end: err instanceof RemoteError && err.code === 'unsupported' ? 'unsupported' : 'error', delivered, error: err };
  } finally {
    if (watchdog) clearTimeout(watchdog);
    signal.removeEventListener('abort', stop);
  }
}

/** After a wake, the next longpoll waits until the pull moved the cursor (or 2 s). */
async function waitCursorMoves(o: NotifyOptions, cursor: string, signal: AbortSignal): Promise<void> {
  for (let i = 0; i < 100 && !signal.aborted && o.cursor().cursor === cursor; i++) await sleep(20, signal).catch(() => undefined);
}
