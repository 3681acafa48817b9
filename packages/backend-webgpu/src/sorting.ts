// SPDX-License-Identifier: MIT
// Fused argsort (core's FusedKernels.argsort) in WGSL: one invocation per element computes its
// rank in its row, rank_i = #{j: key_j before key_i} + #{j < i: key_j == key_i}, and writes
// its index there (a permutation: ranks are distinct). Keys are u32 with the order of
// PyTorch's sort: float32 bits mapped so that u32 order is numeric order, every NaN to the
// largest key and -0 to +0 (equal values keep index order: stable); int32 by flipping the
// sign bit. Core's topk uses this kernel and keeps the first k indices.
// O(n) work per element, all rows in one dispatch. Declines (null) dtypes other than
// float32/int32; inputs arrive contiguous (offset allowed).
import { isContiguous, sizeOf, type DataId, type StridedView } from '@heed/core';
import type { OpKit } from './fused-ops.js';
import { checkRank } from './layout.js';
import { memoKernel } from './kernel-cache.js';

/** WGSL of the rank kernel for float32 (`f32`) or int32 (`i32`) rows. md = [rows, n, offset, descending]. */
function rankKernelRaw(type: 'f32' | 'i32'): string {
  const key = type === 'f32'
    ? `fn key(v: f32) -> u32 {
  var b = bitcast<u32>(v);
  if ((b & 0x7fffffffu) > 0x7f800000u) { return 0xffffffffu; } // NaN: the largest
  if (b == 0x80000000u) { b = 0u; } // -0 == +0
  if ((b & 0x80000000u) != 0u) { return ~b; }
  return b | 0x80000000u;
}`
    : 'fn key(v: i32) -> u32 { return bitcast<u32>(v) ^ 0x80000000u; }';
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
