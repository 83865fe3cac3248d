// The worker thread that writes the small files of a big batch: what it
// writes is what was asked, each file answers for itself (a failure leaves
// nothing of that file and does not touch the others), and it never keeps
// the agent's process alive once nothing is being written.

import { existsSync, lstatSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { nodeScript } from '../../../helpers/procs.js';
import { WriteWorker } from '../../../../src/client/disk/write-worker.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'syncd-writer-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('WriteWorker', () => {
  test('many files asked for in one turn: each holds its bytes, mode and mtime, and its stat is the one on disk', async () => {
    const w = new WriteWorker();
    const n = 300; // several batches of 64
    const want = Array.from({ length: n }, (_, i) => [Buffer.from(`file ${i} `), Buffer.alloc(i % 5 === 0 ? 0 : i * 37, i % 256), Buffer.from('end')]);
    const stats = await Promise.all(want.map((data, i) => w.write(join(dir, `f${i}`), data, data.reduce((a, b) => a + b.length, 0), i % 2 ? 0o640 : 0o600, i % 3 ? Date.UTC(2021, 0, 1, 0, 0, i) : undefined)));
    for (let i = 0; i < n; i++) {
      const p = join(dir, `f${i}`);
      const disk = lstatSync(p);
      expect(readFileSync(p).equals(Buffer.concat(want[i]!))).toBe(true);
      expect(disk.mode & 0o777).toBe((i % 2 ? 0o640 : 0o600) & ~process.umask());
      if (i % 3) expect(disk.mtimeMs).toBe(Date.UTC(2021, 0, 1, 0, 0, i));
      const st = stats[i]!;
      expect({ dev: st.dev, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, mode: st.mode }).toEqual({ dev: disk.dev, ino: disk.ino, size: disk.size, mtimeMs: disk.mtimeMs, mode: disk.mode });
      expect(st.isFile()).toBe(true);
    }
    expect(w.pending).toBe(0);
  });

  test('a taken name and a missing directory fail with their codes; the files beside them in the batch are written', async () => {
    const w = new WriteWorker();
    writeFileSync(join(dir, 'taken'), 'mine');
    const ask = (name: string) => w.write(join(dir, name), [Buffer.from(`new ${name}`)], 4 + name.length, 0o600, undefined);
    const [a, taken, b, missing, c] = await Promise.allSettled([ask('a'), ask('taken'), ask('b'), ask('nope/x'), ask('c')]);
    expect(taken).toMatchObject({ status: 'rejected', reason: { code: 'EEXIST', syscall: 'open', path: join(dir, 'taken') } });
    expect(missing).toMatchObject({ status: 'rejected', reason: { code: 'ENOENT' } });
    expect(readFileSync(join(dir, 'taken'), 'utf8')).toBe('mine');
    expect(existsSync(join(dir, 'nope'))).toBe(false);
    for (const [r, name] of [[a, 'a'], [b, 'b'], [c, 'c']] as const) {
      expect(r.status).toBe('fulfilled');
      expect(readFileSync(join(dir, name), 'utf8')).toBe(`new ${name}`);
    }
    expect(readdirSync(dir).sort()).toEqual(['a', 'b', 'c', 'taken']);
  });

  test('a process that wrote through it ends without waiting for the worker', async () => {
    // the compiled module (npm test builds first), in a process of its own
    const mod = join(process.cwd(), 'dist', 'client', 'disk', 'write-worker.js');
    const sub = join(dir, 'out');
    mkdirSync(sub);
    const script = `import { WriteWorker } from ${JSON.stringify(mod)};
const w = new WriteWorker();
await Promise.all(Array.from({ length: 100 }, (_, i) => w.write(${JSON.stringify(sub)} + '/f' + i, [Buffer.from('x' + i)], 1 + String(i).length, 0o600, undefined)));
console.log('written');`;
    const file = join(dir, 'child.mjs');
    writeFileSync(file, script);
    // the worker ends only after 30 s idle: a process it held would still be running at 10 s
    const { code, stdout: out } = await nodeScript(file, 10_000);
    expect(code).toBe(0);
    expect(out.trim()).toBe('written');
    expect(readdirSync(sub)).toHaveLength(100);
  }, 20_000);
});
