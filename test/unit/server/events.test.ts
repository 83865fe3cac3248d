// Event streams against sinks that never drain (a reader that stopped
// reading): coalescing, the stall cut, caps and revocation. Fake timers.

import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalBus } from '../../../src/server/bus.js';
import { EventStreams, type FollowSink, type StreamLimits, type StreamSink } from '../../../src/server/events.js';

/** A response whose socket never takes its bytes (or takes them when `drain()` is called). */
class StuckSink extends Writable {
  pending: Array<() => void> = [];
  text = '';
  constructor() {
    super({ highWaterMark: 256 });
  }
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    this.pending.push(cb);
  }
  /** the reader catches up */
  release(): void {
    while (this.pending.length > 0) this.pending.shift()!();
  }
  writeHead(): this {
    return this;
  }
  events(): number[] {
    return [...this.text.matchAll(/data: \{"head":(\d+)\}/g)].map((m) => Number(m[1]));
  }
}

const limits = (o: Partial<StreamLimits> = {}): StreamLimits => ({ heartbeatMs: 15_000, perDevice: 4, perNamespace: 10, total: 100, stallMs: 30_000, ...o });

let bus: LocalBus;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
  bus = new LocalBus();
});
afterEach(() => vi.useRealTimers());

/** 1,000 commits in 100 ms while the reader takes every byte at once; the heads it received. */
async function stormWhileReading(s: StuckSink): Promise<number[]> {
  const reader = setInterval(() => s.release(), 1);
  for (let h = 1; h <= 1000; h++) {
    bus.publish('a', h);
    if (h % 10 === 0) await vi.advanceTimersByTimeAsync(1); // 100 ms of storm in all
  }
  await vi.advanceTimersByTimeAsync(100);
  clearInterval(reader);
  return s.events();
}

/** Two seconds of commits, 50 a second, while one reader reads and the other does not: the stuck one is cut, the other kept. */
async function twoSecondsOfCommits(ev: EventStreams, stuck: StuckSink, reading: StuckSink): Promise<void> {
  for (let h = 1; h <= 100; h++) {
    bus.publish('a', h);
    reading.release();
    await vi.advanceTimersByTimeAsync(20);
  }
  expect(stuck.destroyed).toBe(true);
  expect(reading.destroyed).toBe(false);
  expect(ev.size).toBe(1);
}

describe('EventStreams', () => {
  it('buffers at most one pending event for a reader that stopped reading, whatever the commits', () => {
    const ev = new EventStreams(bus, limits());
    const sinks = Array.from({ length: 20 }, () => new StuckSink());
    sinks.forEach((s) => ev.start(s as unknown as StreamSink, { ns: 'a', deviceId: 'd' + sinks.indexOf(s) }, 0, 0));
    for (let h = 1; h <= 10_000; h++) bus.publish('a', h);
    // without coalescing every advance is buffered: ~10,000 × 30 bytes per stream
    expect(ev.bufferedBytes()).toBeLessThan(20 * 512);
    for (const s of sinks) expect(s.events().length).toBeLessThan(20);
  });

  it('sends one event per interval during a commit storm, carrying the latest head', async () => {
    const ev = new EventStreams(bus, limits({ minIntervalMs: 50 }));
    const s = new StuckSink();
    ev.start(s as unknown as StreamSink, { ns: 'a', deviceId: 'd' }, 0, 0);
    const sent = await stormWhileReading(s);
    expect(sent[0]).toBe(1); // the first advance after quiet goes at once
    expect(sent.at(-1)).toBe(1000);
    expect(sent.length).toBeLessThanOrEqual(5);
  });

  it('sends only the latest head once the reader drains', async () => {
    const ev = new EventStreams(bus, limits());
    const s = new StuckSink();
    ev.start(s as unknown as StreamSink, { ns: 'a', deviceId: 'd' }, 0, 0);
    for (let h = 1; h <= 500; h++) bus.publish('a', h);
    for (let i = 0; i < 5; i++) {
      s.release();
      await vi.advanceTimersByTimeAsync(60);
    }
    const sent = s.events();
    expect(sent.at(-1)).toBe(500);
    // the few written before the buffer filled, then one with the latest head
    expect(sent.length).toBeLessThan(20);
    expect(sent.slice(0, -1).every((h) => h < 20)).toBe(true);
  });

  it('closes a stream that stays undrained past stallMs, and not one that drains', async () => {
    const ev = new EventStreams(bus, limits({ stallMs: 1000 }));
    const stuck = new StuckSink();
    const reading = new StuckSink();
    ev.start(stuck as unknown as StreamSink, { ns: 'a', deviceId: 'd1' }, 0, 0);
    ev.start(reading as unknown as StreamSink, { ns: 'a', deviceId: 'd2' }, 0, 0);
    await twoSecondsOfCommits(ev, stuck, reading);
  });

  const caps: Array<{ desc: string; limits: Partial<StreamLimits>; open: Array<[string, string]>; next: [string, string]; want: string | null }> = [
    { desc: 'per device', limits: { perDevice: 2 }, open: [['a', 'd'], ['a', 'd']], next: ['a', 'd'], want: 'device' },
    { desc: 'another device of the namespace still fits', limits: { perDevice: 2 }, open: [['a', 'd'], ['a', 'd']], next: ['a', 'e'], want: null },
    { desc: 'per namespace', limits: { perNamespace: 2 }, open: [['a', 'd'], ['a', 'e']], next: ['a', 'f'], want: 'namespace' },
    { desc: 'another namespace still fits', limits: { perNamespace: 2 }, open: [['a', 'd'], ['a', 'e']], next: ['b', 'x'], want: null },
    { desc: 'in total', limits: { total: 2 }, open: [['a', 'd'], ['b', 'e']], next: ['c', 'f'], want: 'total' },
  ];
  for (const c of caps) {
    it(`admits streams up to the cap ${c.desc}`, () => {
      const ev = new EventStreams(bus, limits(c.limits));
      for (const [ns, deviceId] of c.open) ev.start(new StuckSink() as unknown as StreamSink, { ns, deviceId }, 0, 0);
      expect(ev.admit({ ns: c.next[0], deviceId: c.next[1] })).toBe(c.want);
    });
  }

  it('frees the slot when a stream closes', () => {
    const ev = new EventStreams(bus, limits({ perDevice: 1 }));
    const s = new StuckSink();
    ev.start(s as unknown as StreamSink, { ns: 'a', deviceId: 'd' }, 0, 0);
    expect(ev.admit({ ns: 'a', deviceId: 'd' })).toBe('device');
    s.destroy();
    s.emit('close');
    expect(ev.admit({ ns: 'a', deviceId: 'd' })).toBe(null);
  });

  it('ends the streams of revoked devices only', () => {
    const ev = new EventStreams(bus, limits());
    const mine = [new StuckSink(), new StuckSink()];
    const other = new StuckSink();
    for (const s of mine) ev.start(s as unknown as StreamSink, { ns: 'a', deviceId: 'gone' }, 0, 0);
    ev.start(other as unknown as StreamSink, { ns: 'a', deviceId: 'kept' }, 0, 0);
    expect(ev.devices().sort()).toEqual(['gone', 'kept']);
    expect(ev.endDevices(['gone'])).toBe(2);
    expect(ev.size).toBe(1);
    expect(ev.devices()).toEqual(['kept']);
    expect(other.destroyed || other.writableEnded).toBe(false);
  });

  it('beats each stream once per heartbeat period, spread by when it opened, on one timer that stops with the last stream', async () => {
    const ev = new EventStreams(bus, limits({ heartbeatMs: 1600 }));
    const beats = (s: StuckSink): number => s.text.split(': heartbeat').length - 1;
    const a = new StuckSink();
    const b = new StuckSink();
    const timersBefore = vi.getTimerCount();
    ev.start(a as unknown as StreamSink, { ns: 'a', deviceId: 'a' }, 0, 0);
    await vi.advanceTimersByTimeAsync(800);
    ev.start(b as unknown as StreamSink, { ns: 'a', deviceId: 'b' }, 0, 0);
    for (const s of [a, b]) s.release();
    await vi.advanceTimersByTimeAsync(900); // t = 1700
    expect([beats(a), beats(b)]).toEqual([1, 0]);
    for (const s of [a, b]) s.release();
    await vi.advanceTimersByTimeAsync(800); // t = 2500
    expect([beats(a), beats(b)]).toEqual([1, 1]);
    expect(vi.getTimerCount() - timersBefore).toBe(1);
    ev.closeAll();
    expect(vi.getTimerCount()).toBe(timersBefore);
  });

  describe('follow() (the RPC Subscribe stream)', () => {
    /**
     * What Connect does with the sequence: write each message into the sink
     * and, when write() says the buffer is full, wait for 'drain' (or the
     * sink's end) before asking for the next one.
     */
    function pump(ev: EventStreams, sink: StuckSink, deviceId: string, signal = new AbortController().signal): Promise<void> {
      return (async () => {
        for await (const m of ev.follow({ ns: 'a', deviceId }, 0, 0, signal, sink as unknown as FollowSink)) {
          if (sink.destroyed) return;
          const ok = sink.write(m.heartbeat ? ': heartbeat\n\n' : `data: {"head":${m.head}}\n\n`);
          if (!ok) await new Promise<void>((r) => (sink.once('drain', r), sink.once('close', r)));
        }
      })();
    }

    it('holds at most one unsent message for a reader that stopped reading, then sends the latest head', async () => {
      const ev = new EventStreams(bus, limits({ stallMs: 120_000 }));
      const sinks = Array.from({ length: 20 }, () => new StuckSink());
      sinks.forEach((s, i) => void pump(ev, s, 'd' + i));
      await vi.advanceTimersByTimeAsync(1);
      for (let h = 1; h <= 10_000; h++) {
        bus.publish('a', h);
        if (h % 100 === 0) await vi.advanceTimersByTimeAsync(10);
      }
      await vi.advanceTimersByTimeAsync(60_000); // four heartbeat periods: none is queued behind the unread bytes
      for (const s of sinks) {
        expect(s.writableLength).toBeLessThan(512);
        expect(s.events().length).toBeLessThan(20);
        expect(s.text.split(': heartbeat').length - 1).toBe(0);
      }
      sinks[0]!.release();
      await vi.advanceTimersByTimeAsync(60);
      expect(sinks[0]!.events().at(-1)).toBe(10_000);
      ev.closeAll();
    });

    it('sends one message per interval during a commit storm, carrying the latest head', async () => {
      const ev = new EventStreams(bus, limits({ minIntervalMs: 50 }));
      const s = new StuckSink();
      const done = pump(ev, s, 'd');
      await vi.advanceTimersByTimeAsync(100); // quiet: the next advance goes at once
      const sent = await stormWhileReading(s);
      expect(sent[0]).toBe(0); // the current head, first
      expect(sent[1]).toBeLessThanOrEqual(10); // the first advance after quiet goes at once (the ten published before the reader woke coalesce)
      expect(sent.at(-1)).toBe(1000);
      expect(sent.length).toBeLessThanOrEqual(6);
      ev.closeAll();
      await done;
    });

    it('destroys a sink that stays undrained past stallMs and frees its slot; one that drains stays', async () => {
      const ev = new EventStreams(bus, limits({ stallMs: 1000 }));
      const stuck = new StuckSink();
      const reading = new StuckSink();
      const done = [pump(ev, stuck, 'd1'), pump(ev, reading, 'd2')];
      await twoSecondsOfCommits(ev, stuck, reading);
      expect(ev.admit({ ns: 'a', deviceId: 'd1' })).toBe(null);
      ev.closeAll();
      reading.release();
      await vi.advanceTimersByTimeAsync(100);
      await Promise.all(done);
      expect(ev.size).toBe(0);
    });
  });
});

