// SPDX-License-Identifier: MIT
// WGSL source generators for every primitive: one template per family, specialised by op and
// dtypes and cached by source text in the runtime. Inputs are read through strided offsets
// (`offsetOf` in the prelude), so transposed, sliced and broadcast views need no copies.
import type { DType, ReduceOp } from '@heed/core';
import { PRELUDE, RANDOM_WGSL, WGSL_TYPE } from './wgsl.js';

const MAIN = '@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>)';
const INDEX = 'let i = gid.x + gid.y * nwg.x * 64u;';

/** Bindings: md at 0, output at 1, inputs from 2. */
function bindings(out: DType, inputs: readonly DType[]): string {
  const lines = [`@group(0) @binding(1) var<storage, read_write> outBuf: array<${WGSL_TYPE[out]}>;`];
  inputs.forEach((d, k) => lines.push(`@group(0) @binding(${k + 2}) var<storage, read> in${k}: array<${WGSL_TYPE[d]}>;`));
  return lines.join('\n');
}

/**
 * An elementwise kernel: `outBuf[i] = body` where `body` may use `v0, v1, ...` (operand values
 * loaded through their strided offsets, as stored) and `off0, off1, ...`.
 */
export function elementwiseKernel(out: DType, inputs: readonly DType[], body: string, extra = ''): string {
  const loads = inputs.map((_, k) => `let off${k} = offsetOf(i, ${k}u); let v${k} = in${k}[off${k}];`).join('\n  ');
  return `${PRELUDE}\n${extra}\n${bindings(out, inputs)}\n${MAIN} {\n  ${INDEX}\n  if (i >= md[0]) { return; }\n  ${loads}\n  outBuf[i] = ${body};\n}\n`;
}

/** Copies an input view into a strided region of the output (operand 1 describes the region). */
export function copyIntoKernel(dtype: DType): string {
  return `${PRELUDE}\n${bindings(dtype, [dtype])}\n${MAIN} {\n  ${INDEX}\n  if (i >= md[0]) { return; }\n  outBuf[offsetOf(i, 1u)] = in0[offsetOf(i, 0u)];\n}\n`;
}

/**
 * Reduction: one thread per output element. md: [nOut, rankOut, outShape, inOffset,
 * inStridesKept] then at `tail`: [rankRed, redShape, redStrides].
 */
export function reduceKernel(op: ReduceOp, inDtype: DType, outDtype: DType): string {
  const f = inDtype === 'float32';
  const T = f ? 'f32' : 'i32';
  const load = f ? 'in0[o]' : inDtype === 'bool' ? 'i32(in0[o])' : 'in0[o]';
  const acc: Record<ReduceOp, { init: string; step: string; result: string }> = {
    sum: { init: `var acc: ${T} = ${f ? '0.0' : '0'};`, step: 'acc = acc + x;', result: 'acc' },
    prod: { init: `var acc: ${T} = ${f ? '1.0' : '1'};`, step: 'acc = acc * x;', result: 'acc' },
    max: { init: `var acc: ${T} = ${load.replace('o]', 'base]')}; var nan = false;`, step: f ? 'if (isNan(x)) { nan = true; } acc = max(acc, x);' : 'acc = max(acc, x);', result: f ? 'select(acc, x0, nan)' : 'acc' },
    min: { init: `var acc: ${T} = ${load.replace('o]', 'base]')}; var nan = false;`, step: f ? 'if (isNan(x)) { nan = true; } acc = min(acc, x);' : 'acc = min(acc, x);', result: f ? 'select(acc, x0, nan)' : 'acc' },
    argmax: { init: `var best: ${T} = ${load.replace('o]', 'base]')}; var acc = 0; var done = false;`, step: `if (!done && (${f ? 'isNan(x) || ' : ''}x > best)) { best = x; acc = i32(r); ${f ? 'if (isNan(x)) { done = true; }' : ''} }`, result: 'acc' },
    argmin: { init: `var best: ${T} = ${load.replace('o]', 'base]')}; var acc = 0; var done = false;`, step: `if (!done && (${f ? 'isNan(x) || ' : ''}x < best)) { best = x; acc = i32(r); ${f ? 'if (isNan(x)) { done = true; }' : ''} }`, result: 'acc' },
  };
  const a = acc[op];
  const outExpr = op === 'argmax' || op === 'argmin' ? 'acc' : outDtype === 'bool' ? `select(0u, 1u, ${a.result} != ${f ? '0.0' : '0'})`
    : WGSL_TYPE[outDtype] === T ? a.result : `${WGSL_TYPE[outDtype]}(${a.result})`;
  const nanInit = f && (op === 'max' || op === 'min') ? 'let x0 = bitcast<f32>(NAN_BITS);' : '';
  return `${PRELUDE}\n${bindings(outDtype, [inDtype])}\n${MAIN} {
  ${INDEX}
  if (i >= md[0]) { return; }
  let base = offsetOf(i, 0u);
  let tail = 3u + 2u * md[1];
  let rankRed = md[tail];
  var count = 1u;
  for (var d = 0u; d < rankRed; d = d + 1u) { count = count * md[tail + 1u + d]; }
  ${nanInit}
  ${a.init}
  for (var r = 0u; r < count; r = r + 1u) {
    var rem = r; var o = base;
    for (var d = i32(rankRed) - 1; d >= 0; d = d - 1) {
      let dim = md[tail + 1u + u32(d)];
      o = o + (rem % dim) * md[tail + 1u + rankRed + u32(d)];
      rem = rem / dim;
    }
    let x = ${load};
    ${a.step}
  }
  outBuf[i] = ${outExpr};
}\n`;
}

/**
 * Batched matmul on strided [B, M, K] x [B, K, N] views. md: [B, M, N, K, aOff, aS0, aS1, aS2,
 * bOff, bS0, bS1, bS2]. 'naive': one thread per output; 'tiled': 16x16 shared-memory tiles.
 */
export function matmulKernel(variant: 'naive' | 'tiled'): string {
  const head = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
fn aAt(b: u32, m: u32, k: u32) -> f32 { return A[md[4] + b * md[5] + m * md[6] + k * md[7]]; }
fn bAt(b: u32, k: u32, n: u32) -> f32 { return B[md[8] + b * md[9] + k * md[10] + n * md[11]]; }`;
  if (variant === 'naive') {
    return `${head}\n${MAIN} {\n  ${INDEX}\n  let M = md[1]; let N = md[2]; let K = md[3];\n  if (i >= md[0] * M * N) { return; }\n  let b = i / (M * N); let m = (i / N) % M; let n = i % N;\n  var acc = 0.0;\n  for (var k = 0u; k < K; k = k + 1u) { acc = acc + aAt(b, m, k) * bAt(b, k, n); }\n  outBuf[i] = acc;\n}\n`;
  }
  return `${head}
var<workgroup> tileA: array<array<f32, 16>, 16>;
var<workgroup> tileB: array<array<f32, 16>, 16>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = md[1]; let N = md[2]; let K = md[3];
  let b = wg.z;
  let row = wg.y * 16u + lid.y; let col = wg.x * 16u + lid.x;
  var acc = 0.0;
  let tiles = (K + 15u) / 16u;
  for (var t = 0u; t < tiles; t = t + 1u) {
    let ka = t * 16u + lid.x; let kb = t * 16u + lid.y;
    tileA[lid.y][lid.x] = select(0.0, aAt(b, min(row, M - 1u), min(ka, K - 1u)), row < M && ka < K);
    tileB[lid.y][lid.x] = select(0.0, bAt(b, min(kb, K - 1u), min(col, N - 1u)), kb < K && col < N);
    workgroupBarrier();
    for (var k = 0u; k < 16u; k = k + 1u) { acc = acc + tileA[lid.y][k] * tileB[k][lid.x]; }
    workgroupBarrier();
  }
  if (row < M && col < N) { outBuf[(b * M + row) * N + col] = acc; }
}\n`;
}

/** gather / indexSelect: operand 0 = x with the axis stride zeroed, operand 1 = the index. md tail: [axisStride, axisSize]. */
export function gatherKernel(dtype: DType): string {
  return `${PRELUDE}\n${bindings(dtype, [dtype, 'int32'])}\n${MAIN} {
  ${INDEX}
  if (i >= md[0]) { return; }
  let tail = 2u + md[1] + 2u * (md[1] + 1u);
  let idx = clamp(in1[offsetOf(i, 1u)], 0, i32(md[tail + 1u]) - 1);
  outBuf[i] = in0[offsetOf(i, 0u) + u32(idx) * md[tail]];
}\n`;
}

/**
 * scatterAdd, deterministic: each output element sums the sources whose index points at it.
 * Operand 0 = index, 1 = src (both over the OUTPUT shape with the axis stride zeroed);
 * md tail: [axis, indexAxisLen, idxAxisStride, srcAxisStride, indexShape[rank]].
 */
export function scatterKernel(dtype: DType): string {
  const zero = dtype === 'float32' ? '0.0' : '0';
  const T = dtype === 'float32' ? 'f32' : 'i32';
  const conv = dtype === 'bool' ? 'i32(in1[o1 + j * md[tail + 3u]])' : 'in1[o1 + j * md[tail + 3u]]';
  const store = dtype === 'bool' ? 'select(0u, 1u, acc != 0)' : 'acc';
  return `${PRELUDE}\n${bindings(dtype, ['int32', dtype])}\n${MAIN} {
  ${INDEX}
  if (i >= md[0]) { return; }
  let rank = md[1];
  let tail = 2u + rank + 2u * (rank + 1u);
  let axis = md[tail];
  var rem = i; var tgt = 0u; var inside = true;
  for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
    let dim = md[2u + u32(d)];
    let c = rem % dim; rem = rem / dim;
    if (u32(d) == axis) { tgt = c; } else if (c >= md[tail + 4u + u32(d)]) { inside = false; }
  }
  var acc: ${T} = ${zero};
  if (inside) {
    let o0 = offsetOf(i, 0u); let o1 = offsetOf(i, 1u);
    for (var j = 0u; j < md[tail + 1u]; j = j + 1u) {
      if (in0[o0 + j * md[tail + 2u]] == i32(tgt)) { acc = acc + ${conv}; }
    }
  }
  outBuf[i] = ${store};
}\n`;
}

/** Random draws: md = [n, seed, offset]. */
export function randomKernel(kind: 'uniform' | 'normal'): string {
  return `${PRELUDE}\n@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;\n${RANDOM_WGSL}
${MAIN} {\n  ${INDEX}\n  if (i >= md[0]) { return; }\n  outBuf[i] = ${kind === 'uniform' ? 'uniformAt' : 'normalAt'}(md[1], md[2] + i);\n}\n`;
}

/** Row kernels over the last axis of a contiguous float32 input (one thread per row): md = [rows, cols, eps bits, hasW, hasB]. */
export function rowKernel(kind: 'softmax' | 'logSoftmax' | 'layerNorm'): string {
  const io = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> X: array<f32>;`;
  if (kind === 'layerNorm') {
    return `${io}\n@group(0) @binding(3) var<storage, read> W: array<f32>;\n@group(0) @binding(4) var<storage, read> Bi: array<f32>;
${MAIN} {\n  ${INDEX}\n  if (i >= md[0]) { return; }\n  let n = md[1]; let base = i * n; let eps = bitcast<f32>(md[2]);
  var mean = 0.0; for (var j = 0u; j < n; j = j + 1u) { mean = mean + X[base + j]; } mean = mean / f32(n);
  var v = 0.0; for (var j = 0u; j < n; j = j + 1u) { let d = X[base + j] - mean; v = v + d * d; }
  let rstd = inverseSqrt(v / f32(n) + eps);
  for (var j = 0u; j < n; j = j + 1u) {
    var y = (X[base + j] - mean) * rstd;
    if (md[3] != 0u) { y = y * W[j]; }
    if (md[4] != 0u) { y = y + Bi[j]; }
    outBuf[base + j] = y;
  }
}\n`;
  }
  const tail = kind === 'softmax' ? 'outBuf[base + j] = exp(X[base + j] - m) / s;' : 'outBuf[base + j] = X[base + j] - m - log(s);';
  return `${io}\n${MAIN} {\n  ${INDEX}\n  if (i >= md[0]) { return; }\n  let n = md[1]; let base = i * n;
  var m = X[base]; for (var j = 1u; j < n; j = j + 1u) { m = max(m, X[base + j]); }
  var s = 0.0; for (var j = 0u; j < n; j = j + 1u) { s = s + exp(X[base + j] - m); }
  for (var j = 0u; j < n; j = j + 1u) { ${tail} }\n}\n`;
}
