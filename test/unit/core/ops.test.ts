// Which ops talk to the server and which only touch the trees.

import { describe, expect, it } from 'vitest';
import { isRemoteOp, isStateOp, type PlanOp } from '../../../src/core/ops.js';

const TYPES: { type: PlanOp['type']; remote: boolean; state: boolean }[] = [
  { type: 'mkdir', remote: false, state: false },
  { type: 'download', remote: false, state: false },
  { type: 'symlink', remote: false, state: false },
  { type: 'chmod', remote: false, state: false },
  { type: 'local_move', remote: false, state: false },
  { type: 'local_delete', remote: false, state: false },
  { type: 'conflict_rename', remote: false, state: false },
  { type: 'create', remote: true, state: false },
  { type: 'update', remote: true, state: false },
  { type: 'move', remote: true, state: false },
  { type: 'delete', remote: true, state: false },
  { type: 'adopt', remote: false, state: true },
  { type: 'forget', remote: false, state: true },
];

describe('op classes', () => {
  for (const c of TYPES) {
    it(`${c.type}: ${c.remote ? 'remote' : c.state ? 'state only' : 'local'}`, () => {
      const op = { type: c.type } as PlanOp;
      expect(isRemoteOp(op)).toBe(c.remote);
      expect(isStateOp(op)).toBe(c.state);
    });
  }
});
