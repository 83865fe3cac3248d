import { describe, expect, it } from 'vitest';
import { HttpError } from '../../../src/protocol/errors.js';
import { Router } from '../../../src/server/http/router.js';

const h = async () => undefined;
const r = new Router().on('GET', '/v1/list', h).on('PUT', '/v1/blobs/*', h).on('GET', '/v1/blobs/*', h).on('POST', '/v1/blobs/fetch', h);

function fails(method: string, path: string): HttpError {
  try {
    r.match(method, path);
  } catch (e) {
    return e as HttpError;
  }
  throw new Error('matched');
}

describe('Router', () => {
  it.each([
    ['GET', '/v1/list', '/v1/list', ''],
    ['PUT', '/v1/blobs/abc', '/v1/blobs/{param}', 'abc'],
    ['POST', '/v1/blobs/fetch', '/v1/blobs/fetch', ''],
  ])('%s %s → %s', (m, p, route, param) => {
    expect(r.match(m, p)).toMatchObject({ route, param });
  });

  it.each([
    ['GET', '/v1/lists', 404],
    ['GET', '/v1/blobs/', 404],
    ['GET', '/v1/blobs/a/b', 404],
    ['GET', '/', 404],
    ['POST', '/v1/list', 405],
    ['DELETE', '/v1/blobs/abc', 405],
    ['GET', '/v1/blobs/fetch', 405],
  ])('%s %s → %i', (m, p, status) => {
    expect(fails(m, p).status).toBe(status);
  });

  it('405 names the allowed methods', () => {
    expect(fails('DELETE', '/v1/blobs/x').details.allow).toBe('PUT, GET');
  });
});
