// Which failures are the protocol's own errors: HttpErrors as raised, plus a
// store or disk that cannot take data right now (503 unavailable). Anything
// else is a bug, and each transport reports it as an internal error.

import { HttpError, SyncdError } from '../../protocol/errors.js';
import { STORE_UNAVAILABLE } from '../store/types.js';

const UNAVAILABLE_ERRNO = new Set(['ENOSPC', 'EDQUOT', 'EMFILE', 'ENFILE', 'EIO', 'EROFS']);

export function asHttpError(err: unknown): HttpError | null {
  if (err instanceof HttpError) return err;
  if (err instanceof SyncdError && err.code === STORE_UNAVAILABLE) return new HttpError('unavailable', err.message, {}, 1);
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE_ERRNO.has(code)) {
    return new HttpError('unavailable', `the server cannot store data right now (${code})`, {}, 5);
  }
  return null;
}
