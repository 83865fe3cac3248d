// Batch downloads of small blobs: one request for many, each blob verified
// in memory as its frame arrives and written to its own temp file while
// the reply keeps streaming; what a dropped reply did not deliver is asked
// for again.

import { createHash } from 'node:crypto';
import { piecesBytes } from '../../protocol/frames.js';
import { nodeFsys } from '../disk/fsys.js';
import { Backoff, sleep } from '../agent/backoff.js';
import { isRetryable, RemoteError } from '../remote/errors.js';
import { asError, mismatch, serverOf, writeTemp, type BlobRemote, type DownloadItem, type DownloadOptions, type DownloadResult, type Group } from './temp-files.js';

/** One batch request for `groups`; the undelivered remainder is retried after transient failures. */
export async function fetchBatch(remote: BlobRemote, groups: Group[], maxBytes: number, items: readonly DownloadItem[], out: (DownloadResult | undefined)[], fsync: boolean, opts: DownloadOptions): Promise<void> {
  const fs = opts.fs ?? nodeFsys;
  const retries = opts.retries ?? 5;
  const backoff = new Backoff({ baseMs: 250, capMs: 5000, ...opts.backoff });
  // verified blobs are written while the reply keeps streaming: many small
  // files cost file-system round trips, not bandwidth
  const writes = new InFlight();
  const received = new Set<Group>();
  // a big batch's files go to the file system's writer thread (when it has
  // one), and more of them are in flight: the frames are parsed meanwhile
  const many = groups.length >= MANY_FILES;
  const inFlight = many ? PARALLEL_WRITES_MANY : PARALLEL_WRITES;
  const write = (i: number, buf: readonly Buffer[]): Promise<void> =>
    writeTemp(fs, items[i] as DownloadItem, buf, fsync, opts.dirs, many).then(
      (r) => void (out[i] = { ok: true, path: r.path, stat: r.stat }),
      (e: unknown) => void (out[i] = { ok: false, error: asError(e) }),
    );
  let remaining = groups;
  let failures = 0;
  try {
    while (remaining.length > 0) {
      const todo = remaining;
      let k = 0;
      let progress = false;
      try {
        const request = (): Promise<void> => remote.fetchBlobBuffers(
          todo.map((g) => g.hash),
          maxBytes,
          async (hash, size, data) => {
            const g = todo[k++];
            if (g === undefined || g.hash !== hash) {
              throw new RemoteError('protocol', `batch download delivered ${hash} out of order`, { server: serverOf(remote) });
            }
            const got = data === null ? 0 : piecesBytes(data);
            if (data !== null) await opts.throttle?.(got, opts.signal);
            received.add(g);
            progress = true;
            // verified here, then written while the next frames are parsed
            const buf = verify(remote, g, size, data, got);
            if (buf !== undefined) for (const i of g.idx) writes.add(write(i, buf));
            await writes.below(inFlight);
          },
          opts.signal,
        );
        // the request holds a slot of the budget while its reply streams
        await (opts.slots ? opts.slots(request) : request());
        remaining = todo.filter((g) => !received.has(g));
        if (remaining.length > 0) {
          const e = new RemoteError('protocol', `batch download did not deliver ${remaining.length} blobs`, { server: serverOf(remote) });
          for (const g of remaining) g.error = e;
        }
        return;
      } catch (e) {
        remaining = todo.filter((g) => !received.has(g));
        if (progress) {
          failures = 0;
          backoff.reset();
        }
        const again = isRetryable(e) || (e instanceof RemoteError && e.code === 'protocol');
        if (!again || failures >= retries || opts.signal?.aborted) {
          for (const g of remaining) g.error = asError(e);
          return;
        }
        failures++;
        try {
          await sleep(backoff.nextFor(e), opts.signal);
        } catch (abort) {
          for (const g of remaining) g.error = asError(abort);
          return;
        }
      }
    }
  } finally {
    await writes.below(1);
  }
}

/** Writes in flight per batch request. */
const PARALLEL_WRITES = 16;
/** From this many blobs in one request on, its writes are many (WriteNewOptions.many), with this many in flight. */
const MANY_FILES = 32;
const PARALLEL_WRITES_MANY = 256;

/** Counts promises in flight (their outcome is recorded by themselves) and lets one caller wait for room. */
class InFlight {
  #n = 0;
  #wake: (() => void) | null = null;

  add(p: Promise<void>): void {
    this.#n++;
    const done = (): void => {
      this.#n--;
      const w = this.#wake;
      this.#wake = null;
      w?.();
    };
    void p.then(done, done);
  }

  /** Resolves once fewer than `limit` are in flight. */
  async below(limit: number): Promise<void> {
    while (this.#n >= limit) await new Promise<void>((r) => (this.#wake = r));
  }
}

/**
 * Checks one frame of a batch and returns its bytes (the pieces they
 * arrived in), or records on the group why not. Verification happens in
 * memory, before anything is written, so bad content never touches the
 * disk. The hash is taken piece by piece on this thread: handing a blob to
 * the thread pool (WebCrypto) would first copy it whole into fresh memory,
 * which costs more than the hash.
 */
function verify(remote: BlobRemote, g: Group, size: number, data: readonly Buffer[] | null, bytes: number): readonly Buffer[] | undefined {
  if (size === -1) {
    g.error = new RemoteError('not_found', `the server at ${serverOf(remote)} cannot serve blob ${g.hash} (missing, or not readable by this namespace)`, {
      server: serverOf(remote),
      status: 404,
    });
    return undefined;
  }
  if (size !== g.size || data === null || bytes !== size) {
    g.error = mismatch(remote, g.hash, `the server has ${size} bytes, ${g.size} were expected`);
    return undefined;
  }
  const h = createHash('sha256');
  for (const p of data) h.update(p);
  const got = h.digest('hex');
  if (got !== g.hash) {
    g.error = mismatch(remote, g.hash, `its content hashes to ${got}`);
    return undefined;
  }
  return data;
}
