// Name rules of PROTOCOL.md "Names": enforced by the server on commit and
// re-checked by the client on every name a server sends.

import { LIMITS } from './types.js';

export type NameCheck = { ok: true; name: string } | { ok: false; reason: string };

// U+0000–U+001F and U+007F
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Validates a node name and returns it in NFC. The byte limit applies to the
 * NFC form, which is what is stored.
 */
export function checkName(raw: unknown): NameCheck {
  if (typeof raw !== 'string') return { ok: false, reason: 'name must be a string' };
  if (!isWellFormed(raw)) return { ok: false, reason: 'name is not valid Unicode (lone surrogate)' };
  const name = raw.normalize('NFC');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes < 1) return { ok: false, reason: 'name is empty' };
  if (bytes > LIMITS.nameMaxBytes) return { ok: false, reason: `name is ${bytes} bytes; the limit is ${LIMITS.nameMaxBytes}` };
  if (name.includes('/')) return { ok: false, reason: 'name contains "/"' };
  if (CONTROL.test(name)) return { ok: false, reason: 'name contains a control character' };
  if (name === '.' || name === '..') return { ok: false, reason: `name "${name}" is reserved` };
  return { ok: true, name };
}

// Bidirectional controls (ALM, LRM, RLM, embeddings/overrides, isolates):
// invisible, they make "gpj.exe" display as "exe.jpg" in listings and file
// managers ("Trojan Source"); no file name needs them.
const BIDI = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

/**
 * A name for a node being created or renamed: the rules of checkName, and no
 * bidirectional control characters. Names already stored stay readable to
 * clients (checkName alone), so tightening this rule orphans nothing.
 */
export function checkNewName(raw: unknown): NameCheck {
  const c = checkName(raw);
  if (c.ok && BIDI.test(c.name)) return { ok: false, reason: 'name contains a bidirectional control character (U+061C, U+200E/F, U+202A–E, U+2066–9)' };
  return c;
}

/**
 * The key under which names are unique per parent: NFC, then case-folded.
 * JavaScript has no String#casefold; upper-then-lower approximates Unicode
 * full case folding (ß → ss, ﬁ → fi, Σ/σ/ς → σ) closely enough that two names
 * a case-insensitive disk would merge get the same key.
 */
export function nameKey(name: string): string {
  return name.normalize('NFC').toUpperCase().toLowerCase().normalize('NFC');
}

function isWellFormed(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
      i++;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return false;
    }
  }
  return true;
}

export function isSha256Hex(s: unknown): s is string {
  return typeof s === 'string' && /^[0-9a-f]{64}$/.test(s);
}
