// docs/api.md must work as written: its ```sh blocks run, in order, in one
// bash session against the built CLI (the install line is skipped: the test
// run has built already; the port is swapped for a free one).

import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, REPO_ROOT } from '../../helpers/server.js';

beforeAll(() => ensureBuilt(), 120_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

describe('docs/api.md', () => {
  it('every shell block runs and shows what the text says', async () => {
    const md = readFileSync(join(REPO_ROOT, 'docs/api.md'), 'utf8');
    const blocks = [...md.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(8);
    const port = await freePort();
    // if a step fails, stop the server the walk-through started, or it would hold the pipes open
    const script = "trap 'kill ${SERVER:-} 2>/dev/null || true; case \"$PWD\" in /tmp/tmp.*) rm -rf \"$PWD\";; esac' EXIT\n" + blocks
      .join('\n')
      .replace(/^npm ci && npm run build.*$/m, '')
      .replace(/^PORT=7420$/m, `PORT=${port}`);
    const out = await new Promise<string>((resolve, reject) => {
      execFile('bash', ['-euo', 'pipefail', '-c', script], { cwd: REPO_ROOT, timeout: 60_000 }, (err, stdout, stderr) =>
        err ? reject(new Error(`${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`)) : resolve(stdout),
      );
    });
    expect(out).toContain(`listening on http://127.0.0.1:${port}`);
    expect(out).toMatch(/"namespace": "demo"/);
    expect(out).toMatch(/"size":13} 201\n/);
    expect(out).toContain('"error":"hash_mismatch"');
    expect(out).toContain('same bytes');
    expect(out).toMatch(/\{"status":"ok","seq":1,"id":"n_[^"]+","name":"hello.txt","rev":1\}/);
    expect(out).toContain('{"status":"ok","seq":1}');
    expect(out).toContain('{"status":"error","error":"name_taken","current_rev":null,"seq":null}');
    expect(out).toContain('{"status":"conflict","error":null,"current_rev":1,"seq":null}');
    expect(out).toContain('{"seqs":[1,2],"ops":["create","create"],"has_more":true,"head":3}');
    expect(out).toContain('"reason":"invalid"');
    expect(out).toContain('{"changes":true}');
    expect(out).toContain('event: advanced');
    expect(out).toContain('hello, syncd\nsyncd\n');
    expect(out).toMatch(/[0-9a-f]{64} 13\nhello, syncd\n[0-9a-f]{64} -1\n/);
    // the gRPC section: buf curl over h2c, the error detail, the stream's first message, Connect with curl
    expect(out).toContain('{"namespace":"demo","head":"4","floor":"1"}');
    expect(out).toMatch(/\{"names":\["[^"]+","[^"]+","[^"]+"\],"seq":"4","has_more":false\}/);
    expect(out).toContain('{"ops":[{"seq":"4","op":"create","name":"notes"}],"has_more":false,"head":"4"}');
    expect(out).toContain('{"code":"failed_precondition","message":"reset (invalid): cursor is malformed or was not issued by this server"}');
    expect(out).toContain('{"head":"4","heartbeat":false}');
    expect(out).toContain('{"namespace":"demo","head":"4","protocol":1}');
    expect(out).toContain('{"names":[]}');
    expect(out).toContain('[{"path":"Documents","kind":"dir","rev":3,"device_label":"laptop"}]');
    expect(out).toContain('[{"rev":3,"op":"delete","name":"Hello.txt"},{"rev":2,"op":"move","name":"Hello.txt"},{"rev":1,"op":"create","name":"hello.txt"}]');
    expect(out).toContain('{"ok":3,"conflicts":0,"errors":0,"path":"Documents"}');
    expect(out).toContain('["Documents","Hello.txt","notes"]');
    expect(out).toContain('[{"op":"create","path":"Documents/notes"},{"op":"create","path":"Documents/Hello.txt"}]');
    expect(out).toContain('[{"action":"delete","path":"Documents"}]');
    expect(out).toMatch(/\{"head":6,"floor":1,"retention":\{[^}]*\},"devices":\[\{"label":"laptop","cursor_seq":\d+,"lag":\d+\}\]\}/);
  });
});
