// SPDX-License-Identifier: MIT
// WebGPU's fused `matmulElementwise`: the matmul kernel the backend's own `matmul` would run
// (same variant, same accumulation), with the lazy layer's elementwise program evaluated at
// each finished output instead of storing the product (bias, activation, residual add...), so
// the product never makes a round trip through memory unless the program outputs it.
// Invariants:
// - the product is the value `matmul` stores (same variant from the same heuristic, same
//   kernel text up to the epilogue), and every expr is fused-program.ts's `exprWgsl`, so each
//   output equals matmul-then-`elementwise` bit for bit on this backend;
// - the program's other inputs are read at the output's coordinates (batch, row, col) through
//   their own offsets and strides (broadcast = stride 0), from metadata words after the matmul's;
//   constants follow them (never inlined), so the source depends only on the structure;
// - anything outside that shape of problem (reductions, no product slot or more than one, a
//   program shape other than the product's, batch dims that do not merge into one stride, too
//   many bindings or metadata words, an empty product, an op without a WGSL form) is declined
//   with null: the lazy layer then runs `matmul` and `elementwise`.
import { coalesceDims, programId, type DataId, type DType, type ElementwiseProgram, type StridedView } from '@heed/core';
import type { OpKit } from './fused-ops.js';
import { constantWord, exprWgsl } from './fused-program.js';
import { MATMUL_WORDS, matmulGrids, matmulKernel, matmulWords, type MatmulVariant } from './matmul.js';
import { META_WORDS } from './runtime.js';
import { MATH_WGSL, WGSL_TYPE } from './wgsl.js';

/** What the fused kernel needs from the backend: the kit plus its matmul heuristic. */
export interface MatmulProgramKit extends OpKit {
  matmulVariant(B: number, M: number, N: number, K: number): MatmulVariant;
}

/** The operands as [B, M, K] x [B, K, N] with the program inputs' [B, M, N] strides, or null when the batch dims do not merge. */
function flatten(a: StridedView, b: StridedView, inputs: readonly StridedView[]): { B: number; a: StridedView; b: StridedView; inputs: StridedView[] } | null {
  const r = a.shape.length;
  if (r < 2 || b.shape.length !== r) return null;
  const batch = a.shape.slice(0, r - 2);
  const batchStrides = [a, b, ...inputs].map((v) => v.strides.slice(0, r - 2));
  const merged = coalesceDims(batch, batchStrides);
  if (merged.shape.length > 1) return null;
  const B = merged.shape[0] ?? 1;
  const one = (v: StridedView, k: number): StridedView => ({
    ...v, shape: [B, ...v.shape.slice(r - 2)], strides: [merged.strides[k][0] ?? 0, ...v.strides.slice(r - 2)],
  });
  return { B, a: one(a, 0), b: one(b, 1), inputs: inputs.map((v, j) => one(v, j + 2)) };
}

/**
 * The WGSL of the fused kernel: `variant`'s matmul whose epilogue evaluates `program` with
 * input `slot` = the accumulator; `dtypes[j]` is input j's dtype (ignored at `slot`). Null when
 * an op has no WGSL form.
 *
 * @example
 * ```ts
 * const code = matmulProgramKernel('blocked', program, 1, ['float32', 'float32']);
 * ```
 */
export function matmulProgramKernel(variant: MatmulVariant, program: ElementwiseProgram, slot: number, dtypes: readonly DType[]): string | null {
  const { exprs, outputs } = program;
  const others = dtypes.map((_, j) => j).filter((j) => j !== slot);
  // The epilogue's metadata words (input offsets and strides, then constants) are copied once
  // into the private array `em`: read at constant indices there, they cost no gather per output.
  let word = 4 * others.length;
  const decls: string[] = [];
  const lines: string[] = [];
  others.forEach((j, n) => {
    const w = 4 * n;
    lines.push(`let off${j} = em[${w}] + bb * em[${w + 1}] + rr * em[${w + 2}] + cc * em[${w + 3}];`);
  });
  for (let k = 0; k < exprs.length; k++) {
    const e = exprs[k];
    const v = e.op === 'input' && e.input === slot ? 'acc' : exprWgsl(exprs, k, () => word++, decls, 'em');
    if (v === null) return null;
    lines.push(`let v${k}: ${WGSL_TYPE[e.dtype]} = ${v};`);
  }
  outputs.forEach((o, j) => lines.push(`out${j}[i] = v${o};`));
  const bind = ['@group(0) @binding(0) var<storage, read> md: array<u32>;'];
  outputs.forEach((o, j) => bind.push(`@group(0) @binding(${1 + j}) var<storage, read_write> out${j}: array<${WGSL_TYPE[exprs[o].dtype]}>;`));
  bind.push(`@group(0) @binding(${1 + outputs.length}) var<storage, read> A: array<f32>;`, `@group(0) @binding(${2 + outputs.length}) var<storage, read> B: array<f32>;`);
  others.forEach((j, n) => bind.push(`@group(0) @binding(${3 + outputs.length + n}) var<storage, read> in${j}: array<${WGSL_TYPE[dtypes[j]]}>;`));
  const words = Math.max(1, word);
  const head = `${MATH_WGSL}\n${decls.join('\n')}\n${bind.join('\n')}
var<private> em: array<u32, ${words}>;
fn epilogue(acc: f32, i: u32, bb: u32, rr: u32, cc: u32) {\n  ${lines.join('\n  ')}\n}`;
  const init = Array.from({ length: word }, (_, w) => `em[${w}] = md[${MATMUL_WORDS + w}];`).join(' ');
  return matmulKernel(variant, { head, init, store: (acc, index, bIdx, row, col) => `epilogue(${acc}, ${index}, ${bIdx}, ${row}, ${col});` });
}

/** Generated sources by structure (variant, the program's structure id from core, slot, dtypes). */
const sources = new Map<string, string | null>();

function cachedKernel(variant: MatmulVariant, program: ElementwiseProgram, slot: number, dtypes: readonly DType[]): string | null {
  const key = `${variant}|${programId(program)}|${slot}|${dtypes.join(',')}`;
  if (!sources.has(key)) sources.set(key, matmulProgramKernel(variant, program, slot, dtypes));
  return sources.get(key) ?? null;
}

/**
 * Runs `a @ b` with `program` as its epilogue (core's `matmulElementwise` contract): new
 * contiguous buffers, one per `program.outputs` entry, or null to decline.
 *
 * @example
 * ```ts
 * // relu(a @ b + bias): inputs [null, bias] (slot 0 is the product)
 * const [out] = runMatmulProgram(backend, a, b, program, [null, bias]) ?? fallback();
 * ```
 */
export function runMatmulProgram(kit: MatmulProgramKit, a: StridedView, b: StridedView, program: ElementwiseProgram, inputs: readonly (StridedView | null)[]): DataId[] | null {
  const op = 'matmulElementwise';
  if ((program.reduceAxes ?? 0) > 0 || program.exprs.some((e) => e.op === 'reduce' || e.op === 'rowInput')) return null;
  const slots = inputs.flatMap((v, j) => (v === null ? [j] : []));
  if (slots.length !== 1 || a.dtype !== 'float32' || b.dtype !== 'float32') return null;
  const slot = slots[0];
  if (program.exprs.some((e) => e.op === 'input' && e.input === slot && e.dtype !== 'float32')) return null;
  const others = inputs.filter((v): v is StridedView => v !== null);
  const maxBindings = kit.runtime.device.limits.maxStorageBuffersPerShaderStage;
  if (program.outputs.length === 0 || 3 + others.length + program.outputs.length > maxBindings) return null;
  kit.views(op, a, b, ...others);
  const want = [...a.shape.slice(0, -1), b.shape[b.shape.length - 1]];
  if (program.shape.length !== want.length || program.shape.some((d, i) => d !== want[i])) return null;
  const flat = flatten(a, b, others);
  if (flat === null) return null;
  const { B } = flat;
  const [, M, K] = flat.a.shape;
  const N = flat.b.shape[2];
  if (B * M * N === 0 || K === 0) return null;
  const variant = kit.matmulVariant(B, M, N, K);
  const dtypes = inputs.map((v) => v?.dtype ?? 'float32');
  const code = cachedKernel(variant, program, slot, dtypes);
  if (code === null) return null;
  const constants = program.exprs.flatMap((e) => (e.op === 'const' ? [constantWord(e.value, e.dtype)] : []));
  const words = (matmulWords(flat.a, flat.b) as { words: number[] }).words; // the epilogue's words follow
  for (const v of flat.inputs) words.push(v.offset, ...v.strides);
  words.push(...constants);
  if (words.length > META_WORDS) return null;
  const outs = program.outputs.map((o) => kit.alloc(B * M * N, program.exprs[o].dtype, op));
  try {
    const buffers = [...outs.map((o) => o.buffer), kit.data(a.data, op).buffer, kit.data(b.data, op).buffer, ...others.map((v) => kit.data(v.data, op).buffer)];
    for (const [x, y, z, b0] of matmulGrids(variant, B, M, N, kit.runtime.limits.maxComputeWorkgroupsPerDimension)) {
      words[12] = b0;
      kit.runtime.dispatch(op, code, buffers, Uint32Array.from(words), [x, y, z], undefined, outs.length);
    }
  } catch (e) {
    for (const o of outs) kit.free(o);
    throw e;
  }
  return outs;
}
