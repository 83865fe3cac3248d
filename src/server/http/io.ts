// Small node:http helpers: JSON replies, protocol errors, bounded bodies,
// strict query parsing. Every failure becomes an HttpError with a 4xx code.

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

export interface BodyLimits {
  maxBytes: number;
  /** abort a body that sends nothing for this long, ms */
  idleMs: number;
}

/** Reads a whole body up to maxBytes (413 beyond). */
export async function readBody(req: IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limits.maxBytes) {
    throw new HttpError('too_large', `body is ${declared} bytes; the limit is ${limits.maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of withIdleTimeout(req, limits.idleMs)) {
    size += chunk.length;
    if (size > limits.maxBytes) throw new HttpError('too_large', `body exceeds ${limits.maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}

export async function readJson(req: IncomingMessage, limits: BodyLimits): Promise<unknown> {
  const body = await readBody(req, limits);
  if (body.length === 0) throw badRequest('body is empty; expected JSON');
  try {
    return JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw badRequest(`body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Iterates a request body without destroying the request when the consumer
 * stops early (so a 413 can still be sent), failing when the client goes
 * silent for idleMs.
 */
export async function* withIdleTimeout(req: IncomingMessage, idleMs: number): AsyncGenerator<Buffer> {
  let timer: NodeJS.Timeout | null = null;
  const arm = (): void => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => req.destroy(new Error('body idle timeout')), idleMs);
  };
  arm();
  try {
    for await (const chunk of req.iterator({ destroyOnReturn: false })) {
      arm();
      yield typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
    }
  } finally {
    if (timer) clearTimeout(timer);
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
