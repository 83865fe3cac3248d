// Installs and removes the per-folder service: writes or deletes the unit
// (or plist) and, when this machine can, asks systemd (or launchd) to start
// or stop it. When it cannot (no user bus, as in CI or a bare ssh session,
// or a file generated for the other platform), it says which commands to
// run instead: that is never an error.

import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { SyncdError } from '../protocol/errors.js';
import { requireLinkedFolder, shellWord, writeFileAtomicSync } from '../client/state/config.js';
import { launchdLabel, renderLaunchdPlist } from './launchd.js';
import { renderSystemdUnit, systemdUnitName } from './systemd.js';
import {
  launchAgentsDir,
  serviceHash,
  serviceTarget,
  systemdUserDir,
  type ServicePlatform,
  type ServiceTarget,
  type TargetOptions,
} from './target.js';

export interface RunResult {
  /** Exit code; null when the command could not be started or was killed. */
  code: number | null;
  stdout: string;
  stderr: string;
}
export type CommandRunner = (cmd: string, args: readonly string[]) => Promise<RunResult>;

export interface ServiceOptions extends TargetOptions {
  /** The platform the file is for. */
  platform: ServicePlatform;
  /** Home directory (default os.homedir(), which honours $HOME). */
  home?: string;
  /** Runs systemctl/launchctl; tests pass a fake. */
  runner?: CommandRunner;
  /** Finds a command on PATH; tests pass a fake. */
  which?: (cmd: string) => string | null;
  /** The platform this process runs on (default process.platform); nothing is started for another one. */
  hostPlatform?: NodeJS.Platform;
  /** For launchctl's gui/<uid> domain. */
  uid?: number;
}

export interface ServiceFile {
  platform: ServicePlatform;
  /** Unit name (syncd-<hash>.service) or launchd label (dev.syncd.<hash>). */
  name: string;
  path: string;
  content: string;
  target: ServiceTarget;
}

export interface InstallReport {
  file: ServiceFile;
  /** A file was there before (and was replaced). */
  replaced: boolean;
  /** The service manager was told to start it. */
  started: boolean;
  /** Commands that were run, as a person would type them. */
  ran: string[];
  /** Commands the person should run, when they could not be run here. */
  manual: string[];
  /** Why `manual` is not empty. */
  reason?: string;
  /** How to read the agent's logs. */
  logs: string;
}

export interface UninstallReport {
  platform: ServicePlatform;
  name: string;
  path: string;
  /** False when there was no file to remove. */
  removed: boolean;
  ran: string[];
  manual: string[];
  reason?: string;
}

/** The service file for `dir`, rendered, without touching anything. */
export function describeService(dir: string, opts: ServiceOptions): ServiceFile {
  const target = serviceTarget(dir, opts);
  const home = opts.home ?? homedir();
  const env = opts.env ?? process.env;
  if (opts.platform === 'linux') {
    const name = systemdUnitName(target.hash);
    return { platform: 'linux', name, path: join(systemdUserDir(env, home), name), content: renderSystemdUnit(target), target };
  }
  const name = launchdLabel(target.hash);
  return { platform: 'darwin', name, path: join(launchAgentsDir(home), `${name}.plist`), content: renderLaunchdPlist(target), target };
}

/** Checks the folder is linked, then renders its service file (for --print). */
export function previewService(dir: string, opts: ServiceOptions): ServiceFile {
  requireLinkedFolder(dir, opts.env ?? process.env);
  return describeService(dir, opts);
}

export async function installService(dir: string, opts: ServiceOptions): Promise<InstallReport> {
  const file = previewService(dir, opts);
  const replaced = existsSync(file.path);
  const changed = !replaced || safeRead(file.path) !== file.content;
  if (changed) writeFileAtomicSync(file.path, file.content);
  const report: InstallReport = { file, replaced, started: false, ran: [], manual: [], logs: logsHint(file) };
  const ctl = await managerReachable(opts);

  if (file.platform === 'linux') {
    const steps = [['daemon-reload'], ['enable', '--now', file.name]];
    // enable --now leaves an already running agent on the old definition
    if (replaced && changed) steps.push(['restart', file.name]);
    if (!ctl.ok) {
      report.reason = ctl.reason;
      report.manual = steps.map((s) => display('systemctl', ['--user', ...s]));
      return report;
    }
    for (const s of steps) await mustRun(ctl, 'systemctl', ['--user', ...s], report, file);
    report.started = true;
    return report;
  }

  if (!ctl.ok) {
    report.reason = ctl.reason;
    report.manual = [
      ...(replaced ? [display('launchctl', ['bootout', `${SHELL_DOMAIN}/${file.name}`])] : []),
      display('launchctl', ['bootstrap', SHELL_DOMAIN, file.path]),
    ];
    return report;
  }
  const domain = guiDomain(opts);
  // bootstrap refuses a label that is already loaded; unload the old one first
  await ctl.run('launchctl', ['bootout', `${domain}/${file.name}`]);
  report.ran.push(display('launchctl', ['bootout', `${domain}/${file.name}`]));
  await mustRun(ctl, 'launchctl', ['bootstrap', domain, file.path], report, file);
  report.started = true;
  return report;
}

export async function uninstallService(dir: string, opts: ServiceOptions): Promise<UninstallReport> {
  const env = opts.env ?? process.env;
  const home = opts.home ?? homedir();
  const hash = serviceHash(dir);
  const linux = opts.platform === 'linux';
  const name = linux ? systemdUnitName(hash) : launchdLabel(hash);
  const path = linux ? join(systemdUserDir(env, home), name) : join(launchAgentsDir(home), `${name}.plist`);
  const report: UninstallReport = { platform: opts.platform, name, path, removed: false, ran: [], manual: [] };
  if (!existsSync(path)) return report;

  const ctl = await managerReachable(opts);
  const domain = guiDomain(opts);
  // stopping is best effort: the unit may never have been started
  if (ctl.ok) {
    const args = linux ? ['--user', 'disable', '--now', name] : ['bootout', `${domain}/${name}`];
    await ctl.run(linux ? 'systemctl' : 'launchctl', args);
    report.ran.push(display(linux ? 'systemctl' : 'launchctl', args));
  }
  rmSync(path, { force: true });
  report.removed = true;
  if (linux) {
    if (ctl.ok) {
      await ctl.run('systemctl', ['--user', 'daemon-reload']);
      report.ran.push(display('systemctl', ['--user', 'daemon-reload']));
    } else {
      // without a bus nobody else will remove the enablement link
      removeOwnLink(join(systemdUserDir(env, home), 'default.target.wants', name), path);
      report.reason = ctl.reason;
      report.manual = [display('systemctl', ['--user', 'stop', name]), display('systemctl', ['--user', 'daemon-reload'])];
    }
  } else if (!ctl.ok) {
    report.reason = ctl.reason;
    report.manual = [display('launchctl', ['bootout', `${SHELL_DOMAIN}/${name}`])];
  }
  return report;
}

// ---- talking to the service manager --------------------------------------------------

type Manager = { ok: true; run: CommandRunner } | { ok: false; reason: string };

/** Whether systemd (user bus) or launchd can be asked to start things from here. */
async function managerReachable(opts: ServiceOptions): Promise<Manager> {
  const host = opts.hostPlatform ?? process.platform;
  const tool = opts.platform === 'linux' ? 'systemctl' : 'launchctl';
  if (host !== opts.platform) return { ok: false, reason: `this machine is not ${opts.platform === 'linux' ? 'Linux' : 'macOS'}` };
  const which = opts.which ?? ((cmd: string) => whichOnPath(cmd, opts.env ?? process.env));
  if (!which(tool)) return { ok: false, reason: `${tool} was not found on PATH` };
  const run = opts.runner ?? defaultRunner;
  if (opts.platform === 'linux') {
    // the cheapest call that needs the user bus
    const probe = await run('systemctl', ['--user', 'show-environment']);
    if (probe.code !== 0) {
      const why = firstLine(probe.stderr) || 'no user session bus';
      return { ok: false, reason: `systemd user instance not reachable (${why})` };
    }
  }
  return { ok: true, run };
}

async function mustRun(
  ctl: { run: CommandRunner },
  cmd: string,
  args: string[],
  report: { ran: string[] },
  file: ServiceFile,
): Promise<void> {
  const r = await ctl.run(cmd, args);
  report.ran.push(display(cmd, args));
  if (r.code !== 0) {
    throw new SyncdError(
      'service_error',
      `wrote ${file.path}, but \`${display(cmd, args)}\` failed: ${firstLine(r.stderr) || `exit code ${String(r.code)}`}`,
      { path: file.path, command: display(cmd, args) },
    );
  }
}

const defaultRunner: CommandRunner = (cmd, args) =>
  new Promise((resolvePromise) => {
    execFile(cmd, [...args], { timeout: 30_000, encoding: 'utf8' }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : null) : 0;
      resolvePromise({ code, stdout: String(stdout ?? ''), stderr: String(stderr ?? '') || (err && code === null ? err.message : '') });
    });
  });

export function whichOnPath(cmd: string, env: NodeJS.ProcessEnv = process.env): string | null {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = resolve(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* next */
    }
  }
  return null;
}

// ---- small helpers -----------------------------------------------------------------------

// launchd's per-user domain, as the person types it
const SHELL_DOMAIN = 'gui/$(id -u)';

function guiDomain(opts: ServiceOptions): string {
  return `gui/${opts.uid ?? process.getuid?.() ?? 0}`;
}

/** A command line to show or paste; args are shell-quoted except our own $(id -u). */
function display(cmd: string, args: readonly string[]): string {
  return [cmd, ...args.map((a) => (a.startsWith(SHELL_DOMAIN) ? a : shellWord(a)))].join(' ');
}

function firstLine(s: string): string {
  return s.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? '';
}

function safeRead(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

function logsHint(file: ServiceFile): string {
  return file.platform === 'linux' ? `journalctl --user -u ${file.name} -f` : `tail -f ${shellWord(file.target.logPath)}`;
}

/** Removes `link` only when it is a symlink to our own unit file. */
function removeOwnLink(link: string, unitPath: string): void {
  try {
    if (!lstatSync(link).isSymbolicLink()) return;
    if (resolve(join(link, '..'), readlinkSync(link)) === unitPath) rmSync(link, { force: true });
  } catch {
    /* no link: nothing to do */
  }
}
