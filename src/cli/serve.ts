// `syncd serve --data DIR [--host 127.0.0.1] [--port 7420] [--retention-entries N] [--retention-age S]`
// Parses arguments and calls startServer; nothing else lives here.

import type { Command } from 'commander';
import { startServer } from '../server/app.js';
import { UsageError } from './main.js';

export function parseIntOption(raw: string | undefined, name: string, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,16}$/.test(raw) || Number(raw) > max) throw new UsageError(`${name} must be an integer from 0 to ${max}, got "${raw}"`);
  return Number(raw);
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the namespace server (journal, blobs, HTTP API) on a data folder')
    .requiredOption('--data <dir>', 'data folder: database and blobs (created on first use)')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'TCP port; 0 picks a free one', '7420')
    .option('--retention-entries <n>', 'keep at most N journal entries per namespace (0 = unlimited); stored in the data folder')
    .option('--retention-age <seconds>', 'drop journal entries older than this (0 = unlimited); stored in the data folder')
    .action(async (o: { data: string; host: string; port: string; retentionEntries?: string; retentionAge?: string }) => {
      const server = await startServer({
        dataDir: o.data,
        host: o.host,
        port: parseIntOption(o.port, '--port', 65535),
        retentionEntries: parseIntOption(o.retentionEntries, '--retention-entries'),
        retentionAgeS: parseIntOption(o.retentionAge, '--retention-age'),
      });
      process.stdout.write(`syncd serve listening on ${server.url} (data: ${o.data})\n`);
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
