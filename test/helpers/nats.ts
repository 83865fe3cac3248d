// nats-server for tests: started on 127.0.0.1 on a free port (or a given
// one, to restart it where the servers expect it), stopped with SIGKILL or
// SIGTERM. Missing binary: a clear failure (CI installs it in .ci/run);
// SYNCD_SKIP_PG=1 skips the PostgreSQL/NATS tests locally (see pg.ts).

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { once } from 'node:events';
import { delimiter, join } from 'node:path';
import { IN_CI } from './pg.js';

export interface NatsServer {
  url: string;
  port: number;
  child: ChildProcess;
  /** stops it (SIGKILL by default: the server just vanishes) */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export function natsServerBinary(): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/bin', '/usr/local/bin', '/usr/local/sbin'];
  for (const d of dirs) {
    const p = join(d, 'nats-server');
    if (d && existsSync(p)) return p;
  }
  throw new Error(
    'nats-server is required for this test and is not installed: `apt-get install -y nats-server` (.ci/run does).\n' +
      (IN_CI ? 'This is CI (CI=true): these tests never skip here.' : 'Locally, SYNCD_SKIP_PG=1 reports the PostgreSQL/NATS tests as skipped.'),
  );
}

/** Starts nats-server bound to 127.0.0.1; `port` 0 lets it pick a free one. */
export async function startNats(port = 0): Promise<NatsServer> {
  const child = spawn(natsServerBinary(), ['-a', '127.0.0.1', '-p', port === 0 ? '-1' : String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const found = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s:\n${log}`)), 10_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      const m = /Listening for client connections on 127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}) before listening:\n${log}`));
    });
  });
  return {
    url: `nats://127.0.0.1:${found}`,
    port: found,
    child,
    async stop(signal: NodeJS.Signals = 'SIGKILL') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      await once(child, 'exit');
    },
  };
}
