// Folder modes through real engines on one server: override meets the
// mass-delete guard and goes ahead after resume; revert leaves alone a file
// changed again after the scan; a mode change reaches an engine between cycles.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { folderStatus } from '../../../src/cli/status-report.js';
import { setConfigValue } from '../../../src/client/state/config.js';
import { linkAgent, snapshot, useTempStateDir, type TestAgent } from '../../helpers/agent.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let a: TestAgent;
let b: TestAgent;

beforeAll(async () => {
  await useTempStateDir();
});

beforeEach(async () => {
  server = await startTestServer();
  a = await linkAgent(server, await mkdtemp(join(tmpdir(), 'syncd-a-')), 'alpha');
  b = await linkAgent(server, await mkdtemp(join(tmpdir(), 'syncd-b-')), 'beta');
  for (let i = 0; i < 10; i++) await writeFile(join(a.dir, `base${i}.txt`), `base ${i}`);
  await a.sync();
  await b.sync();
});

afterEach(async () => {
  await a.close();
  await b.close();
  await server.close();
});

describe('folder modes (engines on a real server)', () => {
  it('override that would delete most of the server pauses for the guard, keeps the request, and goes ahead after resume', async () => {
    setConfigValue(b.dir, 'mode', 'send-only');
    for (let i = 0; i < 30; i++) await writeFile(join(a.dir, `new${i}.txt`), `new ${i}`);
    await a.sync();
    await b.sync(); // send-only: nothing of it lands
    expect(Object.keys(await snapshot(b.dir))).toHaveLength(10);

    b.db.meta.set('mode_request', 'override');
    const r = await b.engine.cycle();
    expect(r.paused?.code).toBe('mass_delete');
    expect(b.db.meta.get('mode_request')).toBe('override');
    expect(Object.keys(await snapshot(a.dir))).toHaveLength(40);

    // what `syncd resume` does after a mass-delete pause
    b.db.tx(() => {
      b.db.meta.set('paused', false);
      b.db.meta.set('allow_deletes', true);
    });
    const done = await b.engine.cycle();
    expect(done.converged).toBe(true);
    expect(b.db.meta.get('mode_request')).toBeNull();
    a.db.meta.set('allow_deletes', true); // a now deletes 30 of its 40 files: its own guard, passed on purpose
    await a.sync();
    expect(await snapshot(a.dir)).toEqual(await snapshot(b.dir));
  });

  it('revert leaves alone a file changed again after the scan, ends the request and still lists the difference', async () => {
    setConfigValue(b.dir, 'mode', 'receive-only');
    await writeFile(join(b.dir, 'base1.txt'), 'local edit');
    await b.sync();
    b.db.meta.set('mode_request', 'revert');
    b.engine.rescan();
    // between the plan and the executor, the user saves again
    Object.assign(b.engine.o, { onPlan: () => writeFileSync(join(b.dir, 'base1.txt'), 'saved again, longer') });
    await b.engine.cycle();
    expect(await readFile(join(b.dir, 'base1.txt'), 'utf8')).toBe('saved again, longer');
    expect(b.db.meta.get('mode_request')).toBeNull();
    const st = await folderStatus(b.dir);
    expect(st.differences).toEqual([{ path: 'base1.txt', side: 'local', change: 'changed' }]);
    // the server never saw either local version
    await a.sync();
    expect(await readFile(join(a.dir, 'base1.txt'), 'utf8')).toBe('base 1');
  });

  it('a mode change reaches the engine at its next cycle', async () => {
    setConfigValue(b.dir, 'mode', 'receive-only');
    await writeFile(join(b.dir, 'base2.txt'), 'kept here');
    await b.sync();
    await a.sync();
    expect(await readFile(join(a.dir, 'base2.txt'), 'utf8')).toBe('base 2');
    setConfigValue(b.dir, 'mode', 'two-way');
    await b.sync();
    await a.sync();
    expect(await readFile(join(a.dir, 'base2.txt'), 'utf8')).toBe('kept here');
  });
});
