// syncd quickstart: the embedded default in one command — a server on
// loopback (SQLite + a blob folder) and an agent watching a folder. Server
// and agent modules are imported when the command runs.

import type { Command } from 'commander';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';

export function register(program: Command): void {
  program
    .command('quickstart')
    .description('start a local server and watch a demo folder with it (the embedded default, all on 127.0.0.1)')
    .option('--dir <dir>', 'the folder to sync', 'syncd-demo')
    .option('--data <dir>', 'where the server keeps its journal and blobs', '.syncd-demo-server')
    .option('--port <port>', 'server port (0 = any free port)', '7420')
    .action(async (o: { dir: string; data: string; port: string }) => {
      const [{ acquireLock }, { folderStatePaths }, { addDevice }, { startServer }, { consoleLog, engineFor, initFolder, watchUntilSignal }] = await Promise.all([
        import('../client/state/lock.js'), import('../client/state/paths.js'), import('../server/admin.js'), import('../server/app.js'), import('./client-commands.js'),
      ]);
      const log = consoleLog('text', 'info');
      const data = resolve(o.data);
      mkdirSync(data, { recursive: true });
      let server;
      try {
        server = await startServer({ dataDir: data, host: '127.0.0.1', port: Number(o.port) });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
        server = await startServer({ dataDir: data, host: '127.0.0.1', port: 0 });
      }
      const tokenFile = resolve(data, 'quickstart-tokens.json');
      let tokens: { agent: string; curl: string };
      if (existsSync(tokenFile)) tokens = JSON.parse(readFileSync(tokenFile, 'utf8'));
      else {
        tokens = { agent: (await addDevice(data, 'demo', 'quickstart')).token, curl: (await addDevice(data, 'demo', 'curl')).token };
        writeFileSync(tokenFile, JSON.stringify(tokens), { mode: 0o600 });
      }
      const folder = resolve(o.dir);
      const paths = folderStatePaths(folder);
      // (re)link: the port may differ from the last run
      await initFolder(folder, server.url, tokens.agent);
      const { db, remote, engine } = engineFor(folder, {}, log);
      const lock = acquireLock(paths.lock, paths.folder);
      process.stdout.write([
        `syncd server listening on ${server.url} (data in ${data})`,
        `watching ${folder}: files you put there appear on the server, and back.`,
        '',
        'Try it from another terminal:',
        `  echo hello > ${folder}/hello.txt`,
        `  curl -s -H 'Authorization: Bearer ${tokens.curl}' '${server.url}/v1/list' | head -c 600; echo`,
        `  node bin/syncd status ${folder}`,
        '(docs/api.md walks through uploading and committing with curl)',
        'Ctrl-C stops both.',
        '',
      ].join('\n'));
      try {
        await watchUntilSignal(engine, log);
      } finally {
        lock.release();
        await remote.close();
        db.close();
        await server.close();
      }
    });
}
