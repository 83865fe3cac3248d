// What a service runs and where its file goes, for one folder. Both
// generators (systemd, launchd) render a ServiceTarget; nothing here writes.

import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SyncdError } from '../protocol/errors.js';
import { canonicalFolder, folderStatePaths } from '../client/state/paths.js';
import { VERSION } from '../version.js';

export type ServicePlatform = 'linux' | 'darwin';
export const SERVICE_PLATFORMS: readonly ServicePlatform[] = ['linux', 'darwin'];

export interface ServiceTarget {
  /** Canonical absolute folder path. */
  folder: string;
  /** First 12 hex digits of sha256(folder): names the unit or agent. */
  hash: string;
  /** Absolute path of the Node.js binary. */
  nodePath: string;
  /** Absolute path of bin/syncd. */
  binPath: string;
  /** The folder's agent log (launchd writes stdout/stderr there). */
  logPath: string;
  /** Variables the agent needs to find the same state directory as this shell. */
  env: Record<string, string>;
  version: string;
}

export function serviceHash(folder: string): string {
  return createHash('sha256').update(canonicalFolder(folder)).digest('hex').slice(0, 12);
}

/** bin/syncd of this installation (…/bin/syncd next to src/ or dist/). */
export function defaultBinPath(): string {
  const p = fileURLToPath(new URL('../../bin/syncd', import.meta.url));
  return existsSync(p) ? realpathSync(p) : p;
}

/** State-directory variables, made absolute: the service does not start in this shell's directory. */
export function forwardedEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['SYNCD_STATE_DIR', 'XDG_STATE_HOME'] as const) {
    const v = env[name];
    if (v) out[name] = resolve(v);
  }
  return out;
}

export interface TargetOptions {
  env?: NodeJS.ProcessEnv;
  nodePath?: string;
  binPath?: string;
}

export function serviceTarget(dir: string, opts: TargetOptions = {}): ServiceTarget {
  const env = opts.env ?? process.env;
  const paths = folderStatePaths(dir, env);
  const nodePath = opts.nodePath ?? process.execPath;
  const binPath = opts.binPath ?? defaultBinPath();
  for (const [what, p] of [
    ['node', nodePath],
    ['bin/syncd', binPath],
  ] as const) {
    if (!isAbsolute(p)) throw new SyncdError('service_error', `the service needs an absolute path to ${what}, got ${p}`);
  }
  return {
    folder: paths.folder,
    hash: serviceHash(paths.folder),
    nodePath,
    binPath,
    logPath: paths.log,
    env: forwardedEnv(env),
    version: VERSION,
  };
}

/** `$XDG_CONFIG_HOME/systemd/user` (when absolute, as the XDG spec requires), else ~/.config/systemd/user. */
export function systemdUserDir(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const xdg = env.XDG_CONFIG_HOME;
  const base = xdg && isAbsolute(xdg) ? xdg : join(home, '.config');
  return join(base, 'systemd', 'user');
}

export function launchAgentsDir(home: string = homedir()): string {
  return join(home, 'Library', 'LaunchAgents');
}
