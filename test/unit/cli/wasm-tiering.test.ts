// main() raises V8's WebAssembly tiering budget before anything else runs:
// without it, a one-shot command waits at exit for V8 to finish recompiling
// undici's HTTP parser on a background thread (src/cli/wasm-tiering.ts; the
// time it saves is measured by the bench's noop_restart, not here).

import { afterEach, expect, it, vi } from 'vitest';

// what happened, in order: V8 flags set and lines printed
const events: string[] = [];
vi.mock('node:v8', async (importOriginal) => ({
  ...(await importOriginal<typeof import('node:v8')>()),
  setFlagsFromString: (f: string) => void events.push(`flag ${f}`),
}));

const { main } = await import('../../../src/cli/main.js');
const { WASM_TIERING_BUDGET } = await import('../../../src/cli/wasm-tiering.js');

afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

it('sets --wasm-tiering-budget before the command is parsed', async () => {
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (events.push(`out ${String(s).trim()}`), true));
  const before = events.length;
  await main(['node', 'syncd', '--version']);
  const seen = events.slice(before);
  expect(seen.filter((e) => e.startsWith('flag '))).toEqual([`flag --wasm-tiering-budget=${WASM_TIERING_BUDGET}`]);
  expect(WASM_TIERING_BUDGET).toBeGreaterThan(1_800_000 * 10);
  // the command ran, after the flag was set
  const printed = seen.findIndex((e) => /^out \d+\.\d+\.\d+/.test(e));
  expect(printed).toBeGreaterThan(seen.indexOf(`flag --wasm-tiering-budget=${WASM_TIERING_BUDGET}`));
});
