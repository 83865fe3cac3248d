// install/uninstall against a temporary HOME and XDG_CONFIG_HOME, with a fake
// systemctl/launchctl, and once through the real CLI with the real systemctl
// pointed at a bus that does not exist.

import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import { buildProgram, reportError } from '../../src/cli/main.js';
import { folderStatePaths } from '../../src/client/state/paths.js';
import { SyncdError } from '../../src/protocol/errors.js';
import {
  describeService,
  installService,
  uninstallService,
  whichOnPath,
  type CommandRunner,
  type RunResult,
  type ServiceOptions,
} from '../../src/service/install.js';
import { serviceHash } from '../../src/service/target.js';

let root: string;
let home: string;
let folder: string;
let env: NodeJS.ProcessEnv;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'syncd-svc-'));
  home = join(root, 'home');
  folder = join(root, 'My Sync 100%');
  mkdirSync(home);
  mkdirSync(folder);
  env = { SYNCD_STATE_DIR: join(root, 'state'), XDG_CONFIG_HOME: join(root, 'cfg'), PATH: '/usr/bin:/bin' };
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function link(dir: string, e: NodeJS.ProcessEnv = env): void {
  const p = folderStatePaths(dir, e);
  mkdirSync(p.dir, { recursive: true });
  writeFileSync(p.db, '');
}

/** A fake systemctl/launchctl: records calls, answers from a table (default: success). */
function fakeManager(answers: Record<string, Partial<RunResult>> = {}): { runner: CommandRunner; calls: string[] } {
  const calls: string[] = [];
  const runner: CommandRunner = async (cmd, args) => {
    const line = [cmd, ...args].join(' ');
    calls.push(line);
    const a = Object.entries(answers).find(([prefix]) => line.startsWith(prefix))?.[1] ?? {};
    return { code: 0, stdout: '', stderr: '', ...a };
  };
  return { runner, calls };
}

function linuxOpts(over: Partial<ServiceOptions> = {}): ServiceOptions {
  return { platform: 'linux', env, home, hostPlatform: 'linux', which: (c) => `/usr/bin/${c}`, ...over };
}

function listTree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: false }) as string[];
}

describe('installService on Linux', () => {
  test('refuses a folder that was never linked, in one line naming syncd init, and writes nothing', async () => {
    const { runner, calls } = fakeManager();
    const err = await installService(folder, linuxOpts({ runner })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SyncdError);
    expect((err as SyncdError).code).toBe('not_linked');
    expect((err as SyncdError).message).toMatch(/^.* is not linked to a server yet; run `syncd init '.*My Sync 100%' --server URL --token T` first$/);
    expect(calls).toEqual([]);
    expect(listTree(join(root, 'cfg'))).toEqual([]);
  });

  test('with a user bus: writes the unit under $XDG_CONFIG_HOME, reloads and enables --now', async () => {
    link(folder);
    const { runner, calls } = fakeManager();
    const r = await installService(folder, linuxOpts({ runner }));
    const name = `syncd-${serviceHash(folder)}.service`;
    const path = join(root, 'cfg', 'systemd', 'user', name);
    expect(r.file.path).toBe(path);
    expect(readFileSync(path, 'utf8')).toBe(describeService(folder, linuxOpts()).content);
    expect(calls).toEqual([
      'systemctl --user show-environment',
      'systemctl --user daemon-reload',
      `systemctl --user enable --now ${name}`,
    ]);
    expect(r).toMatchObject({ started: true, replaced: false, manual: [], logs: `journalctl --user -u ${name} -f` });
    expect(readdirSync(join(root, 'cfg', 'systemd', 'user'))).toEqual([name]); // no temp file left
  });

  test('without XDG_CONFIG_HOME the unit goes to ~/.config/systemd/user', async () => {
    delete env.XDG_CONFIG_HOME;
    link(folder);
    const r = await installService(folder, linuxOpts({ runner: fakeManager().runner }));
    expect(r.file.path).toBe(join(home, '.config', 'systemd', 'user', `syncd-${serviceHash(folder)}.service`));
    expect(existsSync(r.file.path)).toBe(true);
  });

  test('reinstalling a changed unit restarts the running agent; an unchanged one does not', async () => {
    link(folder);
    await installService(folder, linuxOpts({ runner: fakeManager().runner }));
    let m = fakeManager();
    let r = await installService(folder, linuxOpts({ runner: m.runner }));
    expect(r.replaced).toBe(true);
    expect(m.calls.some((c) => c.includes('restart'))).toBe(false);
    m = fakeManager();
    r = await installService(folder, linuxOpts({ runner: m.runner, nodePath: '/opt/node-22/bin/node' }));
    expect(m.calls.at(-1)).toBe(`systemctl --user restart ${r.file.name}`);
    expect(readFileSync(r.file.path, 'utf8')).toContain('ExecStart=/opt/node-22/bin/node ');
  });

  test('no user bus (CI, bare ssh): the unit is written, nothing fails, the exact commands are given', async () => {
    link(folder);
    const { runner, calls } = fakeManager({
      'systemctl --user show-environment': { code: 1, stderr: 'Failed to connect to bus: No medium found\n' },
    });
    const r = await installService(folder, linuxOpts({ runner }));
    expect(existsSync(r.file.path)).toBe(true);
    expect(calls).toEqual(['systemctl --user show-environment']);
    expect(r.started).toBe(false);
    expect(r.reason).toBe('systemd user instance not reachable (Failed to connect to bus: No medium found)');
    expect(r.manual).toEqual(['systemctl --user daemon-reload', `systemctl --user enable --now ${r.file.name}`]);
  });

  test('no systemctl on PATH: written, with the commands to run', async () => {
    link(folder);
    const { runner, calls } = fakeManager();
    const r = await installService(folder, linuxOpts({ runner, which: () => null }));
    expect(calls).toEqual([]);
    expect(r.reason).toBe('systemctl was not found on PATH');
    expect(r.manual).toHaveLength(2);
  });

  test('a failing enable is an error that names the command, and says the unit was written', async () => {
    link(folder);
    const { runner } = fakeManager({ 'systemctl --user enable': { code: 1, stderr: 'Failed to enable unit: Access denied\n' } });
    const err = (await installService(folder, linuxOpts({ runner })).catch((e: unknown) => e)) as SyncdError;
    expect(err.code).toBe('service_error');
    expect(err.message).toMatch(/^wrote .*syncd-[0-9a-f]{12}\.service, but `systemctl --user enable --now syncd-[0-9a-f]{12}\.service` failed: Failed to enable unit: Access denied$/);
  });
});

describe('uninstallService on Linux', () => {
  test('with a bus: disable --now, remove, daemon-reload', async () => {
    link(folder);
    const { file } = await installService(folder, linuxOpts({ runner: fakeManager().runner }));
    const { runner, calls } = fakeManager();
    const r = await uninstallService(folder, linuxOpts({ runner }));
    expect(r.removed).toBe(true);
    expect(existsSync(file.path)).toBe(false);
    expect(calls).toEqual([
      'systemctl --user show-environment',
      `systemctl --user disable --now ${file.name}`,
      'systemctl --user daemon-reload',
    ]);
  });

  test('stopping is best effort: a unit that never ran is still removed', async () => {
    link(folder);
    const { file } = await installService(folder, linuxOpts({ runner: fakeManager().runner }));
    const { runner } = fakeManager({ 'systemctl --user disable': { code: 1, stderr: 'Unit not loaded' } });
    expect((await uninstallService(folder, linuxOpts({ runner }))).removed).toBe(true);
    expect(existsSync(file.path)).toBe(false);
  });

  test('without a bus: removes the file and our own enablement link only, and says what to run', async () => {
    link(folder);
    const noBus = fakeManager({ 'systemctl --user show-environment': { code: 1, stderr: 'Failed to connect to bus' } });
    const { file } = await installService(folder, linuxOpts({ runner: noBus.runner }));
    const wants = join(root, 'cfg', 'systemd', 'user', 'default.target.wants');
    mkdirSync(wants);
    symlinkSync(file.path, join(wants, file.name));
    symlinkSync('/elsewhere/other.service', join(wants, 'other.service'));
    const r = await uninstallService(folder, linuxOpts({ runner: noBus.runner }));
    expect(r.removed).toBe(true);
    expect(existsSync(file.path)).toBe(false);
    expect(() => lstatSync(join(wants, file.name))).toThrow();
    expect(lstatSync(join(wants, 'other.service')).isSymbolicLink()).toBe(true);
    expect(r.manual).toEqual([`systemctl --user stop ${file.name}`, 'systemctl --user daemon-reload']);
  });

  test('nothing installed: reports it and runs nothing; the folder need not be linked', async () => {
    const { runner, calls } = fakeManager();
    const r = await uninstallService(folder, linuxOpts({ runner }));
    expect(r.removed).toBe(false);
    expect(calls).toEqual([]);
  });
});

describe('launchd', () => {
  test('on a Mac: writes ~/Library/LaunchAgents/dev.syncd.<hash>.plist, then bootout + bootstrap', async () => {
    link(folder);
    const { runner, calls } = fakeManager({ 'launchctl bootout': { code: 3, stderr: 'No such process' } });
    const r = await installService(folder, { platform: 'darwin', env, home, hostPlatform: 'darwin', which: () => '/bin/launchctl', runner, uid: 501 });
    const label = `dev.syncd.${serviceHash(folder)}`;
    expect(r.file.path).toBe(join(home, 'Library', 'LaunchAgents', `${label}.plist`));
    expect(readFileSync(r.file.path, 'utf8')).toContain(`<string>${label}</string>`);
    expect(readFileSync(r.file.path, 'utf8')).toContain(`<string>${folderStatePaths(folder, env).log}</string>`);
    expect(calls).toEqual([`launchctl bootout gui/501/${label}`, `launchctl bootstrap gui/501 ${r.file.path}`]);
    expect(r.started).toBe(true);
    expect(r.logs).toBe(`tail -f ${folderStatePaths(folder, env).log}`);

    const u = fakeManager();
    const ur = await uninstallService(folder, { platform: 'darwin', env, home, hostPlatform: 'darwin', which: () => '/bin/launchctl', runner: u.runner, uid: 501 });
    expect(ur.removed).toBe(true);
    expect(u.calls).toEqual([`launchctl bootout gui/501/${label}`]);
    expect(existsSync(r.file.path)).toBe(false);
  });

  test('generated on Linux for a Mac: written, nothing run, commands given', async () => {
    link(folder);
    const { runner, calls } = fakeManager();
    const r = await installService(folder, { platform: 'darwin', env, home, hostPlatform: 'linux', runner });
    expect(calls).toEqual([]);
    expect(r.reason).toBe('this machine is not macOS');
    expect(r.manual).toEqual([`launchctl bootstrap gui/$(id -u) ${r.file.path}`]);
  });
});

test('whichOnPath finds executables only', () => {
  const bin = join(root, 'bin');
  mkdirSync(bin);
  writeFileSync(join(bin, 'tool'), '#!/bin/sh\n', { mode: 0o755 });
  writeFileSync(join(bin, 'data'), 'x', { mode: 0o644 });
  expect(whichOnPath('tool', { PATH: `/nonexistent:${bin}` })).toBe(join(bin, 'tool'));
  expect(whichOnPath('data', { PATH: bin })).toBeNull();
  expect(whichOnPath('tool', {})).toBeNull();
});

// ---- through the CLI ------------------------------------------------------------------

describe('syncd service (CLI)', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.HOME = home;
    process.env.XDG_CONFIG_HOME = join(root, 'cfg');
    process.env.SYNCD_STATE_DIR = join(root, 'state');
    // Point systemctl at a user bus that does not exist, so this test never
    // touches a real session even on a desktop: the "no user bus" path, for real.
    process.env.XDG_RUNTIME_DIR = join(root, 'run');
    process.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${join(root, 'run', 'no-bus')}`;
    mkdirSync(join(root, 'run'), { mode: 0o700 });
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const o = vi.spyOn(process.stdout, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    const e = vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((err += String(c)), true));
    let code = 0;
    try {
      await buildProgram().parseAsync(['node', 'syncd', ...args]);
    } catch (x) {
      code = reportError(x, false);
    } finally {
      o.mockRestore();
      e.mockRestore();
    }
    return { code, out, err };
  }

  test('--print writes the unit to stdout and touches nothing', async () => {
    link(folder, process.env);
    const stateBefore = listTree(join(root, 'state')).sort();
    const r = await cli('service', 'install', folder, '--print', '--platform', 'linux');
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toBe(describeService(folder, { platform: 'linux' }).content);
    expect(r.out).toContain('[Service]');
    expect(listTree(join(root, 'cfg'))).toEqual([]);
    expect(listTree(home)).toEqual([]);
    expect(listTree(join(root, 'state')).sort()).toEqual(stateBefore);
  });

  test('--print --platform darwin writes the plist to stdout and touches nothing', async () => {
    link(folder, process.env);
    const r = await cli('service', 'install', folder, '--print', '--platform', 'darwin');
    expect(r.code).toBe(0);
    expect(r.out.startsWith('<?xml version="1.0" encoding="UTF-8"?>')).toBe(true);
    expect(r.out).toContain('<key>KeepAlive</key>');
    expect(listTree(home)).toEqual([]);
  });

  test('install on this machine without a user bus: writes the unit, prints the commands, exit 0', async () => {
    link(folder, process.env);
    const r = await cli('service', 'install', folder, '--platform', 'linux');
    const name = `syncd-${serviceHash(folder)}.service`;
    const path = join(root, 'cfg', 'systemd', 'user', name);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(existsSync(path)).toBe(true);
    const lines = r.out.trimEnd().split('\n');
    expect(lines[0]).toBe(`wrote ${path}`);
    expect(lines[1]).toMatch(/^not started here: (systemd user instance not reachable \(.+\)|systemctl was not found on PATH|this machine is not Linux)\. To start it, run:$/);
    expect(lines.slice(2, 4)).toEqual(['  systemctl --user daemon-reload', `  systemctl --user enable --now ${name}`]);
    expect(lines[4]).toBe(`logs: journalctl --user -u ${name} -f`);

    const u = await cli('service', 'uninstall', folder, '--platform', 'linux');
    expect(u.code).toBe(0);
    expect(u.out.split('\n')[0]).toBe(`removed ${path}`);
    expect(existsSync(path)).toBe(false);
    const again = await cli('service', 'uninstall', folder, '--platform', 'linux');
    expect(again.out).toBe(`no service installed for this folder (no ${path}); nothing to do\n`);
  });

  test('an unlinked folder: exit 1 and one line saying to run syncd init first', async () => {
    const r = await cli('service', 'install', folder, '--print', '--platform', 'linux');
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(r.err).toContain('syncd init');
    expect(r.err).toContain('--server URL --token T');
  });

  test('--platform is hidden from help and checked', async () => {
    const help = await cli('service', 'install', '--help');
    expect(help.out).toContain('--print');
    expect(help.out).not.toContain('--platform');
    const bad = await cli('service', 'install', folder, '--platform', 'windows');
    expect(bad.code).toBe(2);
  });
});
