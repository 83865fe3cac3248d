import { describe, expect, it } from 'vitest';
import { defaultPgUser } from '../../../src/server/store/postgres/pool.js';

describe('defaultPgUser: the OS user when nothing names one (as libpq does)', () => {
  const os = () => 'svc';
  const cases = [
    { desc: 'no user anywhere (systemd without USER)', url: 'postgres:///syncd', env: {}, want: 'svc' },
    { desc: 'the URL names a user', url: 'postgres://alice@db/syncd', env: {}, want: undefined },
    { desc: 'PGUSER is set', url: 'postgres:///syncd', env: { PGUSER: 'bob' }, want: undefined },
    { desc: 'USER is set (pg uses it)', url: 'postgres:///syncd', env: { USER: 'carol' }, want: undefined },
    { desc: 'a malformed URL is left to pg', url: 'postgres://[bad', env: {}, want: undefined },
  ];
  for (const c of cases) it(c.desc, () => expect(defaultPgUser(c.url, c.env, os)).toBe(c.want));

  it('an OS without a user name gives none', () => {
    expect(
      defaultPgUser('postgres:///x', {}, () => {
        throw new Error('no passwd entry');
      }),
    ).toBe(undefined);
  });
});
