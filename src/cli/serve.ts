// `syncd serve --data DIR | --db postgres://… --blobs DIR [--nats nats://…]
//   [--host 127.0.0.1] [--port 7420] [--retention-entries N] [--retention-age S]
//   [--tls-cert FILE --tls-key FILE]`
// Parses arguments and calls startServer; nothing else lives here. The
// server's modules are imported when the command runs, not to print --help.

import type { Command } from 'commander';
import type { StoreTarget } from '../server/admin.js';
import { UsageError } from '../protocol/errors.js';

/** A URL with its password blanked, for messages. */
async function redactUrl(url: string): Promise<string> {
  return (await import('../server/store/postgres/store.js')).redactUrl(url);
}

/** `--data DIR` or `--db URL`, exactly one: where a command finds the server's journal store. */
export async function storeTarget(o: { data?: string; db?: string }): Promise<Exclude<StoreTarget, string>> {
  if (o.data !== undefined && o.db !== undefined) throw new UsageError('--data and --db are exclusive: a server keeps its journal in one store');
  if (o.db !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(o.db)) throw new UsageError(`--db must be a postgres:// URL, got "${await redactUrl(o.db)}"`);
    return { db: o.db };
  }
  if (o.data !== undefined) return { dataDir: o.data };
  throw new UsageError('one of --data DIR (embedded SQLite) or --db postgres://… (shared PostgreSQL) is required');
}

const DATA_HELP = 'data folder: SQLite database and blobs (created on first use)';
const DB_HELP = 'PostgreSQL URL of a journal shared by several servers (password: PGPASSWORD or ~/.pgpass)';

/** Adds --data and --db to an admin command. */
export function storeOptions(cmd: Command): Command {
  return cmd.option('--data <dir>', 'the server data folder').option('--db <url>', 'the PostgreSQL URL the servers use');
}

/** A number of days; decimals are allowed (short periods for tests and trials). */
export function parseDaysOption(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,9}(\.[0-9]{1,6})?$/.test(raw)) throw new UsageError(`${name} must be a non-negative number of days, got "${raw}"`);
  return Number(raw);
}

export function parseIntOption(raw: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(raw) || Number(raw) > max) throw new UsageError(`${name} must be an integer from 0 to ${max}, got "${raw}"`);
  return Number(raw);
}

interface ServeFlags {
  data?: string;
  db?: string;
  blobs?: string;
  nats?: string;
  host: string;
  port: string;
  retentionEntries?: string;
  retentionAge?: string;
  keepVersionsDays?: string;
  tlsCert?: string;
  tlsKey?: string;
  maxConnections?: string;
  bodyBudget?: string;
  bodyBudgetNamespace?: string;
  headersTimeout?: string;
  bodyDeadline?: string;
  minBodyRate?: string;
  maxLongpollsPerDevice?: string;
  maxLongpollsPerNamespace?: string;
  maxStreams?: string;
  maxStreamsPerDevice?: string;
  maxStreamsPerNamespace?: string;
  rateDevice?: string;
  rateNamespace?: string;
  burstDevice?: string;
  burstNamespace?: string;
  maxDepth?: string;
  maxPathBytes?: string;
  metricsHost?: string;
  metricsPort?: string;
}

function parseRate(raw: string | undefined, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,9}(\.[0-9]{1,6})?$/.test(raw)) throw new UsageError(`${name} must be a non-negative number (requests per second), got "${raw}"`);
  return Number(raw);
}

/** seconds on the command line, ms in the options */
function seconds(raw: string | undefined, name: string): number | undefined {
  const s = parseIntOption(raw, name, 86_400);
  return s === undefined ? undefined : s * 1000;
}

/** MiB as bytes, or undefined */
function mib(v: string | undefined, flag: string): number | undefined {
  const n = parseIntOption(v, flag, 1_048_576);
  return n === undefined ? undefined : n * 1024 * 1024;
}

/** The hardening limits (docs/server.md "Limits and tuning"), each one optional. */
function limitOptions(o: ServeFlags): Record<string, number | string | undefined> {
  return {
    maxConnections: parseIntOption(o.maxConnections, '--max-connections'),
    bodyBudgetBytes: mib(o.bodyBudget, '--body-budget'),
    bodyBudgetPerNamespaceBytes: mib(o.bodyBudgetNamespace, '--body-budget-namespace'),
    headersTimeoutMs: seconds(o.headersTimeout, '--headers-timeout'),
    bodyDeadlineMs: seconds(o.bodyDeadline, '--body-deadline'),
    minBodyBytesPerS: parseIntOption(o.minBodyRate, '--min-body-rate'),
    maxLongpollsPerDevice: parseIntOption(o.maxLongpollsPerDevice, '--max-longpolls-per-device'),
    maxLongpollsPerNamespace: parseIntOption(o.maxLongpollsPerNamespace, '--max-longpolls-per-namespace'),
    maxStreams: parseIntOption(o.maxStreams, '--max-streams'),
    maxStreamsPerDevice: parseIntOption(o.maxStreamsPerDevice, '--max-streams-per-device'),
    maxStreamsPerNamespace: parseIntOption(o.maxStreamsPerNamespace, '--max-streams-per-namespace'),
    rateDevice: parseRate(o.rateDevice, '--rate-device'),
    rateNamespace: parseRate(o.rateNamespace, '--rate-namespace'),
    burstDevice: parseIntOption(o.burstDevice, '--burst-device'),
    burstNamespace: parseIntOption(o.burstNamespace, '--burst-namespace'),
    maxDepth: parseIntOption(o.maxDepth, '--max-depth'),
    maxPathBytes: parseIntOption(o.maxPathBytes, '--max-path-bytes'),
    metricsHost: o.metricsHost,
    metricsPort: parseIntOption(o.metricsPort, '--metrics-port', 65535),
  };
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the namespace server (journal, blobs, HTTP API) on a data folder, or as one of many on PostgreSQL')
    .option('--data <dir>', DATA_HELP)
    .option('--db <url>', DB_HELP)
    .option('--blobs <dir>', 'with --db: the blob folder, shared by every server process (a shared volume)')
    .option('--nats <url>', 'with --db: NATS server(s) for cross-process wakes (default: PostgreSQL LISTEN/NOTIFY)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port; 0 picks a free one', '7420')
    .option('--retention-entries <n>', 'keep at most N journal entries per namespace (0 = unlimited); stored in the store')
    .option('--retention-age <seconds>', 'drop journal entries older than this (0 = unlimited); stored in the store')
    .option('--keep-versions-days <days>', 'keep every version and deleted file this long for restore and rewind (default 30; 0 = only back to the journal floor); stored in the store')
    .option('--tls-cert <file>', 'serve HTTPS (HTTP/2 and HTTP/1.1) with this PEM certificate chain; needs --tls-key')
    .option('--tls-key <file>', 'the PEM private key of --tls-cert')
    .option('--max-connections <n>', 'open TCP connections (default 10000)')
    .option('--body-budget <MiB>', 'request bodies read whole (JSON) held at once, server-wide; past it 503 (default 256)')
    .option('--body-budget-namespace <MiB>', 'the same per namespace; past it 429 (default 64)')
    .option('--headers-timeout <seconds>', 'a request must send its headers within this; then 408 and the socket is destroyed (default 60)')
    .option('--body-deadline <seconds>', 'a commit or batch-fetch body must arrive whole within this (default 60)')
    .option('--min-body-rate <bytes/s>', 'an upload slower than this on average after 10 s is cut (default 1024; 0 = off)')
    .option('--max-longpolls-per-device <n>', 'open longpolls per device before backoff (default 16)')
    .option('--max-longpolls-per-namespace <n>', 'open longpolls per namespace before backoff (default 5000)')
    .option('--max-streams <n>', 'open event streams in total before 429 (default 10000)')
    .option('--max-streams-per-device <n>', 'open event streams per device before 429 (default 4)')
    .option('--max-streams-per-namespace <n>', 'open event streams per namespace before 429 (default 1000)')
    .option('--rate-device <req/s>', 'token-bucket rate per device, 429 beyond (default 0 = off)')
    .option('--rate-namespace <req/s>', 'token-bucket rate per namespace, 429 beyond (default 0 = off)')
    .option('--burst-device <n>', 'bucket size per device (default 10 × the rate)')
    .option('--burst-namespace <n>', 'bucket size per namespace (default 10 × the rate)')
    .option('--max-depth <n>', 'deepest node a commit may create or move (default 1024)')
    .option('--max-path-bytes <n>', 'longest path a commit may create or move, UTF-8 bytes (default 4096)')
    .option('--metrics-host <host>', 'serve /metrics on its own listener at this address (with --metrics-port; default 127.0.0.1)')
    .option('--metrics-port <port>', 'serve /metrics on this port instead of the API port (0 picks a free one)')
    .action(async (o: ServeFlags) => {
      if (o.metricsHost !== undefined && o.metricsPort === undefined) throw new UsageError('--metrics-host needs --metrics-port');
      const target = await storeTarget(o);
      if ((o.tlsCert === undefined) !== (o.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
      let tls: { cert: Buffer; key: Buffer } | undefined;
      if (o.tlsCert !== undefined && o.tlsKey !== undefined) {
        const { readFileSync } = await import('node:fs');
        try {
          tls = { cert: readFileSync(o.tlsCert), key: readFileSync(o.tlsKey) };
        } catch (err) {
          throw new UsageError(`cannot read the TLS certificate or key: ${(err as Error).message}`);
        }
      }
      const [{ startServer }, { redactUrl }] = await Promise.all([import('../server/app.js'), import('../server/store/postgres/store.js')]);
      if ('dataDir' in target && o.blobs !== undefined) throw new UsageError('--blobs goes with --db; a data folder keeps its blobs inside');
      if ('dataDir' in target && o.nats !== undefined) throw new UsageError('--nats goes with --db: only servers sharing PostgreSQL share wakes');
      if ('db' in target && o.blobs === undefined) throw new UsageError('--db needs --blobs DIR: the blob folder every server process shares');
      if (o.nats !== undefined && !/^(nats|tls):\/\/\S+$/.test(o.nats)) throw new UsageError(`--nats must be a nats://host:port URL, got "${redactUrl(o.nats)}"`);
      const server = await startServer({
        ...('dataDir' in target ? { dataDir: target.dataDir } : { db: target.db, blobsDir: o.blobs, nats: o.nats }),
        host: o.host,
        tls,
        port: parseIntOption(o.port, '--port', 65535),
        retentionEntries: parseIntOption(o.retentionEntries, '--retention-entries'),
        retentionAgeS: parseIntOption(o.retentionAge, '--retention-age'),
        keepVersionsDays: parseDaysOption(o.keepVersionsDays, '--keep-versions-days'),
        ...limitOptions(o),
      });
      const where =
        'dataDir' in target
          ? `data: ${target.dataDir}`
          : `db: ${redactUrl(target.db)}, blobs: ${o.blobs}, wakes: ${o.nats === undefined ? 'postgres' : `nats ${o.nats.split(',').map(redactUrl).join(',')} + postgres`}`;
      process.stdout.write(`syncd serve listening on ${server.url} (${where})${server.metricsUrl ? `; metrics on ${server.metricsUrl}/metrics` : ''}\n`);
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          process.stderr.write(`syncd serve: ${signal}, shutting down\n`);
          process.off('SIGTERM', onTerm);
          process.off('SIGINT', onInt);
          server.close().then(resolve, (err) => {
            process.stderr.write(`syncd serve: error while closing: ${String(err)}\n`);
            process.exitCode = 1;
            resolve();
          });
        };
        const onTerm = (): void => stop('SIGTERM');
        const onInt = (): void => stop('SIGINT');
        process.on('SIGTERM', onTerm);
        process.on('SIGINT', onInt);
      });
    });
}
