// The agent's worker threads (the hashing workers, the small-file writer) run
// source evaluated as CommonJS. A worker inherits its parent's node options
// unless told otherwise, and a parent started with `--input-type=module`
// (an embedder's `node --input-type=module -e ...`) would make that source an
// ES module, where `require` does not exist: the worker would die at once.

import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { nodeRun } from '../../helpers/procs.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'syncd-eval-workers-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

// the compiled modules (npm test builds first), in a process of its own
const dist = (p: string): string => JSON.stringify(join(process.cwd(), 'dist', 'client', p));

test('both kinds of worker run under a parent started with --input-type=module', async () => {
  const big = 16 * 1024 * 1024; // OFF_THREAD_MIN: hashed on the workers
  const script = `
import { WriteWorker } from ${dist('disk/write-worker.js')};
import { fileHasher } from ${dist('transfer/file-hasher.js')};
const w = new WriteWorker();
await w.write(${JSON.stringify(join(dir, 'written'))}, [Buffer.from('hello')], 5, 0o600, undefined);
const h = fileHasher(${big}, true);
const buf = h.take(${big});
buf.fill(7);
await h.update(buf, []);
const r = await h.finish(true);
console.log(r.hash);`;
  const { code, stdout } = await nodeRun(['--input-type=module', '-e', script], 20_000);
  expect(code).toBe(0);
  expect(stdout.trim()).toBe(createHash('sha256').update(Buffer.alloc(big, 7)).digest('hex'));
  expect(readFileSync(join(dir, 'written'), 'utf8')).toBe('hello');
}, 30_000);
