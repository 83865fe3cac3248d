// Progress of long work (the first sync, big transfers). On a terminal: an ora
// spinner with files, bytes, rate and ETA. Elsewhere (journal, pipes, CI):
// structured log lines through the logger, at most one every 2 s, plus a
// final line, so a log stays readable and greppable.
//
// The spinner library is passed in (progress.ts binds ora): loading ora costs
// a CLI start ~50 ms, so a run that is not on a terminal never loads it.

import type { Ora, Options as OraOptions } from 'ora';
import type { Logger } from '../client/agent/log.js';

// ---- formatting (pure) --------------------------------------------------------------

const BYTE_UNITS = ['KiB', 'MiB', 'GiB', 'TiB', 'PiB'];

/** "0 B", "999 B", "1.0 KiB", "12.3 MiB", "123 MiB", "1.5 GiB" (binary units). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n) || n <= 0) return '0 B';
  if (n < 1024) return `${Math.round(n)} B`;
  let v = n / 1024;
  let i = 0;
  // round first so 1023.96 KiB shows as "1.0 MiB", not "1024 KiB"
  while (i < BYTE_UNITS.length - 1 && Number(v >= 100 ? v.toFixed(0) : v.toFixed(1)) >= 1024) {
    v /= 1024;
    i++;
  }
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${BYTE_UNITS[i]}`;
}

/** Bytes per second: "1.5 MiB/s"; "–" while unknown. */
export function formatRate(bytesPerSecond: number | null): string {
  if (bytesPerSecond === null || !Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) return '–';
  return `${formatBytes(bytesPerSecond)}/s`;
}

/** "12 s", "3 min 05 s", "2 h 07 min", "3 d 4 h"; "–" while unknown. */
export function formatEta(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds) || seconds < 0) return '–';
  const s = Math.ceil(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')} min`;
  return `${Math.floor(s / 86_400)} d ${Math.floor((s % 86_400) / 3600)} h`;
}

// ---- rate (pure, clock passed in) ----------------------------------------------------

/** the closest two samples of a RateMeter may be, but for the newest */
const SAMPLE_GAP_MS = 100;

/**
 * Bytes per second over a sliding window, so a burst or a stall moves the
 * rate (and the ETA) within seconds instead of being averaged away.
 */
export class RateMeter {
  readonly #windowMs: number;
  #samples: { t: number; bytes: number }[] = [];

  constructor(windowMs = 10_000) {
    this.#windowMs = windowMs;
  }

  /** samples kept (at most about windowMs / SAMPLE_GAP_MS + 2) */
  get size(): number {
    return this.#samples.length;
  }

  /**
   * Records the running byte count at time `t` (ms). A sample closer than
   * SAMPLE_GAP_MS to the one before the last replaces the last: a mirror
   * advances once per file (10,000 a second), and a window of every sample
   * made each one an O(window) shift (4.7 % of a 100,000-file mirror's CPU).
   */
  sample(t: number, bytes: number): void {
    const s = this.#samples;
    const n = s.length;
    if (n >= 2 && t - s[n - 2]!.t < SAMPLE_GAP_MS) s[n - 1] = { t, bytes };
    else s.push({ t, bytes });
    // keep one sample older than the window as the baseline
    while (this.#samples.length > 2 && this.#samples[1]!.t <= t - this.#windowMs) this.#samples.shift();
  }

  /** Bytes per second, or null with less than 1 s of history. */
  rate(): number | null {
    const first = this.#samples[0];
    const last = this.#samples[this.#samples.length - 1];
    if (!first || !last || last.t - first.t < 1000) return null;
    return ((last.bytes - first.bytes) * 1000) / (last.t - first.t);
  }
}

export interface ProgressSnapshot {
  filesDone: number;
  filesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  /** Bytes per second, null while unknown. */
  rate: number | null;
  /** Seconds left, null while unknown. */
  eta: number | null;
}

/** Seconds left from the byte rate; 0 when nothing is left. */
export function estimateEta(bytesDone: number, bytesTotal: number, rate: number | null): number | null {
  const left = bytesTotal - bytesDone;
  if (left <= 0) return 0;
  if (rate === null || rate <= 0) return null;
  return left / rate;
}

/** The spinner's line: "Syncing: 12/40 files, 3.2 MiB of 10.0 MiB, 1.5 MiB/s, ETA 5 s". */
export function progressLine(label: string, s: ProgressSnapshot): string {
  return (
    `${label}: ${s.filesDone}/${s.filesTotal} files, ${formatBytes(s.bytesDone)} of ${formatBytes(s.bytesTotal)}, ` +
    `${formatRate(s.rate)}, ETA ${formatEta(s.eta)}`
  );
}

/** Fields of a progress log line: numbers for machines, in stable snake_case. */
export function progressFields(s: ProgressSnapshot): Record<string, number | null> {
  return {
    files_done: s.filesDone,
    files_total: s.filesTotal,
    bytes_done: s.bytesDone,
    bytes_total: s.bytesTotal,
    bytes_per_s: s.rate === null ? null : Math.round(s.rate),
    eta_s: s.eta === null ? null : Math.ceil(s.eta),
  };
}

// ---- the reporter ---------------------------------------------------------------------

export interface ProgressOptions {
  /** A person is watching a terminal: spinner. Otherwise log lines. */
  tty: boolean;
  logger: Logger;
  /** What is happening, e.g. "Initial sync". */
  label: string;
  /** Spinner output (TTY mode). Default process.stderr. */
  stream?: NodeJS.WritableStream;
  /** Milliseconds clock, for tests. Default performance.now. */
  now?: () => number;
  /** Least time between two log lines when not on a TTY. Default 2000. */
  logIntervalMs?: number;
  /** The spinner library (ora). Without it a TTY gets log lines too. */
  spinner?: (options: OraOptions) => Ora;
}

export interface Progress {
  start(totalFiles: number, totalBytes: number): void;
  /** Adds `files` finished files and `bytes` transferred bytes. */
  advance(files: number, bytes: number): void;
  /** Replaces the totals (a scan found more work, or less). */
  setTotals(files: number, bytes: number): void;
  /** Ends with a success line: `summary`, or the final counts. */
  stop(summary?: string): void;
  /** Ends with a failure line. */
  fail(message: string): void;
  snapshot(): ProgressSnapshot;
}

// The spinner text is rebuilt at most this often; ora repaints on its own timer.
const SPINNER_TEXT_MS = 100;

export function createProgress(opts: ProgressOptions): Progress {
  const now = opts.now ?? (() => performance.now());
  const logEvery = opts.logIntervalMs ?? 2000;
  const meter = new RateMeter();
  let filesDone = 0;
  let filesTotal = 0;
  let bytesDone = 0;
  let bytesTotal = 0;
  let startedAt = 0;
  let state: 'idle' | 'running' | 'stopped' = 'idle';
  let spinner: Ora | null = null;
  let lastText = -Infinity;
  let lastLog = -Infinity;
  let changedSinceLog = false;
  let timer: NodeJS.Timeout | null = null;

  const snapshot = (): ProgressSnapshot => {
    const rate = meter.rate();
    return { filesDone, filesTotal, bytesDone, bytesTotal, rate, eta: estimateEta(bytesDone, bytesTotal, rate) };
  };

  const logLine = (): void => {
    lastLog = now();
    changedSinceLog = false;
    opts.logger.info(opts.label, progressFields(snapshot()));
  };

  const update = (force = false): void => {
    if (state !== 'running') return;
    const t = now();
    meter.sample(t, bytesDone);
    if (spinner) {
      if (force || t - lastText >= SPINNER_TEXT_MS) {
        lastText = t;
        spinner.text = progressLine(opts.label, snapshot());
      }
    } else {
      changedSinceLog = true;
      if (t - lastLog >= logEvery) logLine();
    }
  };

  const finish = (): void => {
    if (timer) clearInterval(timer);
    timer = null;
    state = 'stopped';
  };

  const elapsedFields = (): Record<string, number> => {
    const secs = Math.max(0, (now() - startedAt) / 1000);
    return { elapsed_s: Math.round(secs * 10) / 10, avg_bytes_per_s: secs > 0 ? Math.round(bytesDone / secs) : 0 };
  };

  return {
    start(totalFiles, totalBytes) {
      if (state !== 'idle') return;
      state = 'running';
      filesTotal = Math.max(0, totalFiles);
      bytesTotal = Math.max(0, totalBytes);
      startedAt = now();
      meter.sample(startedAt, 0);
      // a terminal that reports no width (a bare pty) sends ora into an endless
      // clear-lines loop: such a "terminal" gets log lines instead
      const columns = (opts.stream ?? process.stderr as NodeJS.WritableStream & { columns?: number }) as { columns?: number };
      if (opts.tty && opts.spinner && (columns.columns ?? 0) > 0) {
        spinner = opts.spinner({
          text: progressLine(opts.label, snapshot()),
          stream: opts.stream ?? process.stderr,
          isEnabled: true,
          // raw-mode stdin would swallow Ctrl+C while the event loop is busy
          discardStdin: false,
        }).start();
        lastText = startedAt;
      } else {
        logLine();
        // a stalled transfer still gets a line once the counts move again;
        // the timer only flushes changes that advance() held back
        timer = setInterval(() => {
          if (state === 'running' && changedSinceLog && now() - lastLog >= logEvery) logLine();
        }, logEvery);
        timer.unref();
      }
    },
    advance(files, bytes) {
      filesDone = Math.max(0, filesDone + files);
      bytesDone = Math.max(0, bytesDone + bytes);
      update();
    },
    setTotals(files, bytes) {
      filesTotal = Math.max(0, files);
      bytesTotal = Math.max(0, bytes);
      update(true);
    },
    stop(summary) {
      if (state !== 'running') return;
      meter.sample(now(), bytesDone);
      const s = snapshot();
      const elapsed = elapsedFields();
      finish();
      if (spinner) {
        spinner.succeed(
          summary ??
            `${opts.label}: ${s.filesDone} files, ${formatBytes(s.bytesDone)} in ${formatEta(elapsed.elapsed_s ?? 0)} ` +
              `(${formatRate(elapsed.avg_bytes_per_s ?? 0)})`,
        );
      } else {
        opts.logger.info(summary ?? `${opts.label}: done`, { ...progressFields(s), ...elapsed });
      }
    },
    fail(message) {
      if (state !== 'running') return;
      const s = snapshot();
      finish();
      if (spinner) spinner.fail(`${opts.label}: ${message}`);
      else opts.logger.error(`${opts.label}: ${message}`, progressFields(s));
    },
    snapshot,
  };
}
