// Two agents on one server, real folders: the push path and its conflict rules.

import { mkdir, mkdtemp, readdir, rename, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { folderStatus } from '../../../src/cli/status-report.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let a: TestAgent;
let b: TestAgent;
let api: Api;

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'observer'));
  a = await linkAgent(server, await mkdtemp(join(tmpdir(), 'syncd-a-')), 'alpha');
  b = await linkAgent(server, await mkdtemp(join(tmpdir(), 'syncd-b-')), 'beta');
});

afterEach(async () => {
  await a.close();
  await b.close();
  await server.close();
});

/** Both agents cycle until neither has anything left (a sync can teach the other new things). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await a.sync();
    await b.sync();
  }
}

async function head(): Promise<number> {
  return (await api.listAll()).seq;
}

describe('push path (two agents)', () => {
  it('create, edit, rename and delete travel both ways', async () => {
    await mkdir(join(a.dir, 'notes'));
    await writeFile(join(a.dir, 'notes', 'todo.md'), '- milk');
    await writeFile(join(b.dir, 'from-b.txt'), 'hi from b');
    await settle();
    expect(await snapshot(b.dir)).toEqual(await snapshot(a.dir));
    expect(await snapshot(a.dir)).toEqual({ 'from-b.txt': 'hi from b', 'notes/': 'dir', 'notes/todo.md': '- milk' });

    await writeFile(join(b.dir, 'notes', 'todo.md'), '- milk\n- eggs');
    await rename(join(a.dir, 'from-b.txt'), join(a.dir, 'renamed.txt'));
    await settle();
    expect(await snapshot(a.dir)).toEqual({ 'renamed.txt': 'hi from b', 'notes/': 'dir', 'notes/todo.md': '- milk\n- eggs' });
    expect(await snapshot(b.dir)).toEqual(await snapshot(a.dir));

    await rm(join(b.dir, 'notes'), { recursive: true });
    await settle();
    expect(await snapshot(a.dir)).toEqual({ 'renamed.txt': 'hi from b' });
  });

  it('renaming a directory of 1,000 files writes ONE journal entry', async () => {
    await mkdir(join(a.dir, 'photos'));
    for (let i = 0; i < 1000; i++) await writeFile(join(a.dir, 'photos', `img${i}.jpg`), `pixels ${i}`);
    await settle();
    const before = await head();
    await rename(join(a.dir, 'photos'), join(a.dir, 'photos-2026'));
    await settle();
    expect((await head()) - before).toBe(1);
    expect((await readdir(join(b.dir, 'photos-2026'))).length).toBe(1000);
  });

  it('a conflict made while one side is offline: one conflicted copy, both contents kept', async () => {
    await writeFile(join(a.dir, 'report.txt'), 'v1');
    await settle();
    // both edit the same file before either syncs
    await writeFile(join(a.dir, 'report.txt'), 'edited on alpha');
    await writeFile(join(b.dir, 'report.txt'), 'edited on beta');
    await a.sync();
    await b.sync();
    await settle();
    const snapA = await snapshot(a.dir);
    expect(snapA).toEqual(await snapshot(b.dir));
    const copies = Object.keys(snapA).filter((p) => p.startsWith('report (conflicted copy beta '));
    expect(copies).toHaveLength(1);
    expect(snapA['report.txt']).toBe('edited on alpha');
    expect(snapA[copies[0]!]).toBe('edited on beta');
    expect(b.db.conflicts().map((c) => c.path)).toEqual(copies);
    // restarts do not breed more copies
    await settle();
    expect(Object.keys(await snapshot(a.dir)).filter((p) => p.includes('conflicted copy'))).toHaveLength(1);
  });

  it('edit beats delete, in both directions', async () => {
    await writeFile(join(a.dir, 'x.txt'), 'x1');
    await writeFile(join(a.dir, 'y.txt'), 'y1');
    await settle();
    await writeFile(join(a.dir, 'x.txt'), 'x2 edited');
    await rm(join(b.dir, 'x.txt'));
    await rm(join(a.dir, 'y.txt'));
    await writeFile(join(b.dir, 'y.txt'), 'y2 edited');
    await b.sync();
    await a.sync();
    await settle();
    expect(await snapshot(a.dir)).toEqual({ 'x.txt': 'x2 edited', 'y.txt': 'y2 edited' });
    expect(await snapshot(b.dir)).toEqual(await snapshot(a.dir));
  });

  it('a case clash becomes a conflicted copy instead of a lost file', async () => {
    await writeFile(join(a.dir, 'README.md'), 'upper');
    await settle();
    await writeFile(join(b.dir, 'readme.md'), 'lower');
    await settle();
    const snap = await snapshot(a.dir);
    expect(snap['README.md']).toBe('upper');
    const copy = Object.keys(snap).find((p) => p.startsWith('readme (conflicted copy beta'));
    expect(copy && snap[copy]).toBe('lower');
    expect(await snapshot(b.dir)).toEqual(snap);
  });

  it('.syncignore and built-in ignores stay local', async () => {
    await writeFile(join(a.dir, '.syncignore'), 'build/\n*.log\n');
    await mkdir(join(a.dir, 'build'));
    await writeFile(join(a.dir, 'build', 'out.o'), 'obj');
    await writeFile(join(a.dir, 'debug.log'), 'noise');
    await writeFile(join(a.dir, '.main.c.swp'), 'vim');
    await writeFile(join(a.dir, 'main.c'), 'int main;');
    await settle();
    const names = (await api.listAll()).nodes.map((n) => n.name).sort();
    expect(names).toEqual(['.syncignore', 'main.c']);
  });

  it('a mass delete pauses instead of propagating; resume lets it through', async () => {
    for (let i = 0; i < 40; i++) await writeFile(join(a.dir, `f${i}.txt`), `${i}`);
    await writeFile(join(a.dir, 'survivor.txt'), 'still here');
    await settle();
    for (let i = 0; i < 40; i++) await rm(join(a.dir, `f${i}.txt`));
    a.engine.rescan();
    const r = await a.engine.cycle();
    expect(r.paused?.code).toBe('mass_delete');
    expect((await api.listAll()).nodes).toHaveLength(41);
    // `syncd resume`
    a.db.meta.set('paused', false);
    a.db.meta.set('allow_deletes', true);
    await a.sync();
    expect((await api.listAll()).nodes.map((n) => n.name)).toEqual(['survivor.txt']);
  });

  it('an emptied folder root (unmounted disk) pauses and deletes nothing', async () => {
    for (let i = 0; i < 5; i++) await writeFile(join(a.dir, `g${i}.txt`), `${i}`);
    await settle();
    for (const n of await readdir(a.dir)) await rm(join(a.dir, n), { recursive: true });
    a.engine.rescan();
    const r = await a.engine.cycle();
    expect(r.paused?.code).toBe('root_empty');
    expect((await api.listAll()).nodes).toHaveLength(5);
    await rm(a.dir, { recursive: true });
    const r2 = await a.engine.cycle();
    expect(r2.paused?.code).toMatch(/root_missing|root_empty/);
    expect(await readFile(join(b.dir, 'g0.txt'), 'utf8')).toBe('0');
  });
});

describe('a lost commit reply', () => {
  it('never turns a later re-created folder into a ghost', async () => {
    // the commit of "build" lands but its reply is lost: the agent only learns of it from the journal
    await mkdir(join(a.dir, 'build'));
    const realCommit = a.remote.commit.bind(a.remote);
    let drop = true;
    a.remote.commit = async (ops) => {
      const r = await realCommit(ops);
      if (drop) {
        drop = false;
        throw Object.assign(new Error('reply lost'), { code: 'network' });
      }
      return r;
    };
    await a.sync().catch(() => undefined);
    await a.sync();
    // later: deleted and made again with the same name and (empty) content
    await rm(join(a.dir, 'build'), { recursive: true });
    await a.sync();
    await mkdir(join(a.dir, 'build'));
    await writeFile(join(a.dir, 'build', 'out.txt'), 'fresh');
    await a.sync();
    await b.sync();
    expect(await snapshot(b.dir)).toEqual({ 'build/': 'dir', 'build/out.txt': 'fresh' });
    expect(a.db.outboxCount()).toBe(0);
  });
});

describe('a directory delete racing with a new file inside it', () => {
  it('re-plans with the new file instead of deleting it on the server', async () => {
    await mkdir(join(a.dir, 'D'));
    await writeFile(join(a.dir, 'D', 'old.txt'), 'old');
    await settle();
    await rm(join(a.dir, 'D'), { recursive: true });
    // B adds D/new-work.txt after A's first pull of the cycle, before A commits the delete
    const realChanges = a.remote.changes.bind(a.remote);
    let calls = 0;
    a.remote.changes = async (cursor, limit) => {
      if (++calls === 2) {
        await writeFile(join(b.dir, 'D', 'new-work.txt'), 'precious');
        await b.sync();
      }
      return realChanges(cursor, limit);
    };
    await a.sync();
    await b.sync();
    expect(await snapshot(b.dir)).toEqual({ 'D/': 'dir', 'D/new-work.txt': 'precious' });
    expect(await snapshot(a.dir)).toEqual({ 'D/': 'dir', 'D/new-work.txt': 'precious' });
  });
});

describe('watcher hints that arrive in halves', () => {
  it('a rename seen only as "gone" so far is confirmed by a full scan: one move, no delete', async () => {
    await mkdir(join(a.dir, 'photos'));
    for (let i = 0; i < 30; i++) await writeFile(join(a.dir, 'photos', `p${i}.jpg`), `p${i}`);
    await settle();
    const before = await head();
    await rename(join(a.dir, 'photos'), join(a.dir, 'album'));
    // only the unlinkDir hint has arrived; the addDir half is still on its way
    a.engine.markDirty('photos');
    const r = await a.engine.cycle();
    expect(r.converged).toBe(true);
    expect((await head()) - before).toBe(1);
    await b.sync();
    expect(Object.keys(await snapshot(b.dir)).filter((p) => p.startsWith('album/') && p !== 'album/')).toHaveLength(30);
  });

  it('a file renamed inside a directory the server moved meanwhile: its hints name the old directory, the rename is still found', async () => {
    // found by the fault proxy e2e: the agent applied the server's directory
    // move, the hints of the user's rename inside it arrived under the old
    // directory's path, and Local kept the old name: status said up to date
    // while the folder and the server differed, until the next full scan
    await mkdir(join(a.dir, 'x'));
    await writeFile(join(a.dir, 'x', 'f.txt'), 'f');
    await settle();
    await rename(join(b.dir, 'x'), join(b.dir, 'y'));
    await b.sync();
    await rename(join(a.dir, 'x', 'f.txt'), join(a.dir, 'x', 'g.txt'));
    await a.engine.cycle(); // pulls the directory move and applies it
    a.engine.markDirty('x/f.txt');
    a.engine.markDirty('x/g.txt');
    expect((await a.engine.cycle()).converged).toBe(true);
    await b.sync();
    expect(await snapshot(b.dir)).toEqual({ 'y/': 'dir', 'y/g.txt': 'f' });
    expect(await snapshot(a.dir)).toEqual({ 'y/': 'dir', 'y/g.txt': 'f' });
  });
});

// Found by the fault proxy e2e (seed 202), no fault needed: a file moved into
// a new directory whose name is its own case twin. The directory cannot be
// created while the server still has the file's name, and the file cannot
// move before the directory exists: both ops are held back for good.
describe('a file moved into a new directory named as its case twin (c.txt → C.txt/x)', () => {
  async function moveIntoTwin(): Promise<void> {
    await writeFile(join(a.dir, 'c.txt'), 'c');
    await settle();
    await mkdir(join(a.dir, 'C.txt'));
    await rename(join(a.dir, 'c.txt'), join(a.dir, 'C.txt', 'x'));
    a.engine.rescan();
  }

  it('is never reported as in agreement while it is not (status and `wait` said up to date)', async () => {
    await moveIntoTwin();
    for (let i = 0; i < 5; i++) {
      const r = await a.engine.cycle();
      expect(r.converged || r.pending > 0, `cycle ${i}: ${JSON.stringify(r)}`).toBe(true);
      expect(r.converged || a.db.meta.get('pending') !== 0).toBe(true);
      if (r.converged) return;
    }
    const st = await folderStatus(a.dir);
    expect(st.pending_uploads + st.pending_downloads + st.pending_other).toBeGreaterThan(0);
  });

  // the create of C.txt waits for c.txt to leave its name, and c.txt's move
  // waits for C.txt: the planner moves c.txt to a temporary name first
  it('syncs', async () => {
    await moveIntoTwin();
    await a.sync(10);
    await b.sync();
    expect(await snapshot(b.dir)).toEqual({ 'C.txt/': 'dir', 'C.txt/x': 'c' });
  });
});

describe('a directory delete racing with a new file inside it (found by the engine simulation, seed 1031)', () => {
  it('the delete is conditional on the subtree the deleting agent saw: the other device\'s new file survives', async () => {
    await mkdir(join(a.dir, 'd'));
    await writeFile(join(a.dir, 'd', 'x.txt'), 'x');
    await settle();
    // B adds a file inside d; A deletes d before its pull can see that
    await writeFile(join(b.dir, 'd', 'new.txt'), 'written on B');
    await b.sync();
    await rm(join(a.dir, 'd'), { recursive: true });
    const real = a.remote.changes.bind(a.remote);
    // a replica lagging behind: A's pulls see nothing new
    a.remote.changes = async (cursor: string) => {
      const seq = Number(a.db.meta.get('cursor_seq'));
      return { entries: [], cursor, head: seq, has_more: false };
    };
    try {
      a.engine.rescan();
      await a.engine.cycle();
    } finally {
      a.remote.changes = real;
    }
    const tree = (await api.get('/v1/list')).body.entries as { name: string }[];
    // the server refused the stale delete (a conflict), so nothing below d went
    expect(tree.map((n) => n.name).sort()).toEqual(['d', 'new.txt', 'x.txt']);
    await settle();
    expect(await snapshot(a.dir)).toEqual({ 'd/': 'dir', 'd/new.txt': 'written on B' });
    expect(await snapshot(b.dir)).toEqual({ 'd/': 'dir', 'd/new.txt': 'written on B' });
  });
});

// A folder renamed by hand to its case twin on a case-sensitive disk: a new
// directory, its files moved in, the old one removed. Before, the twin could
// not be created beside the old name and the old one could not go before its
// files left: the folder ended up as a conflicted copy on every device.
describe('a folder renamed by hand to its case twin (mkdir Docs; mv docs/* Docs/; rmdir docs)', () => {
  it('is one rename on the server, no conflicted copy, and the other device gets the new name', async () => {
    await mkdir(join(a.dir, 'docs', 'sub'), { recursive: true });
    await writeFile(join(a.dir, 'docs', 'a.txt'), 'A');
    await writeFile(join(a.dir, 'docs', 'sub', 'b.txt'), 'B');
    await settle();
    const before = (await api.listAll()).nodes;
    const docsId = before.find((n) => n.name === 'docs')!.id;
    await mkdir(join(a.dir, 'Docs'));
    for (const n of ['a.txt', 'sub']) await rename(join(a.dir, 'docs', n), join(a.dir, 'Docs', n));
    await rm(join(a.dir, 'docs'), { recursive: true });
    a.engine.rescan();
    await settle();
    const after = (await api.listAll()).nodes;
    // the same node, renamed: its history and id carry over
    expect(after.find((n) => n.id === docsId)?.name).toBe('Docs');
    expect(after.filter((n) => n.name.includes('conflicted copy'))).toEqual([]);
    const want = { 'Docs/': 'dir', 'Docs/a.txt': 'A', 'Docs/sub/': 'dir', 'Docs/sub/b.txt': 'B' };
    expect(await snapshot(a.dir)).toEqual(want);
    expect(await snapshot(b.dir)).toEqual(want);
  });
});
