import { describe, expect, it } from 'vitest';
import { Outbox } from '../../../../src/client/state/outbox.js';
import { StateStore } from '../../../../src/client/state/store.js';
import { tempDbFile } from './helpers.js';

const open = () => new Outbox(new StateStore(tempDbFile()));

describe('outbox', () => {
  it.each([
    { desc: 'a new intent gets a fresh id', steps: (o: Outbox) => [o.opIdFor('i1', () => 'A')], want: ['A'], count: 1 },
    { desc: 'a retried intent gets the same id (the server applies it once)', steps: (o: Outbox) => [o.opIdFor('i1', () => 'A'), o.opIdFor('i1', () => 'B')], want: ['A', 'A'], count: 1 },
    { desc: 'different intents get their own ids', steps: (o: Outbox) => [o.opIdFor('i1', () => 'A'), o.opIdFor('i2', () => 'B')], want: ['A', 'B'], count: 2 },
    { desc: 'a cleared intent gets a new id next time', steps: (o: Outbox) => [o.opIdFor('i1', () => 'A'), (o.clearIntent('i1'), o.opIdFor('i1', () => 'B'))], want: ['A', 'B'], count: 1 },
    { desc: 'clearing all empties it', steps: (o: Outbox) => [o.opIdFor('i1', () => 'A'), o.opIdFor('i2', () => 'B'), (o.clearAllIntents(), 'cleared')], want: ['A', 'B', 'cleared'], count: 0 },
  ])('$desc', ({ steps, want, count }) => {
    const o = open();
    expect(steps(o)).toEqual(want);
    expect(o.outboxCount()).toBe(count);
  });

  it('survives a reopen (a crash mid-upload retries with the same op_id)', () => {
    const file = tempDbFile();
    const s = new StateStore(file);
    new Outbox(s).opIdFor('i1', () => 'A');
    s.close();
    expect(new Outbox(new StateStore(file)).opIdFor('i1', () => 'B')).toBe('A');
  });
});
