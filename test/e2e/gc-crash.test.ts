// kill -9 `syncd server gc` in the middle of its pass, again and again, while
// `syncd serve` runs on the same data folder: no content a live file needs
// is ever unreadable, and the pass that finally completes deletes exactly
// what nothing needs and leaves gc-trash/ empty (issue 14: "a crash in the
// middle of a GC pass").

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, cli, startServerProc, type Proc } from '../helpers/procs.js';
import { Api } from '../helpers/server.js';
import type { WireNode } from '../../src/protocol/types.js';

let work: string;
let data: string;
let server: { proc: Proc; url: string };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-gc-crash-'));
  data = join(work, 'server');
  server = await startServerProc(data);
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

const blobPath = (hash: string): string => join(data, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);

function trashEntries(): number {
  const dir = join(data, 'gc-trash');
  return existsSync(dir) ? readdirSync(dir).length : 0;
}

/**
 * One `syncd server gc` process, killed with SIGKILL as soon as `killWhen`
 * says so (polled every millisecond); resolves with whether it was killed
 * before it finished on its own.
 */
/**
 * A device's upload racing a pass that collects with no grace: the server
 * answers `503 unavailable` (Retry-After: 1) when the collector took the
 * content while it was being stored, or the commit finds it gone
 * (`blob_missing`); a device uploads it again, and so does this one.
 */
async function uploadAgainIfCollected<T>(upload: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await upload();
    } catch (err) {
      if (attempt >= 5 || !/PUT blob: 503 .*"unavailable"|"blob_missing"/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

async function gcKilledWhen(killWhen: () => boolean, during: () => Promise<void>): Promise<{ killed: boolean; trashAtKill: number; out: string }> {
  const child = spawn(process.execPath, [BIN, 'server', 'gc', '--data', data, '--upload-grace', '0', '--orphan-grace', '0', '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = once(child, 'exit');
  let done = false;
  void exited.then(() => (done = true));
  const racing = during();
  while (!done) {
    if (killWhen()) {
      const trashAtKill = trashEntries();
      child.kill('SIGKILL');
      await exited;
      await racing;
      return { killed: child.signalCode === 'SIGKILL', trashAtKill, out };
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await racing;
  return { killed: false, trashAtKill: 0, out };
}

describe('content collector crash safety (real processes)', () => {
  it('SIGKILL mid-pass, repeatedly, while the server runs: live content stays readable, the finishing pass deletes exactly the unneeded', async () => {
    const api = new Api(server.url, cli(['server', 'add-device', '--data', data, '--namespace', 'gcns', '--label', 'writer']).stdout.trim());
    const dir = await api.mkdir('d');
    const files: Array<{ node: WireNode; content: string }> = [];
    const ops = [];
    const contents: string[] = [];
    for (let i = 0; i < 360; i++) {
      const content = `gc crash file ${i} `.repeat(1 + (i % 50));
      const { hash, size } = await api.putBlob(content);
      contents.push(content);
      ops.push({ op: 'create' as const, parent: dir.id, name: `f${i}.txt`, kind: 'file' as const, hash, size });
    }
    const created = await api.commit(ops);
    created.forEach((r, i) => {
      if (r.status !== 'ok') throw new Error(`create f${i}: ${JSON.stringify(r)}`);
      files.push({ node: r.node, content: contents[i]! });
    });
    // two of every three files are deleted; trimming the journal to one entry
    // with no version period leaves their content needed by nothing
    let gone = files.filter((_, i) => i % 3 !== 0);
    const live: typeof files = files.filter((_, i) => i % 3 === 0);
    await api.commit(gone.map((f) => ({ op: 'delete' as const, id: f.node.id, base_rev: f.node.rev })));
    // the one journal entry kept is then this create, not a delete naming a gone file's content
    live.push({ node: await api.file('last.txt', 'the last entry'), content: 'the last entry' });
    const trim = cli(['server', 'trim', '--data', data, '--retention-entries', '1', '--keep-versions-days', '0']);
    expect(trim.code, trim.stderr).toBe(0);
    for (const f of files) expect(existsSync(blobPath(f.node.hash!))).toBe(true);

    const goneLeft = (): number => gone.filter((f) => existsSync(blobPath(f.node.hash!))).length;
    const checkLive = async (): Promise<void> => {
      for (const f of live) {
        const r = await api.request('GET', `/v1/blobs/${f.node.hash}`);
        expect(r.status, `live ${f.node.name} after a killed pass`).toBe(200);
        expect(r.text).toBe(f.content);
      }
    };

    // kill points: the moment blobs sit moved aside in gc-trash/, and after
    // a growing share of the unneeded blobs is gone
    let killedMidMove = 0;
    let killedMidPass = 0;
    for (let round = 0; round < 6; round++) {
      const before = goneLeft();
      if (before === 0) break;
      const target = Math.max(0, before - Math.ceil(before / 4));
      // racing the pass: a device uploads and commits again the content of
      // some deleted files (the collector may be moving exactly those aside)
      const revive = gone.filter((_, i) => i % 37 === round).slice(0, 6);
      gone = gone.filter((f) => !revive.includes(f));
      const during = async (): Promise<void> => {
        // once the pass has begun deleting
        const t0 = Date.now();
        while (goneLeft() + revive.filter((f) => existsSync(blobPath(f.node.hash!))).length >= before && Date.now() - t0 < 10_000) await new Promise((r) => setTimeout(r, 1));
        for (const f of revive) {
          const content = files.find((x) => x.node.id === f.node.id)!.content;
          live.push({ node: await uploadAgainIfCollected(() => api.file(`revived-${f.node.name}`, content, dir.id)), content });
        }
      };
      const r = await gcKilledWhen(round % 2 === 0 ? () => trashEntries() > 0 : () => goneLeft() <= target, during);
      if (r.killed) {
        killedMidPass++;
        if (r.trashAtKill > 0) killedMidMove++;
      } else {
        expect(r.out).toContain('"deleted"');
      }
      await checkLive();
    }
    expect(killedMidPass).toBeGreaterThan(0);
    expect(killedMidMove).toBeGreaterThan(0);

    // the pass that runs to its end recovers gc-trash/ and finishes the job
    const last = cli(['server', 'gc', '--data', data, '--upload-grace', '0', '--orphan-grace', '0', '--json']);
    expect(last.code, last.stderr).toBe(0);
    expect(trashEntries()).toBe(0);
    expect(goneLeft()).toBe(0);
    for (const f of live) expect(existsSync(blobPath(f.node.hash!))).toBe(true);
    await checkLive();
    // and the namespace still lists exactly the live files
    const { nodes } = await api.listAll();
    expect(nodes.filter((n) => n.kind === 'file').map((n) => n.name).sort()).toEqual(live.map((f) => f.node.name).sort());
  }, 180_000);
});
