import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  CONFIG_KEY_NAMES,
  CONFIG_KEYS,
  configFilePath,
  defaultConfig,
  getConfigValue,
  loadConfig,
  readConfigFile,
  requireLinkedFolder,
  resolveConfig,
  resolveConfigKey,
  setConfigValue,
  unsetConfigValue,
  type ConfigKey,
} from '../../../../src/client/state/config.js';
import { parseBandwidth, parseDurationSeconds, parsePatterns, parseShare } from '../../../../src/client/state/config-values.js';
import { folderStatePaths } from '../../../../src/client/state/paths.js';
import { SyncdError } from '../../../../src/protocol/errors.js';

let root: string;
let folder: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'syncd-config-'));
  folder = join(root, 'Sync');
  mkdirSync(folder);
  env = { SYNCD_STATE_DIR: join(root, 'state') };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function catchErr(fn: () => unknown): SyncdError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SyncdError);
    return err as SyncdError;
  }
  throw new Error('expected a SyncdError');
}

function writeFile(content: string): string {
  const path = configFilePath(folder, env);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
  return path;
}

describe('the key table', () => {
  test('declares exactly the documented keys, with their environment variables', () => {
    expect(CONFIG_KEY_NAMES).toEqual([
      'concurrency',
      'bandwidthLimit',
      'ignore',
      'maxDeleteShare',
      'minDeleteCount',
      'maxListEntries',
      'longpollTimeout',
      'notify',
      'safetyPullInterval',
      'logFormat',
      'logLevel',
      'trashDays',
      'trashMaxMB',
      'mode',
    ]);
    const envs = Object.fromEntries(CONFIG_KEY_NAMES.map((k) => [k, CONFIG_KEYS[k].env ?? null]));
    expect(envs).toEqual({
      concurrency: 'SYNCD_CONCURRENCY',
      bandwidthLimit: 'SYNCD_BANDWIDTH_LIMIT',
      ignore: null,
      maxDeleteShare: 'SYNCD_MAX_DELETE_SHARE',
      minDeleteCount: 'SYNCD_MIN_DELETE_COUNT',
      longpollTimeout: 'SYNCD_LONGPOLL_TIMEOUT',
      notify: 'SYNCD_NOTIFY',
      maxListEntries: 'SYNCD_MAX_LIST_ENTRIES',
      safetyPullInterval: 'SYNCD_SAFETY_PULL_INTERVAL',
      logFormat: 'SYNCD_LOG_FORMAT',
      logLevel: 'SYNCD_LOG_LEVEL',
      trashDays: 'SYNCD_TRASH_DAYS',
      trashMaxMB: 'SYNCD_TRASH_MAX_MB',
      mode: 'SYNCD_MODE',
    });
  });

  test('defaults are the documented ones and pass their own validators', () => {
    expect(defaultConfig()).toEqual({
      concurrency: 8,
      bandwidthLimit: 0,
      ignore: [],
      maxDeleteShare: 0.5,
      minDeleteCount: 20,
      longpollTimeout: 60,
      notify: 'stream',
      maxListEntries: 10_000_000,
      safetyPullInterval: 300,
      logFormat: 'text',
      logLevel: 'info',
      trashDays: 30,
      trashMaxMB: 1024,
      mode: 'two-way',
    });
    for (const k of CONFIG_KEY_NAMES) {
      const spec = CONFIG_KEYS[k];
      expect(spec.parse(spec.default as never), k).toEqual(spec.default);
      expect(spec.description.length, k).toBeGreaterThan(10);
      expect(spec.allowed.length, k).toBeGreaterThan(3);
    }
  });

  test('defaultConfig hands out a fresh ignore list each time', () => {
    const a = defaultConfig();
    a.ignore.push('x');
    expect(defaultConfig().ignore).toEqual([]);
  });
});

describe('value parsers', () => {
  const cases: { key: ConfigKey; ok: [unknown, unknown][]; bad: unknown[] }[] = [
    {
      key: 'concurrency',
      ok: [['1', 1], ['64', 64], [' 8 ', 8], [16, 16]],
      bad: ['0', '65', '-1', '1.5', 'eight', '', 2.5, null, true, '0x10'],
    },
    {
      key: 'bandwidthLimit',
      ok: [
        ['0', 0],
        ['1000', 1000],
        ['512k', 512 * 1024],
        ['512K', 512 * 1024],
        ['10M', 10 * 1024 ** 2],
        ['10MiB', 10 * 1024 ** 2],
        ['10 MB/s', 10 * 1024 ** 2],
        ['1.5G', 1.5 * 1024 ** 3],
        ['100B', 100],
        [2048, 2048],
      ],
      bad: ['-1', '10X', 'M', '10 M M', '', 1.5, -5, 'unlimited', '1e6'],
    },
    {
      key: 'ignore',
      ok: [
        ['*.tmp', ['*.tmp']],
        ['["*.tmp", "build/"]', ['*.tmp', 'build/']],
        ['*.o\n*.a\n', ['*.o', '*.a']],
        ['', []],
        [['node_modules/'], ['node_modules/']],
      ],
      bad: ['[1]', '["a\\nb"]', '[""]', '[not json', 42, [3], { a: 1 }],
    },
    {
      key: 'maxDeleteShare',
      ok: [['0', 0], ['1', 1], ['0.25', 0.25], ['.25', 0.25], ['50%', 0.5], ['100%', 1], [0.75, 0.75]],
      bad: ['1.01', '101%', '-0.1', 'half', '', 2, Number.NaN],
    },
    {
      key: 'minDeleteCount',
      ok: [['0', 0], ['20', 20], ['1000000000', 1_000_000_000]],
      bad: ['-1', '1000000001', 'x', '2.5'],
    },
    {
      key: 'longpollTimeout',
      ok: [['1', 1], ['60', 60], ['60s', 60], ['8m', 480], ['480', 480], [30, 30]],
      bad: ['0', '481', '9m', '1h', '-5', 'soon', '1.5'],
    },
    {
      key: 'safetyPullInterval',
      ok: [['300', 300], ['5m', 300], ['1h', 3600], ['24h', 86_400], ['1', 1]],
      bad: ['0', '25h', '86401', 'daily'],
    },
    { key: 'logFormat', ok: [['text', 'text'], ['JSON', 'json']], bad: ['yaml', '', 1] },
    { key: 'logLevel', ok: [['debug', 'debug'], ['WARN', 'warn'], ['error', 'error']], bad: ['trace', 'warning', ''] },
    { key: 'trashDays', ok: [['0', 0], [30, 30], ['36500', 36_500]], bad: ['-1', '1.5', '36501', 'a month', ''] },
    { key: 'trashMaxMB', ok: [['0', 0], ['1024', 1024]], bad: ['-5', '1G', '100000001', ''] },
    { key: 'mode', ok: [['two-way', 'two-way'], ['receive-only', 'receive-only'], ['Send-Only', 'send-only']], bad: ['receive', 'twoway', ''] },
  ];
  for (const c of cases) {
    test(`${c.key}: accepts ${c.ok.length} forms and refuses ${c.bad.length}`, () => {
      for (const [raw, want] of c.ok) expect(CONFIG_KEYS[c.key].parse(raw as never), `${c.key} ${JSON.stringify(raw)}`).toEqual(want);
      for (const raw of c.bad) expect(CONFIG_KEYS[c.key].parse(raw as never), `${c.key} ${JSON.stringify(raw)}`).toBeUndefined();
    });
  }

  test('the exported parsers agree with the table', () => {
    expect(parseBandwidth('2k')).toBe(2048);
    expect(parseDurationSeconds('2m')).toBe(120);
    expect(parseShare('10%')).toBeCloseTo(0.1);
    expect(parsePatterns('a\nb')).toEqual(['a', 'b']);
  });

  test('a pattern list is capped at 1000 entries', () => {
    expect(parsePatterns(Array.from({ length: 1000 }, (_, i) => `p${i}`))).toHaveLength(1000);
    expect(parsePatterns(Array.from({ length: 1001 }, (_, i) => `p${i}`))).toBeUndefined();
  });
});

describe('precedence: flags > environment > file > defaults', () => {
  test('each layer overrides the one below it, key by key', () => {
    setConfigValue(folder, 'concurrency', '4', { env });
    setConfigValue(folder, 'logLevel', 'warn', { env });
    setConfigValue(folder, 'bandwidthLimit', '1M', { env });

    let r = resolveConfig(folder, { env });
    expect(r.config.concurrency).toBe(4);
    expect(r.sources.concurrency).toBe('file');
    expect(r.sources.longpollTimeout).toBe('default');

    env.SYNCD_CONCURRENCY = '6';
    env.SYNCD_LONGPOLL_TIMEOUT = '2m';
    r = resolveConfig(folder, { env });
    expect([r.config.concurrency, r.sources.concurrency]).toEqual([6, 'env']);
    expect([r.config.longpollTimeout, r.sources.longpollTimeout]).toEqual([120, 'env']);
    expect([r.config.logLevel, r.sources.logLevel]).toEqual(['warn', 'file']);

    r = resolveConfig(folder, { env, flags: { concurrency: '12', logLevel: undefined, ignore: ['*.bak'] } });
    expect([r.config.concurrency, r.sources.concurrency]).toEqual([12, 'flag']);
    expect([r.config.logLevel, r.sources.logLevel]).toEqual(['warn', 'file']);
    expect([r.config.ignore, r.sources.ignore]).toEqual([['*.bak'], 'flag']);
    expect([r.config.bandwidthLimit, r.sources.bandwidthLimit]).toEqual([1024 * 1024, 'file']);
    expect(loadConfig(folder, { env, flags: { concurrency: 12, ignore: '*.bak' } })).toEqual(r.config);
  });

  test('an empty environment variable counts as unset', () => {
    env.SYNCD_LOG_FORMAT = '';
    expect(getConfigValue(folder, 'logFormat', { env })).toEqual({ key: 'logFormat', value: 'text', source: 'default' });
  });

  test('getConfigValue takes any spelling of the key', () => {
    env.SYNCD_MAX_DELETE_SHARE = '10%';
    for (const name of ['maxDeleteShare', 'max-delete-share', 'MAX_DELETE_SHARE', 'maxdeleteshare']) {
      expect(getConfigValue(folder, name, { env })).toEqual({ key: 'maxDeleteShare', value: 0.1, source: 'env' });
    }
  });

  test('without a file every key is its default', () => {
    const r = resolveConfig(folder, { env });
    expect(r.config).toEqual(defaultConfig());
    expect(new Set(Object.values(r.sources))).toEqual(new Set(['default']));
    expect(r.file).toBe(folderStatePaths(folder, env).config);
  });
});

describe('bad values: code bad_config, naming key, value and what is allowed', () => {
  test('from the environment', () => {
    env.SYNCD_CONCURRENCY = '100';
    const e = catchErr(() => loadConfig(folder, { env }));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('concurrency');
    expect(e.message).toContain('SYNCD_CONCURRENCY');
    expect(e.message).toContain('"100"');
    expect(e.message).toContain('an integer from 1 to 64');
    expect(e.details).toMatchObject({ key: 'concurrency', value: '100' });
    expect(e.message).not.toContain('\n');
  });

  test('from a flag', () => {
    const e = catchErr(() => loadConfig(folder, { env, flags: { logFormat: 'xml' } }));
    expect(e.code).toBe('bad_config');
    expect(e.message).toMatch(/logFormat \(from --log-format\): "xml"; allowed: text or json/);
  });

  test('from the file', () => {
    const path = writeFile(JSON.stringify({ longpollTimeout: 9000 }));
    const e = catchErr(() => loadConfig(folder, { env }));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('longpollTimeout');
    expect(e.message).toContain(path);
    expect(e.message).toContain('9000');
    expect(e.message).toContain('from 1 to 480');
  });

  test('an unknown key in the file is named, with the known ones', () => {
    writeFile(JSON.stringify({ concurency: 4 }));
    const e = catchErr(() => readConfigFile(folder, env));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('"concurency"');
    expect(e.message).toContain('concurrency, bandwidthLimit');
  });

  test('a file that is not JSON, or not an object', () => {
    const path = writeFile('{ concurrency: 4 ');
    let e = catchErr(() => readConfigFile(folder, env));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain(path);
    expect(e.message).toContain('not valid JSON');
    writeFile('[1,2]');
    e = catchErr(() => readConfigFile(folder, env));
    expect(e.message).toContain('must hold a JSON object');
  });

  test('an unknown key given to set', () => {
    const e = catchErr(() => setConfigValue(folder, 'speed', '4', { env }));
    expect(e.code).toBe('bad_config');
    expect(e.message).toContain('"speed"');
    expect(() => resolveConfigKey('bandwidth_limit')).not.toThrow();
  });
});

describe('setConfigValue / unsetConfigValue', () => {
  test('stores the validated, normalised value and keeps other keys', () => {
    expect(setConfigValue(folder, 'bandwidth-limit', '10M', { env })).toBe(10 * 1024 * 1024);
    expect(setConfigValue(folder, 'ignore', '["*.tmp","build/"]', { env })).toEqual(['*.tmp', 'build/']);
    expect(setConfigValue(folder, 'logFormat', 'JSON', { env })).toBe('json');
    const path = configFilePath(folder, env);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual({
      bandwidthLimit: 10 * 1024 * 1024,
      ignore: ['*.tmp', 'build/'],
      logFormat: 'json',
    });
    expect(readConfigFile(folder, env)).toEqual({ bandwidthLimit: 10485760, ignore: ['*.tmp', 'build/'], logFormat: 'json' });
  });

  test('writes by rename (a new inode each time) and leaves no temp file behind', () => {
    setConfigValue(folder, 'concurrency', '2', { env });
    const path = configFilePath(folder, env);
    const before = statSync(path).ino;
    setConfigValue(folder, 'concurrency', '3', { env });
    expect(statSync(path).ino).not.toBe(before);
    expect(readdirSync(dirname(path))).toEqual(['config.json']);
  });

  test('a refused value leaves the file as it was', () => {
    setConfigValue(folder, 'concurrency', '2', { env });
    const path = configFilePath(folder, env);
    const text = readFileSync(path, 'utf8');
    const e = catchErr(() => setConfigValue(folder, 'concurrency', '0', { env }));
    expect(e.code).toBe('bad_config');
    expect(readFileSync(path, 'utf8')).toBe(text);
  });

  test('refuses to overwrite a broken file it cannot read', () => {
    const path = writeFile('not json');
    expect(catchErr(() => setConfigValue(folder, 'concurrency', '2', { env })).code).toBe('bad_config');
    expect(readFileSync(path, 'utf8')).toBe('not json');
  });

  test('unset removes the key so the layer below applies', () => {
    setConfigValue(folder, 'concurrency', '2', { env });
    env.SYNCD_CONCURRENCY = '5';
    expect(unsetConfigValue(folder, 'concurrency', { env })).toBe(true);
    expect(getConfigValue(folder, 'concurrency', { env })).toMatchObject({ value: 5, source: 'env' });
    expect(unsetConfigValue(folder, 'concurrency', { env })).toBe(false);
    expect(JSON.parse(readFileSync(configFilePath(folder, env), 'utf8'))).toEqual({});
  });

  test('the file is per folder', () => {
    const other = join(root, 'Other');
    mkdirSync(other);
    setConfigValue(folder, 'concurrency', '2', { env });
    expect(loadConfig(other, { env }).concurrency).toBe(8);
    expect(configFilePath(other, env)).not.toBe(configFilePath(folder, env));
  });
});

describe('requireLinkedFolder', () => {
  test('an unlinked folder fails with one line that says how to link it', () => {
    const e = catchErr(() => requireLinkedFolder(folder, env));
    expect(e.code).toBe('not_linked');
    expect(e.message).toContain(`syncd init ${folder} --server URL --token T`);
    expect(e.message).not.toContain('\n');
  });

  test('a folder with a state DB passes and gives its paths', () => {
    const paths = folderStatePaths(folder, env);
    mkdirSync(paths.dir, { recursive: true });
    writeFileSync(paths.db, '');
    expect(requireLinkedFolder(folder, env)).toEqual(paths);
  });

  test('a folder path with a quote is shell-quoted in the hint', () => {
    const odd = join(root, "it's here");
    mkdirSync(odd);
    expect(catchErr(() => requireLinkedFolder(odd, env)).message).toContain(`syncd init '${root}/it'\\''s here'`);
  });
});
