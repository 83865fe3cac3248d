// The version-history API (docs/api.md "History"), one suite for every
// store: versions across renames, restore of a version and of deleted
// subtrees (also below a deleted parent), restore racing another device's
// edit, the deleted listing, activity, snapshots and rewind after a script
// rewrote files. Runs against SQLite (history.test.ts) and PostgreSQL.

import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WireNode } from '../../src/protocol/types.js';
import { Api, sha256 } from '../helpers/server.js';
import type { ServerFactory, ContractServer } from './server-contract.js';

/** a moment strictly between the commits before and after it (journal times are in ms) */
async function mark(): Promise<number> {
  await sleep(3);
  const t = Date.now();
  await sleep(3);
  return t;
}

async function post(api: Api, path: string, body: Record<string, unknown>) {
  return api.request('POST', path, { body: JSON.stringify({ op_id: randomUUID(), ...body }), headers: { 'content-type': 'application/json' } });
}

async function update(api: Api, n: WireNode, content: string): Promise<WireNode> {
  const b = await api.putBlob(content);
  return (await api.one({ op: 'update', id: n.id, base_rev: n.rev, hash: b.hash, size: b.size })).node;
}

/** the live tree as path → content hash ('dir' for folders) */
async function tree(api: Api): Promise<Record<string, string>> {
  const { nodes } = await api.listAll();
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const path = (n: WireNode): string => (n.parent === 'root' ? n.name : `${path(byId.get(n.parent)!)}/${n.name}`);
  return Object.fromEntries(nodes.map((n) => [path(n), n.kind === 'dir' ? 'dir' : n.hash!]).sort());
}

export function historyContract(name: string, factory: ServerFactory, opts: { skip?: boolean } = {}): void {
  (opts.skip ? describe.skip : describe)(`history contract: ${name}`, () => {
    let srv: ContractServer;
    let n = 0;
    const fresh = async (): Promise<{ ns: string; api: Api }> => {
      const ns = `h${++n}-${randomUUID().slice(0, 8)}`;
      return { ns, api: new Api(srv.url, await srv.addDevice(ns, 'laptop')) };
    };

    beforeAll(async () => {
      srv = await factory();
    });
    afterAll(async () => {
      await srv?.close();
    });

    it('versions of a file follow it across renames and moves, newest first, with device labels', async () => {
      const { api } = await fresh();
      const docs = await api.mkdir('docs');
      const f = await api.file('draft.txt', 'v1');
      const f2 = await update(api, f, 'v2');
      await api.one({ op: 'move', id: f.id, base_rev: f2.rev, parent: docs.id, name: 'final.txt' });
      const r = await api.get('/v1/history?path=docs/final.txt');
      expect(r.status, r.text).toBe(200);
      expect(r.body.node).toMatchObject({ id: f.id, path: 'docs/final.txt', kind: 'file', deleted: false });
      expect(r.body.versions.map((v: any) => [v.rev, v.op, v.node.name, v.device_label])).toEqual([
        [3, 'move', 'final.txt', 'laptop'],
        [2, 'update', 'draft.txt', 'laptop'],
        [1, 'create', 'draft.txt', 'laptop'],
      ]);
      expect(r.body.versions[1].node.hash).toBe(sha256('v2'));
      expect(typeof r.body.versions[0].time).toBe('number');
      expect((await api.get(`/v1/history?id=${f.id}`)).body.versions).toHaveLength(3);
      // the old path names the node last seen there
      const old = await api.get('/v1/history?path=draft.txt');
      expect(old.body.node).toMatchObject({ id: f.id, path: 'docs/final.txt' });
      expect((await api.get('/v1/history?path=docs/nope.txt')).status).toBe(404);
      expect((await api.get('/v1/history?path=../x')).status).toBe(400);
    });

    it('versions of a node come newest first, at most `limit` of them, `more` when older ones were left out', async () => {
      const { api } = await fresh();
      let f = await api.file('log.txt', 'v1');
      for (let i = 2; i <= 6; i++) f = await update(api, f, `v${i}`);
      const revs = async (q: string) => {
        const r = await api.get(`/v1/history?path=log.txt${q}`);
        expect(r.status, r.text).toBe(200);
        return [r.body.versions.map((v: any) => v.rev), r.body.more ?? false];
      };
      expect(await revs('')).toEqual([[6, 5, 4, 3, 2, 1], false]);
      expect(await revs('&limit=6')).toEqual([[6, 5, 4, 3, 2, 1], false]);
      expect(await revs('&limit=5')).toEqual([[6, 5, 4, 3, 2], true]);
      expect(await revs('&limit=1')).toEqual([[6], true]);
      for (const bad of ['0', '10001', 'x', '-1']) expect((await api.get(`/v1/history?path=log.txt&limit=${bad}`)).status).toBe(400);
    });

    it('restore --rev reaches a version more than a thousand saves back (the rows are read a page at a time)', async () => {
      const { api } = await fresh();
      const f = await api.file('busy.txt', 'the first');
      const [a, b] = [await api.putBlob('a'), await api.putBlob('b')];
      // 1,200 saves in two commits: revs 2 to 1,201
      for (let start = 2; start <= 1201; start += 600) {
        const ops = Array.from({ length: 600 }, (_, k) => ({ op: 'update' as const, op_id: randomUUID(), id: f.id, base_rev: start + k - 1, ...((start + k) % 2 ? { hash: a.hash, size: a.size } : { hash: b.hash, size: b.size }) }));
        expect((await api.commit(ops)).every((r) => r.status === 'ok')).toBe(true);
      }
      const missing = await post(api, '/v1/restore', { path: 'busy.txt', rev: 5000 });
      expect(missing.status).toBe(404);
      expect(missing.body.message).toMatch(/the newest is rev 1201/);
      const r = await post(api, '/v1/restore', { path: 'busy.txt', rev: 1 });
      expect(r.status, r.text).toBe(200);
      const { nodes } = await api.listAll();
      expect(nodes.find((n) => n.id === f.id)?.hash).toBe(sha256('the first'));
    });

    it('restore of a version is one ordinary update: the journal carries it, the old content is current again', async () => {
      const { api } = await fresh();
      const cursor = await api.startCursor();
      const f = await api.file('a.txt', 'good');
      const f2 = await update(api, f, 'bad');
      await api.one({ op: 'move', id: f.id, base_rev: f2.rev, parent: 'root', name: 'b.txt' });
      const r = await post(api, '/v1/restore', { path: 'b.txt', rev: 1 });
      expect(r.status, r.text).toBe(200);
      // content comes back; the file keeps its present name
      expect(r.body).toMatchObject({ ok: 1, conflicts: 0, errors: 0, restored: { id: f.id, path: 'b.txt' } });
      const { entries } = await api.changesAll(cursor);
      expect(entries.map((e) => e.op)).toEqual(['create', 'update', 'move', 'update']);
      expect(entries[3]!.node).toMatchObject({ id: f.id, rev: 4, name: 'b.txt', hash: sha256('good') });
      expect((await post(api, '/v1/restore', { path: 'b.txt', rev: 9 })).status).toBe(404);
      expect((await post(api, '/v1/restore', { path: 'b.txt' })).status).toBe(400);
    });

    it('restore racing another device: a stale base_rev is refused, and an edit landing first leaves the restore a conflict (nothing overwritten)', async () => {
      const { ns, api } = await fresh();
      const other = new Api(srv.url, await srv.addDevice(ns, 'desktop'));
      const f = await api.file('plan.txt', 'v1');
      const f2 = await update(api, f, 'v2');
      // the user looked at rev 2; the other device edits before the restore arrives
      await update(other, f2, 'desktop edit');
      const stale = await post(api, '/v1/restore', { path: 'plan.txt', rev: 1, base_rev: 2 });
      expect(stale.status).toBe(409);
      expect(stale.body).toMatchObject({ error: 'conflict', current_rev: 3 });
      expect((await tree(api))['plan.txt']).toBe(sha256('desktop edit'));
      // the other device's commit based on the pre-restore rev is a conflict after the restore: the usual rules
      const now = (await api.get('/v1/history?path=plan.txt')).body.versions[0].node as WireNode;
      expect((await post(api, '/v1/restore', { path: 'plan.txt', rev: 1, base_rev: now.rev })).body).toMatchObject({ ok: 1 });
      const b = await other.putBlob('late edit');
      const [late] = await other.commit([{ op: 'update', id: f.id, base_rev: now.rev, hash: b.hash, size: b.size }]);
      expect(late).toMatchObject({ status: 'conflict', current: { rev: now.rev + 1, hash: sha256('v1') } });
    });

    it('a deleted folder comes back with its content as it was just before the deletion, listed by /v1/deleted until then', async () => {
      const { api } = await fresh();
      const d = await api.mkdir('photos');
      const sub = await api.mkdir('2026', d.id);
      await api.file('a.jpg', 'A', sub.id);
      const b = await api.file('b.jpg', 'B', d.id);
      await update(api, b, 'B2');
      await api.one({ op: 'delete', id: d.id, base_rev: 1 });
      const del = await api.get('/v1/deleted');
      expect(del.status, del.text).toBe(200);
      expect(del.body.entries).toEqual([expect.objectContaining({ id: d.id, path: 'photos', kind: 'dir', rev: 2, device_label: 'laptop' })]);
      expect(typeof del.body.entries[0].time).toBe('number');
      // a file deleted with its folder shows the folder's delete as its last version
      const hb = await api.get('/v1/history?path=photos/b.jpg');
      expect(hb.body.node).toMatchObject({ deleted: true });
      expect(hb.body.versions[0]).toMatchObject({ op: 'delete' });
      const snap = await api.get('/v1/snapshot?path=photos');
      expect(snap.body.entries.map((e: any) => e.path)).toEqual(['', '2026', '2026/a.jpg', 'b.jpg']);
      const r = await post(api, '/v1/restore', { path: 'photos' });
      expect(r.status, r.text).toBe(200);
      expect(r.body).toMatchObject({ ok: 4, errors: 0, restored: { path: 'photos' } });
      expect(r.body.restored.id).not.toBe(d.id);
      expect(await tree(api)).toEqual({ photos: 'dir', 'photos/2026': 'dir', 'photos/2026/a.jpg': sha256('A'), 'photos/b.jpg': sha256('B2') });
      expect((await api.get('/v1/deleted')).body.entries).toHaveLength(1); // the old node stays deleted; its copy is live
    });

    it('a folder whose parent was deleted after it comes back with that parent (only what it needs), and beside a name taken since', async () => {
      const { api } = await fresh();
      const top = await api.mkdir('work');
      const inner = await api.mkdir('reports', top.id);
      await api.file('q1.txt', 'Q1', inner.id);
      await api.file('other.txt', 'O', top.id);
      await api.one({ op: 'delete', id: inner.id, base_rev: 1 });
      await api.one({ op: 'delete', id: top.id, base_rev: 1 });
      const del = (await api.get('/v1/deleted')).body.entries.map((e: any) => e.path);
      expect(del).toEqual(['work', 'work/reports']);
      expect((await api.get('/v1/deleted?path=work')).body.entries.map((e: any) => e.path)).toEqual(['work/reports']);
      const r = await post(api, '/v1/restore', { path: 'work/reports' });
      expect(r.body, r.text).toMatchObject({ ok: 3, errors: 0 });
      expect(await tree(api)).toEqual({ work: 'dir', 'work/reports': 'dir', 'work/reports/q1.txt': sha256('Q1') });
      // deleted together (one folder delete): the inner folder alone can still be brought back
      const top2 = await api.mkdir('archive');
      const in2 = await api.mkdir('2025', top2.id);
      await api.file('a.txt', 'A25', in2.id);
      await api.file('b.txt', 'B', top2.id);
      await api.one({ op: 'delete', id: top2.id, base_rev: 1 });
      expect((await post(api, '/v1/restore', { path: 'archive/2025' })).body).toMatchObject({ ok: 3, errors: 0 });
      expect(Object.keys(await tree(api)).filter((p) => p.startsWith('archive'))).toEqual(['archive', 'archive/2025', 'archive/2025/a.txt']);
      // a new file took the name of a deleted one: the restored file goes beside it
      const f = await api.file('notes.txt', 'old');
      await api.one({ op: 'delete', id: f.id, base_rev: 1 });
      await api.file('notes.txt', 'new');
      const again = await post(api, '/v1/restore', { id: f.id });
      expect(again.body).toMatchObject({ ok: 1 });
      expect(again.body.restored.path).toMatch(/^notes \(restored \d{4}-\d\d-\d\d \d{6}\)\.txt$/);
      expect((await tree(api))['notes.txt']).toBe(sha256('new'));
    });

    it('rewind after a script rewrote, renamed, deleted and added files: one batch of ordinary changes back to the moment; dry-run first changes nothing', async () => {
      const { api } = await fresh();
      const d = await api.mkdir('proj');
      const files: WireNode[] = [];
      for (let i = 0; i < 5; i++) files.push(await api.file(`f${i}.txt`, `clean ${i}`, d.id));
      await api.file('outside.txt', 'untouched');
      const before = await tree(api);
      const t = await mark();
      for (const f of files.slice(0, 3)) await update(api, f, `ENCRYPTED ${f.name}`);
      await api.one({ op: 'move', id: files[3]!.id, base_rev: 1, parent: d.id, name: 'f3.txt.locked' });
      await api.one({ op: 'delete', id: files[4]!.id, base_rev: 1 });
      await api.file('README-RANSOM.txt', 'pay', d.id);
      await api.file('later-outside.txt', 'not under proj');
      const dry = await post(api, '/v1/rewind', { path: 'proj', at: t, dry_run: true });
      expect(dry.status, dry.text).toBe(200);
      expect(dry.body.dry_run).toBe(true);
      expect(dry.body.steps.map((s: any) => `${s.action} ${s.path}`).sort()).toEqual(
        ['create proj/f4.txt', 'delete proj/README-RANSOM.txt', 'move proj/f3.txt', 'update proj/f0.txt', 'update proj/f1.txt', 'update proj/f2.txt'].sort(),
      );
      expect((await tree(api))['proj/README-RANSOM.txt']).toBeDefined();
      const r = await post(api, '/v1/rewind', { path: 'proj', at: t });
      expect(r.body, r.text).toMatchObject({ ok: 6, conflicts: 0, errors: 0 });
      expect(await tree(api)).toEqual({ ...before, 'later-outside.txt': sha256('not under proj') });
      // a second rewind to the same moment finds nothing to do
      expect((await post(api, '/v1/rewind', { path: 'proj', at: t })).body).toMatchObject({ ok: 0, steps: [] });
      // the whole namespace, by the empty path
      const all = await post(api, '/v1/rewind', { at: t });
      expect(all.body).toMatchObject({ ok: 1, errors: 0 });
      expect(await tree(api)).toEqual(before);
      expect((await post(api, '/v1/rewind', { path: 'proj/f0.txt', at: t })).status).toBe(400);
      // before the namespace existed (the kept history covers its whole life): everything below goes
      const empty = await post(api, '/v1/rewind', { path: 'proj', at: 1, dry_run: true });
      expect(empty.body.steps.map((s: any) => s.action)).toEqual(['delete', 'delete', 'delete', 'delete', 'delete']);
    });

    it('restore --at of a file, and activity newest first below a folder', async () => {
      const { api } = await fresh();
      const d = await api.mkdir('d');
      const f = await api.file('x.txt', 'one', d.id);
      const t = await mark();
      await update(api, f, 'two');
      await api.file('y.txt', 'y');
      expect((await post(api, '/v1/restore', { path: 'd/x.txt', at: t })).body).toMatchObject({ ok: 1 });
      expect((await tree(api))['d/x.txt']).toBe(sha256('one'));
      const act = await api.get('/v1/activity?path=d&limit=3');
      expect(act.status, act.text).toBe(200);
      expect(act.body.entries.map((e: any) => [e.op, e.path, e.device_label])).toEqual([
        ['update', 'd/x.txt', 'laptop'],
        ['update', 'd/x.txt', 'laptop'],
        ['create', 'd/x.txt', 'laptop'],
      ]);
      expect((await api.get('/v1/activity?limit=1')).body.entries).toHaveLength(1);
      expect((await api.get('/v1/activity?limit=0')).status).toBe(400);
    });
  });
}
