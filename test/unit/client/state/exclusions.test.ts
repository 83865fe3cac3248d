// The exclusion list in the state DB (src/client/state/exclusions.ts): the
// CLI's edits, what the agent plans with (following server renames), and
// how a running agent hears of a change.

import { describe, expect, it } from 'vitest';
import { StateDB } from '../../../../src/client/state/db.js';
import { editExclusions, exclusionsKey, exclusionsToPlan } from '../../../../src/client/state/exclusions.js';
import type { Tree } from '../../../../src/core/tree.js';
import { tempDbFile } from './helpers.js';

const dir = (id: string, parent: string, name: string) => ({ id, parent, name, kind: 'dir' as const, rev: 1, size: null, hash: null, mtime: 0, exec: false, target: null });

describe('state DB exclusions', () => {
  it('add and remove persist across opens; an empty list leaves no row', () => {
    const file = tempDbFile();
    let db = new StateDB(file);
    expect(editExclusions(db, { add: [{ path: 'docs', id: 'n1' }, { path: 'a/b', id: null }] }).added).toEqual(['docs', 'a/b']);
    db.close();
    db = new StateDB(file);
    expect(db.meta.get('exclusions')).toEqual([{ path: 'a/b', id: null }, { path: 'docs', id: 'n1' }]);
    expect(editExclusions(db, { remove: ['docs', 'nope'] })).toMatchObject({ removed: ['docs'], missing: [{ path: 'nope' }] });
    editExclusions(db, { remove: ['a/b'] });
    expect(db.meta.get('exclusions')).toBeNull();
    expect(exclusionsKey(db)).toBe('[]');
    db.close();
  });

  it('the agent plans with the server\'s new path after a rename, writes it back, and records what it saw', () => {
    const db = new StateDB(tempDbFile());
    editExclusions(db, { add: [{ path: 'old', id: 'n1' }] });
    expect(db.meta.get('exclusions_seen')).toBeNull(); // `syncd wait` holds until the agent plans with it
    const remote: Tree = new Map([['n1', dir('n1', 'root', 'new')]]);
    expect(exclusionsToPlan(db, remote)).toEqual(['new']);
    expect(db.meta.get('exclusions')).toEqual([{ path: 'new', id: 'n1' }]);
    expect(db.meta.get('exclusions_seen')).toBe(exclusionsKey(db));
    db.close();
  });

  it('follows a node the round\'s Remote selection lacks through the state DB (a first plan\'s batch plans with the whole Remote\'s paths)', () => {
    const db = new StateDB(tempDbFile());
    editExclusions(db, { add: [{ path: 'old', id: 'n2' }] });
    db.tx(() => {
      db.upsertRemote(dir('n1', 'root', 'later'), 1);
      db.upsertRemote(dir('n2', 'n1', 'moved'), 2);
    });
    const batch: Tree = new Map([['n9', dir('n9', 'root', 'old')]]); // a batch without n2, holding a new "old"
    expect(exclusionsToPlan(db, batch)).toEqual(['later/moved']);
    db.close();
  });
});
