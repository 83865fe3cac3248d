// Conflicted-copy names: `name (conflicted copy <device> <YYYY-MM-DD HHMMSS>).ext`.
// Pure: the clock is an argument.

import { nameKey } from '../protocol/names.js';
import { LIMITS } from '../protocol/types.js';

function pad(n: number, w = 2): string {
  return String(n).padStart(w, '0');
}

/** UTC stamp `YYYY-MM-DD HHMMSS`. */
export function conflictStamp(nowMs: number): string {
  const d = new Date(nowMs);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}${pad(d.getUTCMinutes())}${pad(d.getUTCSeconds())}`;
}

/** Splits "report.final.pdf" → ["report.final", ".pdf"]; ".bashrc" and "dir" have no extension. */
export function splitExt(name: string, isDir: boolean): [string, string] {
  if (isDir) return [name, ''];
  const i = name.lastIndexOf('.');
  if (i <= 0 || i === name.length - 1) return [name, ''];
  return [name.slice(0, i), name.slice(i)];
}

/** The longest prefix of `s` within `maxBytes` of UTF-8, cut between characters. */
export function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch, 'utf8') > maxBytes) break;
    out += ch;
  }
  return out;
}

/**
 * A conflicted-copy name for `name` that none of `takenKeys` (nameKey of the
 * siblings on either side) already uses. Stays within the 255-byte limit.
 */
export function conflictedCopyName(name: string, isDir: boolean, device: string, nowMs: number, takenKeys: Set<string>): string {
  const [stem, ext] = splitExt(name, isDir);
  const safeDevice = device.replace(/[\u0000-\u001f\u007f/]/g, '_').slice(0, 40) || 'device';
  for (let n = 1; ; n++) {
    const tag = ` (conflicted copy ${safeDevice} ${conflictStamp(nowMs)}${n > 1 ? ` ${n}` : ''})`;
    const room = LIMITS.nameMaxBytes - Buffer.byteLength(tag + ext, 'utf8');
    const candidate = truncateUtf8(stem, Math.max(1, room)) + tag + ext;
    if (!takenKeys.has(nameKey(candidate))) return candidate;
  }
}

/**
 * The name a local entry created at an excluded path is given
 * (`name (selective sync conflict).ext`, then `… 2)`, …): free among `takenKeys`.
 */
export function selectiveSyncConflictName(name: string, isDir: boolean, takenKeys: Set<string>): string {
  const [stem, ext] = splitExt(name, isDir);
  for (let n = 1; ; n++) {
    const tag = ` (selective sync conflict${n > 1 ? ` ${n}` : ''})`;
    const room = LIMITS.nameMaxBytes - Buffer.byteLength(tag + ext, 'utf8');
    const candidate = truncateUtf8(stem, Math.max(1, room)) + tag + ext;
    if (!takenKeys.has(nameKey(candidate))) return candidate;
  }
}
