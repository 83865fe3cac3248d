// Waiting for a slow reader, with an end: a reply's writes wait for the
// socket to take what is buffered ('drain'), and a reply whose client took
// no byte for `stallMs` is cut. Progress is what counts, not speed: a
// client reading slowly on purpose (the agent's bandwidth limit) keeps
// taking bytes and is never cut; one that reads nothing holds its
// connection, file handles and buffers for `stallMs` at most.

import type { ServerResponse } from 'node:http';

/** Resolves true once `res` drained, false once it closed or was cut for taking nothing for `stallMs`. */
export function drainedOrCut(res: ServerResponse, stallMs: number): Promise<boolean> {
  if (res.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const step = Math.max(5, Math.floor(stallMs / 4));
    let left = res.writableLength;
    let still = 0;
    const timer = setInterval(() => {
      const now = res.writableLength;
      if (now < left) {
        left = now;
        still = 0;
        return;
      }
      still += step;
      if (still >= stallMs) {
        done(false);
        res.destroy();
      }
    }, step);
    const done = (ok: boolean): void => {
      clearInterval(timer);
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = (): void => done(true);
    const onClose = (): void => done(false);
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
