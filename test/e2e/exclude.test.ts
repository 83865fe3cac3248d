// Selective sync through the built CLI (docs/folder-modes.md "Selective
// sync"): two devices on a real server on loopback. Excluding removes the
// local copy only after its local changes reached the server, never deletes
// on the server, keeps remote changes out, renames a local re-creation to a
// selective sync conflict, and `exclude remove` brings the content back;
// with the agent stopped and while it runs.

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { BIN, cli, cliAsync, start, twoLinkedFolders, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let A: string;
let B: string;

const ok = (args: string[]) => {
  const r = cli(args, env);
  expect(r.code, `syncd ${args.join(' ')}: ${r.stderr}`).toBe(0);
  return r;
};
const read = (...p: string[]) => readFileSync(join(...p), 'utf8');

beforeAll(async () => {
  ({ work, env, server, A, B } = await twoLinkedFolders('syncd-exclude-'));
  mkdirSync(join(A, 'docs', 'sub'), { recursive: true });
  writeFileSync(join(A, 'docs', 'a.txt'), 'A1');
  writeFileSync(join(A, 'docs', 'sub', 'b.txt'), 'B1');
  writeFileSync(join(A, 'keep.txt'), 'K');
  mkdirSync(join(A, 'photos'));
  writeFileSync(join(A, 'photos', 'p.jpg'), 'P1');
  ok(['sync', A]);
  ok(['sync', B]);
}, 60_000);

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('syncd exclude (agent stopped)', () => {
  it('excluding a folder with unsynced edits uploads them first, then removes the local copy; the server keeps all', () => {
    // edits made while no agent runs: not on the server yet
    writeFileSync(join(B, 'docs', 'a.txt'), 'A2 from beta');
    writeFileSync(join(B, 'docs', 'new.txt'), 'N from beta');
    const r = ok(['exclude', 'add', join(B, 'docs')]);
    expect(r.stdout).toMatch(/excluded docs/);
    expect(r.stdout).toMatch(/no agent is running/);
    ok(['sync', B]);
    expect(existsSync(join(B, 'docs'))).toBe(false);
    expect(read(B, 'keep.txt')).toBe('K');
    // the other device sees the edits, and nothing deleted
    ok(['sync', A]);
    expect(read(A, 'docs', 'a.txt')).toBe('A2 from beta');
    expect(read(A, 'docs', 'new.txt')).toBe('N from beta');
    expect(read(A, 'docs', 'sub', 'b.txt')).toBe('B1');
  });

  it('exclude list and status show the exclusion, in text and JSON', () => {
    expect(JSON.parse(ok(['exclude', 'list', B, '--json']).stdout)).toEqual(['docs']);
    expect(ok(['exclude', 'list', B]).stdout).toBe('docs\n');
    expect(JSON.parse(ok(['status', B, '--json']).stdout).exclusions).toEqual(['docs']);
    const st = JSON.parse(ok(['status', B, '--json']).stdout);
    expect(st.pending_downloads).toBe(0);
    expect(ok(['status', B]).stdout).toMatch(/excluded\s+docs/);
  });

  it('remote changes under an excluded path are not downloaded', () => {
    writeFileSync(join(A, 'docs', 'sub', 'c.txt'), 'C from alpha');
    writeFileSync(join(A, 'docs', 'a.txt'), 'A3 from alpha');
    ok(['sync', A]);
    ok(['sync', B]);
    expect(existsSync(join(B, 'docs'))).toBe(false);
    expect(JSON.parse(ok(['status', B, '--json']).stdout).pending_downloads).toBe(0);
  });

  it('a folder created locally at the excluded path becomes a selective sync conflict, synced under that name', () => {
    mkdirSync(join(B, 'docs'));
    writeFileSync(join(B, 'docs', 'a.txt'), 'mine, not the server\'s');
    ok(['sync', B]);
    expect(existsSync(join(B, 'docs'))).toBe(false);
    expect(read(B, 'docs (selective sync conflict)', 'a.txt')).toBe('mine, not the server\'s');
    ok(['sync', A]);
    expect(read(A, 'docs (selective sync conflict)', 'a.txt')).toBe('mine, not the server\'s');
    expect(read(A, 'docs', 'a.txt')).toBe('A3 from alpha'); // never merged into the server's folder
  });

  it('bad input is refused with a clear message and changes nothing', () => {
    const root = cli(['exclude', 'add', B], env);
    expect(root.code).toBe(2);
    expect(root.stderr).toMatch(/folder itself cannot be excluded/);
    const missing = cli(['exclude', 'add', join(B, 'no-such-thing')], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/nothing is at "no-such-thing" on the server/);
    writeFileSync(join(B, 'fresh.txt'), 'not uploaded yet');
    const fresh = cli(['exclude', 'add', join(B, 'fresh.txt')], env);
    expect(fresh.code).toBe(1);
    expect(fresh.stderr).toMatch(/not on the server yet/);
    expect(read(B, 'fresh.txt')).toBe('not uploaded yet');
    const notListed = cli(['exclude', 'remove', join(B, 'docs', 'sub'), join(B, 'docs')], env);
    expect(notListed.code).toBe(2);
    expect(notListed.stderr).toMatch(/inside the excluded "docs"/);
    const outside = cli(['exclude', 'add', work], env);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toMatch(/not inside a folder linked/);
    expect(JSON.parse(ok(['exclude', 'list', B, '--json']).stdout)).toEqual(['docs']);
  });

  it('a nested exclusion stays when its parent exclusion is removed; removing it downloads the rest', () => {
    ok(['exclude', 'add', join(B, 'docs', 'sub')]);
    const r = ok(['exclude', 'remove', join(B, 'docs')]);
    expect(r.stdout).toMatch(/included docs/);
    ok(['sync', B]);
    expect(read(B, 'docs', 'a.txt')).toBe('A3 from alpha');
    expect(read(B, 'docs', 'new.txt')).toBe('N from beta');
    expect(existsSync(join(B, 'docs', 'sub'))).toBe(false);
    ok(['exclude', 'remove', join(B, 'docs', 'sub')]);
    ok(['sync', B]);
    expect(read(B, 'docs', 'sub', 'b.txt')).toBe('B1');
    expect(read(B, 'docs', 'sub', 'c.txt')).toBe('C from alpha');
    expect(JSON.parse(ok(['exclude', 'list', B, '--json']).stdout)).toEqual([]);
  });
});

describe('syncd exclude and files syncd does not sync', () => {
  it('an excluded folder holding an ignored file keeps that file and its folder, and says so', () => {
    mkdirSync(join(A, 'misc'));
    writeFileSync(join(A, 'misc', 'm.txt'), 'M');
    ok(['sync', A]);
    ok(['sync', B]);
    writeFileSync(join(B, 'misc', '.DS_Store'), 'finder litter');
    ok(['exclude', 'add', join(B, 'misc')]);
    ok(['sync', B]);
    expect(existsSync(join(B, 'misc', 'm.txt'))).toBe(false);
    expect(read(B, 'misc', '.DS_Store')).toBe('finder litter');
    const st = JSON.parse(ok(['status', B, '--json']).stdout);
    expect(st.problems.map((p: { code: string; path: string }) => `${p.code}:${p.path}`)).toContain('excluded_kept:misc');
    ok(['sync', B]);
    ok(['sync', A]);
    expect(read(A, 'misc', 'm.txt')).toBe('M');
    ok(['exclude', 'remove', join(B, 'misc')]);
    ok(['sync', B]);
    expect(read(B, 'misc', 'm.txt')).toBe('M');
  });
});

describe('syncd exclude and a rename on the server', () => {
  it('an excluded folder renamed by another device stays excluded under its new name', () => {
    ok(['exclude', 'add', join(B, 'docs')]);
    ok(['sync', B]);
    expect(existsSync(join(B, 'docs'))).toBe(false);
    ok(['sync', A]);
    renameSync(join(A, 'docs'), join(A, 'archive'));
    ok(['sync', A]);
    ok(['sync', B]);
    expect(existsSync(join(B, 'archive'))).toBe(false);
    expect(JSON.parse(ok(['exclude', 'list', B, '--json']).stdout)).toEqual(['archive']);
    ok(['exclude', 'remove', join(B, 'archive')]);
    ok(['sync', B]);
    expect(read(B, 'archive', 'sub', 'b.txt')).toBe('B1');
  });
});

describe('syncd exclude (agent running)', () => {
  it('an exclusion added while the agent runs is applied (wait knows it), and removing it brings the folder back', async () => {
    ok(['sync', A]);
    const agent = start(['watch', B], env);
    try {
      await waitFor(() => agent.output.join('').includes('watching'), 15_000, 'agent start');
      expect((await cliAsync(['wait', B, '--timeout', '30'], env)).code).toBe(0);
      expect(read(B, 'photos', 'p.jpg')).toBe('P1');
      writeFileSync(join(B, 'photos', 'p.jpg'), 'P2 unsynced'); // the agent may or may not have seen it yet
      // PATH relative to the current directory: run from inside the folder
      const rel = cliIn(B, ['exclude', 'add', 'photos']);
      expect(rel.code, rel.stderr).toBe(0);
      expect(rel.stdout).toMatch(/the running agent removes the local copies/);
      const w = await cliAsync(['wait', B, '--timeout', '30'], env);
      expect(w.code, w.stderr).toBe(0);
      expect(existsSync(join(B, 'photos'))).toBe(false);
      ok(['sync', A]);
      expect(read(A, 'photos', 'p.jpg')).toBe('P2 unsynced');

      ok(['exclude', 'remove', join(B, 'photos')]);
      expect((await cliAsync(['wait', B, '--timeout', '30'], env)).code).toBe(0);
      expect(read(B, 'photos', 'p.jpg')).toBe('P2 unsynced');
      expect(readdirSync(B).filter((n) => n.includes('conflict')).sort()).toEqual(['docs (selective sync conflict)']);
    } finally {
      agent.child.kill('SIGTERM');
      await new Promise((res) => agent.child.on('exit', res));
    }
  }, 120_000);
});

/** The CLI run with `dir` as its current directory (PATH arguments relative to it). */
function cliIn(dir: string, args: string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
