// SPDX-License-Identifier: MIT
// The fused kernels' host side (row kernels, attention, the Adam step): argument checks, the
// contiguous copies they need and their dispatches, written against the small `OpKit` the
// backend hands them (backend.ts stays the class with the primitives).
// Invariants: arguments are validated before anything is allocated; temporary copies are
// freed whatever happens; an op that fails after allocating frees its outputs.
import { HeedError, contiguousStrides, fmtShape, isContiguous, sizeOf, type AdamScalars, type DType, type DataId, type StridedView } from '@heed/core';
import type { PooledBuffer, Runtime } from './runtime.js';
import { HOST, checkFloat, checkSameShape } from './validate.js';
import { checkRank } from './layout.js';
import { WIDE_ROW, attentionKernel as attentionKernelRaw, rowKernel as rowKernelRaw, type RowKind } from './fused.js';
import { memoKernel } from './kernel-cache.js';

const rowKernel = memoKernel(rowKernelRaw);
const attentionKernel = memoKernel(attentionKernelRaw);
const f32Bits = (x: number): number => HOST.float32.fillBits(x);

/**
 * A GPU buffer holding `size` elements of `dtype` (4 bytes each): the backend's DataId.
 *
 * @example
 * ```ts
 * const d = id as GpuData; d.buffer; // GPUBuffer
 * ```
 */
export interface GpuData extends PooledBuffer {
  readonly size: number;
  readonly dtype: DType;
  freed: boolean;
}

/**
 * What the fused ops need from the backend.
 *
 * @example
 * ```ts
 * rowsOp(backend, 'softmax', x, null, null, 0);
 * ```
 */
export interface OpKit {
  readonly runtime: Runtime;
  readonly software: boolean;
  data(id: DataId, op: string): GpuData;
  views(op: string, ...views: readonly (StridedView | null)[]): void;
  alloc(size: number, dtype: DType, op: string): GpuData;
  produce(size: number, dtype: DType, op: string, record: (out: GpuData) => void): GpuData;
  mapKernel(op: string, views: readonly StridedView[], outDtype: DType, body: string, extra?: string): DataId;
  perOutput(n: number, op: string): [number, number, number];
  copy(x: StridedView): DataId;
  upload(values: Float32Array, dtype: DType): DataId;
  free(id: DataId): void;
}

/** A contiguous view of `v` (itself when already contiguous, else a copy the caller frees). */
function contiguous(kit: OpKit, v: StridedView): { view: StridedView; temp: DataId | null } {
  if (isContiguous(v.shape, v.strides)) return { view: v, temp: null };
  const temp = kit.copy(v);
  return { view: { data: temp, dtype: v.dtype, shape: v.shape, strides: contiguousStrides(v.shape), offset: 0 }, temp };
}

function withContiguous(kit: OpKit, views: readonly (StridedView | null)[], f: (vs: (StridedView | null)[]) => DataId): DataId {
  const made: ({ view: StridedView; temp: DataId | null } | null)[] = [];
  try {
    for (const v of views) made.push(v ? contiguous(kit, v) : null);
    return f(made.map((m) => m?.view ?? null));
  } finally {
    for (const m of made) if (m?.temp) kit.free(m.temp);
  }
}

/**
 * softmax / logSoftmax / layerNorm over the last axis (weight and bias: that many elements).
 *
 * @example
 * ```ts
 * rowsOp(backend, 'layerNorm', x, w, b, 1e-5);
 * ```
 */
export function rowsOp(kit: OpKit, kind: RowKind, x: StridedView, w: StridedView | null, b: StridedView | null, eps: number): DataId {
  kit.views(kind, x, w, b);
  checkFloat(kind, [x, w, b]);
  const cols = x.shape[x.shape.length - 1] ?? 1;
  for (const p of [w, b]) {
    if (p && sizeOf(p.shape) !== cols) throw new HeedError(kind, `weight and bias need ${cols} elements (the last axis of ${fmtShape(x.shape)}), got ${fmtShape(p.shape)}.`);
  }
  const n = sizeOf(x.shape);
  const rows = cols === 0 ? 0 : n / cols;
  checkRank(kind, x.shape);
  if (rows === 0) return kit.alloc(n, 'float32', kind);
  return withContiguous(kit, [x, w, b], ([xc, wc, bc]) => kit.produce(n, 'float32', kind, (out) => {
    const xd = kit.data(xc!.data, kind).buffer;
    const meta = Uint32Array.from([rows, cols, f32Bits(eps), wc ? 1 : 0, bc ? 1 : 0, xc!.offset, wc?.offset ?? 0, bc?.offset ?? 0]);
    const inputs = kind === 'layerNorm' ? [xd, wc ? kit.data(wc.data, kind).buffer : xd, bc ? kit.data(bc.data, kind).buffer : xd] : [xd];
    // Workgroup-per-row pays off on GPUs; on CPU emulation barriers cost more unless rows are few.
    const wide = cols >= WIDE_ROW && (!kit.software || rows < 16);
    const grid = wide ? kit.runtime.grid(rows, kind) : kit.perOutput(rows, kind);
    kit.runtime.dispatch(kind, rowKernel(kind, wide), [out.buffer, ...inputs], meta, grid);
  }));
}

/**
 * Scaled dot-product attention on q [B, H, L, D], k [B, H, S, D], v [B, H, S, Dv] with an
 * optional additive mask [B, H, L, S]: one invocation per query row.
 *
 * @example
 * ```ts
 * attentionOp(backend, q, k, v, null, 1 / Math.sqrt(D), true);
 * ```
 */
export function attentionOp(kit: OpKit, q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): DataId {
  kit.views('attention', q, k, v, mask);
  checkFloat('attention', [q, k, v, mask]);
  const [B, H, L, D] = q.shape;
  const S = k.shape[2];
  const Dv = v.shape[3];
  const same = (shape: readonly number[], want: readonly number[]) => shape.length === 4 && shape.every((d, i) => d === want[i]);
  if (q.shape.length !== 4 || !same(k.shape, [B, H, S, D]) || !same(v.shape, [B, H, S, Dv]) || (mask && !same(mask.shape, [B, H, L, S]))) {
    throw new HeedError('attention', `needs q [B, H, L, D], k [B, H, S, D], v [B, H, S, Dv] and a mask [B, H, L, S]; got ${fmtShape(q.shape)}, ` +
      `${fmtShape(k.shape)}, ${fmtShape(v.shape)}${mask ? ` and ${fmtShape(mask.shape)}` : ''}.`);
  }
  const n = B * H * L * Dv;
  if (n === 0) return kit.alloc(n, 'float32', 'attention');
  return withContiguous(kit, [q, k, v, mask], ([qc, kc, vc, mc]) => kit.produce(n, 'float32', 'attention', (out) => {
    const qd = kit.data(qc!.data, 'attention').buffer;
    const meta = Uint32Array.from([B * H, L, S, D, Dv, f32Bits(scale), causal ? 1 : 0, mc ? 1 : 0, qc!.offset, kc!.offset, vc!.offset, mc?.offset ?? 0]);
    const buffers = [out.buffer, qd, kit.data(kc!.data, 'attention').buffer, kit.data(vc!.data, 'attention').buffer, mc ? kit.data(mc.data, 'attention').buffer : qd];
    kit.runtime.dispatch('attention', attentionKernel(), buffers, meta, kit.perOutput(B * H * L, 'attention'));
  }));
}

/**
 * One Adam step in three elementwise dispatches (new m, new v, new param). The step's
 * scalars travel as broadcast operands of one small buffer, so the kernels do not change
 * from step to step.
 *
 * @example
 * ```ts
 * const [param, m, v] = adamOp(backend, p, g, m0, v0, scalars);
 * ```
 */
export function adamOp(kit: OpKit, param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] {
  kit.views('adam', param, grad, expAvg, expAvgSq);
  checkFloat('adam', [param, grad, expAvg, expAvgSq]);
  checkSameShape('adam', [param, grad, expAvg, expAvgSq]);
  const { lr, beta1, beta2, eps, c1, c2 } = step;
  const scalars = kit.upload(Float32Array.from([beta1, 1 - beta1, beta2, 1 - beta2, lr * c1, c2, eps]), 'float32');
  const s = (i: number): StridedView => ({ data: scalars, dtype: 'float32', shape: param.shape, strides: param.shape.map(() => 0), offset: i });
  const made: DataId[] = [];
  try {
    const m = kit.mapKernel('adam', [expAvg, grad, s(0), s(1)], 'float32', 'v2 * v0 + v3 * v1');
    made.push(m);
    const v = kit.mapKernel('adam', [expAvgSq, grad, s(2), s(3)], 'float32', 'v2 * v0 + v3 * (v1 * v1)');
    made.push(v);
    const mv: StridedView = { data: m, dtype: 'float32', shape: param.shape, strides: contiguousStrides(param.shape), offset: 0 };
    const vv: StridedView = { ...mv, data: v };
    const p = kit.mapKernel('adam', [param, mv, vv, s(4), s(5), s(6)], 'float32', 'v0 - v3 * v1 / (sqrt(v2 * v4) + v5)');
    return [p, m, v];
  } catch (e) {
    for (const id of made) kit.free(id);
    throw e;
  } finally {
    kit.free(scalars);
  }
}
