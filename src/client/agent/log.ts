// A tiny structured logger. One line per event, either
//   2026-11-21T10:00:00.000Z INFO pulled entries=12 cursor=4051
// or one JSON object per line ({ts, level, msg, ...fields}) for log
// collectors. Errors in fields show their message and code; their stack only
// when the logger was created with `debug`, so a person never sees a trace
// unless they asked for one.

import { LOG_LEVELS, type LogFormat, type LogLevel } from '../state/config.js';

export { LOG_LEVELS, type LogFormat, type LogLevel };

export type LogFields = Record<string, unknown>;

export interface LogStream {
  write(chunk: string): unknown;
}

export interface LoggerOptions {
  /** `text` for people, `json` for collectors. */
  format: LogFormat;
  /** Lowest level written. */
  level: LogLevel;
  /** Where lines go. Default process.stderr, so stdout stays free for command output. */
  stream?: LogStream;
  /** Include error stacks (the CLI's --debug). */
  debug?: boolean;
  /** Clock, for tests. */
  now?: () => Date;
  /** Fields added to every line. */
  fields?: LogFields;
}

export interface Logger {
  readonly format: LogFormat;
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether a line at `level` would be written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const RESERVED = new Set(['ts', 'level', 'msg']);

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

export function createLogger(opts: LoggerOptions): Logger {
  const stream = opts.stream ?? process.stderr;
  const now = opts.now ?? (() => new Date());
  const debug = opts.debug ?? false;
  const base = opts.fields ?? {};
  const threshold = RANK[opts.level];
  if (threshold === undefined) throw new TypeError(`unknown log level ${String(opts.level)}`);

  const write = (level: LogLevel, msg: string, fields?: LogFields): void => {
    if (RANK[level] < threshold) return;
    const all = fields ? { ...base, ...fields } : base;
    const line = opts.format === 'json' ? jsonLine(now(), level, msg, all, debug) : textLine(now(), level, msg, all, debug);
    stream.write(`${line}\n`);
  };

  return {
    format: opts.format,
    level: opts.level,
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    enabled: (level) => RANK[level] >= threshold,
    child: (fields) => createLogger({ ...opts, fields: { ...base, ...fields } }),
  };
}

/** A logger that drops everything. */
export function silentLogger(): Logger {
  const noop = (): void => {};
  const l: Logger = {
    format: 'text',
    level: 'error',
    debug: noop,
    info: noop,
    warn: noop,
    error: noop,
    enabled: () => false,
    child: () => l,
  };
  return l;
}

// ---- rendering (pure) -------------------------------------------------------------

function errorObject(err: Error, debug: boolean): Record<string, unknown> {
  const o: Record<string, unknown> = { message: err.message };
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' || typeof code === 'number') o.code = code;
  if (debug && err.stack) o.stack = err.stack;
  return o;
}

export function jsonLine(ts: Date, level: LogLevel, msg: string, fields: LogFields, debug = false): string {
  const o: Record<string, unknown> = { ts: ts.toISOString(), level, msg };
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    // a field may not overwrite the line's own ts/level/msg
    o[RESERVED.has(k) ? `field_${k}` : k] = v;
  }
  // errors (also nested ones) become {message, code}; bigints become strings
  return JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Error ? errorObject(v, debug) : v));
}

/** Control characters would split or corrupt a line; show them escaped. */
function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
}

/** Bare when it is one plain word; otherwise a JSON string (quoted, escaped). */
export function textValue(v: unknown): string {
  let s: string;
  if (typeof v === 'string') s = v;
  else if (v === null || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') s = String(v);
  else if (v instanceof Date) s = Number.isNaN(v.getTime()) ? 'Invalid Date' : v.toISOString();
  else {
    try {
      s = JSON.stringify(v) ?? String(v);
    } catch {
      s = String(v);
    }
  }
  return s !== '' && /^[^\s"=\\\u0000-\u001f\u007f]+$/.test(s) ? s : JSON.stringify(s);
}

export function textLine(ts: Date, level: LogLevel, msg: string, fields: LogFields, debug = false): string {
  let line = `${ts.toISOString()} ${level.toUpperCase()} ${escapeControls(msg)}`;
  const stacks: string[] = [];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (v instanceof Error) {
      const code = (v as { code?: unknown }).code;
      line += ` ${k}=${textValue(v.message)}`;
      if (typeof code === 'string' || typeof code === 'number') line += ` ${k}_code=${textValue(code)}`;
      if (debug && v.stack) stacks.push(v.stack);
      continue;
    }
    line += ` ${k}=${textValue(v)}`;
  }
  // with --debug the stack follows on indented lines, which collectors keep with the event
  for (const s of stacks) line += `\n${s.split('\n').map((l) => `    ${l}`).join('\n')}`;
  return line;
}

/** What the engine logs through (a Logger is one; tests pass silentLog). */
export interface Log {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export const silentLog: Log = { debug() {}, info() {}, warn() {}, error() {} };
