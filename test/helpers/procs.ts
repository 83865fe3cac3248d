// Real processes for end-to-end tests: the built CLI (dist/) as a server and
// as agents, killable with SIGKILL.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const BIN = join(__dirname, '..', '..', 'bin', 'syncd');

export function cli(args: string[], env: NodeJS.ProcessEnv = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/**
 * `cli` without blocking the event loop: needed when the test process itself
 * serves something the command talks to (the fault proxy).
 */
export function cliAsync(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/**
 * Runs `node file` and waits for it to end by itself: 'hung' (and killed)
 * if it is still running after `timeoutMs`, e.g. held open by a handle left
 * referenced.
 */
export function nodeScript(file: string, timeoutMs: number): Promise<{ code: number | null | 'hung'; stdout: string }> {
  return nodeRun([file], timeoutMs);
}

/** `nodeScript` with node's own arguments, e.g. `['--input-type=module', '-e', code]` */
export function nodeRun(args: string[], timeoutMs: number): Promise<{ code: number | null | 'hung'; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      resolve({ code: 'hung', stdout });
    }, timeoutMs);
    child.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout });
    });
  });
}

export interface Proc {
  child: ChildProcess;
  output: string[];
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export function start(args: string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  child.stdout!.on('data', (d: Buffer) => output.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => output.push(d.toString()));
  return {
    child,
    output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}

export async function startServerProc(dataDir: string): Promise<{ proc: Proc; url: string }> {
  const proc = start(['serve', '--data', dataDir, '--port', '0']);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    const m = /http:\/\/127\.0\.0\.1:\d+/.exec(proc.output.join(''));
    if (m) return { proc, url: m[0] };
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`server did not start: ${proc.output.join('')}`);
}

/**
 * A real `syncd serve` on a fresh data folder under `prefix` and two folders
 * A and B linked to one namespace of it (devices alpha and beta), with their
 * own state directory: the start of every two-device CLI test.
 */
export async function twoLinkedFolders(prefix: string): Promise<{ work: string; env: NodeJS.ProcessEnv; server: { proc: Proc; url: string }; A: string; B: string }> {
  const work = mkdtempSync(join(tmpdir(), prefix));
  const env = { SYNCD_STATE_DIR: join(work, 'state') };
  const server = await startServerProc(join(work, 'srv'));
  const add = (label: string) => cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', label]).stdout.trim();
  const A = join(work, 'A');
  const B = join(work, 'B');
  for (const [dir, label] of [[A, 'alpha'], [B, 'beta']] as const) {
    const r = cli(['init', dir, '--server', server.url, '--token', add(label)], env);
    if (r.code !== 0) throw new Error(`syncd init ${dir}: ${r.stderr}`);
  }
  return { work, env, server, A, B };
}
