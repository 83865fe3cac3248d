// The built CLI as a user runs it: `node bin/syncd serve|server …` in child
// processes. Includes the crash test: kill -9 during a commit storm, restart,
// every acknowledged commit is there and the journal is gap-free.

import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Api, ensureBuilt, REPO_ROOT as ROOT } from '../../helpers/server.js';

const BIN = join(ROOT, 'bin/syncd');
const dirs: string[] = [];
const children: ChildProcess[] = [];

beforeAll(() => ensureBuilt(), 120_000);

afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'syncd-cli-'));
  dirs.push(d);
  return d;
}

function run(args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status: number; stdout: string; stderr: string };
    return { code: err.status, stdout: err.stdout, stderr: err.stderr };
  }
}

async function serve(dataDir: string, extra: string[] = []): Promise<{ child: ChildProcess; url: string; exited: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, 'serve', '--data', dataDir, '--port', '0', ...extra], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const url = await new Promise<string>((resolveUrl, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.stdout!.on('data', (d) => {
      out += d;
      const line = out.split('\n')[0]!;
      const m = /http:\/\/127\.0\.0\.1:\d+/.exec(line);
      if (out.includes('\n')) (m ? resolveUrl(m[0]) : reject(new Error(`first line has no URL: ${line}`)));
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  return { child, url, exited };
}

describe('syncd server add-device / trim / status', () => {
  it('add-device prints the token alone; the token works', async () => {
    const d = tempDir();
    const r = run(['server', 'add-device', '--data', d, '--namespace', 'home', '--label', 'laptop']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^syncd_[A-Za-z0-9_-]{43}\n$/);
    const s = await serve(d);
    const api = new Api(s.url, r.stdout.trim());
    expect((await api.get('/v1/status')).body).toMatchObject({ namespace: 'home', devices: [{ label: 'laptop' }] });
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
  });

  it('prints one clear line and exits non-zero on bad input', () => {
    const d = tempDir();
    const bad = run(['server', 'add-device', '--data', d, '--namespace', 'no spaces', '--label', 'x']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^syncd: namespace "no spaces" is invalid.*\n$/);
    const usage = run(['server', 'add-device', '--namespace', 'a', '--label', 'x']);
    expect(usage.code).toBe(2);
    const port = run(['serve', '--data', d, '--port', 'abc']);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port must be an integer');
  });

  it('trim applies and stores the policy; status shows it', () => {
    const d = tempDir();
    run(['server', 'add-device', '--data', d, '--namespace', 'ns', '--label', 'a']);
    const t = run(['server', 'trim', '--data', d, '--retention-entries', '500', '--retention-age', '0', '--json']);
    expect(t.code).toBe(0);
    expect(JSON.parse(t.stdout)).toEqual({ namespaces: [{ name: 'ns', oldFloor: 1, newFloor: 1, head: 0, dropped: 0, misses: 0 }] });
    const st = run(['server', 'status', '--data', d, '--json']);
    expect(JSON.parse(st.stdout)).toMatchObject({ retention: { maxEntries: 500, maxAgeS: null }, namespaces: [{ name: 'ns', head: 0 }] });
    expect(run(['server', 'status', '--data', d]).stdout).toContain('retention: max entries 500, max age unlimited');
  });
});

describe('syncd server new-epoch', () => {
  it('after a restore, cursors from before get reset/epoch', async () => {
    const d = tempDir();
    const token = run(['server', 'add-device', '--data', d, '--namespace', 'ns', '--label', 'a']).stdout.trim();
    const s = await serve(d);
    const api = new Api(s.url, token);
    const c = await api.startCursor();
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(run(['server', 'new-epoch', '--data', d]).stdout).toBe('new epoch for 1 namespace(s)\n');
    expect(run(['server', 'new-epoch', '--data', d, '--namespace', 'nope']).code).toBe(1);
    const again = await serve(d);
    const r = await new Api(again.url, token).get(`/v1/changes?cursor=${encodeURIComponent(c)}`);
    expect(r.body).toMatchObject({ error: 'reset', reason: 'epoch' });
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });
});

describe('syncd serve', () => {
  it('SIGTERM answers an open longpoll and exits 0', async () => {
    const d = tempDir();
    const token = run(['server', 'add-device', '--data', d, '--namespace', 'ns', '--label', 'a']).stdout.trim();
    const s = await serve(d, ['--retention-entries', '1000']);
    const api = new Api(s.url, token);
    const c = encodeURIComponent(await api.startCursor());
    const poll = api.get(`/v1/longpoll?cursor=${c}&timeout=120`);
    await new Promise((r) => setTimeout(r, 150));
    s.child.kill('SIGTERM');
    const reply = await poll;
    expect(reply.body).toMatchObject({ changes: false, backoff: expect.any(Number) });
    expect(await s.exited).toBe(0);
  });

  it('kill -9 during a commit storm loses no acknowledged commit; seqs stay gap-free', async () => {
    const d = tempDir();
    const tokens = Array.from({ length: 6 }, (_, i) => run(['server', 'add-device', '--data', d, '--namespace', 'storm', '--label', `c${i}`]).stdout.trim());
    const s = await serve(d);
    const apis = tokens.map((t) => new Api(s.url, t));
    const c0 = await apis[0]!.startCursor();
    const blob = await apis[0]!.putBlob('storm content');
    const acked = new Map<string, number>(); // node id → seq
    let stop = false;
    const workers = apis.map(async (api, w) => {
      for (let i = 0; !stop; i++) {
        try {
          const ops = [
            { op: 'create' as const, kind: 'file' as const, parent: 'root', name: `w${w}-${i}`, hash: blob.hash, size: blob.size },
            { op: 'create' as const, kind: 'dir' as const, parent: 'root', name: `w${w}-${i}-d` },
          ];
          const results = await api.commit(ops);
          for (const r of results) if (r.status === 'ok') acked.set(r.node.id, r.seq);
        } catch {
          return; // the server is gone
        }
      }
    });
    await new Promise((r) => setTimeout(r, 1200));
    s.child.kill('SIGKILL');
    expect(await s.exited).toBe(null);
    stop = true;
    await Promise.all(workers);
    expect(acked.size).toBeGreaterThan(50);

    const again = await serve(d);
    const api = new Api(again.url, tokens[0]!);
    const { entries, head } = await api.changesAll(c0, 5000);
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    const bySeq = new Map(entries.map((e) => [e.seq, e.node.id]));
    for (const [id, seq] of acked) expect(bySeq.get(seq), `acked ${id} at seq ${seq}`).toBe(id);
    const listed = new Set((await api.listAll()).nodes.map((n) => n.id));
    for (const id of acked.keys()) expect(listed.has(id)).toBe(true);
    expect(readdirSync(join(d, 'tmp'))).toEqual([]);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });
});
