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
 * bOff, bS0, bS1, bS2]. 'naive': one thread per output; 'tiled': 64x64 shared-memory tiles with
 * 4x4 register blocking per thread.
 */
export function matmulKernel(variant: 'naive' | 'tiled'): string {
  const head = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;`;
  if (variant === 'naive') {
    // Metadata is read once into registers; the K loop only advances two offsets.
    return `${head}\n${MAIN} {\n  ${INDEX}
  let M = md[1]; let N = md[2]; let K = md[3];
  if (i >= md[0] * M * N) { return; }
  let b = i / (M * N); let m = (i / N) % M; let n = i % N;
  var oa = md[4] + b * md[5] + m * md[6]; let sa = md[7];
  var ob = md[8] + b * md[9] + n * md[11]; let sb = md[10];
  var acc = 0.0;
  for (var k = 0u; k < K; k = k + 1u) { acc = acc + A[oa] * B[ob]; oa = oa + sa; ob = ob + sb; }
  outBuf[i] = acc;
}\n`;
  }
  // 64x64 output tile per 16x16 workgroup, 4x4 outputs per thread (register blocking).
  return `${head}
var<workgroup> tileA: array<array<f32, 64>, 16>;
var<workgroup> tileB: array<array<f32, 64>, 16>;
@compute @workgroup_size(16, 16) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let M = md[1]; let N = md[2]; let K = md[3];
  let b = wg.z;
  let aBase = md[4] + b * md[5]; let aSm = md[6]; let aSk = md[7];
  let bBase = md[8] + b * md[9]; let bSk = md[10]; let bSn = md[11];
  let row0 = wg.y * 64u; let col0 = wg.x * 64u;
  let flat = lid.y * 16u + lid.x;
  var acc: array<array<f32, 4>, 4>;
  for (var t = 0u; t < K; t = t + 16u) {
    // 256 threads load 16x64 of A^T and 16x64 of B (4 elements each).
    for (var e = 0u; e < 4u; e = e + 1u) {
      let idx = flat * 4u + e;
      let kk = idx / 64u; let mm = idx % 64u;
      let ka = t + kk;
      let r = row0 + mm; let c = col0 + mm;
      tileA[kk][mm] = select(0.0, A[aBase + min(r, M - 1u) * aSm + min(ka, K - 1u) * aSk], r < M && ka < K);
      tileB[kk][mm] = select(0.0, B[bBase + min(ka, K - 1u) * bSk + min(c, N - 1u) * bSn], c < N && ka < K);
    }
    workgroupBarrier();
    for (var k = 0u; k < 16u; k = k + 1u) {
      var av: array<f32, 4>; var bv: array<f32, 4>;
      for (var q = 0u; q < 4u; q = q + 1u) { av[q] = tileA[k][lid.y * 4u + q]; bv[q] = tileB[k][lid.x * 4u + q]; }
      for (var p = 0u; p < 4u; p = p + 1u) { for (var q = 0u; q < 4u; q = q + 1u) { acc[p][q] = acc[p][q] + av[p] * bv[q]; } }
    }
    workgroupBarrier();
  }
  for (var p = 0u; p < 4u; p = p + 1u) {
    for (var q = 0u; q < 4u; q = q + 1u) {
      let r = row0 + lid.y * 4u + p; let c = col0 + lid.x * 4u + q;
      if (r < M && c < N) { outBuf[(b * M + r) * N + c] = acc[p][q]; }
    }
  }
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
