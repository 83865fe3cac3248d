// The local trash through the built CLI, two devices on a real loopback
// server: a remote delete storm (another device deletes a big tree) puts
// every file into the trash once, restorable while the agent runs; a remote
// replace keeps the old version; `trash restore` never overwrites; pruning
// with trashDays 0 empties the trash.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { BIN, cli, cliAsync, start, twoLinkedFolders, type Proc } from '../helpers/procs.js';

const DIRS = 20;
const PER_DIR = 100; // 2,000 files in the storm

let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let A: string;
let B: string;

interface Listed { id: number; path: string; deleted_at: string; size: number; reason: string; kind: string; hash: string | null }
const list = (dir: string): Listed[] => {
  const r = cli(['trash', 'list', dir, '--json'], env);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Listed[];
};
const content = (d: number, f: number) => `file ${f} of dir ${d}\n`;

/** Every file under `dir` (relative paths), the trash included. */
function files(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...files(dir, r));
    else out.push(r);
  }
  return out;
}

beforeAll(async () => {
  ({ env, server, A, B } = await twoLinkedFolders('syncd-trash-e2e-'));
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

describe('local trash (CLI, two devices)', () => {
  it('a remote delete storm: every file ends in the trash once, the agent stays responsive, and all of it restores', async () => {
    for (let d = 0; d < DIRS; d++) {
      mkdirSync(join(A, 'big', `d${d}`), { recursive: true });
      for (let f = 0; f < PER_DIR; f++) writeFileSync(join(A, 'big', `d${d}`, `f${f}.txt`), content(d, f));
    }
    writeFileSync(join(A, 'keep.txt'), 'stays');
    expect((await cliAsync(['sync', A], env)).code).toBe(0);
    // B runs its agent; the mass-delete guard is opened so the storm goes through
    const agent = start(['watch', B, '--max-delete-share', '1'], env);
    try {
      await waitFor(() => agent.output.join('').includes('watching'), 30_000, 'agent start');
      expect((await cliAsync(['wait', B, '--timeout', '120'], env)).code).toBe(0);
      expect(files(join(B, 'big'))).toHaveLength(DIRS * PER_DIR);

      rmSync(join(A, 'big'), { recursive: true });
      const del = await cliAsync(['sync', A, '--max-delete-share', '1'], env);
      expect(del.code, del.stderr).toBe(0);
      // while the storm lands, the CLI still gets answers from B's state
      const status = await cliAsync(['status', B, '--json'], env);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout).daemon.running).toBe(true);
      expect((await cliAsync(['wait', B, '--timeout', '120'], env)).code).toBe(0);
      expect(existsSync(join(B, 'big'))).toBe(false);
      expect(readFileSync(join(B, 'keep.txt'), 'utf8')).toBe('stays');

      const trashed = list(B);
      expect(trashed).toHaveLength(DIRS * PER_DIR);
      expect(new Set(trashed.map((e) => e.path)).size).toBe(DIRS * PER_DIR); // one copy per version
      expect(trashed.every((e) => e.reason === 'remote_delete' && e.kind === 'file' && e.path.startsWith('big/'))).toBe(true);
      expect(new Set(trashed.map((e) => e.id)).size).toBe(trashed.length);
      expect(trashed.every((e) => !Number.isNaN(Date.parse(e.deleted_at)))).toBe(true);
      expect(files(join(B, '.syncd-trash'))).toHaveLength(DIRS * PER_DIR); // nothing else, nothing twice
      const e0 = trashed.find((e) => e.path === 'big/d3/f7.txt')!;
      expect(e0.size).toBe(Buffer.byteLength(content(3, 7)));

      // restored while the agent runs: it syncs them back as local changes
      const r = await cliAsync(['trash', 'restore', join(B, 'big')], env);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim().split('\n')).toHaveLength(DIRS * PER_DIR);
      expect(readFileSync(join(B, 'big', 'd3', 'f7.txt'), 'utf8')).toBe(content(3, 7));
      expect(list(B)).toEqual([]);
      await waitFor(async () => (await cliAsync(['sync', A], env)).code === 0 && existsSync(join(A, 'big')) && files(join(A, 'big')).length === DIRS * PER_DIR, 120_000, 'the restored tree back on A');
      expect(readFileSync(join(A, 'big', 'd19', 'f99.txt'), 'utf8')).toBe(content(19, 99));
    } finally {
      agent.child.kill('SIGTERM');
      await new Promise((res) => agent.child.on('exit', res));
    }
  }, 600_000);

  it('a remote replace keeps the old version; restore never overwrites; errors are clear (agent stopped)', () => {
    writeFileSync(join(A, 'notes.txt'), 'version 1');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    writeFileSync(join(A, 'notes.txt'), 'version 2 from A');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(readFileSync(join(B, 'notes.txt'), 'utf8')).toBe('version 2 from A');
    const [e] = list(B).filter((x) => x.path === 'notes.txt');
    expect(e).toMatchObject({ path: 'notes.txt', reason: 'remote_replace', size: 'version 1'.length });
    expect(cli(['trash', 'list', B], env).stdout).toMatch(/remote_replace\s+notes\.txt/);
    // status says what the trash holds
    const all = list(B);
    const st = JSON.parse(cli(['status', B, '--json'], env).stdout);
    expect(st.trash).toEqual({ files: all.length, bytes: all.reduce((n, x) => n + x.size, 0) });
    expect(cli(['status', B], env).stdout).toMatch(new RegExp(`trash +${all.length} files? \\(.*; see \`syncd trash list\`\\)`));

    // PATH relative to the working directory
    const r = spawnSync(process.execPath, [BIN, 'trash', 'restore', 'notes.txt'], { cwd: B, env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/restored notes\.txt as notes \(restored\)\.txt \(the name was taken\)/);
    expect(readFileSync(join(B, 'notes.txt'), 'utf8')).toBe('version 2 from A');
    expect(readFileSync(join(B, 'notes (restored).txt'), 'utf8')).toBe('version 1');
    expect(cli(['sync', B], env).code).toBe(0);
    expect(cli(['sync', A], env).code).toBe(0);
    expect(readFileSync(join(A, 'notes (restored).txt'), 'utf8')).toBe('version 1');

    const none = cli(['trash', 'restore', join(B, 'never-there.txt')], env);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/holds nothing for "never-there.txt"/);
    const badId = cli(['trash', 'restore', B, '--id', 'x1'], env);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toMatch(/--id must be an entry id/);
  });

  it('trashDays 0: the next run empties the trash, and a remote delete then unlinks', () => {
    writeFileSync(join(A, 'gone.txt'), 'short-lived');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    rmSync(join(A, 'gone.txt'));
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(list(B).map((e) => e.path)).toContain('gone.txt');

    expect(cli(['config', 'set', B, 'trashDays', '0'], env).code).toBe(0);
    writeFileSync(join(A, 'gone2.txt'), 'also short-lived');
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(list(B)).toEqual([]);
    expect(existsSync(join(B, '.syncd-trash')) ? files(join(B, '.syncd-trash')) : []).toEqual([]);
    rmSync(join(A, 'gone2.txt'));
    expect(cli(['sync', A], env).code).toBe(0);
    expect(cli(['sync', B], env).code).toBe(0);
    expect(existsSync(join(B, 'gone2.txt'))).toBe(false);
    expect(list(B)).toEqual([]);
    expect(cli(['config', 'unset', B, 'trashDays'], env).code).toBe(0);
  });
});
