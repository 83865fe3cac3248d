import { describe, expect, it } from 'vitest';
import { META, MetaTable, type MetaKey } from '../../../../src/client/state/meta.js';
import { StateStore } from '../../../../src/client/state/store.js';
import { tempDbFile } from './helpers.js';

function open() {
  const store = new StateStore(tempDbFile());
  const raw = (key: string) => (store.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value ?? null;
  return { store, meta: new MetaTable(store), raw };
}

// The stored text is what every earlier syncd wrote and read: it must not change.
const cases: { desc: string; key: MetaKey; value: unknown; stored: string | null }[] = [
  { desc: 'text', key: 'server', value: 'http://127.0.0.1:7420', stored: 'http://127.0.0.1:7420' },
  { desc: 'text cleared', key: 'cursor', value: null, stored: null },
  { desc: 'a number as decimal text', key: 'cursor_seq', value: 4211, stored: '4211' },
  { desc: 'a ms clock value', key: 'caught_up_at', value: 1763700000000, stored: '1763700000000' },
  { desc: 'a nullable number cleared', key: 'pending', value: null, stored: null },
  { desc: 'zero is a value, not nothing', key: 'pending', value: 0, stored: '0' },
  { desc: 'a flag set is "1"', key: 'paused', value: true, stored: '1' },
  { desc: 'a flag unset has no row', key: 'allow_deletes', value: false, stored: null },
  { desc: 'a typed string', key: 'state', value: 'idle', stored: 'idle' },
  { desc: 'the last error as JSON', key: 'last_error', value: { code: 'network', message: 'down', at: 5 }, stored: '{"code":"network","message":"down","at":5}' },
];

describe('meta keys', () => {
  it.each(cases)('$desc: $key stores $stored and reads back', ({ key, value, stored }) => {
    const { meta, raw } = open();
    meta.set(key, value as never);
    expect(raw(key)).toBe(stored);
    expect(meta.get(key)).toEqual(value);
  });

  it.each([
    { desc: 'text', key: 'server' as const, want: null },
    { desc: 'the cursor seq counts from 0', key: 'cursor_seq' as const, want: 0 },
    { desc: 'a nullable number', key: 'head_seq' as const, want: null },
    { desc: 'a flag', key: 'paused' as const, want: false },
    { desc: 'JSON', key: 'last_error' as const, want: null },
  ])('an absent key reads as its default: $desc', ({ key, want }) => {
    expect(open().meta.get(key)).toBe(want);
  });

  it('every key is declared once and stored under its own name', () => {
    const { meta, raw } = open();
    for (const key of Object.keys(META) as MetaKey[]) meta.set(key, (key === 'paused' || key === 'allow_deletes' || key === 'distrust_synced' ? true : key === 'last_error' ? { code: 'c', message: 'm', at: 1 } : ['cursor_seq', 'head_seq', 'head_seen_at', 'caught_up_at', 'last_reset_at', 'pending', 'last_sync_at'].includes(key) ? 1 : 'x') as never);
    expect(Object.keys(META).every((k) => raw(k) !== null)).toBe(true);
  });

  it.each([
    { desc: 'the same value', stored: 3, next: 3, want: false },
    { desc: 'another value', stored: 3, next: 4, want: true },
    { desc: 'clearing a stored value', stored: 3, next: null, want: true },
    { desc: 'clearing an absent one', stored: null, next: null, want: false },
  ])('differs: $desc → $want', ({ stored, next, want }) => {
    const { meta } = open();
    meta.set('pending', stored);
    expect(meta.differs('pending', next)).toBe(want);
  });
});

describe('link', () => {
  it('is refused before `syncd init` stored a server', () => {
    expect(() => open().meta.link()).toThrow(expect.objectContaining({ code: 'not_linked' }));
  });

  it('fills what init did not store with the defaults it always had', () => {
    const { meta } = open();
    meta.set('server', 'http://s');
    expect(meta.link()).toEqual({ server: 'http://s', token: '', namespace: '', device: '', deviceLabel: 'device', folder: '', epoch: '', cursor: null, cursorSeq: 0 });
  });
});

describe('meta writes in transactions', () => {
  it('roll back with the transaction', () => {
    const { store, meta } = open();
    meta.set('cursor_seq', 1);
    expect(() => store.tx(() => {
      meta.set('cursor_seq', 2);
      throw new Error('boom');
    })).toThrow('boom');
    expect(meta.get('cursor_seq')).toBe(1);
  });

  it('a light transaction commits too, and leaves the connection at synchronous=FULL', () => {
    const { store, meta } = open();
    store.lightTx(() => meta.set('state', 'idle'));
    expect(meta.get('state')).toBe('idle');
    expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
  });
});
