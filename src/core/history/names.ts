// Names for restored nodes that cannot take their old name back (something
// else lives there now): `name (restored YYYY-MM-DD HHMMSS).ext`, like a
// conflicted copy, so nothing present is ever replaced by a restore.

import { nameKey } from '../../protocol/names.js';
import { LIMITS } from '../../protocol/types.js';
import { conflictStamp, splitExt, truncateUtf8 } from '../conflict-name.js';

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
