// The `GET /v1/events` stream: Server-Sent Events, of which only
// `event: advanced` / `data: {"head": <seq>}` means anything. Lossy by
// contract, so unknown events and comments (keep-alives) are ignored; but a
// malformed `advanced` event is a broken server and ends the stream with a
// `protocol` error rather than being guessed at.

import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { RemoteError } from './errors.js';

/** A line or event larger than this is not an SSE stream we want to buffer. */
export const SSE_MAX_BUFFER_CHARS = 64 * 1024;

/**
 * Feeds chunks (split anywhere, even inside a UTF-8 sequence) through the
 * parser and calls `onAdvanced` for each valid `advanced` event. Resolves
 * when the source ends; rejects with the source's error or a `protocol`
 * RemoteError.
 */
export async function readAdvancedEvents(
  source: AsyncIterable<Uint8Array | string>,
  onAdvanced: (head: number) => void,
  server: string,
): Promise<void> {
  let failure: RemoteError | undefined;
  const parser = createParser({
    maxBufferSize: SSE_MAX_BUFFER_CHARS,
    onEvent(ev: EventSourceMessage) {
      if (failure !== undefined || ev.event !== 'advanced') return;
      const head = parseAdvanced(ev.data);
      if (head === undefined) {
        failure = new RemoteError(
          'protocol',
          `the syncd server at ${server} sent a malformed "advanced" event (expected data {"head": <seq>}, got ${clip(ev.data)})`,
          { server },
        );
        return;
      }
      onAdvanced(head);
    },
    onError(err) {
      if (err.type === 'max-buffer-size-exceeded' && failure === undefined) {
        failure = new RemoteError('protocol', `the syncd server at ${server} sent an event stream line longer than ${SSE_MAX_BUFFER_CHARS} characters`, { server });
      }
      // unknown fields and bad `retry:` values are harmless; ignore them like browsers do
    },
  });
  const decoder = new TextDecoder('utf-8');
  const feed = (text: string): void => {
    try {
      parser.feed(text);
    } catch (e) {
      throw failure ?? new RemoteError('protocol', `the syncd server at ${server} sent an unparseable event stream`, { server, cause: e });
    }
    if (failure !== undefined) throw failure;
  };
  for await (const chunk of source) {
    feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
  }
  feed(decoder.decode());
}

function parseAdvanced(data: string): number | undefined {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined;
  const head = (v as { head?: unknown }).head;
  return typeof head === 'number' && Number.isSafeInteger(head) && head >= 0 ? head : undefined;
}

function clip(s: string): string {
  const t = JSON.stringify(s);
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}
