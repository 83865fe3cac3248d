// The history commands through the built CLI, as a person uses them:
// history across renames, restore (also racing an edit on another device,
// and of a folder whose parent was deleted too), restore --to, deleted,
// rewind after a script rewrote files while an agent runs on the other
// device, activity, and versions expiring with the version period.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../helpers/agent.js';
import { BIN, cli, start, startServerProc, type Proc } from '../helpers/procs.js';

let work: string;
let server: { proc: Proc; url: string };
let env: NodeJS.ProcessEnv;
let A: string;
let B: string;

const ok = (args: string[]) => {
  const r = cli(args, env);
  expect(r.code, `syncd ${args.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
};
const sync = (...dirs: string[]) => dirs.forEach((d) => ok(['sync', d]));
const read = (p: string) => readFileSync(p, 'utf8');
const pad = (n: number, w = 2) => String(n).padStart(w, '0');
/** local ISO 8601 without offset, to the millisecond, strictly between the commits before and after */
async function now(): Promise<string> {
  await sleep(5);
  const d = new Date();
  await sleep(5);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'syncd-history-'));
  env = { SYNCD_STATE_DIR: join(work, 'state') };
  server = await startServerProc(join(work, 'srv'));
  const add = (label: string) => cli(['server', 'add-device', '--data', join(work, 'srv'), '--namespace', 'ns', '--label', label]).stdout.trim();
  A = join(work, 'A');
  B = join(work, 'B');
  ok(['init', A, '--server', server.url, '--token', add('alpha')]);
  ok(['init', B, '--server', server.url, '--token', add('beta')]);
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
  rmSync(work, { recursive: true, force: true });
});

describe('history CLI', () => {
  it('history follows a file across renames (relative and absolute paths); restore --rev brings a version back on every device', () => {
    mkdirSync(join(A, 'docs'));
    writeFileSync(join(A, 'docs/report.txt'), 'first draft');
    sync(A);
    writeFileSync(join(A, 'docs/report.txt'), 'second draft');
    sync(A);
    renameSync(join(A, 'docs/report.txt'), join(A, 'docs/final.txt'));
    sync(A, B);
    const h = JSON.parse(ok(['history', join(B, 'docs/final.txt'), '--json']));
    expect(h.map((v: any) => [v.rev, v.op, v.device])).toEqual([
      [3, 'move', 'alpha'],
      [2, 'update', 'alpha'],
      [1, 'create', 'alpha'],
    ]);
    for (const v of h) expect(Object.keys(v)).toEqual(expect.arrayContaining(['rev', 'seq', 'op', 'hash', 'size', 'time', 'device']));
    expect(new Date(h[0].time).toISOString()).toBe(h[0].time);
    // relative to the current directory, and the path the file had before
    const text = spawnSync(process.execPath, [BIN, 'history', 'docs/report.txt'], { cwd: A, env: { ...process.env, ...env }, encoding: 'utf8' });
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^docs\/final\.txt \(file\)\nREV +TIME +DEVICE +OP/);
    // the newest N, and a word on stderr that older ones exist
    const two = cli(['history', join(B, 'docs/final.txt'), '--json', '--limit', '2'], env);
    expect(two.code, two.stderr).toBe(0);
    expect(JSON.parse(two.stdout).map((v: any) => v.rev)).toEqual([3, 2]);
    expect(two.stderr).toMatch(/older versions of docs\/final\.txt are not shown \(the newest 2; see --limit\)/);
    expect(cli(['history', join(B, 'docs/final.txt'), '--json', '--limit', '3'], env).stderr).toBe('');
    expect(cli(['history', join(B, 'docs/final.txt'), '--limit', '0'], env).code).toBe(2);

    expect(ok(['restore', join(A, 'docs/final.txt'), '--rev', '1'])).toMatch(/restored docs\/final\.txt: 1 change\(s\) committed/);
    sync(A, B);
    expect(read(join(A, 'docs/final.txt'))).toBe('first draft');
    expect(read(join(B, 'docs/final.txt'))).toBe('first draft');
    const bad = cli(['restore', join(A, 'docs/final.txt'), '--rev', '99'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/rev 99 is not in the kept history/);
    expect(cli(['restore', join(A, 'docs/final.txt'), '--at', 'yesterday-ish'], env).code).toBe(2);
    expect(cli(['history', join(work, 'elsewhere.txt')], env).stderr).toMatch(/not inside a folder linked/);
  });

  it('restore racing an edit on another device: the edit wins the path, the restored version becomes a conflicted copy there, nothing is lost', () => {
    writeFileSync(join(A, 'plan.txt'), 'v1');
    sync(A, B);
    writeFileSync(join(A, 'plan.txt'), 'v2');
    sync(A, B);
    // B edits (not yet uploaded) while A restores v1
    writeFileSync(join(B, 'plan.txt'), 'beta edit');
    ok(['restore', join(A, 'plan.txt'), '--rev', '1']);
    sync(B, A, B);
    const names = readdirSync(B).filter((n) => n.startsWith('plan'));
    const contents = names.map((n) => read(join(B, n))).sort();
    expect(contents).toEqual(['beta edit', 'v1']);
    expect(names.some((n) => n.includes('conflicted copy'))).toBe(true);
    expect(readdirSync(A).filter((n) => n.startsWith('plan')).map((n) => read(join(A, n))).sort()).toEqual(['beta edit', 'v1']);
  });

  it('deleted lists a folder and one deleted inside it before; restore brings the inner one back with only the parent it needs; --to writes outside', () => {
    mkdirSync(join(A, 'work/reports'), { recursive: true });
    writeFileSync(join(A, 'work/reports/q1.txt'), 'Q1');
    writeFileSync(join(A, 'work/other.txt'), 'O');
    sync(A, B);
    rmSync(join(A, 'work/reports'), { recursive: true });
    sync(A);
    rmSync(join(A, 'work'), { recursive: true });
    sync(A, B);
    const del = JSON.parse(ok(['deleted', A, '--json']));
    expect(del.map((d: any) => [d.path, d.kind])).toEqual([
      ['work', 'dir'],
      ['work/reports', 'dir'],
    ]);
    for (const d of del) expect(Object.keys(d)).toEqual(expect.arrayContaining(['path', 'kind', 'deleted_at', 'rev']));
    expect(ok(['deleted', A])).toMatch(/work\/reports\//);

    const out = join(work, 'out');
    mkdirSync(out);
    expect(ok(['restore', join(A, 'work/reports'), '--to', out])).toMatch(/nothing was committed/);
    expect(read(join(out, 'reports/q1.txt'))).toBe('Q1');
    expect(existsSync(join(A, 'work'))).toBe(false);
    expect(cli(['restore', join(A, 'work/reports'), '--to', join(A, 'x')], env).code).toBe(2);

    ok(['restore', join(A, 'work/reports')]);
    sync(A, B);
    expect(read(join(B, 'work/reports/q1.txt'))).toBe('Q1');
    expect(existsSync(join(B, 'work/other.txt'))).toBe(false);
  });

  it('rewind after a script rewrote every file: dry-run lists, the rewind commits, the running agent on the other device applies it; activity shows it', async () => {
    mkdirSync(join(A, 'proj'));
    for (let i = 0; i < 10; i++) writeFileSync(join(A, `proj/f${i}.txt`), `clean ${i}`);
    sync(A, B);
    const agent = start(['watch', B], env);
    try {
      await waitFor(() => agent.output.join('').includes('watching'), 15_000, 'agent start');
      const t = await now();
      for (let i = 0; i < 10; i++) writeFileSync(join(A, `proj/f${i}.txt`), `ENCRYPTED ${i}`);
      writeFileSync(join(A, 'proj/README-RANSOM.txt'), 'pay');
      sync(A);
      ok(['wait', B, '--timeout', '60']);
      expect(read(join(B, 'proj/f3.txt'))).toBe('ENCRYPTED 3');

      const dry = ok(['rewind', join(A, 'proj'), '--at', t, '--dry-run']);
      expect(dry).toMatch(/would delete proj\/README-RANSOM\.txt/);
      expect(dry).toMatch(/would update proj\/f9\.txt/);
      expect(dry).toMatch(/11 change\(s\) would be committed/);
      expect(read(join(A, 'proj/f0.txt'))).toBe('ENCRYPTED 0');
      expect(ok(['rewind', join(A, 'proj'), '--at', t])).toMatch(/rewound proj: 11 change\(s\) committed/);
      ok(['wait', B, '--timeout', '60']);
      for (let i = 0; i < 10; i++) expect(read(join(B, `proj/f${i}.txt`))).toBe(`clean ${i}`);
      expect(existsSync(join(B, 'proj/README-RANSOM.txt'))).toBe(false);
      sync(A);
      expect(read(join(A, 'proj/f5.txt'))).toBe('clean 5');

      const act = JSON.parse(ok(['activity', A, '--json', '--limit', '3']));
      expect(act).toHaveLength(3);
      for (const a of act) expect(Object.keys(a)).toEqual(expect.arrayContaining(['time', 'device', 'op', 'path']));
      expect(act[0].device).toBe('alpha');
      expect(ok(['activity', join(A, 'proj'), '--limit', '2'])).toMatch(/^TIME +DEVICE +OP +PATH\n.*alpha +(update|delete) +proj\//);
      expect(cli(['activity', A, '--limit', '0'], env).code).toBe(2);
    } finally {
      await agent.kill('SIGTERM');
    }
  });

  it('versions past the version period expire with the trim; a rewind further back is refused', async () => {
    writeFileSync(join(A, 'old.txt'), 'one');
    sync(A);
    writeFileSync(join(A, 'old.txt'), 'two');
    sync(A);
    const t = await now();
    expect(JSON.parse(ok(['history', join(A, 'old.txt'), '--json']))).toHaveLength(2);
    writeFileSync(join(A, 'later.txt'), 'later');
    sync(A);
    const trim = cli(['server', 'trim', '--data', join(work, 'srv'), '--keep-versions-days', '0', '--retention-entries', '1', '--json'], env);
    expect(trim.code, trim.stderr).toBe(0);
    // the journal keeps its last entry (the floor), not old.txt's: only its current version is left,
    // and nothing deleted can be restored any more
    const h = JSON.parse(ok(['history', join(A, 'old.txt'), '--json']));
    expect(h.map((v: any) => v.hash)).toHaveLength(1);
    expect(JSON.parse(ok(['deleted', A, '--json']))).toEqual([]);
    const r = cli(['rewind', A, '--at', t], env);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/older than the kept history/);
  });
});
