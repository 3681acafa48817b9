// SPDX-License-Identifier: MIT
// Fused argsort (core's FusedKernels.argsort) in WGSL: one invocation per element computes its
// rank in its row, rank_i = #{j: key_j before key_i} + #{j < i: key_j == key_i}, and writes
// its index there (a permutation: ranks are distinct). Keys are u32 with the order of
// PyTorch's sort: float32 bits mapped so that u32 order is numeric order, every NaN to the
// largest key and -0 to +0 (equal values keep index order: stable); int32 by flipping the
// sign bit. O(n) work per element, all rows in one dispatch.
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
