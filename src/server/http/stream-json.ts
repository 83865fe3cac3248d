// A JSON reply too big to encode as one string (a snapshot of a 300,000-node
// folder is ~80 MB): written a slice of its list at a time, each slice encoded
// between two turns of the event loop, the next one only once the socket has
// taken the last (backpressure). A client that takes no byte for `stallMs`
// has its connection cut (drain.ts), so a reader that never reads holds
// nothing for long. The reply is chunked (no content-length): a cut shows as a
// truncated body, never as a short valid one.

import type { ServerResponse } from 'node:http';
import { setImmediate as yieldTurn } from 'node:timers/promises';
import { drainedOrCut } from './drain.js';

export interface StreamOpts {
  /** a client that took no byte of the reply for this long is cut, ms */
  stallMs: number;
  /** list items encoded per slice (default 2,000: ~0.5 MB, a few ms) */
  sliceItems?: number;
}

/**
 * Sends `{...head, [key]: items}` as `JSON.stringify` would (same text),
 * a slice at a time. Returns once the reply ended or the connection was cut.
 */
export async function sendJsonList(res: ServerResponse, status: number, head: Record<string, unknown>, key: string, items: readonly unknown[], opts: StreamOpts): Promise<void> {
  if (res.headersSent || res.destroyed) return;
  const slice = Math.max(1, opts.sliceItems ?? 2000);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  const before = JSON.stringify(head).slice(0, -1);
  let more = res.write(`${before}${before === '{' ? '' : ','}${JSON.stringify(key)}:[`);
  for (let i = 0; i < items.length; i += slice) {
    if (!more && !(await drainedOrCut(res, opts.stallMs))) {
      res.destroy();
      return;
    }
    // a turn of the event loop in any case: a fast reader on loopback drains each
    // write at once, and 'drain' then comes on the next tick, never leaving the loop
    await yieldTurn();
    if (res.destroyed) return;
    let text = i === 0 ? '' : ',';
    const end = Math.min(items.length, i + slice);
    // as in an array, an item JSON has no text for (undefined, a function) is null
    for (let j = i; j < end; j++) text += (j === i ? '' : ',') + (JSON.stringify(items[j]) ?? 'null');
    more = res.write(text);
  }
  res.end(']}');
}
