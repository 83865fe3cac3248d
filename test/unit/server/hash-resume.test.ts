// The server's SHA-256 checkpoints at chunk boundaries: an assembly goes on
// from the longest start of its chunk list that its own namespace hashed
// before, and gets exactly the hash a full pass gives; other namespaces,
// evicted files and differing starts get no state; memory stays bounded.

import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { HashCheckpoints, type Checkpoint } from '../../../src/server/hash-resume.js';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** a "file" of n random chunks: their hashes, bytes, and the states a pass would keep */
function file(n: number, cp: HashCheckpoints, parts = Array.from({ length: n }, () => randomBytes(64 + Math.floor(Math.random() * 64)))) {
  const every = cp.every(n);
  const h = createHash('sha256');
  const states: Checkpoint[] = [];
  parts.forEach((p, i) => {
    h.update(p);
    if ((i + 1) % every === 0 || i + 1 === n) states.push({ at: i + 1, hash: h.copy() });
  });
  return { parts, chunks: parts.map(sha), states, digest: sha(Buffer.concat(parts)) };
}

/** the whole-file hash from a resume point, as the route computes it */
function finish(cp: HashCheckpoints, ns: number, f: { parts: Buffer[]; chunks: string[] }): { digest: string; from: number } {
  const r = cp.resume(ns, f.chunks);
  const h = r?.hash ?? createHash('sha256');
  for (let i = r?.at ?? 0; i < f.parts.length; i++) h.update(f.parts[i]!);
  return { digest: h.digest('hex'), from: r?.at ?? 0 };
}

describe('hash checkpoints', () => {
  it('an edit in the middle goes on from the last chunk before it, with the full-pass hash', () => {
    const cp = new HashCheckpoints();
    const v1 = file(40, cp);
    cp.remember(7, v1.chunks, v1.states);
    const parts = [...v1.parts];
    parts[23] = randomBytes(100);
    const v2 = file(40, cp, parts);
    expect(finish(cp, 7, v2)).toEqual({ digest: v2.digest, from: 23 });
    // the kept state is not consumed by going on from it: twice gives the same
    expect(finish(cp, 7, v2)).toEqual({ digest: v2.digest, from: 23 });
  });

  it('an append goes on from the end of the previous version; an insert at the start gets nothing', () => {
    const cp = new HashCheckpoints();
    const v1 = file(10, cp);
    cp.remember(1, v1.chunks, v1.states);
    const appended = file(12, cp, [...v1.parts, randomBytes(70), randomBytes(80)]);
    expect(finish(cp, 1, appended)).toEqual({ digest: appended.digest, from: 10 });
    const inserted = file(11, cp, [randomBytes(90), ...v1.parts]);
    expect(finish(cp, 1, inserted)).toEqual({ digest: inserted.digest, from: 0 });
  });

  it('another namespace never goes on from a state it did not hash (no timing signal across tenants)', () => {
    const cp = new HashCheckpoints();
    const v1 = file(10, cp);
    cp.remember(1, v1.chunks, v1.states);
    expect(cp.resume(2, v1.chunks)).toBeNull();
    expect(cp.resume(1, v1.chunks)?.at).toBe(10);
  });

  it('resuming from a kept prefix and remembering again keeps states that give the right hash for later edits', () => {
    const cp = new HashCheckpoints();
    let cur = file(30, cp);
    cp.remember(3, cur.chunks, cur.states);
    for (let round = 0; round < 20; round++) {
      const parts = [...cur.parts];
      const at = Math.floor(Math.random() * parts.length);
      if (round % 3 === 0) parts.splice(at, 0, randomBytes(77));
      else if (round % 3 === 1 && parts.length > 2) parts.splice(at, 1);
      else parts[at] = randomBytes(99);
      const next = file(parts.length, cp, parts);
      const r = cp.resume(3, next.chunks);
      const h = r?.hash ?? createHash('sha256');
      const states = r?.kept ?? [];
      for (let i = r?.at ?? 0; i < parts.length; i++) {
        h.update(parts[i]!);
        states.push({ at: i + 1, hash: h.copy() });
      }
      expect(h.digest('hex')).toBe(next.digest);
      cp.remember(3, next.chunks, states);
      cur = next;
    }
  });

  it('stays within its bound of states, evicting the least recently used file', () => {
    const cp = new HashCheckpoints(64);
    const files = Array.from({ length: 12 }, (_, ns) => {
      const f = file(16, cp);
      cp.remember(ns, f.chunks, f.states);
      expect(cp.size).toBeLessThanOrEqual(64);
      return f;
    });
    // 16 chunks with at most 64 / 4 = 16 states per file: the last four fit, the first ones were evicted
    expect(cp.resume(0, files[0]!.chunks)).toBeNull();
    expect(cp.resume(11, files[11]!.chunks)?.at).toBe(16);
    // a big file's states are taken further apart, never more than a file's share
    const big = file(1000, cp);
    expect(cp.every(1000)).toBeGreaterThan(1);
    expect(big.states.length).toBeLessThanOrEqual(17);
    cp.remember(99, big.chunks, big.states);
    expect(cp.size).toBeLessThanOrEqual(64);
    expect(finish(cp, 99, big).digest).toBe(big.digest);
  });

  it("the kept chunk lists are bounded too: a hostile tenant's long lists of tiny chunks cannot grow memory", () => {
    const cp = new HashCheckpoints(8192, 400);
    // lists longer than a namespace's share (400 / 4) are not kept at all
    const long = file(150, cp);
    cp.remember(1, long.chunks, long.states);
    expect(cp.listed).toBe(0);
    expect(cp.resume(1, long.chunks)).toBeNull();
    // many namespaces' lists: the least recently used go, the total stays within 400
    const fs = Array.from({ length: 10 }, (_, ns) => {
      const f = file(90, cp);
      cp.remember(ns, f.chunks, f.states);
      expect(cp.listed).toBeLessThanOrEqual(400);
      return f;
    });
    expect(cp.resume(9, fs[9]!.chunks)?.at).toBe(90);
    expect(cp.resume(0, fs[0]!.chunks)).toBeNull();
  });

  it('a namespace keeps its few latest files; the same list again replaces its entry', () => {
    const cp = new HashCheckpoints();
    const fs = Array.from({ length: 6 }, () => file(5, cp));
    for (const f of fs) cp.remember(4, f.chunks, f.states);
    expect(cp.resume(4, fs[0]!.chunks)).toBeNull();
    expect(cp.resume(4, fs[5]!.chunks)?.at).toBe(5);
    const before = cp.size;
    cp.remember(4, fs[5]!.chunks, fs[5]!.states);
    expect(cp.size).toBe(before);
  });
});
