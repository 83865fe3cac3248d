// The agent's transfer budgets. `bandwidthLimit`: a shared token bucket,
// every transfer (downloads and uploads alike) takes its bytes from it, so
// the limit holds for the agent as a whole. `concurrency`: request slots.

import PQueue from 'p-queue';
import { sleep } from '../agent/backoff.js';

export type Throttle = (bytes: number, signal?: AbortSignal) => Promise<void>;

/** No limit. */
export const unlimited: Throttle = async () => {};

/**
 * A bucket refilled at `bytesPerSecond`, holding at most one second's worth
 * (so a burst after idling is bounded). 0 = unlimited.
 */
export function tokenBucket(bytesPerSecond: number, now: () => number = () => performance.now()): Throttle {
  if (!(bytesPerSecond > 0)) return unlimited;
  let tokens = bytesPerSecond;
  let last = now();
  let queue: Promise<void> = Promise.resolve();
  return (bytes, signal) => {
    // callers are served in order, each waiting for its own bytes
    const turn = queue.then(async () => {
      let need = bytes;
      while (need > 0) {
        const t = now();
        tokens = Math.min(bytesPerSecond, tokens + ((t - last) / 1000) * bytesPerSecond);
        last = t;
        const take = Math.min(need, tokens);
        tokens -= take;
        need -= take;
        if (need > 0) await sleep(Math.max(1, Math.ceil((Math.min(need, bytesPerSecond) / bytesPerSecond) * 1000)), signal);
      }
    });
    queue = turn.catch(() => undefined);
    return turn;
  };
}

/**
 * The `concurrency` budget: a transfer request (a chunk sent or fetched, a
 * batch download, a whole blob up or down) runs when one of `concurrency`
 * slots is free. One per round, shared by every file, so many small
 * transfers and the chunks of a large one never exceed it together; a file
 * holds no slot itself, only its requests do (no file waits on a slot its
 * own caller holds).
 */
export type Slots = <T>(request: () => Promise<T>) => Promise<T>;

export function requestSlots(concurrency: number): Slots {
  const q = new PQueue({ concurrency: Math.max(1, concurrency) });
  return (request) => q.add(request);
}
