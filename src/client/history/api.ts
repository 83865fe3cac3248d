// The version-history endpoints (docs/api.md "History") as the CLI uses
// them: one request each, errors translated to SyncdError with the
// server's code and message. Separate from the agent's RemoteClient: these
// commands need no pool, no cursor and no state beyond the folder's link.

import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { request } from 'undici';
import { isErrorCode, SyncdError } from '../../protocol/errors.js';
import type { ActivityItem, ChangeReply, DeletedItem, HistoryReply, SnapshotReply } from '../../protocol/history.js';
import { translateNetworkError } from '../remote/errors.js';

export class HistoryApi {
  readonly #server: string;
  readonly #token: string;
  readonly #ua: string;

  constructor(o: { server: string; token: string; userAgent: string }) {
    this.#server = o.server.replace(/\/+$/, '');
    this.#token = o.token;
    this.#ua = o.userAgent;
  }

  async #call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    let res;
    try {
      res = await request(this.#server + path, {
        method,
        headers: {
          authorization: `Bearer ${this.#token}`,
          'user-agent': this.#ua,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (err) {
      throw translateNetworkError(err, this.#server);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new SyncdError('protocol', `the server at ${this.#server} answered ${method} ${path.split('?')[0]} with ${res.statusCode} and no JSON`);
    }
    if (res.statusCode === 404 && (json as { error?: string }).error === 'not_found' && /no such endpoint/.test((json as { message?: string }).message ?? '')) {
      throw new SyncdError('server_too_old', `the server at ${this.#server} has no version history (upgrade it)`);
    }
    if (res.statusCode >= 400) {
      const e = json as { error?: string; message?: string };
      throw new SyncdError(isErrorCode(e.error) ? e.error : 'http_error', e.message ?? `HTTP ${res.statusCode}`, { status: res.statusCode, ...(json as object) });
    }
    return json as T;
  }

  history(path: string): Promise<HistoryReply> {
    return this.#call('GET', `/v1/history?path=${encodeURIComponent(path)}`);
  }

  async deleted(dir: string): Promise<DeletedItem[]> {
    return (await this.#call<{ entries: DeletedItem[] }>('GET', `/v1/deleted?path=${encodeURIComponent(dir)}`)).entries;
  }

  async activity(dir: string, limit: number): Promise<ActivityItem[]> {
    return (await this.#call<{ entries: ActivityItem[] }>('GET', `/v1/activity?path=${encodeURIComponent(dir)}&limit=${limit}`)).entries;
  }

  snapshot(path: string, moment: { rev?: number; at?: number }): Promise<SnapshotReply> {
    const q = moment.rev !== undefined ? `&rev=${moment.rev}` : moment.at !== undefined ? `&at=${moment.at}` : '';
    return this.#call('GET', `/v1/snapshot?path=${encodeURIComponent(path)}${q}`);
  }

  restore(path: string, moment: { rev?: number; at?: number }): Promise<ChangeReply> {
    return this.#call('POST', '/v1/restore', { op_id: randomUUID(), path, ...moment });
  }

  rewind(dir: string, at: number, dryRun: boolean): Promise<ChangeReply> {
    return this.#call('POST', '/v1/rewind', { op_id: randomUUID(), path: dir, at, dry_run: dryRun });
  }

  /** Streams a blob into `file` (created, not replaced), checking its SHA-256. */
  async download(hash: string, file: string, mode: number): Promise<void> {
    let res;
    try {
      res = await request(`${this.#server}/v1/blobs/${hash}`, { headers: { authorization: `Bearer ${this.#token}`, 'user-agent': this.#ua } });
    } catch (err) {
      throw translateNetworkError(err, this.#server);
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw new SyncdError('blob_missing', `the server cannot give the content ${hash.slice(0, 12)}… (HTTP ${res.statusCode})`);
    }
    const h = createHash('sha256');
    const tap = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        h.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.body, tap, createWriteStream(file, { flags: 'wx', mode }));
    } catch (err) {
      await rm(file, { force: true });
      throw err;
    }
    if (h.digest('hex') !== hash) {
      await rm(file, { force: true });
      throw new SyncdError('hash_mismatch', `the content downloaded for ${file} does not match its hash`);
    }
  }
}
