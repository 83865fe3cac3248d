// The value parsers of the per-folder settings (config.ts's CONFIG_KEYS):
// pure, each returning undefined for a value it does not accept.

export function intIn(min: number, max: number): (raw: unknown) => number | undefined {
  return (raw) => {
    let n: number;
    if (typeof raw === 'number') n = raw;
    else if (typeof raw === 'string' && /^\s*[0-9]{1,16}\s*$/.test(raw)) n = Number(raw);
    else return undefined;
    return Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  };
}

const DURATION_UNITS: Record<string, number> = { '': 1, s: 1, m: 60, h: 3600 };

/** Seconds: a plain integer, or with an `s`, `m` or `h` suffix ("90", "90s", "5m", "1h"). */
export function parseDurationSeconds(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 0 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const m = /^\s*([0-9]{1,12})\s*([smh]?)\s*$/i.exec(raw);
  if (!m) return undefined;
  return Number(m[1]) * (DURATION_UNITS[(m[2] ?? '').toLowerCase()] ?? 1);
}

export function secondsIn(min: number, max: number): (raw: unknown) => number | undefined {
  return (raw) => {
    const n = parseDurationSeconds(raw);
    return n !== undefined && n >= min && n <= max ? n : undefined;
  };
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Bytes per second: an integer, or a number with a binary unit —
 * "512k", "10M", "1.5 MiB", "2G/s" (k = 1024). 0 means unlimited.
 */
export function parseBandwidth(raw: unknown): number | undefined {
  if (typeof raw === 'number') return Number.isSafeInteger(raw) && raw >= 0 ? raw : undefined;
  if (typeof raw !== 'string') return undefined;
  const m = /^\s*([0-9]{1,15}(?:\.[0-9]{1,6})?)\s*(?:([kmg])(?:i?b)?|b)?\s*(?:\/\s*s)?\s*$/i.exec(raw);
  if (!m) return undefined;
  const n = Math.round(Number(m[1]) * (BYTE_UNITS[(m[2] ?? '').toLowerCase()] ?? 1));
  return Number.isSafeInteger(n) ? n : undefined;
}

/** A share from 0 to 1: "0.25", ".25", "25%" or a number. */
export function parseShare(raw: unknown): number | undefined {
  let n: number;
  if (typeof raw === 'number') n = raw;
  else if (typeof raw === 'string') {
    const m = /^\s*([0-9]{1,3}(?:\.[0-9]+)?|\.[0-9]+)\s*(%?)\s*$/.exec(raw);
    if (!m) return undefined;
    n = m[2] === '%' ? Number(m[1]) / 100 : Number(m[1]);
  } else return undefined;
  return Number.isFinite(n) && n >= 0 && n <= 1 ? n : undefined;
}

const MAX_PATTERNS = 1000;
const MAX_PATTERN_LENGTH = 1024;

/**
 * Ignore patterns: an array of strings, or one string that is either a JSON
 * array (`["*.tmp","build/"]`) or patterns one per line. "" clears the list.
 */
export function parsePatterns(raw: unknown): string[] | undefined {
  let list: unknown;
  if (Array.isArray(raw)) list = raw;
  else if (typeof raw === 'string') {
    const t = raw.trim();
    if (t.startsWith('[')) {
      try {
        list = JSON.parse(t);
      } catch {
        return undefined;
      }
    } else list = t === '' ? [] : t.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== '');
  } else return undefined;
  if (!Array.isArray(list) || list.length > MAX_PATTERNS) return undefined;
  const out: string[] = [];
  for (const p of list) {
    if (typeof p !== 'string') return undefined;
    const s = p.trim();
    // a line break or NUL would change what the pattern file means
    if (s === '' || s.length > MAX_PATTERN_LENGTH || /[\r\n\0]/.test(s)) return undefined;
    out.push(s);
  }
  return out;
}

export function oneOf<T extends string>(values: readonly T[]): (raw: unknown) => T | undefined {
  return (raw) => {
    if (typeof raw !== 'string') return undefined;
    const v = raw.trim().toLowerCase();
    return (values as readonly string[]).includes(v) ? (v as T) : undefined;
  };
}

export const plain = (v: unknown): string => (Array.isArray(v) ? JSON.stringify(v) : String(v));
