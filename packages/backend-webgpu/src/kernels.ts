// SPDX-License-Identifier: MIT
// WGSL generators for the memory-bound primitives: elementwise maps, strided copies, fills,
// reductions, gather/indexSelect, deterministic scatterAdd and random draws. Each generator
// is specialised by rank (after coalescing), operand contiguity and dtypes; the runtime caches
// the compiled pipelines by source text.
// Bindings: md (metadata slot) at 0, the output at 1, inputs from 2. Map kernels (elementwise,
// copy, fill, gather, random) give each invocation 4 elements; reductions and scatterAdd one
// output per invocation. Large sizes use 2-D grids (workgroup w = wg.x + wg.y * nwg.x).
// Index kernels (gather/indexSelect, scatterAdd) report out-of-range indices through the
// error buffer of index-errors.ts and still clamp (or skip) the memory access they guard.
import type { DType, ReduceOp } from '@heed/core';
import { INDEX_ERROR_WGSL } from './index-errors.js';
import { offsetsWgsl } from './layout.js';
import { MATH_WGSL, RANDOM_WGSL, WGSL_TYPE } from './wgsl.js';

/**
 * Invocations per workgroup of the 1-D kernels (within every device's minimum limits).
 *
 * @example
 * ```ts
 * const groups = Math.ceil(outputs / WG); // one invocation per output (reductions)
 * ```
 */
export const WG = 64;

/**
 * Elements per workgroup of the map kernels: each invocation handles 4 elements, spaced WG
 * apart (neighbouring invocations touch neighbouring elements). This amortises per-invocation
 * cost, which dominates on CPU-emulated devices, and keeps loads coalesced on GPUs.
 *
 * @example
 * ```ts
 * const groups = Math.ceil(n / ELEMS_PER_GROUP);
 * ```
 */
export const ELEMS_PER_GROUP = 4 * WG;

const MAIN = `@compute @workgroup_size(${WG}) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>)`;
const INDEX = `let i = gid.x + gid.y * nwg.x * ${WG}u;\n  if (i >= md[0]) { return; }`;

/**
 * Main of a map kernel: calls `elem(i)` for the 4 elements of this invocation (clamped to n - 1).
 *
 * @example
 * ```ts
 * const code = `fn elem(i: u32) { ... }\n${mapMain()}`;
 * ```
 */
export function mapMain(): string {
  const calls = [0, 1, 2, 3].map((j) => `elem(min(t + ${j * WG}u, n - 1u));`).join(' ');
  return `@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let n = md[0];
  let t = (wg.x + wg.y * nwg.x) * ${ELEMS_PER_GROUP}u + lid;
  if (t >= n) { return; }
  ${calls}
}\n`;
}

function bindings(out: DType, inputs: readonly DType[]): string {
  const lines = ['@group(0) @binding(0) var<storage, read> md: array<u32>;', `@group(0) @binding(1) var<storage, read_write> outBuf: array<${WGSL_TYPE[out]}>;`];
  inputs.forEach((d, k) => lines.push(`@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<${WGSL_TYPE[d]}>;`));
  return lines.join('\n');
}

/**
 * Elementwise map: `outBuf[i] = body`, where `body` may use `v0, v1, ...` (operand values as
 * stored, read through their strided offsets) and functions declared in `extra`.
 *
 * @example
 * ```ts
 * elementwiseKernel('float32', ['float32', 'float32'], 'v0 + v1', 1, [true, true]);
 * ```
 */
export function elementwiseKernel(out: DType, inputs: readonly DType[], body: string, rank: number, contiguous: readonly boolean[], extra = ''): string {
  const loads = inputs.map((_, k) => `let v${k} = in${k}[off${k}];`).join(' ');
  return `${MATH_WGSL}\n${extra}\n${bindings(out, inputs)}
fn elem(i: u32) {\n  ${offsetsWgsl(rank, contiguous)}\n  ${loads}\n  outBuf[i] = ${body};\n}\n${mapMain()}`;
}

/**
 * Elementwise map on 4 elements at a time (see `vectorize`): operands are read as `vec4`s, or
 * as one broadcast element where `scalar[k]`; `body` is evaluated per component as in
 * {@link elementwiseKernel}. Indices are in units of 4 elements.
 *
 * @example
 * ```ts
 * elementwiseVec4Kernel('float32', ['float32', 'float32'], 'v0 * v1', 1, [true, false], [false, true]);
 * ```
 */
export function elementwiseVec4Kernel(out: DType, inputs: readonly DType[], body: string, rank: number, contiguous: readonly boolean[], scalar: readonly boolean[], extra = ''): string {
  const T = (d: DType) => WGSL_TYPE[d];
  const lines = ['@group(0) @binding(0) var<storage, read> md: array<u32>;', `@group(0) @binding(1) var<storage, read_write> outBuf: array<vec4<${T(out)}>>;`];
  inputs.forEach((d, k) => lines.push(`@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<${scalar[k] ? T(d) : `vec4<${T(d)}>`}>;`));
  const params = inputs.map((d, k) => `v${k}: ${T(d)}`).join(', ');
  const loads = inputs.map((_, k) => `let w${k} = in${k}[off${k}];`).join(' ');
  const call = (c: string) => `f(${inputs.map((_, k) => (scalar[k] ? `w${k}` : `w${k}.${c}`)).join(', ')})`;
  const offsets = offsetsWgsl(rank, contiguous, 0, scalar);
  return `${MATH_WGSL}\n${extra}\n${lines.join('\n')}
fn f(${params}) -> ${T(out)} { return ${body}; }
fn elem(i: u32) {\n  ${offsets}\n  ${loads}\n  outBuf[i] = vec4<${T(out)}>(${['x', 'y', 'z', 'w'].map(call).join(', ')});\n}\n${mapMain()}`;
}

/**
 * Copies an input view into a strided region of the output (operand 1 describes the region).
 *
 * @example
 * ```ts
 * copyIntoKernel('int32', 2, [false, false]);
 * ```
 */
export function copyIntoKernel(dtype: DType, rank: number, contiguous: readonly boolean[]): string {
  return `${bindings(dtype, [dtype])}\nfn elem(i: u32) {\n  ${offsetsWgsl(rank, contiguous)}\n  outBuf[off1] = in0[off0];\n}\n${mapMain()}`;
}

/**
 * Fill: md = [n, value bits].
 *
 * @example
 * ```ts
 * fillKernel('float32');
 * ```
 */
export function fillKernel(dtype: DType): string {
  return `${bindings(dtype, [])}\nfn elem(i: u32) { outBuf[i] = bitcast<${WGSL_TYPE[dtype]}>(md[1]); }\n${mapMain()}`;
}

interface Acc { readonly init: string; readonly step: string; readonly merge: string; readonly result: string }

function accumulator(op: ReduceOp, f: boolean): Acc {
  const T = f ? 'f32' : 'i32';
  const nanStep = (cmp: string) => f ? `if (isNan(x) || isNan(acc)) { acc = nanF(); } else { acc = ${cmp}(acc, x); }` : `acc = ${cmp}(acc, x);`;
  const lo = f ? '-infF()' : 'i32(-2147483647 - 1)';
  const hi = f ? 'infF()' : '2147483647';
  // arg ops: (best, idx); NaN counts as the extreme; ties and later NaNs keep the lower index.
  const better = (gt: string) => f
    ? `(isNan(x) && !isNan(best)) || (!isNan(best) && x ${gt} best) || (((x == best) || (isNan(x) && isNan(best))) && r < idx)`
    : `x ${gt} best || (x == best && r < idx)`;
  switch (op) {
    case 'sum': return { init: `var acc: ${T} = ${f ? '0.0' : '0'};`, step: 'acc = acc + x;', merge: 'acc = acc + x;', result: 'acc' };
    case 'prod': return { init: `var acc: ${T} = ${f ? '1.0' : '1'};`, step: 'acc = acc * x;', merge: 'acc = acc * x;', result: 'acc' };
    case 'max': return { init: `var acc: ${T} = ${lo};`, step: nanStep('max'), merge: nanStep('max'), result: 'acc' };
    case 'min': return { init: `var acc: ${T} = ${hi};`, step: nanStep('min'), merge: nanStep('min'), result: 'acc' };
    case 'argmax':
    case 'argmin': {
      const cond = better(op === 'argmax' ? '>' : '<');
      return {
        init: `var best: ${T} = ${op === 'argmax' ? lo : hi}; var idx = 0xffffffffu;`,
        step: `if (idx == 0xffffffffu || ${cond}) { best = x; idx = r; }`,
        merge: `if (r != 0xffffffffu && (idx == 0xffffffffu || ${cond})) { best = x; idx = r; }`,
        result: 'i32(idx)',
      };
    }
  }
}

function reduceOut(op: ReduceOp, f: boolean, outDtype: DType, result: string): string {
  if (op === 'argmax' || op === 'argmin') return result;
  if (outDtype === 'bool') return `select(0u, 1u, ${result} != ${f ? '0.0' : '0'})`;
  const T = f ? 'f32' : 'i32';
  if (WGSL_TYPE[outDtype] === T) return result;
  return f ? `f2i(${result})` : `${WGSL_TYPE[outDtype]}(${result})`;
}

/**
 * Reduction with one invocation per output element. md: [nOut, rank, outShape, inOffset,
 * keptStrides] then at `3 + 2 * rank`: [redRank, redShape, redStrides]; the reduced dims are
 * walked by nested loops (generated for `redRank`), counting the linear index `r`.
 *
 * @example
 * ```ts
 * reduceKernel('sum', 'float32', 'float32', 1, [true], 1);
 * ```
 */
export function reduceKernel(op: ReduceOp, inDtype: DType, outDtype: DType, rank: number, contiguous: readonly boolean[], redRank: number): string {
  const f = inDtype === 'float32';
  const a = accumulator(op, f);
  const load = inDtype === 'bool' ? 'i32(in0[o])' : 'in0[o]';
  const tail = 3 + 2 * rank;
  let loop = `{ let o = o${redRank}; let x = ${load}; ${a.step} r = r + 1u; }`;
  for (let d = redRank - 1; d >= 0; d--) {
    loop = `var o${d + 1} = o${d};\n  for (var j${d} = 0u; j${d} < md[${tail + 1 + d}]; j${d} = j${d} + 1u) {\n    ${loop}\n    o${d + 1} = o${d + 1} + md[${tail + 1 + redRank + d}];\n  }`;
  }
  return `${MATH_WGSL}\n${bindings(outDtype, [inDtype])}\n${MAIN} {\n  ${INDEX}\n  ${offsetsWgsl(rank, contiguous)}
  let o0 = off0;
  var r = 0u;
  ${a.init}
  ${loop}
  outBuf[i] = ${reduceOut(op, f, outDtype, a.result)};\n}\n`;
}

/**
 * Reduction with one workgroup of 64 invocations per output element (for few outputs over
 * many elements): each invocation strides over the (single, coalesced) reduced dim, then a
 * shared-memory tree combines the partial results. md as in {@link reduceKernel} with redRank 1.
 * Workgroup w handles output w = wg.x + wg.y * nwg.x.
 *
 * @example
 * ```ts
 * reduceWorkgroupKernel('max', 'float32', 'float32', 0, []);
 * ```
 */
export function reduceWorkgroupKernel(op: ReduceOp, inDtype: DType, outDtype: DType, rank: number, contiguous: readonly boolean[]): string {
  const f = inDtype === 'float32';
  const T = f ? 'f32' : 'i32';
  const a = accumulator(op, f);
  const arg = op === 'argmax' || op === 'argmin';
  const load = inDtype === 'bool' ? 'i32(in0[o])' : 'in0[o]';
  const tail = 3 + 2 * rank;
  const own = arg ? 'best' : 'acc';
  return `${MATH_WGSL}\n${bindings(outDtype, [inDtype])}
var<workgroup> part: array<${T}, 64>;
${arg ? 'var<workgroup> partIdx: array<u32, 64>;' : ''}
@compute @workgroup_size(64) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = wg.x + wg.y * nwg.x;
  let live = i < md[0];
  let iSafe = min(i, md[0] - 1u);
  ${offsetsWgsl(rank, contiguous).replace(/\bi\b/g, 'iSafe')}
  ${a.init}
  let count = md[${tail + 1}]; let stride = md[${tail + 2}];
  for (var r = lid; r < count; r = r + 64u) { let o = off0 + r * stride; let x = ${load}; ${a.step} }
  part[lid] = ${own};
  ${arg ? 'partIdx[lid] = idx;' : ''}
  workgroupBarrier();
  for (var s = 32u; s > 0u; s = s >> 1u) {
    if (lid < s) {
      let x = part[lid + s];
      ${arg ? 'let r = partIdx[lid + s];' : ''}
      ${a.merge}
      part[lid] = ${own};
      ${arg ? 'partIdx[lid] = idx;' : ''}
    }
    workgroupBarrier();
  }
  if (lid == 0u && live) { ${arg ? 'let idxOut = i32(partIdx[0]);' : `let acc = part[0];`} outBuf[i] = ${arg ? 'idxOut' : reduceOut(op, f, outDtype, 'acc')}; }
}\n`;
}

/**
 * gather / indexSelect over the output shape: operand 0 = x with the axis stride zeroed,
 * operand 1 = the index. md tail: [axisStride, axisSize]. An out-of-range index is reported
 * (value, output position) through the error buffer; the load itself is clamped into range.
 *
 * @example
 * ```ts
 * gatherKernel('float32', 2, [false, true]);
 * ```
 */
export function gatherKernel(dtype: DType, rank: number, contiguous: readonly boolean[]): string {
  const tail = 2 + rank + 2 * (rank + 1);
  return `${bindings(dtype, [dtype, 'int32'])}\n${INDEX_ERROR_WGSL}\nfn elem(i: u32) {\n  ${offsetsWgsl(rank, contiguous)}
  let raw = in1[off1];
  let size = i32(md[${tail + 1}]);
  if (raw < 0 || raw >= size) { reportIndex(raw, i, 0u); }
  let idx = clamp(raw, 0, max(size - 1, 0));
  outBuf[i] = in0[off0 + u32(idx) * md[${tail}]];\n}\n${mapMain()}`;
}

/**
 * scatterAdd, deterministic: each output element sums, in index order, the sources whose
 * index points at it (no atomics). Operands over the OUTPUT shape (axis stride zeroed):
 * 0 = index, 1 = src. md tail: [axis, indexAxisLen, idxAxisStride, srcAxisStride, indexShape].
 * The outputs at coordinate 0 of the axis also check their index column and report an
 * out-of-range value (output position, column j) through the error buffer; such a source is
 * added nowhere.
 *
 * @example
 * ```ts
 * scatterKernel('float32', 2);
 * ```
 */
export function scatterKernel(dtype: DType, rank: number): string {
  const T = dtype === 'float32' ? 'f32' : 'i32';
  const tail = 2 + rank + 2 * (rank + 1);
  const src = dtype === 'bool' ? 'i32(in1[o1 + j * md[' + (tail + 3) + ']])' : `in1[o1 + j * md[${tail + 3}]]`;
  const coords = Array.from({ length: rank }, (_, d) => rank - 1 - d).map((d) =>
    `{ let c = rem % md[${2 + d}]; rem = rem / md[${2 + d}]; if (${d}u == axis) { tgt = c; } else if (c >= md[${tail + 4 + d}]) { inside = false; } }`).join('\n  ');
  return `${bindings(dtype, ['int32', dtype])}\n${INDEX_ERROR_WGSL}\n${MAIN} {\n  ${INDEX}
  let axis = md[${tail}];
  let axisSize = i32(md[2u + axis]);
  var rem = i; var tgt = 0u; var inside = true;
  ${coords}
  var acc: ${T} = ${T}(0);
  if (inside) {
    ${offsetsWgsl(rank, [false, false]).replace('var rem = i;', 'rem = i;')}
    let o0 = off0; let o1 = off1;
    for (var j = 0u; j < md[${tail + 1}]; j = j + 1u) {
      let k = in0[o0 + j * md[${tail + 2}]];
      if (k == i32(tgt)) { acc = acc + ${src}; }
      if (tgt == 0u && (k < 0 || k >= axisSize)) { reportIndex(k, i, j); }
    }
  }
  outBuf[i] = ${dtype === 'bool' ? 'select(0u, 1u, acc != 0)' : 'acc'};\n}\n`;
}

/**
 * Random draws: md = [n, seed, offset]; element i uses counter offset + i (mod 2^32).
 *
 * @example
 * ```ts
 * randomKernel('uniform');
 * ```
 */
export function randomKernel(kind: 'uniform' | 'normal'): string {
  return `${MATH_WGSL}\n${RANDOM_WGSL}\n${bindings('float32', [])}
fn elem(i: u32) { outBuf[i] = ${kind === 'uniform' ? 'uniformAt' : 'normalAt'}(md[1], md[2] + i); }\n${mapMain()}`;
}
