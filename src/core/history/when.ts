// TIME arguments of `syncd restore --at` and `syncd rewind --at`: ISO 8601
// (local time when it carries no offset) or a relative age such as `90m`,
// `2h`, `3d`. Pure: the clock is an argument; the time zone is the
// process's, which is what "local time" means to the person typing.

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

const AGE = /^([0-9]{1,9}(?:\.[0-9]{1,6})?)([smhdw])$/;
const DATE_ONLY = /^[0-9]{4}-[0-9]{2}-[0-9]{2}$/;
// date, `T` or a space, time to the minute at least, optional fraction and offset
const ISO = /^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,9})?)?(Z|[+-][0-9]{2}:?[0-9]{2})?$/i;

export type When = { ok: true; ms: number } | { ok: false; reason: string };

export function parseWhen(text: string, now: number): When {
  const t = text.trim();
  const age = AGE.exec(t);
  if (age) return { ok: true, ms: now - Math.round(Number(age[1]) * UNIT_MS[age[2]!]!) };
  let iso = t;
  // ECMAScript reads a bare date as UTC and a date-time without offset as local: make both local
  if (DATE_ONLY.test(iso)) iso = `${iso}T00:00`;
  if (!DATE_ONLY.test(t) && !ISO.test(iso)) {
    return { ok: false, reason: `"${text}" is neither an ISO 8601 time (2026-12-05T14:30, 2026-12-05T14:30:00Z) nor an age (90m, 2h, 3d)` };
  }
  iso = iso.replace(' ', 'T').replace(/([+-][0-9]{2})([0-9]{2})$/, '$1:$2');
  const ms = new Date(iso).getTime();
  if (!Number.isFinite(ms)) return { ok: false, reason: `"${text}" is not a valid date and time` };
  return { ok: true, ms };
}
