// The .proto contract stays lint-clean, never breaks the committed baseline
// (proto/baseline.binpb, rebuilt with `npx buf build -o proto/baseline.binpb`
// only when a breaking change is deliberate), and src/gen is what
// `npx buf generate` makes from it today.

import { execFile } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../..');
const BUF = join(ROOT, 'node_modules/.bin/buf');
const scratch = mkdtempSync(join(tmpdir(), 'syncd-proto-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function buf(args: string[], cwd = ROOT): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(BUF, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }),
    );
  });
}

function files(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.set(relative(dir, p), readFileSync(p, 'utf8'));
    }
  };
  walk(dir);
  return out;
}

describe('proto/ contract', () => {
  it('buf lint is clean', async () => {
    const r = await buf(['lint']);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('buf breaking finds nothing against the committed baseline', async () => {
    const r = await buf(['breaking', '--against', 'proto/baseline.binpb']);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it.each([
    { description: 'a removed field', edit: (s: string) => s.replace(/\n\s*bool exec = 9;/, '') },
    { description: 'a renumbered field', edit: (s: string) => s.replace('string name = 3;', 'string name = 30;') },
    { description: 'a changed type', edit: (s: string) => s.replace('int64 rev = 5;', 'int32 rev = 5;') },
  ])('buf breaking rejects $description', async ({ edit }) => {
    const copy = join(scratch, `breaking-${Math.random().toString(36).slice(2)}`);
    cpSync(join(ROOT, 'proto'), join(copy, 'proto'), { recursive: true });
    cpSync(join(ROOT, 'buf.yaml'), join(copy, 'buf.yaml'));
    const types = join(copy, 'proto/syncd/v1/types.proto');
    const before = readFileSync(types, 'utf8');
    const after = edit(before);
    expect(after).not.toBe(before);
    writeFileSync(types, after);
    const r = await buf(['breaking', '--against', join(ROOT, 'proto/baseline.binpb')], copy);
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Node/);
  });

  it('src/gen is what buf generate makes from proto/ now (run `npx buf generate` after editing proto/)', async () => {
    const out = join(scratch, 'gen');
    const r = await buf(['generate', '-o', out]);
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
    const fresh = files(join(out, 'src/gen'));
    const committed = files(join(ROOT, 'src/gen'));
    expect([...committed.keys()].sort()).toEqual([...fresh.keys()].sort());
    for (const [name, text] of fresh) expect(committed.get(name), name).toBe(text);
  });
});
