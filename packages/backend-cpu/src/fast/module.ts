// SPDX-License-Identifier: MIT
// Loading the WASM kernels: decode the embedded builds, pick relaxed SIMD where the engine
// validates it (else plain SIMD; on Node 20, whose V8 has relaxed SIMD behind a flag, the flag
// is switched on first unless the caller asked for plain SIMD), and compile synchronously
// (the module is ~16 KB, which `new WebAssembly.Module` accepts on every engine's main thread). The builds import a
// *shared* memory; for a single-threaded fallback on a plain memory, the import's "shared"
// flag is cleared in a copy of the binary (atomics on unshared memory are valid WASM).
import { KERNELS_RELAXED_BASE64, KERNELS_SIMD_BASE64 } from './generated/kernels-wasm.js';

/**
 * The functions and constants the kernel module exports (see asm/index.ts).
 *
 * @example
 * ```ts
 * const { runLocal } = instance.exports as unknown as KernelExports;
 * ```
 */
export interface KernelExports {
  readonly execBlock: (kind: number, args: number, block: number, tid: number) => void;
  readonly runLocal: (ctrl: number, kind: number, nblocks: number) => void;
  readonly runShared: (ctrl: number, tid: number) => number;
  readonly workerLoop: (ctrl: number, tid: number, spin: number) => void;
  readonly zeroFill: (ptr: number, count: number) => void;
  readonly GEMM_SCRATCH_BYTES: WebAssembly.Global;
  readonly MR: WebAssembly.Global;
  readonly NR: WebAssembly.Global;
  readonly NB_MAX: WebAssembly.Global;
  /** f32x4 exp/tanh/sigmoid (v128 -> v128: callable from other wasm modules only, see codegen-wasm.ts). */
  readonly vexp4: WebAssembly.ExportValue;
  readonly vtanh4: WebAssembly.ExportValue;
  readonly vsigmoid4: WebAssembly.ExportValue;
}

/**
 * Which build runs: `relaxed` uses f32x4.relaxed_madd (fused multiply-add), `simd` mul + add.
 *
 * @example
 * ```ts
 * const flavor: SimdFlavor = 'simd';
 * ```
 */
export type SimdFlavor = 'relaxed' | 'simd';

/**
 * Decodes base64 (atob exists in browsers and in Node >= 16).
 *
 * @example
 * ```ts
 * decodeBase64('AGFzbQ=='); // Uint8Array [0, 97, 115, 109]
 * ```
 */
export function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const bin = atob(text);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function readLeb(bytes: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let shift = 0;
  let b: number;
  do {
    b = bytes[pos++];
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80);
  return [value, pos];
}

/**
 * A copy of a module binary whose imported memory is declared unshared (limits flag bit 1
 * cleared), for instantiation on a plain WebAssembly.Memory.
 *
 * @example
 * ```ts
 * const plain = unshareMemoryImport(bytes);
 * ```
 */
export function unshareMemoryImport(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  const out = bytes.slice();
  let pos = 8;
  while (pos < out.length) {
    const id = out[pos++];
    let size: number;
    [size, pos] = readLeb(out, pos);
    if (id === 2) {
      let p = pos;
      let count: number;
      [count, p] = readLeb(out, p);
      for (let i = 0; i < count; i++) {
        let len: number;
        [len, p] = readLeb(out, p); // module name
        p += len;
        [len, p] = readLeb(out, p); // field name
        p += len;
        const kind = out[p++];
        if (kind === 0) [, p] = readLeb(out, p); // function: type index
        else if (kind === 1) { p++; const flags = out[p++]; [, p] = readLeb(out, p); if (flags & 1) [, p] = readLeb(out, p); }
        else if (kind === 2) {
          const flags = out[p];
          out[p++] = flags & ~2;
          [, p] = readLeb(out, p);
          if (flags & 1) [, p] = readLeb(out, p);
        } else if (kind === 3) p += 2; // global: value type, mutability
        else throw new Error(`unknown import kind ${kind}`);
      }
      return out;
    }
    pos += size;
  }
  return out;
}

/** The Node.js process object, where there is one. */
interface NodeProcessLike {
  readonly versions?: { readonly node?: string };
  getBuiltinModule?(id: string): unknown;
}

/**
 * Turns on V8's relaxed-SIMD flag in Node 20, where the feature (standard WebAssembly, on by
 * default in Node >= 22 and current browsers) is complete but still behind
 * `--experimental-wasm-relaxed-simd`. Only WebAssembly validation of the relaxed opcodes
 * changes; the flag is process-wide and set once. Returns whether it was set (false outside
 * Node 20, or without `process.getBuiltinModule`, Node >= 20.16). Opt out with
 * `simd: 'simd'` or HEED_CPU_SIMD=simd.
 *
 * @example
 * ```ts
 * if (enableNodeRelaxedSimd()) console.log('relaxed SIMD enabled through node:v8');
 * ```
 */
export function enableNodeRelaxedSimd(): boolean {
  const proc = (globalThis as { process?: NodeProcessLike }).process;
  if (proc?.versions?.node?.split('.')[0] !== '20' || typeof proc.getBuiltinModule !== 'function') return false;
  const v8 = proc.getBuiltinModule('node:v8') as { setFlagsFromString?(flags: string): void } | undefined;
  if (typeof v8?.setFlagsFromString !== 'function') return false;
  v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
  return true;
}

/**
 * The compiled kernel module for a shared (threads) or plain memory, preferring relaxed SIMD
 * (see {@link enableNodeRelaxedSimd}) unless `prefer` is 'simd'. Throws when the engine lacks
 * WASM SIMD.
 *
 * @example
 * ```ts
 * const { module, flavor } = compileKernels('auto', true);
 * ```
 */
export function compileKernels(prefer: 'auto' | SimdFlavor, shared: boolean): { module: WebAssembly.Module; flavor: SimdFlavor } {
  const order: SimdFlavor[] = prefer === 'simd' ? ['simd'] : ['relaxed', 'simd'];
  for (const flavor of order) {
    let bytes = decodeBase64(flavor === 'relaxed' ? KERNELS_RELAXED_BASE64 : KERNELS_SIMD_BASE64);
    if (!shared) bytes = unshareMemoryImport(bytes);
    if (!WebAssembly.validate(bytes) && !(flavor === 'relaxed' && enableNodeRelaxedSimd() && WebAssembly.validate(bytes))) continue;
    return { module: new WebAssembly.Module(bytes), flavor };
  }
  throw new Error('this JavaScript engine does not support WebAssembly SIMD');
}

/**
 * Instantiates the kernel module on `memory` (synchronously).
 *
 * @example
 * ```ts
 * const kernels = instantiateKernels(module, heap.memory);
 * ```
 */
export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}
