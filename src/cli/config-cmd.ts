// `syncd config get [DIR] [KEY]`, `syncd config set [DIR] KEY VALUE`,
// `syncd config unset [DIR] KEY`; plus the flags every running command
// accepts to override the configuration for one run.

import { Command, Option } from 'commander';
import {
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  LOG_FORMATS,
  LOG_LEVELS,
  requireLinkedFolder,
  resolveConfig,
  resolveConfigKey,
  setConfigValue,
  unsetConfigValue,
  type Config,
  type ConfigKey,
  type ConfigKeySpec,
  type ConfigSource,
} from '../client/state/config.js';
import { formatRate } from './progress-core.js';
import { UsageError } from '../protocol/errors.js';

/** `value` as `config get KEY` prints it: bare, so scripts can use it. */
function bare(value: Config[ConfigKey]): string {
  return Array.isArray(value) ? JSON.stringify(value) : String(value);
}

/** `value` for people, with units where they help. */
export function humanValue(key: ConfigKey, value: Config[ConfigKey]): string {
  if (key === 'bandwidthLimit') return value === 0 ? '0 (unlimited)' : `${String(value)} (${formatRate(value as number)})`;
  const spec = CONFIG_KEYS[key] as ConfigKeySpec;
  return spec.format(value);
}

const SOURCE_NAMES: Record<ConfigSource, string> = { flag: 'flag', env: 'environment', file: 'file', default: 'default' };

/** `config get`'s one-argument form: a known key name, else a folder. */
function splitDirKey(first: string | undefined, second: string | undefined): { dir: string; key?: string } {
  if (second !== undefined) return { dir: first ?? '.', key: second };
  if (first !== undefined && isKeyName(first)) return { dir: '.', key: first };
  return { dir: first ?? '.' };
}

function isKeyName(s: string): boolean {
  try {
    resolveConfigKey(s);
    return true;
  } catch {
    return false;
  }
}

export function register(program: Command): void {
  const config = program
    .command('config')
    .description('show or change a folder\'s configuration (file < environment < flags)')
    // list subcommands with their real shape ("set [dir] <key> <value>")
    .configureHelp({ subcommandTerm: (cmd) => `${cmd.name()} ${cmd.usage()}` })
    .addHelpText(
      'after',
      `\nKeys:\n${CONFIG_KEY_NAMES.map((k) => {
        const s = CONFIG_KEYS[k] as ConfigKeySpec;
        return `  ${k.padEnd(20)}${s.description}${s.env ? ` [${s.env}]` : ''}`;
      }).join('\n')}\n\nSee docs/configuration.md for every key, its values and examples.`,
    );

  config
    .command('get')
    .description('print every key with its effective value and where it comes from, or one key\'s value alone')
    .usage('[dir] [key] [--json]')
    .argument('[dir]', 'the folder (default: current directory)')
    .argument('[key]', 'one key, e.g. concurrency or bandwidth-limit')
    .option('--json', 'print JSON: {key: {value, source}} or, for one key, {key, value, source}')
    .action((first: string | undefined, second: string | undefined, o: { json?: boolean }) => {
      const { dir, key } = splitDirKey(first, second);
      requireLinkedFolder(dir);
      const r = resolveConfig(dir);
      if (key !== undefined) {
        const k = resolveConfigKey(key);
        if (o.json) process.stdout.write(`${JSON.stringify({ key: k, value: r.config[k], source: r.sources[k] })}\n`);
        else process.stdout.write(`${bare(r.config[k])}\n`);
        return;
      }
      if (o.json) {
        const out: Record<string, { value: unknown; source: ConfigSource }> = {};
        for (const k of CONFIG_KEY_NAMES) out[k] = { value: r.config[k], source: r.sources[k] };
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        return;
      }
      const rows = CONFIG_KEY_NAMES.map((k) => {
        const spec = CONFIG_KEYS[k] as ConfigKeySpec;
        const from = r.sources[k] === 'env' && spec.env ? `${SOURCE_NAMES.env} (${spec.env})` : SOURCE_NAMES[r.sources[k]];
        return [k, humanValue(k, r.config[k]), from] as const;
      });
      const w0 = Math.max(...rows.map((x) => x[0].length));
      const w1 = Math.max(...rows.map((x) => x[1].length));
      process.stdout.write(`config file: ${r.file}\n`);
      for (const [k, v, from] of rows) process.stdout.write(`${k.padEnd(w0)}  ${v.padEnd(w1)}  ${from}\n`);
    });

  config
    .command('set')
    .description('validate a value and store it in the folder\'s config file')
    .usage('[dir] <key> <value>')
    .argument('<dir-or-key>', 'the folder (optional, default: current directory), then the key')
    .argument('<key-or-value>', 'the key, or the value when no folder is given')
    .argument('[value]', 'the value, e.g. 4, 10M, 50%, 5m, json, \'["*.tmp","build/"]\'')
    .action((a: string, b: string, c: string | undefined) => {
      if (c === undefined && !isKeyName(a) && isKeyName(b)) throw new UsageError(`config set: missing the value for ${b}`);
      const [dir, key, raw] = c === undefined ? ['.', a, b] : [a, b, c];
      const paths = requireLinkedFolder(dir);
      const k = resolveConfigKey(key);
      const value = setConfigValue(dir, k, raw);
      process.stdout.write(`${k} = ${humanValue(k, value)} (stored in ${paths.config})\n`);
      const envName = (CONFIG_KEYS[k] as ConfigKeySpec).env;
      if (envName && process.env[envName]) {
        process.stdout.write(`note: ${envName} is set in this environment and overrides the file\n`);
      }
    });

  config
    .command('unset')
    .description('remove a key from the folder\'s config file, so the environment or the default applies')
    .usage('[dir] <key>')
    .argument('<dir-or-key>', 'the folder (optional, default: current directory), then the key')
    .argument('[key]', 'the key, when a folder is given')
    .action((a: string, b: string | undefined) => {
      const [dir, key] = b === undefined ? ['.', a] : [a, b];
      requireLinkedFolder(dir);
      const k = resolveConfigKey(key);
      const was = unsetConfigValue(dir, k);
      const r = resolveConfig(dir);
      process.stdout.write(
        `${was ? `removed ${k} from the config file` : `${k} was not set in the config file`}; ` +
          `now ${humanValue(k, r.config[k])} (${SOURCE_NAMES[r.sources[k]]})\n`,
      );
    });
}

// ---- per-run flags, for the commands that run the engine -------------------------------

/**
 * Adds one flag per configuration key (--concurrency, --bandwidth-limit,
 * --ignore (repeatable), --log-format, …). None has a default: an absent flag
 * must let the environment and the file decide.
 */
export function addConfigFlags(cmd: Command): Command {
  for (const k of CONFIG_KEY_NAMES) {
    const spec = CONFIG_KEYS[k] as ConfigKeySpec;
    const arg = k === 'ignore' ? '<pattern>' : k === 'logFormat' || k === 'logLevel' || k === 'mode' ? '<value>' : '<n>';
    const opt = new Option(`--${spec.flag} ${arg}`, `${spec.description} (overrides the config file and ${spec.env ?? 'defaults'})`);
    if (k === 'ignore') opt.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
    if (k === 'logFormat') opt.choices(LOG_FORMATS);
    if (k === 'logLevel') opt.choices(LOG_LEVELS);
    cmd.addOption(opt);
  }
  return cmd;
}

/** The config flags out of commander's parsed options, keyed for loadConfig({flags}). */
export function configFlags(opts: Record<string, unknown>): Partial<Record<ConfigKey, unknown>> {
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const k of CONFIG_KEY_NAMES) if (opts[k] !== undefined) out[k] = opts[k];
  return out;
}
