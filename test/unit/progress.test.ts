import { PassThrough } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import {
  createProgress,
  estimateEta,
  formatBytes,
  formatEta,
  formatRate,
  progressLine,
  RateMeter,
} from '../../src/cli/progress.js';
import type { LogFields, Logger } from '../../src/client/agent/log.js';

describe('formatBytes', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [-5, '0 B'],
    [Number.NaN, '0 B'],
    [1, '1 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 - 1, '10.0 KiB'],
    [123 * 1024, '123 KiB'],
    [1024 * 1024 - 1, '1.0 MiB'], // not "1024 KiB"
    [12.34 * 1024 ** 2, '12.3 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [2 * 1024 ** 4, '2.0 TiB'],
    [3 * 1024 ** 6, '3072 PiB'],
  ];
  for (const [n, want] of cases) test(`${n} → ${want}`, () => expect(formatBytes(n)).toBe(want));
});

describe('formatRate', () => {
  test.each([
    [0, '0 B/s'],
    [1.5 * 1024 ** 2, '1.5 MiB/s'],
    [null, '–'],
    [Number.POSITIVE_INFINITY, '–'],
    [-1, '–'],
  ])('%s → %s', (n, want) => expect(formatRate(n)).toBe(want));
});

describe('formatEta', () => {
  test.each([
    [0, '0 s'],
    [0.2, '1 s'],
    [12, '12 s'],
    [59, '59 s'],
    [59.5, '1 min 00 s'], // rounds up, never shows "60 s"
    [60, '1 min 00 s'],
    [185, '3 min 05 s'],
    [3600, '1 h 00 min'],
    [2 * 3600 + 7 * 60 + 30, '2 h 07 min'],
    [3 * 86_400 + 4 * 3600, '3 d 4 h'],
    [null, '–'],
    [Number.NaN, '–'],
    [Number.POSITIVE_INFINITY, '–'],
  ])('%s s → %s', (s, want) => expect(formatEta(s)).toBe(want));
});

describe('RateMeter and ETA', () => {
  test('needs a second of history, then measures over the window', () => {
    const m = new RateMeter(10_000);
    m.sample(0, 0);
    m.sample(500, 1000);
    expect(m.rate()).toBeNull();
    m.sample(2000, 4000);
    expect(m.rate()).toBe(2000);
  });

  test('a stall pulls the rate down once old samples leave the window', () => {
    const m = new RateMeter(5000);
    for (let t = 0; t <= 10_000; t += 1000) m.sample(t, t * 10); // 10 kB/s for 10 s
    expect(m.rate()).toBeCloseTo(10_000);
    for (let t = 11_000; t <= 20_000; t += 1000) m.sample(t, 100_000); // then nothing
    expect(m.rate()).toBe(0);
  });

  test('a sample per file keeps a bounded window with the same rate', () => {
    const m = new RateMeter(10_000);
    // 100,000 files in 20 s: a sample every 0.2 ms, 1 kB each
    for (let i = 0; i <= 100_000; i++) m.sample(i * 0.2, i * 1000);
    expect(m.size).toBeLessThanOrEqual(10_000 / 100 + 3);
    expect(m.rate()).toBeCloseTo(5_000_000, -3);
    // the newest sample is always the last: a stall shows at once
    m.sample(20_000.1, 100_000_000);
    m.sample(21_000, 100_000_000);
    expect(m.rate()).toBeLessThan(5_000_000);
  });

  test('eta from remaining bytes and rate', () => {
    expect(estimateEta(0, 1000, 100)).toBe(10);
    expect(estimateEta(1000, 1000, null)).toBe(0);
    expect(estimateEta(0, 1000, null)).toBeNull();
    expect(estimateEta(0, 1000, 0)).toBeNull();
  });

  test('the spinner line says files, bytes, rate and ETA', () => {
    expect(
      progressLine('Initial sync', { filesDone: 12, filesTotal: 40, bytesDone: 3.2 * 1024 ** 2, bytesTotal: 10 * 1024 ** 2, rate: 1.5 * 1024 ** 2, eta: 4.6 }),
    ).toBe('Initial sync: 12/40 files, 3.2 MiB of 10.0 MiB, 1.5 MiB/s, ETA 5 s');
  });
});

function recordingLogger(): { logger: Logger; calls: { level: string; msg: string; fields?: LogFields }[] } {
  const calls: { level: string; msg: string; fields?: LogFields }[] = [];
  const rec = (level: string) => (msg: string, fields?: LogFields) => void calls.push({ level, msg, fields });
  const logger: Logger = {
    format: 'text',
    level: 'debug',
    debug: rec('debug'),
    info: rec('info'),
    warn: rec('warn'),
    error: rec('error'),
    enabled: () => true,
    child: () => logger,
  };
  return { logger, calls };
}

describe('not a TTY: log lines at most every 2 s plus a final line', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  test('frequent advances are folded into one line per 2 s', () => {
    const { logger, calls } = recordingLogger();
    const p = createProgress({ tty: false, logger, label: 'Initial sync', now: () => Date.now() });
    p.start(100, 100 * 1024);
    // 10 s of work, an advance every 50 ms
    for (let i = 0; i < 200; i++) {
      vi.advanceTimersByTime(50);
      if (i % 2 === 0) p.advance(1, 1024);
    }
    p.stop();
    expect(calls[0]).toEqual({
      level: 'info',
      msg: 'Initial sync',
      fields: { files_done: 0, files_total: 100, bytes_done: 0, bytes_total: 102400, bytes_per_s: null, eta_s: null },
    });
    // start + one per 2 s over 10 s + final
    expect(calls.length).toBe(1 + 5 + 1);
    const last = calls[calls.length - 1]!;
    expect(last.msg).toBe('Initial sync: done');
    expect(last.fields).toMatchObject({ files_done: 100, bytes_done: 102400, bytes_total: 102400, eta_s: 0, elapsed_s: 10 });
    const mid = calls[3]!.fields!;
    // 1 KiB every 100 ms is 10 KiB/s; sampling at advance() moves it by a sample or so
    expect(mid.bytes_per_s).toBeGreaterThan(10_240 * 0.95);
    expect(mid.bytes_per_s).toBeLessThan(10_240 * 1.05);
    expect(mid.eta_s).toBeGreaterThan(0);
  });

  test('the timer flushes a change that arrived between two lines; no change, no line', () => {
    const { logger, calls } = recordingLogger();
    const p = createProgress({ tty: false, logger, label: 'Upload', now: () => Date.now() });
    p.start(2, 2000);
    vi.advanceTimersByTime(500);
    p.advance(1, 1000); // held back: within 2 s of the start line
    expect(calls).toHaveLength(1);
    vi.advanceTimersByTime(1600); // the 2 s timer fires
    expect(calls).toHaveLength(2);
    expect(calls[1]!.fields).toMatchObject({ files_done: 1, bytes_done: 1000 });
    vi.advanceTimersByTime(20_000); // nothing moves: silence
    expect(calls).toHaveLength(2);
    p.stop('Upload finished');
    expect(calls[2]!.msg).toBe('Upload finished');
    // stopped: no timer left behind, later calls are ignored
    p.advance(1, 1000);
    p.stop();
    vi.advanceTimersByTime(10_000);
    expect(calls).toHaveLength(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  test('setTotals is reported on the next line; fail logs an error line', () => {
    const { logger, calls } = recordingLogger();
    const p = createProgress({ tty: false, logger, label: 'Scan', now: () => Date.now() });
    p.start(1, 10);
    vi.advanceTimersByTime(2000);
    p.setTotals(50, 5000);
    expect(calls[1]!.fields).toMatchObject({ files_total: 50, bytes_total: 5000 });
    p.fail('server unreachable');
    expect(calls[2]).toMatchObject({ level: 'error', msg: 'Scan: server unreachable' });
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('on a TTY: an ora spinner', () => {
  test('shows files, bytes, rate and ETA, then a success line; logs nothing', async () => {
    const { logger, calls } = recordingLogger();
    const stream = Object.assign(new PassThrough(), { columns: 100 }); // a terminal has a width
    let out = '';
    stream.on('data', (c: Buffer) => (out += c.toString()));
    let t = 0;
    const p = createProgress({ tty: true, logger, label: 'Initial sync', stream, now: () => t });
    p.start(4, 4 * 1024 * 1024);
    for (let i = 1; i <= 3; i++) {
      t += 1000;
      p.advance(1, 1024 * 1024);
    }
    // ora repaints on its own timer; let it draw the latest text once
    await new Promise((r) => setTimeout(r, 150));
    expect(out).toContain('Initial sync: 3/4 files, 3.0 MiB of 4.0 MiB, 1.0 MiB/s, ETA 1 s');
    t += 1000;
    p.advance(1, 1024 * 1024);
    p.stop();
    await new Promise((r) => setImmediate(r));
    expect(out).toContain('Initial sync: 4 files, 4.0 MiB in 4 s (1.0 MiB/s)');
    expect(calls).toEqual([]);
  });

  test('fail leaves a failure line', async () => {
    const { logger } = recordingLogger();
    const stream = Object.assign(new PassThrough(), { columns: 100 }); // a terminal has a width
    let out = '';
    stream.on('data', (c: Buffer) => (out += c.toString()));
    const p = createProgress({ tty: true, logger, label: 'Initial sync', stream, now: () => 0 });
    p.start(1, 1);
    p.fail('disk full');
    await new Promise((r) => setImmediate(r));
    expect(out).toContain('Initial sync: disk full');
  });
});
