// SQLite's operational failures as one stable error code (STYLE.md 5).

import { SyncdError } from '../../../protocol/errors.js';
import { STORE_UNAVAILABLE } from '../types.js';

const UNAVAILABLE_CODES = /^SQLITE_(BUSY|LOCKED|FULL|IOERR|READONLY|CANTOPEN|PROTOCOL|NOMEM)/;

/** Translates SQLite's operational failures into one stable error (STYLE.md 5). */
export function translate(err: unknown): never {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && UNAVAILABLE_CODES.test(code)) {
    throw new SyncdError(STORE_UNAVAILABLE, `database unavailable (${code})`, { sqliteCode: code }, { cause: err });
  }
  throw err;
}
