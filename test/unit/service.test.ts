// The generated systemd unit and launchd plist, read back with independent
// parsers (systemd.syntax(7) rules; a strict little XML reader, and Python's
// plistlib when present), and checked by `systemd-analyze verify` when it exists.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchdLabel, renderLaunchdPlist, xmlEscape } from '../../src/service/launchd.js';
import { renderSystemdUnit, systemdExecPath, systemdText, systemdUnitName, systemdWord } from '../../src/service/systemd.js';
import {
  defaultBinPath,
  forwardedEnv,
  launchAgentsDir,
  serviceHash,
  serviceTarget,
  systemdUserDir,
  type ServiceTarget,
} from '../../src/service/target.js';
import { SyncdError } from '../../src/protocol/errors.js';

// ---- an independent reader for unit files (systemd.syntax(7)) -------------------------

type Unit = Map<string, [string, string][]>;

function parseUnit(text: string): Unit {
  const sections: Unit = new Map();
  let current: [string, string][] | null = null;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    // we never emit continuation lines; one would mean a value ended in a backslash
    if (line.endsWith('\\')) throw new Error(`line ${i + 1} continues onto the next: ${line}`);
    const sec = /^\[([^\]]+)\]$/.exec(line);
    if (sec) {
      current = [];
      sections.set(sec[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0 || !current) throw new Error(`line ${i + 1} is not key=value inside a section: ${line}`);
    current.push([line.slice(0, eq).trim(), line.slice(eq + 1).trim()]);
  }
  return sections;
}

function values(unit: Unit, section: string, key: string): string[] {
  return (unit.get(section) ?? []).filter(([k]) => k === key).map(([, v]) => v);
}

function one(unit: Unit, section: string, key: string): string {
  const v = values(unit, section, key);
  expect(v, `${section}.${key}`).toHaveLength(1);
  return v[0]!;
}

/** %-specifiers first (only %% may appear in our units), then what a value means as text. */
function resolveSpecifiers(v: string): string {
  return v.replace(/%(.)/g, (_m, c: string) => {
    if (c === '%') return '%';
    throw new Error(`unexpected specifier %${c} in ${v}`);
  });
}

const C_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', s: ' ', '\\': '\\', '"': '"', "'": "'" };

/**
 * Splits a value into words like systemd: quotes, C escapes; for Exec lines
 * also $$ → $ in the arguments (the program path is not expanded).
 */
function words(value: string, opts: { exec?: boolean } = {}): string[] {
  const v = resolveSpecifiers(value);
  const out: string[] = [];
  let i = 0;
  while (i < v.length) {
    while (i < v.length && /\s/.test(v[i]!)) i++;
    if (i >= v.length) break;
    let w = '';
    let quote: string | null = null;
    if (v[i] === '"' || v[i] === "'") quote = v[i++]!;
    for (;;) {
      if (i >= v.length) {
        if (quote) throw new Error(`unterminated quote in ${value}`);
        break;
      }
      const c = v[i]!;
      if (quote && c === quote) {
        i++;
        if (i < v.length && !/\s/.test(v[i]!)) throw new Error(`text right after a closing quote in ${value}`);
        break;
      }
      if (!quote && /\s/.test(c)) break;
      if (c === '\\') {
        const e = v[i + 1];
        if (e === undefined) throw new Error(`trailing backslash in ${value}`);
        if (e === 'x') {
          const hex = v.slice(i + 2, i + 4);
          if (!/^[0-9a-f]{2}$/i.test(hex)) throw new Error(`bad \\x escape in ${value}`);
          w += String.fromCharCode(parseInt(hex, 16));
          i += 4;
          continue;
        }
        if (!(e in C_ESCAPES)) throw new Error(`unknown escape \\${e} in ${value}`);
        w += C_ESCAPES[e];
        i += 2;
        continue;
      }
      w += c;
      i++;
    }
    if (opts.exec && out.length > 0) {
      if (/\$(?!\$)/.test(w.replace(/\$\$/g, ''))) throw new Error(`word would be expanded: ${w}`);
      w = w.replace(/\$\$/g, '$');
    }
    out.push(w);
  }
  return out;
}

// ---- an independent reader for plists -------------------------------------------------

type PValue = string | number | boolean | PValue[] | { [k: string]: PValue };

function decodeEntities(s: string): string {
  if (/[<>]/.test(s)) throw new Error(`raw markup character in text: ${s}`);
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);|&/gi, (m, ent: string | undefined) => {
    if (!ent) throw new Error(`bare & in text: ${s}`);
    if (ent.startsWith('#x') || ent.startsWith('#X')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (!(ent in named)) throw new Error(`unknown entity ${m}`);
    return named[ent]!;
  });
}

function parsePlist(xml: string): PValue {
  const body = xml
    .replace(/^<\?xml[^>]*\?>\s*/, '')
    .replace(/^<!DOCTYPE[^>]*>\s*/, '')
    .replace(/<!--[\s\S]*?-->/g, '')
    // an XML parser normalises raw CR to LF; do the same before reading text
    .replace(/\r\n?/g, '\n');
  const tokens = body.match(/<[^>]+>|[^<]+/g) ?? [];
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < tokens.length && /^\s+$/.test(tokens[pos]!)) pos++;
  };
  const expectTag = (tag: string): void => {
    skipSpace();
    if (tokens[pos] !== tag) throw new Error(`expected ${tag}, got ${tokens[pos]}`);
    pos++;
  };
  const text = (close: string): string => {
    let t = '';
    if (tokens[pos] !== close) t = decodeEntities(tokens[pos++]!);
    expectTag(close);
    return t;
  };
  const value = (): PValue => {
    skipSpace();
    const tok = tokens[pos++];
    switch (tok) {
      case '<string>':
        return text('</string>');
      case '<integer>':
        return Number(text('</integer>'));
      case '<true/>':
        return true;
      case '<false/>':
        return false;
      case '<array>': {
        const arr: PValue[] = [];
        for (skipSpace(); tokens[pos] !== '</array>'; skipSpace()) arr.push(value());
        pos++;
        return arr;
      }
      case '<dict>': {
        const d: Record<string, PValue> = {};
        for (skipSpace(); tokens[pos] !== '</dict>'; skipSpace()) {
          expectTag('<key>');
          const k = text('</key>');
          if (k in d) throw new Error(`duplicate key ${k}`);
          d[k] = value();
        }
        pos++;
        return d;
      }
      default:
        throw new Error(`unexpected token ${tok}`);
    }
  };
  expectTag('<plist version="1.0">');
  const root = value();
  expectTag('</plist>');
  skipSpace();
  if (pos !== tokens.length) throw new Error('content after </plist>');
  return root;
}

function python3(): string | null {
  const r = spawnSync('python3', ['-c', 'import plistlib'], { encoding: 'utf8' });
  return r.status === 0 ? 'python3' : null;
}

function plistlibLoad(xml: string): unknown {
  const r = spawnSync('python3', ['-c', 'import plistlib,sys,json; print(json.dumps(plistlib.loads(sys.stdin.buffer.read())))'], {
    input: xml,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`plistlib refused the plist: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// ---- fixtures -------------------------------------------------------------------------

/** Folder names that break naive quoting in one format or the other. */
const HOSTILE: [string, string][] = [
  ['spaces', '/home/a/My Sync'],
  ['percent signs (systemd specifiers)', '/home/a/100% done %h %n %%'],
  ['double quotes', '/home/a/say "hi"'],
  ['single quote', "/home/a/it's"],
  ['backslashes, one trailing', '/home/a/back\\slash\\'],
  ['dollar signs (Exec expansion)', '/home/a/$HOME and ${USER} $$'],
  ['a lone semicolon word', '/home/a/x ; y'],
  ['tab and newline', '/home/a/tab\there\nnext'],
  ['carriage return', '/home/a/cr\rhere'],
  ['XML markup', '/home/a/<b>&amp; \'q\'</b>'],
  ['non-ASCII', '/home/a/Größe 日本語'],
];

function target(folder: string, over: Partial<ServiceTarget> = {}): ServiceTarget {
  return {
    folder,
    hash: 'abcdef012345',
    nodePath: '/usr/local/bin/node',
    binPath: '/opt/syncd/bin/syncd',
    logPath: `${folder}.state/agent.log`,
    env: {},
    version: '0.1.0',
    ...over,
  };
}

// ---- tests ----------------------------------------------------------------------------

describe('systemd user unit', () => {
  test('has the keys and values a restarting journal-logging user service needs', () => {
    const unit = parseUnit(renderSystemdUnit(target('/home/a/Sync', { env: { SYNCD_STATE_DIR: '/home/a/.syncd' } })));
    expect([...unit.keys()]).toEqual(['Unit', 'Service', 'Install']);
    expect(words(one(unit, 'Service', 'ExecStart'), { exec: true })).toEqual([
      '/usr/local/bin/node',
      '/opt/syncd/bin/syncd',
      'watch',
      '/home/a/Sync',
    ]);
    expect(one(unit, 'Service', 'Type')).toBe('simple');
    expect(one(unit, 'Service', 'Restart')).toBe('on-failure');
    expect(one(unit, 'Service', 'RestartSec')).toBe('5');
    expect(one(unit, 'Service', 'StandardOutput')).toBe('journal');
    expect(one(unit, 'Service', 'StandardError')).toBe('journal');
    expect(values(unit, 'Service', 'Environment').map((v) => words(v))).toEqual([['SYNCD_STATE_DIR=/home/a/.syncd']]);
    expect(one(unit, 'Install', 'WantedBy')).toBe('default.target');
    expect(resolveSpecifiers(one(unit, 'Unit', 'Description'))).toBe('syncd agent for "/home/a/Sync"');
  });

  test('no Environment= lines when no state variables are set', () => {
    const unit = parseUnit(renderSystemdUnit(target('/home/a/Sync')));
    expect(values(unit, 'Service', 'Environment')).toEqual([]);
  });

  for (const [name, folder] of HOSTILE) {
    test(`ExecStart, Environment and Description survive ${name}`, () => {
      const t = target(folder, {
        nodePath: '/opt/my node 100% $x/node',
        env: { SYNCD_STATE_DIR: `${folder}/state`, XDG_STATE_HOME: `${folder}/xdg` },
      });
      const unit = parseUnit(renderSystemdUnit(t));
      expect(words(one(unit, 'Service', 'ExecStart'), { exec: true })).toEqual([t.nodePath, t.binPath, 'watch', folder]);
      expect(values(unit, 'Service', 'Environment').map((v) => words(v))).toEqual([
        [`SYNCD_STATE_DIR=${folder}/state`],
        [`XDG_STATE_HOME=${folder}/xdg`],
      ]);
      // free text: only specifiers apply, and control characters are replaced
      // eslint-disable-next-line no-control-regex
      expect(resolveSpecifiers(one(unit, 'Unit', 'Description'))).toBe(`syncd agent for "${folder.replace(/[\u0000-\u001f]/g, '?')}"`);
    });
  }

  test('a program path systemd cannot run is refused with a clear error', () => {
    for (const bad of ['/opt/"q"/node', "/opt/it's/node", '/opt/back\\slash/node', '/opt/new\nline/node']) {
      expect(() => renderSystemdUnit(target('/home/a/Sync', { nodePath: bad })), bad).toThrow(/systemd cannot run a program whose path/);
    }
    expect(systemdExecPath('/opt/a $b 5%/node')).toBe('"/opt/a $b 5%%/node"');
  });

  test('systemdWord quotes only when needed', () => {
    expect(systemdWord('/usr/bin/node', { exec: true })).toBe('/usr/bin/node');
    expect(systemdWord('a b')).toBe('"a b"');
    expect(systemdWord('100%')).toBe('"100%%"');
    expect(systemdWord('$x', { exec: true })).toBe('"$$x"');
    expect(systemdWord('$x')).toBe('"$x"');
    expect(systemdWord('')).toBe('""');
    expect(systemdText('50% a\nb')).toBe('50%% a?b');
    expect(systemdUnitName('abcdef012345')).toBe('syncd-abcdef012345.service');
  });
});

// systemd-analyze exists on this machine (/usr/bin/systemd-analyze); where it
// does not, the parser above is the check.
const ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

describe.runIf(ANALYZE)('systemd-analyze verify', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncd-unit-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  function verify(unitText: string, name: string): { status: number | null; lines: string[] } {
    const unitDir = join(dir, `units-${name}`);
    mkdirSync(unitDir, { recursive: true });
    const file = join(unitDir, 'syncd-abcdef012345.service');
    writeFileSync(file, unitText);
    const runtime = mkdtempSync(join(dir, 'run-'));
    const env = { ...process.env, XDG_RUNTIME_DIR: runtime, HOME: dir, XDG_CONFIG_HOME: join(dir, 'cfg'), SYSTEMD_LOG_COLOR: '0' };
    let r = spawnSync(ANALYZE!, ['verify', '--user', file], { env, encoding: 'utf8' });
    // Container tolerance, narrow on purpose: a --user manager needs a usable
    // runtime directory; where the container cannot provide one, it cannot even
    // start ("Failed to initialize manager"), which says nothing about our unit.
    // Then verify the same file with the system manager, which parses the
    // same syntax. Any other message fails the test.
    if (/Failed to initialize manager|Failed to lookup RuntimeDirectory/.test(r.stderr)) {
      r = spawnSync(ANALYZE!, ['verify', file], { env, encoding: 'utf8' });
    }
    return { status: r.status, lines: r.stderr.split('\n').filter((l) => l.trim() !== '') };
  }

  test('accepts the unit for a hostile folder with node reached through a hostile path', () => {
    // Node under a directory whose name needs every kind of escaping: verify
    // unescapes ExecStart's first word and checks it is executable, so a
    // quoting mistake shows up as "is not executable".
    // (systemd itself refuses quotes and backslashes in a program path; see above)
    const nodeDir = join(dir, 'node 100% $HOME ${USER} dir');
    mkdirSync(nodeDir, { recursive: true });
    const nodePath = join(nodeDir, 'node');
    symlinkSync(process.execPath, nodePath);
    const folder = '/home/a/100% "odd" $USER\\ dir\tx';
    const text = renderSystemdUnit(target(folder, { nodePath, env: { SYNCD_STATE_DIR: `${folder}/state` } }));
    const r = verify(text, 'hostile');
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
  });

  test('catches what the quoting prevents (control: a naively written unit fails)', () => {
    const nodeDir = join(dir, 'plain dir');
    mkdirSync(nodeDir, { recursive: true });
    symlinkSync(process.execPath, join(nodeDir, 'node'));
    const naive = renderSystemdUnit(target('/home/a/x', { nodePath: join(nodeDir, 'node') })).replace(
      /^ExecStart=.*$/m,
      `ExecStart=${join(nodeDir, 'node')} /opt/syncd/bin/syncd watch /home/a/100%z`,
    );
    const r = verify(naive, 'naive');
    expect(r.status === 0 && r.lines.length === 0).toBe(false);
  });

  test('accepts the unit as generated for this checkout (real node, real bin/syncd)', () => {
    const t = serviceTarget(join(dir, 'Sync'), { env: { SYNCD_STATE_DIR: join(dir, 'state') } });
    expect(t.nodePath).toBe(process.execPath);
    const r = verify(renderSystemdUnit(t), 'real');
    expect(r.lines).toEqual([]);
    expect(r.status).toBe(0);
  });
});

describe('launchd plist', () => {
  test('has the label, program, restart and log keys', () => {
    const t = target('/Users/a/Sync', { env: { SYNCD_STATE_DIR: '/Users/a/.syncd' }, logPath: '/Users/a/.syncd/folders/x/agent.log' });
    const p = parsePlist(renderLaunchdPlist(t));
    expect(p).toEqual({
      Label: 'dev.syncd.abcdef012345',
      ProgramArguments: ['/usr/local/bin/node', '/opt/syncd/bin/syncd', 'watch', '/Users/a/Sync'],
      EnvironmentVariables: { SYNCD_STATE_DIR: '/Users/a/.syncd' },
      RunAtLoad: true,
      KeepAlive: { SuccessfulExit: false },
      ThrottleInterval: 5,
      ProcessType: 'Background',
      StandardOutPath: '/Users/a/.syncd/folders/x/agent.log',
      StandardErrorPath: '/Users/a/.syncd/folders/x/agent.log',
    });
    expect(launchdLabel('abcdef012345')).toBe('dev.syncd.abcdef012345');
  });

  test('no EnvironmentVariables when no state variables are set', () => {
    expect(parsePlist(renderLaunchdPlist(target('/Users/a/Sync')))).not.toHaveProperty('EnvironmentVariables');
  });

  for (const [name, folder] of HOSTILE) {
    test(`strings survive ${name}`, () => {
      const t = target(folder, { nodePath: `/opt/node ${folder}/node`, env: { XDG_STATE_HOME: `${folder}/xdg` } });
      const xml = renderLaunchdPlist(t);
      const p = parsePlist(xml) as Record<string, PValue>;
      expect(p.ProgramArguments).toEqual([t.nodePath, t.binPath, 'watch', folder]);
      expect(p.EnvironmentVariables).toEqual({ XDG_STATE_HOME: `${folder}/xdg` });
      expect(p.StandardOutPath).toBe(t.logPath);
    });
  }

  test.runIf(python3())('Python\'s plistlib reads every hostile plist the same way', () => {
    for (const [name, folder] of HOSTILE) {
      const t = target(folder, { env: { SYNCD_STATE_DIR: folder } });
      const xml = renderLaunchdPlist(t);
      expect(plistlibLoad(xml), name).toEqual(parsePlist(xml));
    }
  });

  test('a control character XML cannot carry is refused with a clear error', () => {
    expect(() => renderLaunchdPlist(target('/Users/a/bell\x07'))).toThrow(SyncdError);
    expect(() => xmlEscape('a\x01')).toThrow(/control character/);
    expect(xmlEscape('a&<>"\'\r')).toBe('a&amp;&lt;&gt;&quot;&apos;&#13;');
  });
});

describe('naming and paths', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'syncd-svc-names-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('the hash is the first 12 hex digits of sha256 of the canonical folder path', () => {
    const real = join(dir, 'real');
    mkdirSync(real);
    symlinkSync(real, join(dir, 'link'));
    const want = createHash('sha256').update(real).digest('hex').slice(0, 12);
    expect(serviceHash(real)).toBe(want);
    expect(serviceHash(join(dir, 'link'))).toBe(want);
    expect(serviceHash(`${real}/`)).toBe(want);
  });

  test('systemd user dir honours an absolute XDG_CONFIG_HOME only', () => {
    expect(systemdUserDir({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/a')).toBe('/x/cfg/systemd/user');
    expect(systemdUserDir({ XDG_CONFIG_HOME: 'relative' }, '/home/a')).toBe('/home/a/.config/systemd/user');
    expect(systemdUserDir({}, '/home/a')).toBe('/home/a/.config/systemd/user');
    expect(launchAgentsDir('/Users/a')).toBe('/Users/a/Library/LaunchAgents');
  });

  test('state variables are forwarded as absolute paths, others are not', () => {
    expect(forwardedEnv({ SYNCD_STATE_DIR: 'rel/state', XDG_STATE_HOME: '/abs', HOME: '/h', SYNCD_CONCURRENCY: '3' })).toEqual({
      SYNCD_STATE_DIR: join(process.cwd(), 'rel/state'),
      XDG_STATE_HOME: '/abs',
    });
  });

  test('the target runs this node and this checkout\'s bin/syncd on the canonical folder', () => {
    const env = { SYNCD_STATE_DIR: join(dir, 'state') };
    const t = serviceTarget(join(dir, 'link'), { env });
    expect(t.folder).toBe(join(dir, 'real'));
    expect(t.nodePath).toBe(process.execPath);
    expect(t.binPath).toBe(defaultBinPath());
    expect(t.binPath).toMatch(/\/bin\/syncd$/);
    expect(existsSync(t.binPath)).toBe(true);
    expect(t.logPath.startsWith(join(dir, 'state'))).toBe(true);
    expect(t.env).toEqual(env);
    expect(() => serviceTarget(dir, { env, nodePath: 'node' })).toThrow(/absolute path to node/);
  });
});
