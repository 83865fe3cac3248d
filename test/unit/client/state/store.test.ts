import { existsSync, statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StateStore } from '../../../../src/client/state/store.js';
import { tempDbFile } from './helpers.js';

describe('StateStore', () => {
  it('opens in WAL mode, synchronous=FULL, with a checkpoint per 64 MiB of WAL and the WAL cut back to that after one', () => {
    const store = new StateStore(tempDbFile());
    try {
      expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
      expect(store.db.pragma('wal_autocheckpoint', { simple: true })).toBe(16384);
      expect(store.db.pragma('journal_size_limit', { simple: true })).toBe(64 * 1024 * 1024);
    } finally {
      store.close();
    }
  });

  it('leaves no WAL behind when closed after writes (the last connection checkpoints it)', () => {
    const file = tempDbFile();
    const store = new StateStore(file);
    store.tx(() => {
      const put = store.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
      for (let i = 0; i < 2000; i++) put.run(`k${i}`, 'x'.repeat(200));
    });
    expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    store.close();
    expect(existsSync(`${file}-wal`)).toBe(false);
    const again = new StateStore(file);
    expect((again.db.prepare('SELECT count(*) AS n FROM meta WHERE key LIKE ?').get('k%') as { n: number }).n).toBe(2000);
    again.close();
  });
});
