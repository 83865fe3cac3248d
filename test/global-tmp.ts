// One temporary directory per test run: every test's mkdtemp (and every
// server, agent and CLI the tests start) lands in it through TMPDIR, and it
// is removed when the run ends, so runs killed or not, tests that leave
// their folders behind do not fill the machine's /tmp (16,000 folders after
// a few dozen runs).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'syncd-test-run-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(dir, { recursive: true, force: true });
  };
}
