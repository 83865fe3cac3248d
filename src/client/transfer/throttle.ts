// A shared token bucket for the `bandwidthLimit` setting: every transfer
// (downloads and uploads alike) takes its bytes from one bucket, so the
// limit holds for the agent as a whole.

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
