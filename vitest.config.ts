import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // TMPDIR for the whole run, removed at its end (test/global-tmp.ts)
    globalSetup: ['test/global-tmp.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // vitest's default is one fork fewer than the cores: a single fork on a
    // 2-core CI machine, where most of the suite's time is waiting on child
    // processes (servers, agents) and on the disk, not on the CPU
    maxWorkers: Math.max(2, availableParallelism() - 1),
    reporters: ['default'],
  },
});
