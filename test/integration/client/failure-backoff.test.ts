// The watching agent's wait after a failed cycle: it grows while failures
// get nowhere, and starts over once a failed cycle got something done (a
// flaky link or a proxy cutting now and then). Before, every failure grew
// it (to a minute), so a device that had met a few server errors in a row
// sat deaf long after the server was fine again (the fault proxy's seed 11
// in CI). Behaviour only: the delays the agent logged, never a clock.

import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { silentLog } from '../../../src/client/agent/log.js';
import { RemoteError } from '../../../src/client/remote/errors.js';
import { linkAgent, useTempStateDir, waitFor, type TestAgent } from '../../helpers/agent.js';
import { Api, sha256, startTestServer, type TestServer } from '../../helpers/server.js';

let server: TestServer;
let agent: TestAgent;

beforeAll(async () => {
  await useTempStateDir();
});

afterEach(async () => {
  await agent?.close();
  await server?.close();
});

/** Runs a watching agent whose `putBlob` fails on the calls `failing` names; returns the retry delays it logged. */
async function watchWithFailingUploads(files: number, failing: (call: number) => boolean): Promise<{ retries: number[] }> {
  server = await startTestServer();
  const api = new Api(server.url, await server.addDevice('default', 'observer'));
  const dir = await mkdtemp(join(tmpdir(), 'syncd-backoff-'));
  agent = await linkAgent(server, dir, 'flaky');
  const { engine, remote } = agent;
  // one upload at a time, so a failing call always comes after the uploads before it ended;
  // the largest jitter, so a grown wait cannot hide under a lucky draw
  engine.o.concurrency = 1;
  engine.o.random = () => 0.999;
  const retries: number[] = [];
  engine.o.log = { ...silentLog, warn: (_msg, fields) => void retries.push(Number(fields?.retry_in_ms)) };
  let calls = 0;
  const real = remote.putBlob.bind(remote);
  remote.putBlob = async (hash, size, open) => {
    if (failing(++calls)) throw new RemoteError('server_error', 'the syncd server failed on upload (502)', { server: server.url, status: 502 });
    return real(hash, size, open);
  };
  for (let i = 0; i < files; i++) await writeFile(join(dir, `f${i}.txt`), `file ${i}`);
  const ac = new AbortController();
  const running = engine.watch(ac.signal);
  try {
    await waitFor(async () => {
      const { nodes } = await api.listAll();
      return nodes.filter((n) => n.hash !== undefined && n.hash === sha256(`file ${Number(n.name.slice(1, -4))}`)).length === files;
    }, 60_000, 'every file on the server');
  } finally {
    ac.abort();
    await running;
  }
  return { retries };
}

describe('the wait after a failed cycle', () => {
  it('starts over after each failure that followed an upload done in the same cycle', async () => {
    // ten files, one at a time: calls 2, 4, 6 and 8 fail, each after one that went through (and
    // the round's later uploads do not start: they used to go on unseen, taking the failures along)
    const { retries } = await watchWithFailingUploads(10, (n) => n <= 8 && n % 2 === 0);
    expect(retries.length).toBe(4);
    // before: 249, 499, 999, 1998 ms
    expect(retries.every((ms) => ms < 250), `retry delays ${JSON.stringify(retries)}`).toBe(true);
  });

  it('grows while failures get nowhere', async () => {
    const { retries } = await watchWithFailingUploads(2, (n) => n <= 4);
    expect(retries).toEqual([249, 499, 999, 1998]);
  });
});
