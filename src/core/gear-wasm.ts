// The chunker's inner loop (chunker.ts `scan`: roll the gear hash over a
// range of bytes until `(h & mask) === 0`) as a small WebAssembly function,
// unrolled four times. Same arithmetic, same cut points (test/unit/core/
// chunker.test.ts compares them with the JavaScript loop on random data);
// about 2× the JavaScript loop's speed on V8 (Node 20), because a memory
// access in WebAssembly needs no bounds check of its own while a typed-array
// access in JavaScript does, twice a byte. Pure: the module is built from the
// bytes below and compiled synchronously (~400 bytes; no I/O).
//
// Memory: the gear table (256 int32, little-endian) at 0, the bytes being
// scanned at 1024, copied in windows of WINDOW bytes.
//
// The function, in the text format:
//   (func $scan (param $j i32) (param $stop i32) (param $mask i32) (param $h i32) (result i32)
//     block $out
//       block $tail
//         loop $four                         ;; while j + 4 <= stop
//           (br_if $tail (i32.gt_u (i32.add (local.get $j) (i32.const 4)) (local.get $stop)))
//           STEP 0  STEP 1  STEP 2  STEP 3
//           (local.set $j (i32.add (local.get $j) (i32.const 4)))
//           br $four
//         end
//       end
//       loop $one                            ;; the last 0-3 bytes
//         (br_if $out (i32.ge_u (local.get $j) (local.get $stop)))
//         STEP 0
//         (local.set $j (i32.add (local.get $j) (i32.const 1)))
//         br $one
//       end
//     end
//     (global.set $hash (local.get $h))
//     (i32.const -1))
// where STEP k is
//   (local.set $h (i32.add (i32.shl (local.get $h) (i32.const 1))
//                          (i32.load (i32.shl (i32.load8_u offset=1024+k (local.get $j)) (i32.const 2)))))
//   (if (i32.eqz (i32.and (local.get $h) (local.get $mask)))
//     (then (global.set $hash (local.get $h)) (return (i32.add (local.get $j) (i32.const k+1)))))

const DATA_AT = 1024;
/** bytes copied into the module's memory per call (a cut found early wastes at most this much copying) */
const WINDOW = 256 * 1024;
const PAGES = Math.ceil((DATA_AT + WINDOW) / 65_536);

function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n) b |= 0x80;
    out.push(b);
  } while (n);
  return out;
}

const section = (id: number, bytes: number[]): number[] => [id, ...leb(bytes.length), ...bytes];
const name = (s: string): number[] => [s.length, ...[...s].map((c) => c.charCodeAt(0))];

// opcodes
const [BLOCK, LOOP, IF, END, BR, BR_IF, RETURN] = [0x02, 0x03, 0x04, 0x0b, 0x0c, 0x0d, 0x0f];
const [GET, SET, GSET, CONST, LOAD, LOAD8U] = [0x20, 0x21, 0x24, 0x41, 0x28, 0x2d];
const [EQZ, GT_U, GE_U, ADD, AND, SHL] = [0x45, 0x4b, 0x4f, 0x6a, 0x71, 0x74];
const VOID = 0x40;
const [J, STOP, MASK, H] = [0, 1, 2, 3];

const step = (k: number): number[] => [
  GET, H, CONST, 1, SHL,
  GET, J, LOAD8U, 0, ...leb(DATA_AT + k), CONST, 2, SHL, LOAD, 2, 0,
  ADD, SET, H,
  GET, H, GET, MASK, AND, EQZ, IF, VOID,
  GET, H, GSET, 0, GET, J, CONST, k + 1, ADD, RETURN,
  END,
];

const body = [
  0, // no locals beyond the parameters
  BLOCK, VOID, BLOCK, VOID, LOOP, VOID,
  GET, J, CONST, 4, ADD, GET, STOP, GT_U, BR_IF, 1,
  ...step(0), ...step(1), ...step(2), ...step(3),
  GET, J, CONST, 4, ADD, SET, J, BR, 0,
  END, END,
  LOOP, VOID,
  GET, J, GET, STOP, GE_U, BR_IF, 1,
  ...step(0),
  GET, J, CONST, 1, ADD, SET, J, BR, 0,
  END, END,
  GET, H, GSET, 0, CONST, 0x7f, END,
];

const I32 = 0x7f;
const MODULE = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  ...section(1, [1, 0x60, 4, I32, I32, I32, I32, 1, I32]), // type: (i32 i32 i32 i32) -> i32
  ...section(3, [1, 0]), // one function of that type
  ...section(5, [1, 0, ...leb(PAGES)]), // memory
  ...section(6, [1, I32, 1, CONST, 0, END]), // global $hash (mutable i32) = 0
  ...section(7, [3, ...name('scan'), 0, 0, ...name('mem'), 2, 0, ...name('hash'), 3, 0]),
  ...section(10, [1, ...leb(body.length), ...body]),
]);

/** What this module uses of the WebAssembly global (the project's TypeScript libs do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}

/** The gear scan on WebAssembly, or null where WebAssembly cannot run. */
export class WasmGear {
  /** the gear hash after the last `scan` */
  hash = 0;
  readonly #scan: (j: number, stop: number, mask: number, h: number) => number;
  readonly #heap: Uint8Array;
  readonly #hash: { value: number };

  private constructor(wasm: WasmApi, gear: Int32Array) {
    const { exports } = new wasm.Instance(new wasm.Module(MODULE));
    const mem = exports.mem as { buffer: ArrayBuffer };
    // the table as little-endian int32 whatever the host's byte order
    const view = new DataView(mem.buffer);
    for (let i = 0; i < 256; i++) view.setInt32(i * 4, gear[i]!, true);
    this.#heap = new Uint8Array(mem.buffer, DATA_AT, WINDOW);
    this.#scan = exports.scan as (j: number, stop: number, mask: number, h: number) => number;
    this.#hash = exports.hash as { value: number };
  }

  static create(gear: Int32Array): WasmGear | null {
    const wasm = (globalThis as { WebAssembly?: WasmApi }).WebAssembly;
    if (!wasm) return null;
    try {
      return new WasmGear(wasm, gear);
    } catch {
      return null;
    }
  }

  /** As chunker.ts `scan`: the end of the first byte in a[from, stop) where the hash meets the mask, or -1. */
  scan(a: Uint8Array, from: number, stop: number, mask: number, h: number): number {
    for (let s = from; s < stop; ) {
      const e = Math.min(stop, s + WINDOW);
      this.#heap.set(a.subarray(s, e), 0);
      const cut = this.#scan(0, e - s, mask, h);
      h = this.#hash.value;
      if (cut >= 0) {
        this.hash = h;
        return s + cut;
      }
      s = e;
    }
    this.hash = h;
    return -1;
  }
}
