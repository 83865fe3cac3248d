// Hostile names already on disk (fixtures/hostile-local-names.json): each is
// either synced, reported as a problem, or renamed aside as a conflicted
// copy; nothing crashes and nothing else is disturbed.

import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkAgent, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { Api, startTestServer, type TestServer } from '../../helpers/server.js';

interface Case { name?: string; hex?: string; repeat?: number; outcome: 'synced' | 'synced_nfc' | 'problem' | 'conflict'; code?: string; why: string }
const fixture = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'fixtures', 'hostile-local-names.json'), 'utf8')) as { cases: Case[] };

let server: TestServer;
let agent: TestAgent;
let dir: string;
let api: Api;

const nameOf = (c: Case): string | Buffer => (c.hex ? Buffer.from(c.hex, 'hex') : c.repeat ? c.name!.repeat(Math.ceil(c.repeat / c.name!.length)).slice(0, c.repeat) : c.name!);

beforeAll(async () => {
  await useTempStateDir();
  server = await startTestServer();
  api = new Api(server.url, await server.addDevice('default', 'observer'));
  dir = await mkdtemp(join(tmpdir(), 'syncd-hostile-'));
  for (const c of fixture.cases) {
    const n = nameOf(c);
    const path = typeof n === 'string' ? join(dir, n) : Buffer.concat([Buffer.from(dir + '/'), n]);
    await writeFile(path, `content of ${c.why}`);
  }
  agent = await linkAgent(server, dir, 'disk');
  for (let i = 0; i < 4; i++) await agent.engine.cycle();
});

afterAll(async () => {
  await agent.close();
  await server.close();
});

describe('hostile names on disk', () => {
  for (const c of fixture.cases) {
    it(`${c.outcome}: ${c.why}`, async () => {
      const names = (await api.listAll()).nodes.map((n) => n.name);
      const n = nameOf(c);
      if (c.outcome === 'synced') expect(names).toContain(n);
      if (c.outcome === 'synced_nfc') expect(names).toContain((n as string).normalize('NFC'));
      if (c.outcome === 'problem') {
        const shown = typeof n === 'string' ? n : n.toString('utf8');
        expect(names).not.toContain(shown);
        const problems = agent.db.problems().filter((p) => p.path === shown || p.path === shown.normalize('NFC'));
        expect(problems.map((p) => p.code)).toContain(c.code);
      }
      if (c.outcome === 'conflict') {
        const stem = (n as string).normalize('NFC').replace(/\.[^.]*$/, '');
        expect(names.some((x) => x.startsWith(`${stem} (conflicted copy disk `))).toBe(true);
      }
    });
  }

  it('the folder itself is intact: every file is still there under some name', async () => {
    const onDisk = (await readdir(dir)).filter((n) => !n.startsWith('.syncd'));
    expect(onDisk.length).toBe(fixture.cases.length);
  });
});
