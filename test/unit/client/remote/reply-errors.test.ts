// errorForStatus on its own: the status decides the code, the server's JSON
// adds detail. (The same mapping is driven over HTTP in errors.test.ts.)

import { describe, expect, test } from 'vitest';
import { RemoteError } from '../../../../src/client/remote/errors.js';
import { errorForStatus, malformedReply } from '../../../../src/client/remote/reply-errors.js';

const S = 'http://srv';
const json = (o: unknown): string => JSON.stringify(o);

describe('errorForStatus', () => {
  test.each([
    { name: '401', status: 401, text: json({ error: 'unauthorized', message: 'bad token' }), want: { code: 'unauthorized', status: 401, serverCode: 'unauthorized' }, message: /bad token.*add-device/s },
    { name: '409 reset keeps a known reason', status: 409, text: json({ error: 'reset', reason: 'expired' }), want: { code: 'reset', reason: 'expired' } },
    { name: '409 reset with an unknown reason means invalid', status: 409, text: json({ error: 'reset', reason: 'moon' }), want: { code: 'reset', reason: 'invalid' }, message: /unrecognised reason "moon"/ },
    { name: '409 without JSON is a reset', status: 409, text: 'nope', want: { code: 'reset', reason: 'invalid' } },
    { name: '409 with another code is a conflict', status: 409, text: json({ error: 'conflict' }), want: { code: 'conflict' } },
    { name: '429 honours Retry-After', status: 429, retryAfter: '9', text: '', want: { code: 'rate_limited', retryAfterS: 9 } },
    { name: '503 without Retry-After waits the default', status: 503, text: '', want: { code: 'unavailable', retryAfterS: 5 } },
    { name: '404 on a download names the blob', what: 'download', status: 404, text: '', want: { code: 'not_found' }, message: /no such blob/ },
    { name: '413', status: 413, text: '', want: { code: 'too_large' } },
    { name: '400 hash_mismatch', status: 400, text: json({ error: 'hash_mismatch' }), want: { code: 'hash_mismatch' } },
    { name: 'another 4xx', status: 418, text: json({ error: 'teapot' }), want: { code: 'bad_request' }, message: /418 teapot/ },
    { name: '500 keeps a Retry-After', status: 500, retryAfter: '3', text: '', want: { code: 'server_error', retryAfterS: 3 } },
    { name: 'a 3xx breaks the protocol', status: 302, text: '', want: { code: 'protocol' } },
  ])('$name', ({ what, status, retryAfter, text, want, message }) => {
    const e = errorForStatus(S, what ?? 'list', { status, retryAfter, text });
    expect(e).toBeInstanceOf(RemoteError);
    expect(e).toMatchObject({ server: S, ...want });
    if (message) expect(e.message).toMatch(message);
  });
});

test('malformedReply: a protocol error naming the request and the server', () => {
  const e = malformedReply(S, 'changes')('reply.head must be an integer');
  expect(e).toMatchObject({ code: 'protocol', server: S, message: `malformed changes reply from the syncd server at ${S}: reply.head must be an integer` });
});
