import { describe, expect, test } from 'vitest';
import { createLogger, isLogLevel, silentLogger, textValue, type LoggerOptions } from '../../../../src/client/agent/log.js';
import { SyncdError } from '../../../../src/protocol/errors.js';

const T = new Date('2026-11-21T10:00:00.000Z');

function capture(opts: Partial<LoggerOptions> = {}): { lines: () => string[]; log: ReturnType<typeof createLogger> } {
  let buf = '';
  const log = createLogger({ format: 'text', level: 'debug', now: () => T, stream: { write: (s: string) => (buf += s) }, ...opts });
  return { log, lines: () => buf.split('\n').slice(0, -1) };
}

describe('text lines', () => {
  test('timestamp, upper-case level, message, then key=value', () => {
    const { log, lines } = capture();
    log.info('pulled', { entries: 12, cursor: 4051, ok: true, none: null });
    expect(lines()).toEqual(['2026-11-21T10:00:00.000Z INFO pulled entries=12 cursor=4051 ok=true none=null']);
  });

  const quoting: [string, unknown, string][] = [
    ['a plain word stays bare', 'photos/a.jpg', 'photos/a.jpg'],
    ['spaces are quoted', 'My Documents/a b.txt', '"My Documents/a b.txt"'],
    ['quotes inside are escaped', 'say "hi"', '"say \\"hi\\""'],
    ['an equals sign is quoted', 'a=b', '"a=b"'],
    ['the empty string is visible', '', '""'],
    ['a newline cannot split the line', 'a\nb', '"a\\nb"'],
    ['a backslash is quoted and escaped', 'C:\\x', '"C:\\\\x"'],
    ['unicode stays as is', 'Größe', 'Größe'],
    ['objects become JSON', { a: 1 }, '"{\\"a\\":1}"'],
    ['arrays become JSON', [1, 2], '[1,2]'],
    ['dates are ISO', new Date(0), '1970-01-01T00:00:00.000Z'],
    ['bigints print their digits', 12n, '12'],
  ];
  for (const [name, value, want] of quoting) {
    test(name, () => expect(textValue(value)).toBe(want));
  }

  test('undefined fields are left out; control characters in the message are escaped', () => {
    const { log, lines } = capture();
    log.warn('two\nlines', { a: undefined, b: 1 });
    expect(lines()).toEqual(['2026-11-21T10:00:00.000Z WARN two\\nlines b=1']);
  });

  test('an error shows its message and code, and no stack', () => {
    const { log, lines } = capture();
    log.error('push failed', { err: new SyncdError('unauthorized', 'token revoked') });
    expect(lines()).toEqual(['2026-11-21T10:00:00.000Z ERROR push failed err="token revoked" err_code=unauthorized']);
  });

  test('with debug the stack follows on indented lines', () => {
    const { log, lines } = capture({ debug: true });
    const e = new Error('boom');
    log.error('failed', { err: e });
    const l = lines();
    expect(l[0]).toBe('2026-11-21T10:00:00.000Z ERROR failed err=boom');
    expect(l.length).toBeGreaterThan(1);
    expect(l[1]).toBe('    Error: boom');
    expect(l.slice(1).every((x) => x.startsWith('    '))).toBe(true);
  });
});

describe('json lines', () => {
  test('{ts, level, msg, ...fields}, one object per line', () => {
    const { log, lines } = capture({ format: 'json' });
    log.info('pulled', { entries: 12, path: 'a b' });
    log.debug('x');
    const objs = lines().map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(objs).toEqual([
      { ts: '2026-11-21T10:00:00.000Z', level: 'info', msg: 'pulled', entries: 12, path: 'a b' },
      { ts: '2026-11-21T10:00:00.000Z', level: 'debug', msg: 'x' },
    ]);
    expect(Object.keys(objs[0]!).slice(0, 3)).toEqual(['ts', 'level', 'msg']);
  });

  test('a field cannot overwrite ts, level or msg', () => {
    const { log, lines } = capture({ format: 'json' });
    log.info('real', { msg: 'fake', level: 'error' });
    expect(JSON.parse(lines()[0]!)).toEqual({ ts: T.toISOString(), level: 'info', msg: 'real', field_msg: 'fake', field_level: 'error' });
  });

  test('errors become {message, code}; the stack only with debug; bigints become strings', () => {
    const err = new SyncdError('disk_full', 'no space left');
    let c = capture({ format: 'json' });
    c.log.error('write failed', { err, nested: { inner: err }, size: 5n });
    expect(JSON.parse(c.lines()[0]!)).toMatchObject({
      err: { message: 'no space left', code: 'disk_full' },
      nested: { inner: { message: 'no space left', code: 'disk_full' } },
      size: '5',
    });
    expect(c.lines()[0]).not.toContain('stack');
    c = capture({ format: 'json', debug: true });
    c.log.error('write failed', { err });
    const o = JSON.parse(c.lines()[0]!) as { err: { stack: string } };
    expect(o.err.stack).toContain('SyncdError: no space left');
    expect(c.lines()).toHaveLength(1);
  });
});

describe('levels', () => {
  test('lines below the level are dropped', () => {
    const { log, lines } = capture({ level: 'warn' });
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect(lines().map((l) => l.split(' ')[1])).toEqual(['WARN', 'ERROR']);
    expect([log.enabled('info'), log.enabled('warn'), log.enabled('error')]).toEqual([false, true, true]);
  });

  test('an unknown level is refused at creation', () => {
    expect(() => createLogger({ format: 'text', level: 'trace' as never })).toThrow(/unknown log level/);
    expect(isLogLevel('warn')).toBe(true);
    expect(isLogLevel('warning')).toBe(false);
  });
});

test('child loggers add their fields to every line, and line fields win', () => {
  const { log, lines } = capture();
  const child = log.child({ folder: '/home/a/Sync', n: 1 });
  child.info('hello', { n: 2 });
  child.child({ op: 'pull' }).debug('deeper');
  expect(lines()).toEqual([
    '2026-11-21T10:00:00.000Z INFO hello folder=/home/a/Sync n=2',
    '2026-11-21T10:00:00.000Z DEBUG deeper folder=/home/a/Sync n=1 op=pull',
  ]);
});

test('the silent logger writes nothing and is enabled for nothing', () => {
  const l = silentLogger();
  l.error('x');
  expect(l.enabled('error')).toBe(false);
  expect(l.child({ a: 1 })).toBe(l);
});
