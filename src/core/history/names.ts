// Names for restored nodes that cannot take their old name back (something
// else lives there now): `name (restored YYYY-MM-DD HHMMSS).ext`, like a
// conflicted copy, so nothing present is ever replaced by a restore.

import { nameKey } from '../../protocol/names.js';
import { LIMITS } from '../../protocol/types.js';
import { conflictStamp, splitExt } from '../conflict-name.js';

function truncateUtf8(s: string, maxBytes: number): string {
  if (Buffer.byteLength(s, 'utf8') <= maxBytes) return s;
  let out = '';
  for (const ch of s) {
    if (Buffer.byteLength(out + ch, 'utf8') > maxBytes) break;
    out += ch;
  }
  return out;
}

/** The `attempt`-th restored name for `name` (1, 2, …), within the 255-byte limit, avoiding `takenKeys`. */
export function restoredName(name: string, isDir: boolean, nowMs: number, takenKeys: ReadonlySet<string> = new Set()): string {
  const [stem, ext] = splitExt(name, isDir);
  for (let n = 1; ; n++) {
    const tag = ` (restored ${conflictStamp(nowMs)}${n > 1 ? ` ${n}` : ''})`;
    const room = LIMITS.nameMaxBytes - Buffer.byteLength(tag + ext, 'utf8');
    const candidate = truncateUtf8(stem, Math.max(1, room)) + tag + ext;
    if (!takenKeys.has(nameKey(candidate))) return candidate;
  }
}
