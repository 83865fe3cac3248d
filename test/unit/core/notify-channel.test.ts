import { describe, expect, it } from 'vitest';
import { afterStream, INITIAL_CHANNEL, isNews, nextChannel, type ChannelState, type StreamEnd } from '../../../src/core/notify-channel.js';

const P = { failuresBeforeFallback: 3, retryStreamAfterMs: 1000 };
const onStream = (failures: number): ChannelState => ({ channel: 'stream', failures, streamAgainAt: 0 });

describe('afterStream', () => {
  it.each<{ description: string; from: ChannelState; end: StreamEnd; delivered: boolean; want: ChannelState }>([
    { description: 'an old server: the longpoll at once, the stream retried later', from: INITIAL_CHANNEL, end: 'unsupported', delivered: false, want: { channel: 'longpoll', failures: 0, streamAgainAt: 1100 } },
    { description: 'a stream that worked and ended (server restart): reconnect, no failure', from: onStream(2), end: 'closed', delivered: true, want: onStream(0) },
    { description: 'a stream that worked and broke: reconnect, no failure', from: onStream(2), end: 'error', delivered: true, want: onStream(0) },
    { description: 'a stream that failed before its first message: one failure', from: onStream(0), end: 'error', delivered: false, want: onStream(1) },
    { description: 'a stalled stream counts even after messages (a buffering proxy)', from: onStream(1), end: 'stalled', delivered: true, want: onStream(2) },
    { description: 'the third failure in a row: the longpoll', from: onStream(2), end: 'error', delivered: false, want: { channel: 'longpoll', failures: 0, streamAgainAt: 1100 } },
    { description: 'a stream closed before any message counts as a failure', from: onStream(0), end: 'closed', delivered: false, want: onStream(1) },
  ])('$description', ({ from, end, delivered, want }) => {
    expect(afterStream(from, end, delivered, 100, P)).toEqual(want);
  });
});

describe('nextChannel', () => {
  it.each([
    { description: 'the stream stays', from: onStream(1), now: 5, want: onStream(1) },
    { description: 'the longpoll stays until the retry time', from: { channel: 'longpoll', failures: 0, streamAgainAt: 10 } as ChannelState, now: 9, want: { channel: 'longpoll', failures: 0, streamAgainAt: 10 } },
    { description: 'at the retry time the stream is tried again', from: { channel: 'longpoll', failures: 0, streamAgainAt: 10 } as ChannelState, now: 10, want: onStream(0) },
  ])('$description', ({ from, now, want }) => {
    expect(nextChannel(from, now)).toEqual(want);
  });
});

describe('isNews', () => {
  it.each([
    { description: 'a head past the cursor', head: 5, heartbeat: false, seq: 4, want: true },
    { description: 'the head we hold (a duplicate, or the first message when caught up)', head: 4, heartbeat: false, seq: 4, want: false },
    { description: 'an older head (a late duplicate)', head: 3, heartbeat: false, seq: 4, want: false },
    { description: 'a heartbeat never is', head: 9, heartbeat: true, seq: 4, want: false },
  ])('$description', ({ head, heartbeat, seq, want }) => {
    expect(isNews(head, heartbeat, seq)).toBe(want);
  });
});
