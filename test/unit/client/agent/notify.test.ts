// The agent's notification loop against a scripted remote: streams that
// deliver, duplicate, drop, stall or do not exist. Behaviour only (which
// channel, how many pulls), never how long anything took.

import { describe, expect, it } from 'vitest';
import { followServer, type NotifyRemote } from '../../../../src/client/agent/notify.js';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import type { Channel } from '../../../../src/core/notify-channel.js';

type Script = (call: number, onHead: (head: number, heartbeat: boolean) => void, signal: AbortSignal) => Promise<void>;

const hang = (signal: AbortSignal): Promise<void> => new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

interface Seen {
  news: number;
  channels: Channel[];
  streams: number;
  longpolls: number;
  /** the waits before each next stream, ms, as the loop logged them */
  waits: number[];
}

/** `clock`: the loop's clock, ms (a script moves it to make a stream last) */
async function run(script: Script | null, until: (s: Seen) => boolean, random?: () => number, clock = { ms: 0 }): Promise<Seen> {
  const s: Seen = { news: 0, channels: [], streams: 0, longpolls: 0, waits: [] };
  const ac = new AbortController();
  const remote: NotifyRemote = {
    async longpoll(_c, _t, signal) {
      s.longpolls++;
      await new Promise((r) => setTimeout(r, 1));
      if (signal?.aborted) throw new Error('aborted');
      return { changes: false };
    },
  };
  // a pull brings the cursor to the newest head the stream named
  let seq = 10;
  let newest = 10;
  if (script) {
    remote.subscribe = (_cursor, onHead, signal) =>
      script(++s.streams, (h, hb) => {
        if (!hb) newest = Math.max(newest, h);
        onHead(h, hb);
      }, signal);
  }
  const done = followServer(
    {
      remote,
      cursor: () => ({ cursor: 'c', seq }),
      onNews: () => {
        s.news++;
        seq = newest;
      },
      onChannel: (c) => s.channels.push(c),
      longpollTimeoutS: 1,
      streamIdleMs: 30,
      useStream: true,
      policy: { failuresBeforeFallback: 3, retryStreamAfterMs: 60_000 },
      now: () => clock.ms,
      random,
      debug: (_msg, fields) => {
        if (typeof fields?.waitMs === 'number') s.waits.push(fields.waitMs);
      },
    },
    ac.signal,
  );
  // the Backoff between failed streams is real: wait on the outcome, not on a clock
  for (let i = 0; i < 2000 && !until(s); i++) await new Promise((r) => setTimeout(r, 5));
  ac.abort();
  await done;
  return s;
}

describe('followServer', () => {
  it.each([
    {
      description: 'a stream: the first message at the cursor is no news, each advance is one pull, duplicates are not',
      script: (async (_n, onHead, signal) => {
        onHead(10, false);
        onHead(11, false);
        onHead(11, false);
        onHead(11, true);
        onHead(12, false);
        await hang(signal);
      }) as Script,
      until: (s: { news: number }) => s.news >= 2,
      want: { channels: ['stream'], news: 2, longpolls: 0 },
    },
    {
      description: 'a server without Subscribe: the longpoll',
      script: (async () => {
        throw new RemoteError('unsupported', 'no stream', { server: 'x' });
      }) as Script,
      until: (s: { longpolls: number }) => s.longpolls >= 2,
      want: { channels: ['stream', 'longpoll'], streams: 1 },
    },
    {
      description: 'a remote with no stream at all: the longpoll from the start',
      script: null,
      until: (s: { longpolls: number }) => s.longpolls >= 2,
      want: { channels: ['longpoll'], streams: 0 },
    },
    {
      description: 'streams that stall (no message, not even a heartbeat): cut, and after three the longpoll',
      script: (async (_n, _onHead, signal) => hang(signal)) as Script,
      until: (s: { longpolls: number }) => s.longpolls >= 1,
      want: { channels: ['stream', 'longpoll'], streams: 3 },
    },
    {
      description: 'streams dropped before their first message: after three the longpoll',
      script: (async () => {
        throw new RemoteError('network', 'connection reset', { server: 'x' });
      }) as Script,
      until: (s: { longpolls: number }) => s.longpolls >= 1,
      want: { channels: ['stream', 'longpoll'], streams: 3 },
    },
    {
      description: 'streams dropped after delivering: reconnected, the stream stays, a head missed while away is news on the next',
      script: (async (n, onHead) => {
        onHead(10 + n, false);
        throw new RemoteError('network', 'connection reset', { server: 'x' });
      }) as Script,
      until: (s: { streams: number }) => s.streams >= 4,
      want: { channels: ['stream'], longpolls: 0 },
    },
    {
      description: 'a reset on the stream asks for a pull (which lists again)',
      script: (async (n, onHead, signal) => {
        if (n === 1) throw new RemoteError('reset', 'expired', { server: 'x', reason: 'expired' });
        onHead(10, false);
        await hang(signal);
      }) as Script,
      until: (s: { streams: number }) => s.streams >= 2,
      want: { channels: ['stream'], news: 1, longpolls: 0 },
    },
  ])('$description', async ({ script, until, want }) => {
    const s = await run(script, until as never);
    expect(s).toMatchObject(want);
  });

  it('streams cut again and again after delivering for a while: each reconnect comes after the first delay, not a growing one', async () => {
    // the largest draw: a wait that grew would show within a few cuts (250, 500, 1000 ms …, a minute by the ninth)
    const clock = { ms: 0 };
    const s = await run(
      async (n, onHead) => {
        onHead(10 + n, false);
        clock.ms += 10_000; // each stream lasted the steady time
        throw new RemoteError('network', 'connection reset', { server: 'x' });
      },
      (x) => x.streams >= 12,
      () => 0.999,
      clock,
    );
    expect(s.streams).toBeGreaterThanOrEqual(12);
    expect(s.channels).toEqual(['stream']);
    expect(Math.max(...s.waits)).toBeLessThan(250);
  });

  it.each([
    { how: 'ends every stream cleanly right after its first message', end: async () => undefined },
    { how: 'breaks every stream right after its first message', end: async () => Promise.reject(new RemoteError('network', 'connection reset', { server: 'x' })) },
  ])('a server that $how gets no reconnect loop: the waits grow to 5 s and stay there, the stream stays', async ({ end }) => {
    // a draw of 1 %: the ceilings 250, 500, 1000 … 5000 ms show as 2, 5, 10 … 50 ms of real waiting
    const s = await run(
      async (n, onHead) => {
        onHead(10 + n, false);
        await new Promise((r) => setTimeout(r, 1)); // a real stream's end comes from I/O
        return end();
      },
      (x) => x.waits.length >= 8,
      () => 0.01,
    );
    expect(s.waits.slice(0, 8)).toEqual([2, 5, 10, 20, 40, 50, 50, 50]);
    expect(s.channels).toEqual(['stream']);
    expect(s.longpolls).toBe(0);
  });

  it('a stream that lasts again after flapping reconnects at once when it ends cleanly, and flapping starts over from the first delay', async () => {
    const clock = { ms: 0 };
    const s = await run(
      async (n, onHead) => {
        onHead(10 + n, false);
        await new Promise((r) => setTimeout(r, 1));
        if (n === 4) clock.ms += 10_000; // the fourth stream lasted
      },
      (x) => x.waits.length >= 6,
      () => 0.01,
      clock,
    );
    expect(s.waits.slice(0, 6)).toEqual([2, 5, 10, 0, 2, 5]);
  });

  it('streams dropped before their first message still back off more each time', async () => {
    const s = await run(
      async () => {
        throw new RemoteError('network', 'connection reset', { server: 'x' });
      },
      (x) => x.longpolls >= 1,
      () => 0.999,
    );
    expect(s.waits.slice(0, 2)).toEqual([249, 499]);
  });
});
