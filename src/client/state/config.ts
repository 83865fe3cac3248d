// Per-folder configuration: a JSON file in the folder's state directory
// (never inside the synced folder), overridden by environment variables,
// overridden in turn by command-line flags. Every key is declared once in
// CONFIG_KEYS with its description, default, environment variable, flag and
// validator; everything else here is derived from that table.

import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';
import { folderStatePaths } from './paths.js';
import { isDiskError } from '../disk/errno.js';
import { FOLDER_MODES, type FolderMode } from '../../core/policy/mode-names.js';
import { intIn, oneOf, parseBandwidth, parsePatterns, parseShare, plain, secondsIn } from './config-values.js';

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The effective configuration of one folder. */
export interface Config {
  /** Transfers (uploads plus downloads) in flight at once, 1–64. Default 8. */
  concurrency: number;
  /** Upper bound on transfer bytes per second across all transfers; 0 = unlimited. */
  bandwidthLimit: number;
  /** Extra gitignore-style patterns, on top of the built-in ignores and .syncignore. */
  ignore: string[];
  /** A pass that would delete more than this share (0–1) of the synced files pauses for confirmation. */
  maxDeleteShare: number;
  /** Below this many deletions in one pass the share guard does not apply. */
  minDeleteCount: number;
  /** Seconds one longpoll request waits for news from the server, 1–480. */
  longpollTimeout: number;
  /** How the agent hears of server changes: `stream` (Subscribe, falling back to longpoll) or `longpoll` only. */
  notify: NotifyChannel;
  /** A server listing with more nodes than this is a protocol error (a server that never ends its listing). */
  maxListEntries: number;
  /** Seconds between full pulls that run even when notifications say nothing changed. */
  safetyPullInterval: number;
  /** Log line format: human `text` or one JSON object per line. */
  logFormat: LogFormat;
  /** Lowest level that is logged. */
  logLevel: LogLevel;
  /** Days a file a remote change deleted or replaced stays in the local trash; 0 = no trash. */
  trashDays: number;
  /** The local trash keeps its newest files up to this many MiB; 0 = no size cap. */
  trashMaxMB: number;
  /** `two-way`, `receive-only` (never uploads) or `send-only` (never applies server changes); see docs/folder-modes.md. */
  mode: FolderMode;
}

export const NOTIFY_CHANNELS = ['stream', 'longpoll'] as const;
export type NotifyChannel = (typeof NOTIFY_CHANNELS)[number];

export type ConfigKey = keyof Config;
/** Where an effective value came from, strongest first. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface ConfigKeySpec<K extends ConfigKey = ConfigKey> {
  readonly key: K;
  readonly description: string;
  /** What a valid value looks like, for error messages and `config get`. */
  readonly allowed: string;
  readonly default: Config[K];
  /** Environment variable that overrides the file, if any. */
  readonly env?: string;
  /** Command-line flag (without the dashes) that overrides everything. */
  readonly flag: string;
  /** Returns the typed value, or undefined when `raw` is not allowed. */
  parse(raw: unknown): Config[K] | undefined;
  /** Rendering of a value for people (`config get`). */
  format(value: Config[K]): string;
}

// ---- the table ---------------------------------------------------------------

export const CONFIG_KEYS: { readonly [K in ConfigKey]: ConfigKeySpec<K> } = {
  concurrency: {
    key: 'concurrency',
    description: 'transfers (uploads and downloads) in flight at once',
    allowed: 'an integer from 1 to 64',
    default: 8,
    env: 'SYNCD_CONCURRENCY',
    flag: 'concurrency',
    parse: intIn(1, 64),
    format: plain,
  },
  bandwidthLimit: {
    key: 'bandwidthLimit',
    description: 'bytes per second across all transfers, 0 = unlimited',
    allowed: 'bytes per second as an integer or with a binary unit ("512k", "10M", "1.5G"); 0 = unlimited',
    default: 0,
    env: 'SYNCD_BANDWIDTH_LIMIT',
    flag: 'bandwidth-limit',
    parse: parseBandwidth,
    format: (v) => (v === 0 ? '0 (unlimited)' : String(v)),
  },
  ignore: {
    key: 'ignore',
    description: 'extra gitignore-style patterns, on top of the built-in ignores and .syncignore',
    allowed: 'a JSON array of non-empty patterns (at most 1000), or one pattern per line; "" clears',
    default: [],
    flag: 'ignore',
    parse: parsePatterns,
    format: (v) => JSON.stringify(v),
  },
  maxDeleteShare: {
    key: 'maxDeleteShare',
    description: 'a pass deleting more than this share of the synced files pauses for confirmation',
    allowed: 'a number from 0 to 1, or a percentage ("0.5", "50%")',
    default: 0.5,
    env: 'SYNCD_MAX_DELETE_SHARE',
    flag: 'max-delete-share',
    parse: parseShare,
    format: plain,
  },
  minDeleteCount: {
    key: 'minDeleteCount',
    description: 'below this many deletions in one pass the share guard does not apply',
    allowed: 'an integer from 0 to 1000000000',
    default: 20,
    env: 'SYNCD_MIN_DELETE_COUNT',
    flag: 'min-delete-count',
    parse: intIn(0, 1_000_000_000),
    format: plain,
  },
  maxListEntries: {
    key: 'maxListEntries',
    description: 'a server listing with more nodes than this is refused as a protocol error',
    allowed: 'an integer from 1000 to 1000000000',
    default: 10_000_000,
    env: 'SYNCD_MAX_LIST_ENTRIES',
    flag: 'max-list-entries',
    parse: intIn(1000, 1_000_000_000),
    format: plain,
  },
  longpollTimeout: {
    key: 'longpollTimeout',
    description: 'seconds one longpoll request waits for changes on the server',
    allowed: 'seconds from 1 to 480 ("60", "2m")',
    default: 60,
    env: 'SYNCD_LONGPOLL_TIMEOUT',
    flag: 'longpoll-timeout',
    parse: secondsIn(1, 480),
    format: (v) => `${v} s`,
  },
  notify: {
    key: 'notify',
    description: 'how the agent hears of server changes: the Subscribe stream (falling back to longpoll) or longpoll only',
    allowed: NOTIFY_CHANNELS.join(' or '),
    default: 'stream',
    env: 'SYNCD_NOTIFY',
    flag: 'notify',
    parse: oneOf(NOTIFY_CHANNELS),
    format: plain,
  },
  safetyPullInterval: {
    key: 'safetyPullInterval',
    description: 'seconds between full pulls made even when no change was announced',
    allowed: 'seconds from 1 to 86400 ("300", "5m", "1h")',
    default: 300,
    env: 'SYNCD_SAFETY_PULL_INTERVAL',
    flag: 'safety-pull-interval',
    parse: secondsIn(1, 86_400),
    format: (v) => `${v} s`,
  },
  logFormat: {
    key: 'logFormat',
    description: 'log line format',
    allowed: LOG_FORMATS.join(' or '),
    default: 'text',
    env: 'SYNCD_LOG_FORMAT',
    flag: 'log-format',
    parse: oneOf(LOG_FORMATS),
    format: plain,
  },
  logLevel: {
    key: 'logLevel',
    description: 'lowest level that is logged',
    allowed: LOG_LEVELS.join(', '),
    default: 'info',
    env: 'SYNCD_LOG_LEVEL',
    flag: 'log-level',
    parse: oneOf(LOG_LEVELS),
    format: plain,
  },
  trashDays: {
    key: 'trashDays',
    description: 'days a file deleted or replaced by a remote change stays in the local trash (.syncd-trash/), 0 = no trash',
    allowed: 'an integer from 0 to 36500',
    default: 30,
    env: 'SYNCD_TRASH_DAYS',
    flag: 'trash-days',
    parse: intIn(0, 36_500),
    format: (v) => (v === 0 ? '0 (no trash)' : `${v} days`),
  },
  trashMaxMB: {
    key: 'trashMaxMB',
    description: 'the local trash keeps its newest files up to this many MiB, 0 = no size cap',
    allowed: 'an integer from 0 to 100000000 (MiB)',
    default: 1024,
    env: 'SYNCD_TRASH_MAX_MB',
    flag: 'trash-max-mb',
    parse: intIn(0, 100_000_000),
    format: (v) => (v === 0 ? '0 (no cap)' : `${v} MiB`),
  },
  mode: {
    key: 'mode',
    description: 'two-way, receive-only (never uploads) or send-only (never applies server changes)',
    allowed: FOLDER_MODES.join(', '),
    default: 'two-way',
    env: 'SYNCD_MODE',
    flag: 'mode',
    parse: oneOf(FOLDER_MODES),
    format: plain,
  },
};

export const CONFIG_KEY_NAMES = Object.keys(CONFIG_KEYS) as ConfigKey[];

export function defaultConfig(): Config {
  const out = {} as Record<ConfigKey, unknown>;
  for (const k of CONFIG_KEY_NAMES) {
    const d = CONFIG_KEYS[k].default;
    out[k] = Array.isArray(d) ? [...d] : d;
  }
  return out as unknown as Config;
}

// ---- errors ---------------------------------------------------------------------

function describeRaw(raw: unknown): string {
  if (typeof raw === 'string') return JSON.stringify(raw);
  try {
    return JSON.stringify(raw) ?? String(raw);
  } catch {
    return String(raw);
  }
}

export function badValue(key: ConfigKey, raw: unknown, where: string): SyncdError {
  const spec = CONFIG_KEYS[key];
  return new SyncdError(
    'bad_config',
    `bad value for ${key}${where ? ` (${where})` : ''}: ${describeRaw(raw)}; allowed: ${spec.allowed}`,
    { key, value: raw, allowed: spec.allowed, where },
  );
}

function parseOrThrow<K extends ConfigKey>(key: K, raw: unknown, where: string): Config[K] {
  const v = CONFIG_KEYS[key].parse(raw);
  if (v === undefined) throw badValue(key, raw, where);
  return v;
}

const normal = (s: string): string => s.replace(/[-_]/g, '').toLowerCase();

/** Accepts `bandwidthLimit`, `bandwidth-limit`, `bandwidth_limit` (any case). */
export function resolveConfigKey(name: string): ConfigKey {
  const n = normal(name);
  const key = CONFIG_KEY_NAMES.find((k) => normal(k) === n);
  if (!key) {
    throw new SyncdError('bad_config', `unknown config key "${name}"; known keys: ${CONFIG_KEY_NAMES.join(', ')}`, {
      key: name,
    });
  }
  return key;
}

// ---- the file -----------------------------------------------------------------------

export interface ConfigOptions {
  /** Environment used for SYNCD_* overrides and to find the state directory. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Values from command-line flags, raw (strings) or typed; undefined entries are ignored. */
  flags?: Partial<Record<ConfigKey, unknown>>;
}

export function configFilePath(folder: string, env: NodeJS.ProcessEnv = process.env): string {
  return folderStatePaths(folder, env).config;
}

/** The values set in the folder's config file (validated); {} when there is no file. */
export function readConfigFile(folder: string, env: NodeJS.ProcessEnv = process.env): Partial<Config> {
  return readConfigAt(configFilePath(folder, env));
}

function readConfigAt(path: string): Partial<Config> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if (isDiskError(err, 'path_missing')) return {};
    throw new SyncdError('bad_config', `cannot read config file ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new SyncdError(
      'bad_config',
      `config file ${path} is not valid JSON (${(err as Error).message}); fix it or delete it to return to the defaults`,
      { path },
    );
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new SyncdError('bad_config', `config file ${path} must hold a JSON object`, { path });
  }
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const [name, raw] of Object.entries(data)) {
    if (!(name in CONFIG_KEYS)) {
      throw new SyncdError(
        'bad_config',
        `unknown key "${name}" in config file ${path}; known keys: ${CONFIG_KEY_NAMES.join(', ')}`,
        { key: name, path },
      );
    }
    const key = name as ConfigKey;
    out[key] = parseOrThrow(key, raw, `in ${path}`);
  }
  return out as Partial<Config>;
}

/**
 * Writes `text` to `path` so that a reader sees either the old or the new
 * file, never half of one: a temp file in the same directory, fsync, rename.
 */
export function writeFileAtomicSync(path: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new SyncdError('io_error', `cannot write ${path}: ${(err as Error).message}`, { path }, { cause: err });
  }
  try {
    // make the rename itself durable; not every filesystem lets us open a directory
    const dfd = openSync(dirname(path), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* best effort */
  }
}

function writeConfigFile(path: string, values: Partial<Config>): void {
  // keep the table's order so the file diffs well
  const ordered: Record<string, unknown> = {};
  for (const k of CONFIG_KEY_NAMES) if (values[k] !== undefined) ordered[k] = values[k];
  writeFileAtomicSync(path, `${JSON.stringify(ordered, null, 2)}\n`);
}

/** Validates `raw` for `key` (any accepted spelling), stores it in the folder's file and returns the stored value. */
export function setConfigValue<K extends ConfigKey>(folder: string, key: K | string, raw: unknown, opts: { env?: NodeJS.ProcessEnv } = {}): Config[K] {
  const k = resolveConfigKey(key) as K;
  const value = parseOrThrow(k, raw, '');
  const path = configFilePath(folder, opts.env ?? process.env);
  const current = readConfigAt(path);
  writeConfigFile(path, { ...current, [k]: value });
  return value;
}

/** Removes `key` from the folder's file, so the environment or the default applies again. Returns whether it was set. */
export function unsetConfigValue(folder: string, key: string, opts: { env?: NodeJS.ProcessEnv } = {}): boolean {
  const k = resolveConfigKey(key);
  const path = configFilePath(folder, opts.env ?? process.env);
  const current = readConfigAt(path);
  if (current[k] === undefined) return false;
  delete current[k];
  writeConfigFile(path, current);
  return true;
}

// ---- resolution ---------------------------------------------------------------------

export interface ResolvedConfig {
  config: Config;
  sources: Record<ConfigKey, ConfigSource>;
  /** The file that was (or would be) read. */
  file: string;
}

/** Effective configuration and, per key, where its value came from: flags > environment > file > defaults. */
export function resolveConfig(folder: string, opts: ConfigOptions = {}): ResolvedConfig {
  const env = opts.env ?? process.env;
  const file = configFilePath(folder, env);
  const fromFile = readConfigAt(file);
  const config = defaultConfig() as unknown as Record<ConfigKey, unknown>;
  const sources = {} as Record<ConfigKey, ConfigSource>;
  for (const k of CONFIG_KEY_NAMES) {
    const spec: ConfigKeySpec = CONFIG_KEYS[k];
    sources[k] = 'default';
    if (fromFile[k] !== undefined) {
      config[k] = fromFile[k];
      sources[k] = 'file';
    }
    // an empty variable counts as unset, as shells make that easy to do by accident
    const envRaw = spec.env ? env[spec.env] : undefined;
    if (spec.env && envRaw !== undefined && envRaw !== '') {
      config[k] = parseOrThrow(k, envRaw, `from ${spec.env}`);
      sources[k] = 'env';
    }
    const flagRaw = opts.flags?.[k];
    if (flagRaw !== undefined) {
      config[k] = parseOrThrow(k, flagRaw, `from --${spec.flag}`);
      sources[k] = 'flag';
    }
  }
  return { config: config as unknown as Config, sources, file };
}

/** The effective configuration of `folder`. Throws SyncdError `bad_config` on any invalid value. */
export function loadConfig(folder: string, opts: ConfigOptions = {}): Config {
  return resolveConfig(folder, opts).config;
}

export interface ConfigValue<K extends ConfigKey = ConfigKey> {
  key: K;
  value: Config[K];
  source: ConfigSource;
}

/** One key's effective value and where it came from. `key` takes any accepted spelling. */
export function getConfigValue(folder: string, key: string, opts: ConfigOptions = {}): ConfigValue {
  const k = resolveConfigKey(key);
  const { config, sources } = resolveConfig(folder, opts);
  return { key: k, value: config[k], source: sources[k] };
}

/** The folder's state paths, after checking it was linked with `syncd init`. */
export function requireLinkedFolder(dir: string, env: NodeJS.ProcessEnv = process.env): ReturnType<typeof folderStatePaths> {
  const paths = folderStatePaths(dir, env);
  if (!existsSync(paths.db)) {
    throw new SyncdError(
      'not_linked',
      `${paths.folder} is not linked to a server yet; run \`syncd init ${shellWord(paths.folder)} --server URL --token T\` first`,
      { folder: paths.folder },
    );
  }
  return paths;
}

/** Quotes a word for a POSIX shell only when it needs it, for commands we print for people to paste. */
export function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
