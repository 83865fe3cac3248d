// Issue 13, storage: owner-only modes whatever the umask, a damaged blob
// repaired by the next good upload, uploads that do the same work whether or
// not another namespace holds the content, and `syncd server fsck`.

import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Api, ensureBuilt, REPO_ROOT, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

const BIN = join(REPO_ROOT, 'bin/syncd');
const open: TestServer[] = [];
beforeAll(() => ensureBuilt(), 120_000);
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function server(dataDir?: string): Promise<TestServer> {
  const s = await startTestServer(dataDir ? { dataDir } : {});
  open.push(s);
  return s;
}

const mode = (p: string): number => statSync(p).mode & 0o777;

function fsck(dataDir: string, ...extra: string[]): { code: number; out: string } {
  try {
    return { code: 0, out: execFileSync(process.execPath, [BIN, 'server', 'fsck', '--data', dataDir, ...extra], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, out: err.stdout };
  }
}

describe('storage', () => {
  it('keeps the data folder 0700 and its database and blob files 0600 under a permissive umask', async () => {
    const old = process.umask(0o022);
    try {
      const srv = await server();
      const api = new Api(srv.url, await srv.addDevice('a'));
      const blob = await api.putBlob('private bytes');
      await api.mkdir('d');
      expect(mode(srv.dataDir)).toBe(0o700);
      for (const f of ['syncd.db', 'syncd.db-wal', 'syncd.db-shm']) {
        if (existsSync(join(srv.dataDir, f))) expect([f, mode(join(srv.dataDir, f))]).toEqual([f, 0o600]);
      }
      const p = join(srv.dataDir, 'blobs', blob.hash.slice(0, 2), blob.hash.slice(2, 4), blob.hash);
      expect(mode(p)).toBe(0o600);
      expect(mode(join(srv.dataDir, 'blobs'))).toBe(0o700);
      expect(mode(join(srv.dataDir, 'blobs', blob.hash.slice(0, 2)))).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('repairs a damaged blob file when the right bytes are uploaded again', async () => {
    const srv = await server();
    const api = new Api(srv.url, await srv.addDevice('a'));
    const content = 'the right bytes';
    const { hash } = await api.putBlob(content);
    const p = join(srv.dataDir, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);
    writeFileSync(p, 'rot bytes here!');
    await api.putBlob(content);
    expect(readFileSync(p, 'utf8')).toBe(content);
    expect((await api.get(`/v1/blobs/${hash}`)).text).toBe(content);
  });

  it('stores an upload afresh whether or not another namespace holds the content (no shortcut to time)', async () => {
    const srv = await server();
    const a = new Api(srv.url, await srv.addDevice('a'));
    const b = new Api(srv.url, await srv.addDevice('b'));
    const { hash } = await a.putBlob('shared content');
    const p = join(srv.dataDir, 'blobs', hash.slice(0, 2), hash.slice(2, 4), hash);
    const before = statSync(p).ino;
    expect((await b.putBlob('shared content')).status).toBe(201);
    // the same write, fsync and rename as a first upload: a new file took the name
    expect(statSync(p).ino).not.toBe(before);
  });

  it('fsck finds damaged and missing blobs; --repair moves damaged ones aside; exit 1 on problems', async () => {
    const { mkdtempSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const srv = await server(mkdtempSync(join(tmpdir(), 'syncd-fsck-')));
    const api = new Api(srv.url, await srv.addDevice('tenant'));
    const good = await api.putBlob('good');
    const rotten = await api.putBlob('will rot');
    const gone = await api.putBlob('will vanish');
    await srv.close();
    const at = (h: string): string => join(srv.dataDir, 'blobs', h.slice(0, 2), h.slice(2, 4), h);
    expect(fsck(srv.dataDir)).toMatchObject({ code: 0 });
    writeFileSync(at(rotten.hash), 'will ROT'); // same size, other bytes
    const { rmSync } = await import('node:fs');
    rmSync(at(gone.hash));
    const first = fsck(srv.dataDir, '--json');
    expect(first.code).toBe(1);
    const r = JSON.parse(first.out);
    expect(r.damaged.map((d: { hash: string }) => d.hash)).toEqual([rotten.hash]);
    expect(r.missing).toEqual([{ hash: gone.hash, size: gone.size, namespaces: ['tenant'] }]);
    expect(r.ok).toBe(false);
    const repaired = JSON.parse(fsck(srv.dataDir, '--repair', '--json').out);
    expect(repaired.damaged[0].movedTo).toContain(join(srv.dataDir, 'damaged'));
    expect(existsSync(at(rotten.hash))).toBe(false);
    expect(existsSync(at(good.hash))).toBe(true);
    // after the repair the damaged blob is missing: the next upload of its content restores it
    const again = JSON.parse(fsck(srv.dataDir, '--json').out);
    expect(again.missing.map((m: { hash: string }) => m.hash).sort()).toEqual([rotten.hash, gone.hash].sort());
    expect(again.damaged).toEqual([]);
    expect(sha256('will ROT')).not.toBe(rotten.hash);
    rmSync(srv.dataDir, { recursive: true, force: true });
  });
});
