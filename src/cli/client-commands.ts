// syncd init | sync | watch | pause | resume | conflicts

import { Command, Option } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { rename, unlink } from 'node:fs/promises';
import { Engine, writeMarker, type Log } from '../client/engine.js';
import { acquireLock } from '../client/lock.js';
import { folderStatePaths } from '../client/paths.js';
import { RemoteClient } from '../client/remote.js';
import { safeJoin } from '../client/safe-fs.js';
import { StateDB } from '../client/state-db.js';
import { SyncdError } from '../protocol/errors.js';
import { VERSION } from '../version.js';
import { folderPaths, openLinked, printJson, remoteFor } from './folder.js';
import { UsageError } from './main.js';

export function consoleLog(format: 'text' | 'json' = 'text', level: 'debug' | 'info' | 'warn' | 'error' = 'info'): Log {
  const order = { debug: 0, info: 1, warn: 2, error: 3 };
  const emit = (lv: keyof typeof order) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (order[lv] < order[level]) return;
    const ts = new Date().toISOString();
    if (format === 'json') process.stderr.write(`${JSON.stringify({ ts, level: lv, msg, ...fields })}\n`);
    else {
      const kv = Object.entries(fields).map(([k, v]) => `${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`).join(' ');
      process.stderr.write(`${ts} ${lv.toUpperCase()} ${msg}${kv ? ' ' + kv : ''}\n`);
    }
  };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function num(v: string | undefined, name: string, min: number, max: number): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new UsageError(`${name} must be a number from ${min} to ${max}`);
  return n;
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
  mkdirSync(paths.dir, { recursive: true, mode: 0o700 });
  const db = new StateDB(paths.db);
  try {
    const old = db.get('server');
    const oldNs = db.get('namespace');
    if (old && (old !== server || oldNs !== status.namespace) && db.get('cursor')) {
      throw new SyncdError('already_linked', `${paths.folder} is already linked to ${old} (namespace ${oldNs}); unlink it by removing ${paths.dir} first`);
    }
    const me = status.devices.find((d) => d.id === status.device);
    db.tx(() => {
      db.set('server', server);
      db.set('token', token);
      db.set('namespace', status.namespace);
      db.set('device', status.device ?? '');
      db.set('device_label', me?.label ?? 'device');
      db.set('folder', paths.folder);
      db.set('epoch', status.epoch);
    });
    writeMarker(paths.folder);
    return { folder: paths.folder, namespace: status.namespace, device: status.device ?? '', label: me?.label ?? 'device' };
  } finally {
    db.close();
  }
}

interface RunOpts {
  concurrency?: string;
  logFormat?: 'text' | 'json';
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
}

export function engineFor(dir: string | undefined, opts: RunOpts, log: Log) {
  const { paths, db } = openLinked(dir);
  const remote = remoteFor(db);
  const env = process.env;
  const engine = new Engine({
    folder: paths.folder,
    db,
    remote,
    log,
    concurrency: num(opts.concurrency ?? env.SYNCD_CONCURRENCY, 'concurrency', 1, 64) ?? 8,
    maxDeleteShare: num(env.SYNCD_MAX_DELETE_SHARE, 'SYNCD_MAX_DELETE_SHARE', 0, 1) ?? 0.5,
    minDeleteCount: num(env.SYNCD_MIN_DELETE_COUNT, 'SYNCD_MIN_DELETE_COUNT', 0, 1e9) ?? 20,
    longpollTimeoutS: num(env.SYNCD_LONGPOLL_TIMEOUT, 'SYNCD_LONGPOLL_TIMEOUT', 1, 480) ?? 60,
    safetyPullIntervalS: num(env.SYNCD_SAFETY_PULL_INTERVAL, 'SYNCD_SAFETY_PULL_INTERVAL', 1, 86400) ?? 300,
  });
  return { paths, db, remote, engine };
}

function logOptions(cmd: Command): Command {
  return cmd
    .addOption(new Option('--log-format <format>', 'log line format').choices(['text', 'json']).default('text'))
    .addOption(new Option('--log-level <level>', 'least severe level logged').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .option('--concurrency <n>', 'transfers in parallel (1-64)');
}

export function register(program: Command): void {
  program
    .command('init')
    .description('link a folder to a namespace on a syncd server (the folder is created if missing)')
    .argument('<dir>', 'the folder to sync')
    .requiredOption('--server <url>', 'server URL, e.g. http://127.0.0.1:7420')
    .requiredOption('--token <token>', 'device token from `syncd server add-device`')
    .action(async (dir: string, o: { server: string; token: string }) => {
      const r = await initFolder(dir, o.server, o.token);
      process.stdout.write(`linked ${r.folder} to ${o.server} (namespace ${r.namespace}, device ${r.label})\nnext: syncd watch ${r.folder}\n`);
    });

  logOptions(program.command('sync'))
    .description('run one full cycle (pull, reconcile, push); exit 0 when the folder and the namespace agree')
    .argument('[dir]', 'the folder (default: current directory)')
    .action(async (dir: string | undefined, o: RunOpts) => {
      const log = consoleLog(o.logFormat, o.logLevel);
      const { paths, db, remote, engine } = engineFor(dir, o, log);
      const lock = acquireLock(paths.lock, paths.folder);
      try {
        await engine.prepare();
        const r = await engine.cycle();
        if (r.paused) throw new SyncdError(r.paused.code, r.paused.message);
        if (!r.converged) {
          const first = r.problems[0];
          throw new SyncdError('not_converged', `not in agreement yet: ${r.pending} operations left${first ? `; first problem: ${first.message}` : ''} (see \`syncd status\`)`);
        }
        process.stdout.write(`in sync: ${paths.folder} (seq ${db.get('cursor_seq')})\n`);
      } finally {
        lock.release();
        await remote.close();
        db.close();
      }
    });

  logOptions(program.command('watch'))
    .description('run the agent in the foreground until SIGINT/SIGTERM')
    .argument('[dir]', 'the folder (default: current directory)')
    .action(async (dir: string | undefined, o: RunOpts) => {
      const log = consoleLog(o.logFormat, o.logLevel);
      const { paths, db, remote, engine } = engineFor(dir, o, log);
      const lock = acquireLock(paths.lock, paths.folder);
      const ac = new AbortController();
      const stop = (sig: string) => {
        log.info(`${sig}: finishing in-flight work and stopping`);
        ac.abort();
      };
      process.once('SIGINT', () => stop('SIGINT'));
      process.once('SIGTERM', () => stop('SIGTERM'));
      log.info('watching', { folder: paths.folder, server: db.get('server') });
      try {
        await engine.watch(ac.signal);
      } finally {
        lock.release();
        await remote.close();
        db.close();
      }
      log.info('stopped');
    });

  program
    .command('pause')
    .description('pause syncing of a folder (the agent keeps running and keeps pulling)')
    .argument('[dir]', 'the folder (default: current directory)')
    .action((dir: string | undefined) => {
      const { paths, db } = openLinked(dir);
      db.tx(() => {
        db.set('paused', '1');
        db.set('pause_code', 'user');
        db.set('pause_reason', 'paused by the user; `syncd resume` continues');
        db.set('state', 'paused');
      });
      db.close();
      process.stdout.write(`paused ${paths.folder}\n`);
    });

  program
    .command('resume')
    .description('resume a paused folder (also after a safety guard paused it: the held-back deletions then go ahead)')
    .argument('[dir]', 'the folder (default: current directory)')
    .action((dir: string | undefined) => {
      const { paths, db } = openLinked(dir);
      const was = db.get('pause_reason');
      const code = db.get('pause_code');
      db.tx(() => {
        db.set('paused', null);
        db.set('pause_code', null);
        db.set('pause_reason', null);
        db.set('allow_deletes', was && code !== 'user' ? '1' : null);
        db.set('state', 'syncing');
      });
      db.close();
      if (existsSync(paths.folder)) writeMarker(paths.folder);
      process.stdout.write(`resumed ${paths.folder}${was ? ` (was: ${was})` : ''}\n`);
    });

  program
    .command('conflicts')
    .description('list conflicted copies; --keep resolves them all at once')
    .argument('[dir]', 'the folder (default: current directory)')
    .addOption(new Option('--keep <side>', 'keep the local copy (replacing the synced file) or the remote version (deleting the copy)').choices(['local', 'remote']))
    .option('--json', 'machine-readable output')
    .action(async (dir: string | undefined, o: { keep?: 'local' | 'remote'; json?: boolean }) => {
      const { paths, db } = openLinked(dir);
      try {
        const list = db.conflicts().filter((c) => existsSync(safeJoin(paths.folder, c.path)));
        for (const c of db.conflicts()) if (!list.includes(c)) db.removeConflict(c.path);
        if (!o.keep) {
          if (o.json) printJson(list);
          else if (list.length === 0) process.stdout.write('no conflicts\n');
          else for (const c of list) process.stdout.write(`${c.path}\n    copy of ${c.original}: ${c.reason} (${new Date(c.at).toISOString()})\n`);
          return;
        }
        for (const c of list) {
          const copy = safeJoin(paths.folder, c.path);
          if (o.keep === 'remote') await unlink(copy);
          else await rename(copy, safeJoin(paths.folder, c.original));
          db.removeConflict(c.path);
        }
        process.stdout.write(`resolved ${list.length} conflict${list.length === 1 ? '' : 's'} keeping the ${o.keep} version; a running agent syncs the result (or run \`syncd sync\`)\n`);
      } finally {
        db.close();
      }
    });
}

export { folderPaths };
