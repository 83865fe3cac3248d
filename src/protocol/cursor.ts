// Cursor and page-token codec. Cursors are opaque to clients and
// tamper-evident: the server signs (namespace, epoch, seq) with an HMAC key
// kept in its store, so a forged, edited or foreign cursor is detected.

import { createHmac, timingSafeEqual } from 'node:crypto';

export interface CursorPosition {
  namespace: string;
  epoch: string;
  seq: number;
}

export interface PageTokenPosition {
  namespace: string;
  epoch: string;
  /** the journal position the listing is pinned to */
  seq: number;
  /** keyset position: the last node id returned */
  afterId: string;
}

const MAC_CHARS = 22; // 132 bits of HMAC-SHA256, base64url

function mac(key: Buffer, kind: string, payload: string): string {
  return createHmac('sha256', key).update(kind).update('\0').update(payload).digest('base64url').slice(0, MAC_CHARS);
}

function seal(key: Buffer, kind: string, fields: string[]): string {
  const payload = Buffer.from(fields.join('\n'), 'utf8').toString('base64url');
  return `${kind}.${payload}.${mac(key, kind, payload)}`;
}

function open(key: Buffer, kind: string, token: unknown, count: number): string[] | null {
  if (typeof token !== 'string' || token.length > 2048) return null;
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== kind) return null;
  const [, payload, tag] = parts as [string, string, string];
  const want = Buffer.from(mac(key, kind, payload));
  const got = Buffer.from(tag);
  if (got.length !== want.length || !timingSafeEqual(got, want)) return null;
  const fields = Buffer.from(payload, 'base64url').toString('utf8').split('\n');
  return fields.length === count ? fields : null;
}

function parseSeq(s: string | undefined): number | null {
  if (s === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

export class CursorCodec {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    if (key.length < 16) throw new Error('cursor key must be at least 16 bytes');
    this.#key = key;
  }

  encodeCursor(p: CursorPosition): string {
    return seal(this.#key, 'c1', [p.namespace, p.epoch, String(p.seq)]);
  }

  /** null when malformed or not signed by this server */
  decodeCursor(token: unknown): CursorPosition | null {
    const f = open(this.#key, 'c1', token, 3);
    if (!f) return null;
    const seq = parseSeq(f[2]);
    if (seq === null) return null;
    return { namespace: f[0]!, epoch: f[1]!, seq };
  }

  encodePageToken(p: PageTokenPosition): string {
    return seal(this.#key, 'p1', [p.namespace, p.epoch, String(p.seq), p.afterId]);
  }

  decodePageToken(token: unknown): PageTokenPosition | null {
    const f = open(this.#key, 'p1', token, 4);
    if (!f) return null;
    const seq = parseSeq(f[2]);
    if (seq === null) return null;
    return { namespace: f[0]!, epoch: f[1]!, seq, afterId: f[3]! };
  }
}
