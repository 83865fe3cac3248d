// The agent's view of the server in the simulation: the real RemoteClient
// talking to a real in-process server over loopback, with every round trip
// cut in two scheduler points (send, then deliver). Between them the real
// request runs to completion and its reply is buffered, so replies of
// concurrent requests come back in an order the seed chooses. Faults:
// a 503/500 before the request reaches the server, and a reply lost after
// the server applied the request (the agent sees a dropped connection; a
// commit's op_ids must make the retry harmless).

import { Readable } from 'node:stream';
import type { OnBlob, OnBlobBuffer, RemoteClient } from '../../src/client/remote/remote.js';
import { RemoteError } from '../../src/client/remote/errors.js';
import type { Op, OpResult } from '../../src/protocol/types.js';
import type { Proc, Scheduler } from './scheduler.js';

export interface RemoteFaults {
  /** chance a request is refused before it reaches the server (503 with Retry-After, or 500) */
  refuse: number;
  /** chance the reply of a request the server handled is lost */
  loseReply: number;
}

export interface RemoteCounters {
  requests: number;
  refused: number;
  lostReplies: number;
  /** chunks sent and fetched (large files) */
  chunks: number;
}

async function drain(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

export class SimRemote {
  faults: RemoteFaults = { refuse: 0, loseReply: 0 };
  readonly counters: RemoteCounters = { requests: 0, refused: 0, lostReplies: 0, chunks: 0 };
  /** called after a commit the server accepted at least one op of, with the highest seq it took */
  onCommitted: ((head: number) => void) | null = null;

  constructor(
    readonly real: RemoteClient,
    readonly sched: Scheduler,
    readonly proc: Proc,
  ) {}

  get server(): string {
    return this.real.server;
  }

  async #call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { sched, proc } = this;
    await sched.point(proc, `send ${what}`);
    this.counters.requests++;
    if (sched.chance(this.faults.refuse)) {
      this.counters.refused++;
      const k = sched.int(3);
      if (k === 2) throw new RemoteError('network', `simulated timeout: ${what} never reached the server`, { server: this.server });
      throw new RemoteError(k === 0 ? 'unavailable' : 'server_error', `simulated ${k === 0 ? 503 : 500} for ${what}`, { server: this.server, status: k === 0 ? 503 : 500, ...(k === 0 ? { retryAfterS: 1 } : {}) });
    }
    let result: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      result = { ok: true, value: await sched.real(fn) };
    } catch (error) {
      result = { ok: false, error };
    }
    await sched.point(proc, `deliver ${what}`);
    if (sched.chance(this.faults.loseReply)) {
      this.counters.lostReplies++;
      throw new RemoteError('network', `simulated connection reset after ${what} reached the server`, { server: this.server });
    }
    if (!result.ok) throw result.error;
    return result.value;
  }

  status(): ReturnType<RemoteClient['status']> {
    return this.#call('status', () => this.real.status());
  }

  list(opts: { pageToken?: string; limit?: number } = {}): ReturnType<RemoteClient['list']> {
    return this.#call('list', () => this.real.list(opts));
  }

  changes(cursor: string, limit?: number): ReturnType<RemoteClient['changes']> {
    return this.#call('changes', () => this.real.changes(cursor, limit));
  }

  async commit(ops: Op[]): Promise<OpResult[]> {
    let applied = 0;
    const results = await this.#call('commit', async () => {
      const r = await this.real.commit(ops);
      if (this.sched.log) {
        ops.forEach((op, i) => {
          const x = op as unknown as Record<string, unknown>;
          this.sched.trace(`${this.proc.name} COMMIT ${op.op} id=${x.id ?? '-'} parent=${x.parent ?? '-'} name=${x.name ?? '-'} base=${x.base_rev ?? '-'} -> ${r[i]?.status} ${JSON.stringify((r[i] as { node?: unknown }).node ?? (r[i] as { error?: unknown }).error ?? '')}`);
        });
      }
      applied = Math.max(0, ...r.map((x) => (x.status === 'ok' ? x.seq : 0)));
      return r;
    }).finally(() => {
      if (applied > 0) this.onCommitted?.(applied);
    });
    return results;
  }

  async putBlob(hash: string, size: number, open: () => Readable): Promise<'created' | 'exists'> {
    // read the file first (those reads are scheduler points), then send the bytes
    const data = await drain(open());
    return this.#call('putBlob', () => this.real.putBlob(hash, size, () => Readable.from([data])));
  }

  async getBlob(hash: string, opts: { start?: number; signal?: AbortSignal } = {}): Promise<{ status: 200 | 206; body: Readable; total?: number }> {
    const got = await this.#call('getBlob', async () => {
      const r = await this.real.getBlob(hash, { start: opts.start });
      return { ...r, data: await drain(r.body) };
    });
    const { data, ...rest } = got;
    return { ...rest, body: Readable.from([data]) };
  }

  async fetchBlobs(hashes: string[], onBlob: OnBlob): Promise<void> {
    const frames = await this.#call('fetchBlobs', async () => {
      const out: { hash: string; size: number; data: Buffer }[] = [];
      await this.real.fetchBlobs(hashes, async (hash, size, body) => void out.push({ hash, size, data: await drain(body) }));
      return out;
    });
    // a reply cut short: some frames arrive, then the connection drops
    const cut = this.sched.chance(this.faults.loseReply) ? this.sched.int(frames.length) : -1;
    for (const [i, f] of frames.entries()) {
      if (i === cut) {
        this.counters.lostReplies++;
        throw new RemoteError('network', 'simulated connection reset in the middle of a batch download', { server: this.server });
      }
      await onBlob(f.hash, f.size, Readable.from(f.data.length ? [f.data] : []));
    }
  }

  /** fetchBlobs with each blob whole (body null when over maxBytes or size -1), as the executor's batch downloads use it */
  async fetchBlobBuffers(hashes: string[], maxBytes: number, onBlob: OnBlobBuffer): Promise<void> {
    const frames = await this.#call('fetchBlobs', async () => {
      const out: { hash: string; size: number; data: Buffer | null }[] = [];
      await this.real.fetchBlobBuffers(hashes, maxBytes, async (hash, size, body) => void out.push({ hash, size, data: body === null ? null : Buffer.concat(body) }));
      return out;
    });
    // a reply cut short: some frames arrive, then the connection drops
    const cut = this.sched.chance(this.faults.loseReply) ? this.sched.int(frames.length) : -1;
    for (const [i, f] of frames.entries()) {
      if (i === cut) {
        this.counters.lostReplies++;
        throw new RemoteError('network', 'simulated connection reset in the middle of a batch download', { server: this.server });
      }
      await onBlob(f.hash, f.size, f.data === null ? null : [f.data]);
    }
  }

  // ---- the content layer: large files as chunks (each call a round trip the seed orders and may fail)

  missingChunks(hashes: readonly string[]): Promise<string[]> {
    return this.#call('missingChunks', () => this.real.missingChunks(hashes));
  }

  async putChunk(hash: string, size: number, open: () => Readable): Promise<'created' | 'exists'> {
    const data = await drain(open());
    this.counters.chunks++;
    return this.#call('putChunk', () => this.real.putChunk(hash, size, () => Readable.from([data])));
  }

  assembleFile(hash: string, size: number, chunks: ReadonlyArray<{ hash: string; size: number }>): Promise<'created' | 'exists'> {
    return this.#call('assembleFile', () => this.real.assembleFile(hash, size, chunks));
  }

  fileChunks(hash: string): ReturnType<RemoteClient['fileChunks']> {
    return this.#call('fileChunks', () => this.real.fileChunks(hash));
  }

  getChunk(hash: string, maxBytes: number, signal?: AbortSignal): Promise<Buffer> {
    this.counters.chunks++;
    return this.#call('getChunk', () => this.real.getChunk(hash, maxBytes, signal));
  }

  close(): Promise<void> {
    return this.real.close();
  }
}
