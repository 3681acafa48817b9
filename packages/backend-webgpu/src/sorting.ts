// SPDX-License-Identifier: MIT
// Fused argsort (core's FusedKernels.argsort) in WGSL: one invocation per element computes its
// rank in its row, rank_i = #{j: key_j before key_i} + #{j < i: key_j == key_i}, and writes
// its index there (a permutation: ranks are distinct). Keys are u32 with the order of
// PyTorch's sort: float32 bits mapped so that u32 order is numeric order, every NaN to the
// largest key and -0 to +0 (equal values keep index order: stable); int32 by flipping the
// sign bit. O(n) work per element, all rows in one dispatch; rows longer than RANK_MAX use
// a bitonic sort instead: (key, index) pairs padded to a power of two P with pairs that sort
// last, log2(P) (log2(P) + 1) / 2 compare-exchange dispatches (the (key, index) order is
// total, so the result is the stable order), then the indices copied out.
// Fused topk selects by tournament: each block of B = max(64, 2k) candidates keeps its k
// best (ranked the same way, ties by original index) as (key, index) pairs, which shrinks the
// candidates at least by half per level; the one block left writes the k indices in order.
// Work is about n * B per row (not n^2), in a few dispatches.
// Both decline (null) dtypes other than float32/int32 (topk also k > 1024, left to argsort);
// inputs arrive contiguous (offset allowed).
import { isContiguous, sizeOf, type DataId, type StridedView } from '@heed/core';
import type { GpuData, OpKit } from './fused-ops.js';
import { checkRank } from './layout.js';
import { memoKernel } from './kernel-cache.js';

/** The WGSL sort key of a float32 (`f32`) or int32 (`i32`) value: u32 order is PyTorch's ascending order. */
function keyFn(type: 'f32' | 'i32'): string {
  return type === 'f32'
    ? `fn key(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; } // NaN: the largest
  if (b == 0x80000000u) { b = 0u; } // -0 == +0
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`
    : 'fn key(v: i32) -> u32 { return bitcast<u32>(v) ^ 0x80000000u; }';
}

/** WGSL of the rank kernel for float32 (`f32`) or int32 (`i32`) rows. md = [rows, n, offset, descending]. */
function rankKernelRaw(type: 'f32' | 'i32'): string {
  const key = keyFn(type);
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<i32>;
@group(0) @binding(2) var<storage, read> X: array<${type}>;
${key}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  let n = md[1];
  if (e >= md[0] * n) { return; }
  let row = e / n;
  let i = e - row * n;
  let base = md[2] + row * n;
  let ki = key(X[base + i]);
  let desc = md[3] == 1u;
  var rank = 0u;
  for (var j = 0u; j < n; j = j + 1u) {
    let kj = key(X[base + j]);
    let before = select((kj < ki), (kj > ki), desc);
    if (before || (kj == ki && j < i)) { rank = rank + 1u; }
  }
  outBuf[row * n + rank] = i32(i);
}`;
}

const rankKernel = memoKernel(rankKernelRaw);

/** Rows up to this long are ranked by counting (one dispatch); longer ones are bitonic-sorted. */
const RANK_MAX = 1024;

/** `before(a, b)` on (key, index) pairs in WGSL: the stable order, ascending or descending. */
const PAIR_BEFORE = `fn before(a: vec2<u32>, b: vec2<u32>, desc: bool) -> bool {
  return select((a.x < b.x), (a.x > b.x), desc) || (a.x == b.x && a.y < b.y);
}`;

/** Bitonic pass 0: pairs of row r at [r * P, (r + 1) * P). md = [rows, n, P, offset, descending]. */
function bitonicInitRaw(type: 'f32' | 'i32'): string {
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> pairs: array<u32>;
@group(0) @binding(2) var<storage, read> X: array<${type}>;
${keyFn(type)}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  let P = md[2];
  if (e >= md[0] * P) { return; }
  let row = e / P;
  let p = e - row * P;
  // padding sorts last: the largest key ascending, the smallest descending, under indices >= n
  var k = select(0xffffffffu, 0u, md[4] == 1u);
  if (p < md[1]) { k = key(X[md[3] + row * md[1] + p]); }
  pairs[2u * e] = k;
  pairs[2u * e + 1u] = p;
}`;
}

/** One bitonic compare-exchange step (distance j within sequences of length k). md = [rows, P, j, k, descending]. */
function bitonicStepRaw(): string {
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> pairs: array<u32>;
${PAIR_BEFORE}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let t = gid.x + gid.y * nwg.x * 64u;
  let half = md[1] / 2u;
  if (t >= md[0] * half) { return; }
  let row = t / half;
  let u = t - row * half;
  let j = md[2];
  let i = 2u * j * (u / j) + (u % j);
  let a = row * md[1] + i;
  let b = a + j;
  let va = vec2<u32>(pairs[2u * a], pairs[2u * a + 1u]);
  let vb = vec2<u32>(pairs[2u * b], pairs[2u * b + 1u]);
  let up = (i & md[3]) == 0u;
  if (before(va, vb, md[4] == 1u) != up) {
    pairs[2u * a] = vb.x; pairs[2u * a + 1u] = vb.y;
    pairs[2u * b] = va.x; pairs[2u * b + 1u] = va.y;
  }
}`;
}

/** The indices of the first n pairs of each row. md = [rows, n, P]. */
function bitonicExtractRaw(): string {
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<i32>;
@group(0) @binding(2) var<storage, read> pairs: array<u32>;
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  if (e >= md[0] * md[1]) { return; }
  let row = e / md[1];
  let r = e - row * md[1];
  outBuf[e] = i32(pairs[2u * (row * md[2] + r) + 1u]);
}`;
}

const bitonicInit = memoKernel(bitonicInitRaw);
const bitonicStep = memoKernel(bitonicStepRaw);
const bitonicExtract = memoKernel(bitonicExtractRaw);

/** Bitonic argsort of `rows` rows of length n (see the top of the file). */
function bitonicArgsort(kit: OpKit, x: StridedView, descending: boolean, rows: number, n: number): DataId {
  const P = 2 ** Math.ceil(Math.log2(n));
  const desc = descending ? 1 : 0;
  const src = kit.data(x.data, 'argsort').buffer;
  const pairs = kit.alloc(2 * rows * P, 'int32', 'argsort');
  try {
    kit.runtime.dispatch('argsort', bitonicInit(x.dtype === 'float32' ? 'f32' : 'i32'), [pairs.buffer, src],
      Uint32Array.from([rows, n, P, x.offset, desc]), kit.perOutput(rows * P, 'argsort'));
    for (let k = 2; k <= P; k *= 2) {
      for (let j = k / 2; j >= 1; j /= 2) {
        kit.runtime.dispatch('argsort', bitonicStep(), [pairs.buffer], Uint32Array.from([rows, P, j, k, desc]), kit.perOutput(rows * P / 2, 'argsort'));
      }
    }
    return kit.produce(rows * n, 'int32', 'argsort', (out) => {
      kit.runtime.dispatch('argsort', bitonicExtract(), [out.buffer, pairs.buffer], Uint32Array.from([rows, n, P]), kit.perOutput(rows * n, 'argsort'));
    });
  } finally {
    kit.free(pairs);
  }
}

/**
 * Stable argsort of each row (last axis) of a contiguous float32/int32 view: a new int32
 * buffer of `x.shape`, or null for other dtypes or layouts.
 *
 * @example
 * ```ts
 * const id = argsortOp(backend, view, true); // descending, NaN first
 * ```
 */
export function argsortOp(kit: OpKit, x: StridedView, descending: boolean): DataId | null {
  kit.views('argsort', x);
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !isContiguous(x.shape, x.strides)) return null;
  checkRank('argsort', x.shape);
  const size = sizeOf(x.shape);
  const n = x.shape[x.shape.length - 1] ?? 1;
  if (size === 0) return kit.alloc(0, 'int32', 'argsort');
  if (n > RANK_MAX) return bitonicArgsort(kit, x, descending, size / n, n);
  return kit.produce(size, 'int32', 'argsort', (out) => {
    const meta = Uint32Array.from([size / n, n, x.offset, descending ? 1 : 0]);
    kit.runtime.dispatch('argsort', rankKernel(x.dtype === 'float32' ? 'f32' : 'i32'), [out.buffer, kit.data(x.data, 'argsort').buffer], meta, kit.perOutput(size, 'argsort'));
  });
}

/**
 * WGSL of one tournament level. md = [rows, m, B, k, offset, descending, mOut]. Candidates
 * come from X (`f32`/`i32`: key of X[offset + row*m + c], index c) or from the previous
 * level's (key, index) pairs (`pairs`); a non-final level writes pairs, the final one indices.
 */
function levelKernelRaw(source: 'f32' | 'i32' | 'pairs', final: boolean): string {
  const load = source === 'pairs'
    ? 'fn load(p: u32) -> vec2<u32> { return vec2<u32>(S[2u * p], S[2u * p + 1u]); }'
    : `${keyFn(source)}
fn load(p: u32) -> vec2<u32> { return vec2<u32>(key(S[md[4] + p]), p % md[1]); }`;
  return `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<u32>;
@group(0) @binding(2) var<storage, read> S: array<${source === 'pairs' ? 'u32' : source}>;
${load}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let e = gid.x + gid.y * nwg.x * 64u;
  let m = md[1];
  if (e >= md[0] * m) { return; }
  let row = e / m;
  let c = e - row * m;
  let bs = (c / md[2]) * md[2];
  let be = min(bs + md[2], m);
  let me = load(row * m + c);
  let desc = md[5] == 1u;
  var rank = 0u;
  for (var j = bs; j < be; j = j + 1u) {
    let o = load(row * m + j);
    let before = select((o.x < me.x), (o.x > me.x), desc);
    if (before || (o.x == me.x && o.y < me.y)) { rank = rank + 1u; }
  }
  if (rank >= md[3]) { return; }
  let pos = row * md[6] + (c / md[2]) * md[3] + rank;
  ${final ? 'outBuf[pos] = me.y;' : 'outBuf[2u * pos] = me.x; outBuf[2u * pos + 1u] = me.y;'}
}`;
}

const levelKernel = memoKernel(levelKernelRaw);

/** The largest k the tournament handles (blocks of 2k candidates); larger k go to argsort. */
const MAX_TOPK = 1024;

/**
 * The first `k` indices of each row's stable sort (the k largest when `largest`) of a
 * contiguous float32/int32 view: a new int32 buffer `[..., k]`, or null to decline.
 *
 * @example
 * ```ts
 * const id = topkOp(backend, logitsView, 50, true);
 * ```
 */
export function topkOp(kit: OpKit, x: StridedView, k: number, largest: boolean): DataId | null {
  kit.views('topk', x);
  if ((x.dtype !== 'float32' && x.dtype !== 'int32') || !isContiguous(x.shape, x.strides)) return null;
  const n = x.shape[x.shape.length - 1] ?? 1;
  if (!(Number.isInteger(k) && k >= 1 && k <= n) || k > MAX_TOPK) return null;
  checkRank('topk', x.shape);
  const rows = sizeOf(x.shape) / n;
  if (rows === 0) return kit.alloc(0, 'int32', 'topk');
  const block = Math.max(64, 2 * k);
  let source: 'f32' | 'i32' | 'pairs' = x.dtype === 'float32' ? 'f32' : 'i32';
  let input = kit.data(x.data, 'topk').buffer;
  let m = n;
  let prev: GpuData | null = null;
  try {
    for (;;) {
      const blocks = Math.ceil(m / block);
      const final = blocks === 1;
      const mOut = final ? k : (blocks - 1) * k + Math.min(m - (blocks - 1) * block, k);
      const meta = Uint32Array.from([rows, m, block, k, source === 'pairs' ? 0 : x.offset, largest ? 1 : 0, mOut]);
      const out: GpuData = kit.produce((final ? 1 : 2) * rows * mOut, 'int32', 'topk', (o) => {
        kit.runtime.dispatch('topk', levelKernel(source, final), [o.buffer, input], meta, kit.perOutput(rows * m, 'topk'));
      });
      if (prev) kit.free(prev);
      prev = null;
      if (final) return out;
      prev = out;
      input = out.buffer;
      source = 'pairs';
      m = mOut;
    }
  } finally {
    if (prev) kit.free(prev);
  }
}
