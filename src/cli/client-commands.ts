// The work of syncd init | sync | watch | pause | resume | conflicts, and the
// agent set-up quickstart and the tests share. Loaded only when one of these
// commands runs (src/cli/client.ts defines their arguments).

import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { loadConfig, type ConfigKey } from '../client/state/config.js';
import type { FolderMode } from '../core/policy/mode-names.js';
import { Engine } from '../client/agent/engine.js';
import type { Log } from '../client/agent/log.js';
import { writeMarker } from '../client/disk/marker.js';
import { createLogger, type Logger } from '../client/agent/log.js';
import { acquireLock } from '../client/state/lock.js';
import { watchNudges } from '../client/state/wake.js';
import { folderStatePaths } from '../client/state/paths.js';
import { RemoteClient } from '../client/remote/remote.js';
import { safeJoin } from '../client/disk/safe-fs.js';
import { StateDB } from '../client/state/db.js';
import { keepConflicts } from '../client/exec/keep.js';
import { RoundTrash } from '../client/exec/to-trash.js';
import { TrashBin } from '../client/disk/trash.js';
import { nodeFsys } from '../client/disk/fsys.js';
import { resumeDecision, USER_PAUSE } from '../core/policy/pause.js';
import { SyncdError, UsageError } from '../protocol/errors.js';
import { PROTOCOL_VERSION } from '../protocol/types.js';
import { VERSION } from '../version.js';
import { configFlags } from './config-cmd.js';
import { folderPaths, openLinked, printJson, remoteFor } from './folder.js';
import { createProgress, type ProgressOptions } from './progress-core.js';
import { cleartextWarning, resolveToken } from './token.js';

export function consoleLog(format: 'text' | 'json' = 'text', level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Log {
  return createLogger({ format, level, debug: process.argv.includes('--debug') });
}

/** A server speaking another protocol version: one clear sentence, which side to upgrade. */
export function checkProtocol(server: string, protocol: number | undefined): void {
  if (protocol === undefined || protocol === PROTOCOL_VERSION) return;
  throw new SyncdError('server_version', `the server at ${server} speaks protocol v${protocol} and this syncd speaks v${PROTOCOL_VERSION}: upgrade ${protocol > PROTOCOL_VERSION ? 'syncd on this machine' : 'the server'}`);
}

export async function initFolder(dir: string, server: string, token: string): Promise<{ folder: string; namespace: string; device: string; label: string }> {
  mkdirSync(dir, { recursive: true });
  const paths = folderStatePaths(dir);
  let url: URL;
  try {
    url = new URL(server);
  } catch {
    throw new UsageError(`--server must be a URL like http://127.0.0.1:7420 (got "${server}")`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('--server must be an http:// or https:// URL');
  const remote = new RemoteClient({ server, token, userAgent: `syncd/${VERSION}` });
  let status;
  try {
    status = await remote.status();
  } finally {
    await remote.close();
  }
  checkProtocol(server, status.protocol);
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const db = new StateDB(paths.db);
  try {
    const old = db.meta.get('server');
    const oldNs = db.meta.get('namespace');
    if (old && (old !== server || oldNs !== status.namespace) && (db.meta.get('cursor') || db.syncedCount() > 0 || db.loadSynced().size > 0)) {
      throw new SyncdError('already_linked', `${paths.folder} is already linked to ${old} (namespace ${oldNs}); unlink it by removing ${paths.dir} first`);
    }
    const me = status.devices.find((d) => d.id === status.device);
    db.tx(() => {
      db.meta.set('server', server);
      db.meta.set('token', token);
      db.meta.set('namespace', status.namespace);
      db.meta.set('device', status.device ?? '');
      db.meta.set('device_label', me?.label ?? 'device');
      db.meta.set('folder', paths.folder);
      db.meta.set('epoch', status.epoch);
    });
    writeMarker(paths.folder);
    return { folder: paths.folder, namespace: status.namespace, device: status.device ?? '', label: me?.label ?? 'device' };
  } finally {
    db.close();
  }
}

type RunOpts = Record<string, unknown>;

/** An engine for a linked folder, configured by flags > environment > config file > defaults. */
export function engineFor(dir: string | undefined, opts: RunOpts, log?: Log, hooks: { onPlan?: (f: number, b: number) => void; onTransfer?: (f: number, b: number) => void } = {}) {
  const { paths, db } = openLinked(dir);
  const config = loadConfig(paths.folder, { flags: configFlags(opts) });
  const logger = log ?? consoleLog(config.logFormat, config.logLevel);
  // every request slot of the `concurrency` budget gets a connection, and the held longpoll or event stream one more
  const remote = remoteFor(db, Math.max(8, config.concurrency + 1));
  const engine = new Engine({
    folder: paths.folder,
    db,
    remote,
    log: logger,
    concurrency: config.concurrency,
    maxDeleteShare: config.maxDeleteShare,
    minDeleteCount: config.minDeleteCount,
    longpollTimeoutS: config.longpollTimeout,
    notifyChannel: config.notify,
    maxListEntries: config.maxListEntries,
    safetyPullIntervalS: config.safetyPullInterval,
    extraIgnore: config.ignore,
    bandwidthLimit: config.bandwidthLimit,
    trash: { days: config.trashDays, maxBytes: config.trashMaxMB * 1024 * 1024 },
    mode: liveMode(paths.folder, configFlags(opts), config.mode, logger),
    ...hooks,
  });
  return { paths, db, remote, engine, config, log: logger };
}

/**
 * The folder's mode as the config says now (a running agent follows
 * `syncd config set DIR mode …`); a config file broken meanwhile keeps the last good mode.
 */
function liveMode(folder: string, flags: Partial<Record<ConfigKey, unknown>>, initial: FolderMode, log: Log): () => FolderMode {
  let last = initial;
  return () => {
    try {
      const now = loadConfig(folder, { flags }).mode;
      if (now !== last) log.info(`folder mode is now ${now}`, { mode: now });
      last = now;
    } catch (err) {
      log.warn(`keeping mode ${last}: ${(err as Error).message}`);
    }
    return last;
  };
}

/** Progress for transfers: a spinner on a TTY (ora is loaded only then), log lines otherwise. */
async function progressHooks(log: Log, label: string) {
  const tty = Boolean(process.stderr.isTTY);
  const spinner: ProgressOptions['spinner'] = tty ? (await import('ora')).default : undefined;
  const progress = createProgress({ tty, logger: log as Logger, label, spinner });
  let started = false;
  let files = 0;
  let bytes = 0;
  return {
    onPlan(f: number, b: number) {
      if (f === 0) return;
      files += f;
      bytes += b;
      if (!started) progress.start(files, bytes);
      else progress.setTotals(files, bytes);
      started = true;
    },
    onTransfer(f: number, b: number) {
      if (started) progress.advance(f, b);
    },
    stop(summary?: string) {
      if (started) progress.stop(summary);
      started = false;
      files = 0;
      bytes = 0;
    },
  };
}

/** Runs the engine until SIGINT/SIGTERM; in-flight work finishes first. */
export async function watchUntilSignal(engine: Engine, log: Log): Promise<void> {
  const ac = new AbortController();
  const stop = (sig: string) => {
    log.info(`${sig}: finishing in-flight work and stopping`);
    ac.abort();
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  process.once('SIGINT', onInt);
  process.once('SIGTERM', onTerm);
  try {
    await engine.watch(ac.signal);
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
  }
}

/** Opens a linked folder's agent (config, logger, progress), holds its lock while `fn` runs, and closes everything. */
export async function withAgent(
  dir: string | undefined,
  o: RunOpts,
  fn: (a: ReturnType<typeof engineFor> & { hooks: Awaited<ReturnType<typeof progressHooks>> }) => Promise<void>,
): Promise<void> {
  const cfg = loadConfig(folderPaths(dir).folder, { flags: configFlags(o) });
  const log = consoleLog(cfg.logFormat, cfg.logLevel);
  const hooks = await progressHooks(log, 'Syncing');
  const agent = engineFor(dir, o, log, hooks);
  const lock = acquireLock(agent.paths.lock, agent.paths.folder);
  try {
    await fn({ ...agent, hooks });
  } finally {
    lock.release();
    await agent.remote.close();
    agent.db.close();
  }
}

// ---- the commands' work (src/cli/client.ts parses their arguments) ----------------------

export async function runInit(dir: string, o: { server: string; token?: string; tokenFile?: string }): Promise<void> {
  const token = await resolveToken(o, {
    env: process.env,
    readFile: (p) => readFileSync(p, 'utf8'),
    readStdin: async () => {
      let text = '';
      for await (const chunk of process.stdin) text += String(chunk);
      return text;
    },
  });
  const warning = cleartextWarning(o.server);
  if (warning) process.stderr.write(`${warning}\n`);
  const r = await initFolder(dir, o.server, token);
  process.stdout.write(`linked ${r.folder} to ${o.server} (namespace ${r.namespace}, device ${r.label})\nnext: syncd watch ${r.folder}\n`);
}

export function runSync(dir: string | undefined, o: RunOpts): Promise<void> {
  return withAgent(dir, o, async ({ paths, db, engine, hooks }) => {
    try {
      await engine.prepare();
      const r = await engine.cycle();
      hooks.stop();
      if (r.paused) throw new SyncdError(r.paused.code, r.paused.message);
      if (!r.converged) {
        const first = r.problems[0];
        throw new SyncdError('not_converged', `not in agreement yet: ${r.pending} operations left${first ? `; first problem: ${first.message}` : ''} (see \`syncd status\`)`);
      }
      const leftOut = leftOutServerNodes(db);
      if (leftOut.length > 0) {
        throw new SyncdError(
          'incomplete',
          `the folder agrees with what could be synced, but ${leftOut.length} server node(s) were left out; first: ${leftOut[0]!.message} (see \`syncd status\`)`,
        );
      }
      db.meta.set('last_error', null);
    } catch (err) {
      // `status` must say why the last sync gave up, as it does for `watch`
      const e = err as SyncdError;
      db.meta.set('last_error', { code: e.code ?? 'error', message: e.message, at: Date.now() });
      throw err;
    }
    process.stdout.write(`in sync: ${paths.folder} (seq ${db.meta.get('cursor_seq')})\n`);
  });
}

/** Problems that stand for server nodes the folder cannot hold (orphans, cycles, bad names, too deep). */
function leftOutServerNodes(db: StateDB): Array<{ code: string; message: string }> {
  return [...db.problemsOf('plan'), ...db.problemsOf('pull')].filter((p) => p.code.startsWith('remote_'));
}

export function runWatch(dir: string | undefined, o: RunOpts): Promise<void> {
  return withAgent(dir, o, async ({ paths, db, engine, hooks, log }) => {
    engine.onIdle = () => hooks.stop();
    log.info('watching', { folder: paths.folder, server: db.meta.get('server') });
    // a changed config (mode) or a revert/override request starts a cycle now
    const stopNudges = watchNudges(paths, () => engine.requestPull());
    try {
      await watchUntilSignal(engine, log);
    } finally {
      stopNudges();
    }
    log.info('stopped');
  });
}

export function runPause(dir: string | undefined): void {
  const { paths, db } = openLinked(dir);
  db.tx(() => {
    db.meta.set('paused', true);
    db.meta.set('pause_code', USER_PAUSE.code);
    db.meta.set('pause_reason', USER_PAUSE.reason);
    db.meta.set('state', 'paused');
  });
  db.close();
  process.stdout.write(`paused ${paths.folder}\n`);
}

export function runResume(dir: string | undefined, o: { force?: boolean }): void {
  const { paths, db } = openLinked(dir);
  try {
    const was = db.meta.get('pause_reason');
    const code = db.meta.get('pause_code');
    const decision = resumeDecision(code, o.force ?? false, () => (existsSync(paths.folder) ? readdirSync(paths.folder) : null));
    if (!decision.ok) {
      throw new SyncdError('still_empty', `${paths.folder} is still ${decision.folder}: mount or restore it first (or, if you emptied it on purpose, \`syncd resume --force ${paths.folder}\`; deletions then still pass the mass-delete guard)`);
    }
    db.tx(() => {
      db.meta.set('paused', false);
      db.meta.set('pause_code', null);
      db.meta.set('pause_reason', null);
      db.meta.set('allow_deletes', decision.allowDeletes);
      db.meta.set('state', 'syncing');
    });
    if (existsSync(paths.folder)) writeMarker(paths.folder);
    process.stdout.write(`resumed ${paths.folder}${was ? ` (was: ${was})` : ''}\n`);
  } finally {
    db.close();
  }
}

export async function runConflicts(dir: string | undefined, o: { keep?: 'local' | 'remote'; json?: boolean }): Promise<void> {
  const { paths, db } = openLinked(dir);
  try {
    // copies the user already moved or deleted are resolved: forget them
    const all = db.conflicts();
    const list = all.filter((c) => existsSync(safeJoin(paths.folder, c.path)));
    for (const c of all) if (!list.includes(c)) db.removeConflict(c.path);
    if (!o.keep) {
      if (o.json) printJson(list);
      else if (list.length === 0) process.stdout.write('no conflicts\n');
      else for (const c of list) process.stdout.write(`${c.path}\n    copy of ${c.original}: ${c.reason} (${new Date(c.at).toISOString()})\n`);
      return;
    }
    // the side not kept goes to the local trash (unless trashDays is 0)
    const bin = loadConfig(paths.folder).trashDays > 0 ? new TrashBin(paths.folder, nodeFsys, Date.now) : undefined;
    const report = await keepConflicts(paths.folder, db, o.keep, list, nodeFsys, new RoundTrash(bin, db));
    for (const s of report.skipped) process.stderr.write(`skipped ${s.path}: ${s.message}\n`);
    if (report.skipped.length) process.exitCode = 1;
    const n = report.resolved;
    process.stdout.write(`resolved ${n} conflict${n === 1 ? '' : 's'} keeping the ${o.keep} version; a running agent syncs the result (or run \`syncd sync\`)\n`);
  } finally {
    db.close();
  }
}

export { folderPaths };
