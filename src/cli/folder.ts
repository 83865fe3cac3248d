// Shared by the client commands: find a folder's state, open it, talk to its server.

import { existsSync } from 'node:fs';
import { folderStatePaths, type FolderStatePaths } from '../client/state/paths.js';
import { RemoteClient } from '../client/remote/remote.js';
import { StateDB } from '../client/state/db.js';
import { SyncdError } from '../protocol/errors.js';
import { VERSION } from '../version.js';

export function folderPaths(dir: string | undefined): FolderStatePaths {
  return folderStatePaths(dir ?? process.cwd());
}

export function openLinked(dir: string | undefined, opts: { readonly?: boolean } = {}): { paths: FolderStatePaths; db: StateDB } {
  const paths = folderPaths(dir);
  if (!existsSync(paths.db)) {
    throw new SyncdError('not_linked', `${paths.folder} is not linked to a server yet; run \`syncd init ${paths.folder} --server URL --token T\``);
  }
  const db = new StateDB(paths.db, opts);
  return { paths, db };
}

/** The folder's server; `connections` keep-alive connections (default 8). */
export function remoteFor(db: StateDB, connections?: number): RemoteClient {
  const m = db.meta.link();
  return new RemoteClient({ server: m.server, token: m.token, userAgent: `syncd/${VERSION}`, connections });
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}
