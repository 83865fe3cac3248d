// Small node:http helpers: JSON replies, protocol errors, bounded bodies,
// strict query parsing. Every failure becomes an HttpError with a 4xx code.

import { bodyBytes } from './body-budget.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError, badRequest } from '../../protocol/errors.js';
import type { ErrorBody } from '../../protocol/types.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendRawJson(res, status, JSON.stringify(body), headers);
}

/** Sends an already-encoded JSON text. */
export function sendRawJson(res: ServerResponse, status: number, json: string, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const buf = Buffer.from(json, 'utf8');
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(buf.length),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(buf);
}

export function sendError(res: ServerResponse, err: HttpError, headers: Record<string, string> = {}): void {
  const h: Record<string, string> = { ...headers };
  if (err.retryAfter !== undefined) h['retry-after'] = String(err.retryAfter);
  sendJson(res, err.status, err.toBody() satisfies ErrorBody, h);
}

export interface BodyPace {
  /** abort a body that sends nothing for this long, ms */
  idleMs: number;
  /** abort a body not complete this long after the read began, ms */
  deadlineMs?: number;
  /** abort a body whose average rate falls below this once graceMs have passed, bytes/s (0 = off) */
  minBytesPerS?: number;
  graceMs?: number;
}

export interface BodyLimits extends BodyPace {
  maxBytes: number;
  /** takes the body's bytes from the server's budget before it is read (BodyBudget), giving back the release */
  reserve?: (bytes: number) => () => void;
}

/** Reads a whole body up to maxBytes (413 beyond). */
export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    throw new HttpError('too_large', `body is ${declared} bytes; the limit is ${limits.maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of pacedBody(req, limits)) {
    size += chunk.length;
    if (size > limits.maxBytes) throw new HttpError('too_large', `body exceeds ${limits.maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export async function readJson(req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  // the declared length (a body of unknown length: the route's limit) is held until the body is parsed
  const release = limits.reserve?.(bodyBytes(req, limits.maxBytes));
  try {
    return parseJson(await readBody(req, limits));
  } finally {
    release?.();
  }
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0) throw badRequest('body is empty; expected JSON');
  let text: string;
  try {
    // a lenient decode would turn invalid bytes into U+FFFD names the client never sent
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw badRequest('body is not valid UTF-8');
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Iterates a request body without destroying the request when the consumer
 * stops early (so a 413 can still be sent), cutting a client that goes
 * silent for idleMs, that has not finished by deadlineMs, or that trickles
 * below minBytesPerS on average (a byte a minute resets an idle timer
 * forever, and would hold a socket and a temp file indefinitely).
 */
export async function* pacedBody(req: IncomingMessage, pace: BodyPace): AsyncGenerator<Buffer> {
  const started = Date.now();
  let bytes = 0;
  let idle: NodeJS.Timeout | null = null;
  const cut = (why: string): void => {
    req.destroy(new Error(why));
  };
  const arm = (): void => {
    if (idle) clearTimeout(idle);
    idle = setTimeout(() => cut('body idle timeout'), pace.idleMs);
  };
  const deadline = pace.deadlineMs ? setTimeout(() => cut('body deadline passed'), pace.deadlineMs) : null;
  const minRate = pace.minBytesPerS ?? 0;
  const grace = pace.graceMs ?? 0;
  // the rate is judged on a clock too: a client that sends nothing between checks must not escape them
  const rate =
    minRate > 0
      ? setInterval(() => {
          const elapsed = Date.now() - started;
          if (elapsed >= grace && bytes < (elapsed / 1000) * minRate) cut('body slower than the minimum rate');
        }, Math.max(50, Math.min(1000, grace / 2 || 1000)))
      : null;
  arm();
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      arm();
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bytes += buf.length;
      yield buf;
    }
  } finally {
    if (idle) clearTimeout(idle);
    if (deadline) clearTimeout(deadline);
    if (rate) clearInterval(rate);
  }
}

/** Query parameters that may appear at most once; unknown ones are ignored. */
export class Query {
  readonly #params: URLSearchParams;
  constructor(params: URLSearchParams) {
    this.#params = params;
  }
  get(name: string): string | null {
    const all = this.#params.getAll(name);
    if (all.length > 1) throw badRequest(`query parameter "${name}" is given ${all.length} times`);
    return all[0] ?? null;
  }
  require(name: string): string {
    const v = this.get(name);
    if (v === null || v === '') throw badRequest(`query parameter "${name}" is required`);
    return v;
  }
}
