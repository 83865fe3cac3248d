// The version-history endpoints (docs/api.md "History") as the CLI uses
// them: one request each through the same Sender as the agent's verbs
// (timeouts, a reply-size cap, status → RemoteError with the server's
// message), each reply checked for shape (protocol/history-replies.ts).
// Separate from RemoteClient: these commands need no cursor and no state
// beyond the folder's link.

import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { Transform } from 'node:stream';
import { SyncdError } from '../../protocol/errors.js';
import type { ActivityItem, ChangeReply, DeletedItem, HistoryReply, SnapshotReply } from '../../protocol/history.js';
import { checkActivity, checkChange, checkDeleted, checkHistory, checkSnapshot } from '../../protocol/history-replies.js';
import type { ReplyCheck } from '../../protocol/replies.js';
import { RemoteError, translateNetworkError } from '../remote/errors.js';
import { openSender, type ConnectOptions, type Req, type Sender } from '../remote/send.js';

/** a busy server (429/503) is asked again this many times, after its Retry-After (at most BUSY_WAIT_MAX_S each) */
const BUSY_RETRIES = 5;
const BUSY_WAIT_MAX_S = 30;

/**
 * Cap on one history reply: a snapshot of a big folder is the largest
 * (~270 bytes an entry: 256 MiB ≈ 1,000,000 entries, a 300,000-node folder
 * 78 MB). What a lying server can make a one-shot command hold.
 */
const MAX_HISTORY_JSON = 256 * 1024 * 1024;

export class HistoryApi {
  readonly #http: Sender;

  constructor(o: Pick<ConnectOptions, 'server' | 'token' | 'userAgent' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'maxJsonBytes'>) {
    // a rewind of a big folder commits many changes in one request: give it time
    // idle keep-alive sockets do not hold the process open: a command ends when its work does;
    // `restore --to` downloads 8 files at once
    this.#http = openSender({ ...o, connections: 8, headersTimeoutMs: o.headersTimeoutMs ?? 120_000, maxJsonBytes: o.maxJsonBytes ?? MAX_HISTORY_JSON });
  }

  async #call<T>(req: Req, check: (v: unknown, c: ReplyCheck) => T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.#http.json(req, check);
      } catch (e) {
        // a server from before version history answers its generic 404
        if (e instanceof RemoteError && e.code === 'not_found' && /no such endpoint/.test(e.message)) {
          throw new SyncdError('server_too_old', `the server at ${this.#http.server} has no version history (upgrade it)`);
        }
        // busy (this namespace's history requests queued, the server's body budget full):
        // the command waits as told, a few times, before it says so (restore and rewind carry op ids: a retry applies once)
        if (e instanceof RemoteError && (e.code === 'rate_limited' || e.code === 'unavailable') && attempt < BUSY_RETRIES) {
          await sleep(Math.min(BUSY_WAIT_MAX_S, e.retryAfterS ?? 2) * 1000);
          continue;
        }
        throw e;
      }
    }
  }

  history(path: string, limit?: number): Promise<HistoryReply> {
    return this.#call({ method: 'GET', path: '/v1/history', query: limit === undefined ? { path } : { path, limit }, what: 'history' }, checkHistory);
  }

  deleted(dir: string): Promise<DeletedItem[]> {
    return this.#call({ method: 'GET', path: '/v1/deleted', query: { path: dir }, what: 'deleted' }, checkDeleted);
  }

  activity(dir: string, limit: number): Promise<ActivityItem[]> {
    return this.#call({ method: 'GET', path: '/v1/activity', query: { path: dir, limit }, what: 'activity' }, checkActivity);
  }

  snapshot(path: string, moment: { rev?: number; at?: number }): Promise<SnapshotReply> {
    return this.#call({ method: 'GET', path: '/v1/snapshot', query: { path, ...moment }, what: 'snapshot' }, checkSnapshot);
  }

  restore(path: string, moment: { rev?: number; at?: number }): Promise<ChangeReply> {
    return this.#call(post('/v1/restore', 'restore', { op_id: randomUUID(), path, ...moment }), checkChange);
  }

  rewind(dir: string, at: number, dryRun: boolean): Promise<ChangeReply> {
    return this.#call(post('/v1/rewind', 'rewind', { op_id: randomUUID(), path: dir, at, dry_run: dryRun }), checkChange);
  }

  /** Streams a blob into `file` (created, not replaced), checking its SHA-256. */
  async download(hash: string, file: string, mode: number): Promise<void> {
    let reply;
    try {
      reply = await this.#http.send({ method: 'GET', path: `/v1/blobs/${hash}`, what: 'download' });
    } catch (e) {
      if (e instanceof RemoteError && e.status !== undefined) {
        throw new SyncdError('blob_missing', `the server cannot give the content ${hash.slice(0, 12)}… (HTTP ${e.status})`);
      }
      throw e;
    }
    const h = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(reply.body, tap, createWriteStream(file, { flags: 'wx', mode }));
    } catch (err) {
      await rm(file, { force: true });
      throw translateNetworkError(err, this.#http.server);
    }
    if (h.digest('hex') !== hash) {
      await rm(file, { force: true });
      throw new SyncdError('hash_mismatch', `the content downloaded for ${file} does not match its hash`);
    }
  }
}

function post(path: string, what: string, body: object): Req {
  return { method: 'POST', path, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), what };
}
