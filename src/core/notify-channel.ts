// Which notification channel the agent holds: the Subscribe stream when it
// can, the longpoll when the stream cannot be held (an old server without
// it, a proxy that buffers or cuts streams). Pure: the agent reports how
// each stream ended and asks which channel comes next.

export type Channel = 'stream' | 'longpoll';

/**
 * How a stream ended: `unsupported` (the server has no Subscribe), `closed`
 * (the server ended it cleanly, e.g. a restart), `error` (the call failed),
 * `stalled` (no message, not even a heartbeat, within the idle limit).
 */
export type StreamEnd = 'unsupported' | 'closed' | 'error' | 'stalled';

export interface ChannelPolicy {
  /** streams in a row that fail before their first message (or stall) before the longpoll takes over */
  failuresBeforeFallback: number;
  /** after falling back, try the stream again this much later, ms */
  retryStreamAfterMs: number;
  /** a stream that delivered and lasted this long, ms, ended as streams do: the next one comes at once (default 10 s) */
  steadyStreamMs?: number;
  /** the longest wait, ms, between streams that deliver and end sooner than steadyStreamMs (default 5 s) */
  flapCapMs?: number;
}

export const DEFAULT_CHANNEL_POLICY: ChannelPolicy = { failuresBeforeFallback: 3, retryStreamAfterMs: 10 * 60_000 };

/** ChannelPolicy steadyStreamMs when the policy leaves it out */
export const STEADY_STREAM_MS = 10_000;
/** ChannelPolicy flapCapMs when the policy leaves it out */
export const FLAP_CAP_MS = 5_000;

/**
 * What a stream's end says about the path: `steady` (it delivered and
 * lasted: a restart, a proxy's periodic cut; reconnect at once), `flapping`
 * (it delivered but ended within the steady time: a server or proxy that
 * ends every stream right after its first message must not get a
 * reconnect loop; the waits grow to a few seconds, never to a minute, as
 * the device is deaf while it waits), or `failed` (no message, or stalled).
 */
export function streamOutcome(end: StreamEnd, delivered: boolean, livedMs: number, p: ChannelPolicy): 'steady' | 'flapping' | 'failed' {
  if (!delivered || end === 'stalled') return 'failed';
  return livedMs >= (p.steadyStreamMs ?? STEADY_STREAM_MS) ? 'steady' : 'flapping';
}

export interface ChannelState {
  channel: Channel;
  /** consecutive streams that failed without delivering, or stalled */
  failures: number;
  /** on the longpoll: when to try the stream again (ms since the epoch) */
  streamAgainAt: number;
}

export const INITIAL_CHANNEL: ChannelState = { channel: 'stream', failures: 0, streamAgainAt: 0 };

/** The state after a stream ended; `delivered` says whether it carried at least one message. */
export function afterStream(s: ChannelState, end: StreamEnd, delivered: boolean, now: number, p: ChannelPolicy): ChannelState {
  if (end === 'unsupported') return { channel: 'longpoll', failures: 0, streamAgainAt: now + p.retryStreamAfterMs };
  // a stream that worked and then ended or broke is a normal reconnect, not a sign the path buffers
  const failures = end !== 'stalled' && delivered ? 0 : s.failures + 1;
  if (failures >= p.failuresBeforeFallback) return { channel: 'longpoll', failures: 0, streamAgainAt: now + p.retryStreamAfterMs };
  return { channel: 'stream', failures, streamAgainAt: 0 };
}

/** Before holding the next notification: back to the stream once its retry time has come. */
export function nextChannel(s: ChannelState, now: number): ChannelState {
  if (s.channel === 'longpoll' && now >= s.streamAgainAt) return { channel: 'stream', failures: 0, streamAgainAt: 0 };
  return s;
}

/** A stream message is news when it names a head past the cursor we hold. */
export function isNews(head: number, heartbeat: boolean, cursorSeq: number): boolean {
  return !heartbeat && head > cursorSeq;
}
