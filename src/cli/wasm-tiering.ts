// When V8 recompiles hot WebAssembly, for a process that does its work and
// exits (`syncd sync`, `init`, `status`, …).
//
// undici parses HTTP with llhttp compiled to WebAssembly. V8 runs it first
// on its baseline compiler (Liftoff); once a function has spent its tiering
// budget (by default about 1.8 M bytes of code executed) V8 recompiles it
// with TurboFan on a background thread. llhttp's parser is one very large
// function: that job takes ~0.5 s of CPU and ~50 MB, and a process cannot
// exit before it ends. A no-op `syncd sync` (three requests) finished its
// work in ~0.35 s and then waited ~0.2 s for a compile it would never use.
//
// A budget ~55× larger keeps the parser on Liftoff for the requests of a
// short command (parsing headers is a tiny share of a sync) and changes
// nothing for the content chunker's gear loop, which spends even this
// budget within its first few MB and runs at its full speed after
// (bench `chunking`). A long-running agent tiers up as before, later.

import { setFlagsFromString } from 'node:v8';

/** V8's `--wasm-tiering-budget` for syncd processes (V8's default: 1,800,000) */
export const WASM_TIERING_BUDGET = 100_000_000;

/** Sets the budget; call before anything compiles WebAssembly (main does, first). */
export function setWasmTiering(): void {
  setFlagsFromString(`--wasm-tiering-budget=${WASM_TIERING_BUDGET}`);
}
