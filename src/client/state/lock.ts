// One agent per folder. The lock is held by the kernel, not by a PID file:
// an SQLite database in the folder's state dir, opened in exclusive locking
// mode with one exclusive transaction (nothing written), keeps its exclusive
// (fcntl) lock until the process exits, however it exits. A reused PID
// after a reboot or a racing takeover cannot fool it. The PID is written
// beside it, for display only.

import Database from 'better-sqlite3';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { SyncdError } from '../../protocol/errors.js';

function lockDb(lockFile: string): string {
  return `${lockFile}.db`;
}

function isBusy(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED');
}

/** The PID of the agent holding the folder's lock, or null when no agent holds it. */
export function lockHolder(lockFile: string): number | null {
  let db: Database.Database;
  try {
    db = new Database(lockDb(lockFile), { readonly: true, fileMustExist: true, timeout: 0 });
  } catch {
    return null; // never locked
  }
  try {
    db.prepare('SELECT count(*) FROM sqlite_master').get();
    return null; // readable: nobody holds it
  } catch (err) {
    if (!isBusy(err)) return null;
    try {
      const pid = Number(readFileSync(lockFile, 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : -1;
    } catch {
      return -1; // held, PID not written yet
    }
  } finally {
    db.close();
  }
}

export interface FolderLock {
  release(): void;
}

export function acquireLock(lockFile: string, folder: string): FolderLock {
  mkdirSync(dirname(lockFile), { recursive: true });
  // a short wait lets a `syncd status` probe (which reads the lock DB) pass
  const db = new Database(lockDb(lockFile), { timeout: 1500 });
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // BEGIN EXCLUSIVE takes the exclusive lock, and in exclusive locking mode
    // it stays after the commit. Nothing is written (a row here cost five
    // fsyncs per start, and nothing reads it: the PID file says who holds it).
    db.exec('BEGIN EXCLUSIVE');
    db.exec('COMMIT');
  } catch (err) {
    db.close();
    if (isBusy(err)) {
      const pid = lockHolder(lockFile);
      throw new SyncdError('locked', `another syncd agent${pid && pid > 0 ? ` (pid ${pid})` : ''} is already syncing ${folder}; stop it first (or use \`syncd status ${folder}\`)`);
    }
    throw err;
  }
  writeFileSync(lockFile, `${process.pid}\n`);
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        unlinkSync(lockFile);
      } catch {
        // already gone
      }
      db.close();
    },
  };
}
