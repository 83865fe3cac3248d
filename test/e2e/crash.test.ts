// kill -9 the agent in the middle of a burst, or while it assembles a large
// file from chunks; on restart the folder equals the server and no temp
// files remain. And in the middle of a remote delete storm: every file ends
// in the local trash, none is lost.

import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snapshot, waitFor } from '../helpers/agent.js';
import { cli, start, startServerProc, type Proc } from '../helpers/procs.js';
import { Api, sha256 } from '../helpers/server.js';
import type { WireNode } from '../../src/protocol/types.js';
import { RemoteClient } from '../../src/client/remote/remote.js';
import { uploadFile } from '../../src/client/transfer/upload.js';

let work: string;
let server: { proc: Proc; url: string };
const env: NodeJS.ProcessEnv = {};

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'syncd-crash-'));
  env.SYNCD_STATE_DIR = join(work, 'state');
  server = await startServerProc(join(work, 'server'));
});

afterAll(async () => {
  await server.proc.kill('SIGTERM');
});

async function allFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const d of await readdir(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${d.name}` : d.name;
    out.push(p);
    if (d.isDirectory()) out.push(...(await allFiles(root, p)));
  }
  return out;
}

describe('crash safety (real processes)', () => {
  it('SIGKILL during a burst of hundreds of files: restart converges, no temp files', async () => {
    const data = join(work, 'server');
    const writer = new Api(server.url, cli(['server', 'add-device', '--data', data, '--namespace', 'ns', '--label', 'writer']).stdout.trim());
    const token = cli(['server', 'add-device', '--data', data, '--namespace', 'ns', '--label', 'agent']).stdout.trim();
    const folder = join(work, 'folder');
    expect(cli(['init', folder, '--server', server.url, '--token', token], env).code).toBe(0);
    let agent = start(['watch', folder], env);
    const dirs = [];
    for (let d = 0; d < 10; d++) dirs.push(await writer.mkdir(`d${d}`));
    // 400 files in 8 commits of 50, while the agent pulls
    for (let batch = 0; batch < 8; batch++) {
      const ops = [];
      for (let i = 0; i < 50; i++) {
        const n = batch * 50 + i;
        const { hash, size } = await writer.putBlob(`file ${n} `.repeat(1 + (n % 40)));
        ops.push({ op: 'create' as const, parent: dirs[n % 10]!.id, name: `f${n}.txt`, kind: 'file' as const, hash, size, op_id: `crash-${n}-${sha256(String(n)).slice(0, 8)}` });
      }
      await writer.commit(ops);
    }
    // kill it somewhere in the middle of applying them
    await waitFor(async () => (await allFiles(folder).catch(() => [])).length > 60, 20_000, 'some files to land');
    await agent.kill('SIGKILL');
    agent = start(['watch', folder], env);
    try {
      const w = cli(['wait', folder, '--timeout', '60'], env);
      expect(w.code, w.stderr).toBe(0);
      const want: Record<string, string> = {};
      for (let d = 0; d < 10; d++) want[`d${d}/`] = 'dir';
      for (let n = 0; n < 400; n++) want[`d${n % 10}/f${n}.txt`] = `file ${n} `.repeat(1 + (n % 40));
      expect(await snapshot(folder)).toEqual(want);
      expect((await allFiles(folder)).filter((p) => p.includes('.syncd-tmp-'))).toEqual([]);
      const st = JSON.parse(cli(['status', folder, '--json'], env).stdout);
      expect(st.lag).toBe(0);
    } finally {
      await agent.kill('SIGTERM');
    }
  });

  it('SIGKILL during a remote delete storm: every file ends in the folder or the local trash, never lost', async () => {
    const data = join(work, 'server');
    const writer = new Api(server.url, cli(['server', 'add-device', '--data', data, '--namespace', 'storm', '--label', 'writer']).stdout.trim());
    const token = cli(['server', 'add-device', '--data', data, '--namespace', 'storm', '--label', 'agent']).stdout.trim();
    const folder = join(work, 'storm');
    expect(cli(['init', folder, '--server', server.url, '--token', token], env).code).toBe(0);
    const dir = await writer.mkdir('big');
    const nodes: WireNode[] = [];
    const text = (n: number) => `storm file ${n} `.repeat(1 + (n % 30));
    for (let batch = 0; batch < 6; batch++) {
      const ops = [];
      for (let i = 0; i < 50; i++) {
        const n = batch * 50 + i;
        const { hash, size } = await writer.putBlob(text(n));
        ops.push({ op: 'create' as const, parent: dir.id, name: `f${n}.txt`, kind: 'file' as const, hash, size });
      }
      for (const r of await writer.commit(ops)) if (r.status === 'ok') nodes.push(r.node);
    }
    expect(nodes).toHaveLength(300);
    let agent = start(['watch', folder, '--max-delete-share', '1'], env);
    try {
      expect(cli(['wait', folder, '--timeout', '60'], env).code).toBe(0);
      // the other device deletes them all, in 6 commits, while the agent applies them
      for (let i = 0; i < nodes.length; i += 50) {
        const ops = nodes.slice(i, i + 50).map((nd) => ({ op: 'delete' as const, id: nd.id, base_rev: nd.rev }));
        // a keep-alive socket the server closed while `wait` ran fails once: send again (a delete already applied answers conflict)
        await writer.commit(ops).catch(() => writer.commit(ops));
      }
      await waitFor(async () => (await readdir(join(folder, 'big')).catch(() => [])).length < 240, 20_000, 'some deletes to land');
      await agent.kill('SIGKILL');
      agent = start(['watch', folder, '--max-delete-share', '1'], env);
      const w = cli(['wait', folder, '--timeout', '60'], env);
      expect(w.code, w.stderr).toBe(0);
      expect(await snapshot(folder)).toEqual({ 'big/': 'dir' });
      // every deleted file's bytes are in the trash, each version once, and all are indexed
      const trashed = (await allFiles(join(folder, '.syncd-trash'))).filter((p) => p.endsWith('.txt'));
      const contents = await Promise.all(trashed.map((p) => readFile(join(folder, '.syncd-trash', p), 'utf8')));
      expect(contents.sort()).toEqual(nodes.map((_, n) => text(n)).sort());
      const listed = JSON.parse(cli(['trash', 'list', folder, '--json'], env).stdout) as { path: string }[];
      expect(listed.map((e) => e.path).sort()).toEqual(nodes.map((_, n) => `big/f${n}.txt`).sort());
    } finally {
      await agent.kill('SIGTERM');
    }
  });

  it('SIGKILL while a large file is assembled from chunks: the old version stays whole, restart gives the new one, no temp files or partials', async () => {
    const data = join(work, 'server');
    const writerToken = cli(['server', 'add-device', '--data', data, '--namespace', 'big', '--label', 'writer']).stdout.trim();
    const writer = new Api(server.url, writerToken);
    const remote = new RemoteClient({ server: server.url, token: writerToken });
    const token = cli(['server', 'add-device', '--data', data, '--namespace', 'big', '--label', 'agent']).stdout.trim();
    const folder = join(work, 'big-folder');
    expect(cli(['init', folder, '--server', server.url, '--token', token], env).code).toBe(0);
    /** uploads `content` as chunks, the way an agent does */
    const upload = async (content: Buffer) => {
      const p = join(work, `up-${sha256(content).slice(0, 8)}`);
      await writeFile(p, content);
      const st = await stat(p);
      return uploadFile(remote, p, { size: st.size, mtimeMs: st.mtimeMs, ino: st.ino });
    };
    try {
      const v1 = randomBytes(24 * 1024 * 1024);
      const up1 = await upload(v1);
      const created = await writer.one({ op: 'create', parent: 'root', name: 'big.bin', kind: 'file', hash: up1.hash, size: up1.size, op_id: `big-v1-${up1.hash.slice(0, 8)}` });
      let agent = start(['watch', folder], env);
      expect(cli(['wait', folder, '--timeout', '60'], env).code).toBe(0);
      await agent.kill('SIGTERM');
      expect(sha256(await readFile(join(folder, 'big.bin')))).toBe(sha256(v1));

      // v2: 12 MiB of new bytes in the middle; the rest is v1's chunks
      const v2 = Buffer.concat([v1.subarray(0, 8 * 1024 * 1024), randomBytes(12 * 1024 * 1024), v1.subarray(8 * 1024 * 1024)]);
      const up2 = await upload(v2);
      await writer.one({ op: 'update', id: created.node.id, base_rev: created.node.rev, hash: up2.hash, size: up2.size, op_id: `big-v2-${up2.hash.slice(0, 8)}` });
      // slowed to 2 MiB/s, the new chunks take seconds to arrive: kill it while the temp file is being filled
      agent = start(['watch', folder], { ...env, SYNCD_BANDWIDTH_LIMIT: '2M' });
      const temps = async () => (await readdir(folder)).filter((n) => n.startsWith('.syncd-tmp-'));
      await waitFor(async () => {
        const t = await temps();
        return t.length > 0 && (await stat(join(folder, t[0]!)).catch(() => null))?.size !== 0;
      }, 30_000, 'the assembly to start');
      await new Promise((r) => setTimeout(r, 500));
      await agent.kill('SIGKILL');
      expect(await temps()).not.toEqual([]); // it did die mid-assembly
      // the destination was never written in place: still v1, whole
      expect(sha256(await readFile(join(folder, 'big.bin')))).toBe(sha256(v1));

      agent = start(['watch', folder], env);
      try {
        const w = cli(['wait', folder, '--timeout', '60'], env);
        expect(w.code, w.stderr).toBe(0);
        expect(sha256(await readFile(join(folder, 'big.bin')))).toBe(sha256(v2));
        // the killed assembly's temp file was resumed from (as a partial), then placed: nothing of it is left
        expect((await allFiles(folder)).filter((p) => p.includes('.syncd-tmp-') || p.includes('.syncd-part-'))).toEqual([]);
      } finally {
        await agent.kill('SIGTERM');
      }
    } finally {
      await remote.close();
    }
  });
});
