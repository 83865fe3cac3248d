// The pull path against a real server on port 0 and real folders.

import { mkdtemp, readdir, stat, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { setRetention, trim } from '../../../src/server/admin.js';
import { linkAgent, snapshot, useTempStateDir, waitFor, type TestAgent } from '../../helpers/agent.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let api: Api;
let agent: TestAgent;
let dir: string;

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'writer'));
  dir = await mkdtemp(join(tmpdir(), 'syncd-folder-'));
  agent = await linkAgent(server, dir, 'reader');
});

afterEach(async () => {
  await agent.close();
  await server.close();
});

describe('pull path', () => {
  it('mirrors create, update, move and delete', async () => {
    const docs = await api.mkdir('docs');
    const a = await api.file('a.txt', 'one', docs.id);
    await api.file('b.txt', 'bee', docs.id);
    await agent.sync();
    expect(await snapshot(dir)).toEqual({ 'docs/': 'dir', 'docs/a.txt': 'one', 'docs/b.txt': 'bee' });

    const { hash, size } = await api.putBlob('two');
    const upd = await api.one({ op: 'update', id: a.id, base_rev: a.rev, hash, size });
    const arch = await api.mkdir('archive');
    await api.one({ op: 'move', id: a.id, base_rev: upd.node.rev, parent: arch.id, name: 'a-renamed.txt' });
    await agent.sync();
    expect(await snapshot(dir)).toEqual({ 'archive/': 'dir', 'archive/a-renamed.txt': 'two', 'docs/': 'dir', 'docs/b.txt': 'bee' });

    await api.one({ op: 'delete', id: docs.id, base_rev: docs.rev });
    await agent.sync();
    expect(await snapshot(dir)).toEqual({ 'archive/': 'dir', 'archive/a-renamed.txt': 'two' });
  });

  it('a directory move is one rename: the children keep their inodes', async () => {
    const d = await api.mkdir('project');
    for (let i = 0; i < 20; i++) await api.file(`f${i}.txt`, `content ${i}`, d.id);
    await agent.sync();
    const before = await Promise.all(Array.from({ length: 20 }, (_, i) => stat(join(dir, 'project', `f${i}.txt`))));
    await api.one({ op: 'move', id: d.id, base_rev: d.rev, parent: 'root', name: 'project-2026' });
    await agent.sync();
    const after = await Promise.all(Array.from({ length: 20 }, (_, i) => stat(join(dir, 'project-2026', `f${i}.txt`))));
    expect(after.map((s) => s.ino)).toEqual(before.map((s) => s.ino));
  });

  it('a multi-MiB file and Unicode names arrive intact', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 2654435761) & 0xff;
    const { hash, size } = await api.putBlob(big);
    await api.one({ op: 'create', parent: 'root', name: 'big.bin', kind: 'file', hash, size });
    for (const name of ['Ünïcødé.txt', '日本語.md', 'emoji 😀.txt', 'e\u0301.txt'.normalize('NFC')]) await api.file(name, name);
    await agent.sync();
    expect(sha256(await readFile(join(dir, 'big.bin')))).toBe(hash);
    expect((await readdir(dir)).filter((n) => !n.startsWith('.syncd')).sort()).toEqual(['big.bin', 'emoji 😀.txt', 'Ünïcødé.txt', 'é.txt', '日本語.md'].sort());
  });

  it('watch mode follows a commit within a fraction of a second (longpoll wake)', async () => {
    const ac = new AbortController();
    const running = agent.engine.watch(ac.signal);
    try {
      await waitFor(() => agent.db.meta.get('state') === 'idle', 10_000, 'first cycle');
      await api.file('live.txt', 'now');
      await waitFor(async () => (await readFile(join(dir, 'live.txt'), 'utf8').catch(() => '')) === 'now', 5_000, 'live.txt');
      // our own write must not echo back as an upload: the journal stays where it is
      const head = (await api.listAll()).seq;
      await new Promise((r) => setTimeout(r, 800));
      await waitFor(() => agent.db.meta.get('state') === 'idle', 5_000, 'idle');
      expect((await api.listAll()).seq).toBe(head);
    } finally {
      ac.abort();
      await running;
    }
  });

  it('when the OS refuses file watches, status says so and changes are still found by scanning', async () => {
    const ac = new AbortController();
    const running = agent.engine.watch(ac.signal);
    try {
      await waitFor(() => agent.db.meta.get('state') === 'idle', 10_000, 'first cycle');
      agent.engine.watcherFailed(Object.assign(new Error('watch limit'), { code: 'ENOSPC' }));
      expect(agent.engine.polling).toBe(true);
      expect(agent.db.meta.get('watch_warning')).toMatch(/inotify limit/);
      await writeFile(join(dir, 'scanned.txt'), 'found by a scan');
      agent.engine.rescan(); // the 30-second scan timer, without the wait
      await waitFor(async () => (await api.listAll()).nodes.some((n) => n.name === 'scanned.txt'), 10_000, 'upload after a scan');
    } finally {
      ac.abort();
      await running;
    }
  });

  it('an expired cursor resets and converges; a local-only file survives', async () => {
    await api.file('kept.txt', 'k');
    await agent.sync();
    await writeFile(join(dir, 'local-only.txt'), 'mine');
    // the agent is "stopped": the server moves far ahead and trims
    await setRetention(server.dataDir, { maxEntries: 5 });
    for (let i = 0; i < 30; i++) await api.file(`n${i}.txt`, `v${i}`);
    await trim(server.dataDir);
    await agent.sync();
    expect(agent.db.meta.get('last_reset_reason')).toMatch(/expired/);
    const snap = await snapshot(dir);
    expect(snap['local-only.txt']).toBe('mine');
    expect(snap['kept.txt']).toBe('k');
    for (let i = 0; i < 30; i++) expect(snap[`n${i}.txt`]).toBe(`v${i}`);
    // and the local-only file went up
    const listed = await api.listAll();
    expect(listed.nodes.map((n) => n.name)).toContain('local-only.txt');
  });
});

describe('a server restored from a backup (new epoch)', () => {
  it('never deletes or reverts local work: the newer version survives as a conflicted copy, new files go up again', async () => {
    const { cp } = await import('node:fs/promises');
    const { renewEpoch } = await import('../../../src/server/admin.js');
    await writeFile(join(dir, 'f1.txt'), 'v1');
    await agent.sync();
    // the backup
    const backup = `${server.dataDir}-backup`;
    await cp(server.dataDir, backup, { recursive: true });
    await writeFile(join(dir, 'f1.txt'), 'v2 important edit');
    await writeFile(join(dir, 'f2.txt'), 'made after the backup');
    await agent.sync();
    // restore: same port, the backup's data, a new epoch
    const port = Number(new URL(server.url).port);
    await server.server.close();
    const { rm } = await import('node:fs/promises');
    await rm(server.dataDir, { recursive: true, force: true });
    await cp(backup, server.dataDir, { recursive: true });
    await renewEpoch(server.dataDir, 'default');
    const { startServer } = await import('../../../src/server/app.js');
    const restored = await startServer({ dataDir: server.dataDir, port, trimIntervalMs: 0, log: () => {} });
    try {
      await agent.sync();
      expect(agent.db.meta.get('last_reset_reason')).toBe('reset: epoch');
      const snap = await snapshot(dir);
      expect(snap['f2.txt']).toBe('made after the backup');
      const contents = Object.values(snap);
      expect(contents).toContain('v2 important edit');
      expect(contents).toContain('v1');
      const onServer = new Api(server.url, await server.addDevice('default', 'checker'));
      const listed = (await onServer.listAll()).nodes.map((n) => n.name).sort();
      expect(listed).toContain('f2.txt');
      expect(listed.some((n) => n.startsWith('f1 (conflicted copy'))).toBe(true);
    } finally {
      await restored.close();
    }
  });
});

describe('file modes', () => {
  it('a remote edit keeps a private file private; the execute bit follows the server', async () => {
    const { chmod, stat: st } = await import('node:fs/promises');
    const f = await api.file('secret.txt', 'one');
    await agent.sync();
    await chmod(join(dir, 'secret.txt'), 0o600);
    await agent.sync();
    const { hash, size } = await api.putBlob('two');
    const u = await api.one({ op: 'update', id: f.id, base_rev: f.rev, hash, size });
    await agent.sync();
    expect(await readFile(join(dir, 'secret.txt'), 'utf8')).toBe('two');
    expect((await st(join(dir, 'secret.txt'))).mode & 0o777).toBe(0o600);
    await api.one({ op: 'update', id: f.id, base_rev: u.node.rev, exec: true });
    await agent.sync();
    expect((await st(join(dir, 'secret.txt'))).mode & 0o777).toBe(0o700);
  });

  it("new files arrive with the server's mtime and execute bit (batched and streamed), as the very files Local records", async () => {
    const { stat: st } = await import('node:fs/promises');
    const umask = process.umask();
    const small = await api.putBlob('#!/bin/sh\necho hi\n');
    const big = await api.putBlob(Buffer.alloc(5 * 1024 * 1024 + 3, 7));
    const mtime = Date.UTC(2021, 4, 6, 7, 8, 9, 123);
    const bin = await api.mkdir('bin');
    await api.one({ op: 'create', parent: bin.id, name: 'tool.sh', kind: 'file', hash: small.hash, size: small.size, mtime, exec: true });
    // the same content without the execute bit: its own file with its own mode
    await api.one({ op: 'create', parent: bin.id, name: 'tool.txt', kind: 'file', hash: small.hash, size: small.size, mtime });
    await api.one({ op: 'create', parent: 'root', name: 'big.bin', kind: 'file', hash: big.hash, size: big.size, mtime, exec: true });
    await agent.sync();
    const want: Array<[string, boolean]> = [['bin/tool.sh', true], ['bin/tool.txt', false], ['big.bin', true]];
    for (const [p, ex] of want) {
      const s = await st(join(dir, p));
      expect(s.mode & 0o777, p).toBe((ex ? 0o777 : 0o666) & ~umask);
      expect(Math.round(s.mtimeMs), p).toBe(mtime);
      expect(s.nlink, p).toBe(1);
      expect(agent.db.loadLocal().get(p), p).toMatchObject({ ino: s.ino, size: s.size, mtimeMs: s.mtimeMs });
    }
    expect((await st(join(dir, 'bin/tool.sh'))).ino).not.toBe((await st(join(dir, 'bin/tool.txt'))).ino);
    expect((await readdir(join(dir, 'bin'))).sort()).toEqual(['tool.sh', 'tool.txt']);
    expect((await readdir(dir)).filter((n) => n.startsWith('.syncd-tmp'))).toEqual([]);
    // Local matched the disk: nothing is re-hashed into an upload
    const head = (await api.get('/v1/status')).body.head;
    await agent.sync();
    expect((await api.get('/v1/status')).body.head).toBe(head);
  });
});
