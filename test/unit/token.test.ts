import { describe, expect, it } from 'vitest';
import { cleartextWarning, isLoopbackHost, resolveToken, type TokenIo } from '../../src/cli/token.js';

const io = (o: Partial<TokenIo> & { files?: Record<string, string>; stdin?: string } = {}): TokenIo => ({
  env: o.env ?? {},
  readFile: (p) => {
    const f = o.files?.[p];
    if (f === undefined) throw new Error('ENOENT');
    return f;
  },
  readStdin: async () => o.stdin ?? '',
});

describe('resolveToken', () => {
  const ok: Array<{ desc: string; o: { token?: string; tokenFile?: string }; io: TokenIo; want: string }> = [
    { desc: '--token as given', o: { token: 'syncd_abc' }, io: io(), want: 'syncd_abc' },
    { desc: '--token-file, newline trimmed', o: { tokenFile: '/t' }, io: io({ files: { '/t': 'syncd_file\n' } }), want: 'syncd_file' },
    { desc: 'SYNCD_TOKEN when no flag', o: {}, io: io({ env: { SYNCD_TOKEN: 'syncd_env' } }), want: 'syncd_env' },
    { desc: 'a flag wins over SYNCD_TOKEN', o: { tokenFile: '/t' }, io: io({ env: { SYNCD_TOKEN: 'syncd_env' }, files: { '/t': 'syncd_file' } }), want: 'syncd_file' },
    { desc: '--token - reads stdin', o: { token: '-' }, io: io({ stdin: 'syncd_stdin\n' }), want: 'syncd_stdin' },
  ];
  for (const c of ok) it(c.desc, async () => expect(await resolveToken(c.o, c.io)).toBe(c.want));

  const bad: Array<{ desc: string; o: { token?: string; tokenFile?: string }; io: TokenIo; code: RegExp }> = [
    { desc: 'no source at all', o: {}, io: io(), code: /token is required/ },
    { desc: '--token and --token-file together', o: { token: 'a', tokenFile: '/t' }, io: io(), code: /exclusive/ },
    { desc: 'an unreadable token file', o: { tokenFile: '/nope' }, io: io(), code: /cannot read the token file/ },
    { desc: 'an empty stdin', o: { token: '-' }, io: io({ stdin: '\n' }), code: /empty/ },
    { desc: 'two tokens in a file', o: { tokenFile: '/t' }, io: io({ files: { '/t': 'a b' } }), code: /whitespace/ },
  ];
  for (const c of bad) it(`refuses ${c.desc}`, async () => expect(resolveToken(c.o, c.io)).rejects.toThrow(c.code));
});

describe('cleartext warning', () => {
  const cases = [
    { url: 'http://127.0.0.1:7420', warn: false },
    { url: 'http://localhost:7420', warn: false },
    { url: 'http://[::1]:7420', warn: false },
    { url: 'http://127.8.9.10', warn: false },
    { url: 'https://sync.example.com', warn: false },
    { url: 'http://sync.example.com', warn: true },
    { url: 'http://192.168.1.5:7420', warn: true },
    { url: 'http://[2001:db8::1]:7420', warn: true },
    { url: 'http://localhost.evil.com', warn: true },
  ];
  for (const c of cases) it(`${c.url}: ${c.warn ? 'warns' : 'quiet'}`, () => expect(cleartextWarning(c.url) !== null).toBe(c.warn));
  it('loopback names', () => {
    expect(isLoopbackHost('LOCALHOST')).toBe(true);
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });
});
