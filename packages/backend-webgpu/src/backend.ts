// SPDX-License-Identifier: MIT
// WebGPUBackend: every primitive of @heed/core's backend contract as WGSL dispatches, plus the
// fused softmax, logSoftmax, gelu, layerNorm and attention kernels.
// Invariants: buffers hold f32 / i32 / u32-bool words, one per element; every kernel writes a
// NEW buffer and reads its inputs through strided metadata (no extra copies); zero-size
// results never dispatch (they get a minimum-size buffer); a DataId is used only while not freed.
import {
  BACKEND_API_VERSION, HeedError, type AdamScalars, type Backend, type BackendCapabilities, type BinaryOp, type DType, type DataId,
  type RandomKind, type ReduceOp, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { Runtime, type PooledBuffer, type WebGPUDebug } from './runtime.js';
import { binaryExpr, convert, domainOf, unaryExpr, WGSL_TYPE } from './wgsl.js';
import { coalesce, checkRank, metaWords, numel, planViews, rowMajor, vectorize, type Operand } from './layout.js';
import * as K from './kernels.js';
import { MATMUL_VARIANTS, chooseMatmulVariant, matmulGrids, matmulKernel as matmulKernelRaw, type MatmulVariant } from './matmul.js';
import { WIDE_ROW, attentionKernel as attentionKernelRaw, geluExpr, rowKernel as rowKernelRaw, type RowKind } from './fused.js';
import { memoKernel } from './kernel-cache.js';

const { ELEMS_PER_GROUP, WG } = K;
// Memoised generators: the same arguments give the same string object (see kernel-cache.ts).
const elementwiseKernel = memoKernel(K.elementwiseKernel);
const elementwiseVec4Kernel = memoKernel(K.elementwiseVec4Kernel);
const fillKernel = memoKernel(K.fillKernel);
const reduceKernel = memoKernel(K.reduceKernel);
const reduceWorkgroupKernel = memoKernel(K.reduceWorkgroupKernel);
const gatherKernel = memoKernel(K.gatherKernel);
const scatterKernel = memoKernel(K.scatterKernel);
const copyIntoKernel = memoKernel(K.copyIntoKernel);
const randomKernel = memoKernel(K.randomKernel);
const matmulKernel = memoKernel(matmulKernelRaw);
const rowKernel = memoKernel(rowKernelRaw);
const attentionKernel = memoKernel(attentionKernelRaw);

/** A GPU buffer holding `size` elements of `dtype` (4 bytes each). */
interface GpuData extends PooledBuffer {
  readonly size: number;
  readonly dtype: DType;
  freed: boolean;
}

const COMPARE = new Set<BinaryOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor']);
const f32Bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0];

/**
 * The WebGPU backend. Create it with {@link createWebGPUBackend} (or directly on a device).
 *
 * @example
 * ```ts
 * const backend = new WebGPUBackend(device, { printShaders: false }, 'webgpu');
 * registerBackend({ name: 'webgpu', priority: 2, async: true, create: () => backend });
 * ```
 */
export class WebGPUBackend implements Backend {
  /** Registry name ('webgpu' unless given). */
  readonly name: string;
  /** The backend contract version this backend implements. */
  readonly apiVersion = BACKEND_API_VERSION;
  /** No synchronous reads; float32, int32 and bool; buffers up to maxStorageBufferBindingSize. */
  readonly capabilities: BackendCapabilities;
  /** @internal The runtime (pool, pipelines, batching, stats); for tests and diagnostics. */
  readonly runtime: Runtime;
  /** Whether the adapter is CPU-emulated (SwiftShader and the like); steers the matmul heuristic. */
  readonly software: boolean;

  /** `name` lets one device serve several registry entries (tests, side-by-side setups). */
  constructor(device: GPUDevice, debug: WebGPUDebug = {}, name = 'webgpu', adapterInfo?: GPUAdapterInfo) {
    const forced = debug.forceMatmulVariant;
    if (forced !== undefined && !(MATMUL_VARIANTS as readonly string[]).includes(forced)) {
      throw new HeedError('createWebGPUBackend', `debug.forceMatmulVariant must be one of ${MATMUL_VARIANTS.join(', ')}; got '${forced}'.`);
    }
    this.name = name;
    this.runtime = new Runtime(device, debug);
    const info = adapterInfo ?? (device as { adapterInfo?: GPUAdapterInfo }).adapterInfo;
    this.software = /swiftshader|llvmpipe|warp|cpu/i.test(`${info?.architecture ?? ''} ${info?.device ?? ''} ${info?.description ?? ''}`)
      || (info as { isFallbackAdapter?: boolean } | undefined)?.isFallbackAdapter === true;
    this.capabilities = { syncRead: false, dtypes: ['float32', 'int32', 'bool'], maxBufferBytes: device.limits.maxStorageBufferBindingSize };
  }

  private data(id: DataId, op: string): GpuData {
    const d = id as GpuData;
    if (!d || typeof d.cls !== 'number' || !d.buffer) throw new HeedError(op, 'received a buffer from another backend.');
    if (d.freed) throw new HeedError(op, 'a buffer was used after it was freed.');
    return d;
  }

  private alloc(size: number, dtype: DType, op: string): GpuData {
    return { ...this.runtime.acquire(Math.max(1, size) * 4, op), size, dtype, freed: false };
  }

  /** Grid for a map kernel over `n` elements. */
  private groups(n: number, op: string): [number, number, number] {
    return this.runtime.grid(Math.ceil(n / ELEMS_PER_GROUP), op);
  }

  /** Grid for a kernel with one invocation per output (reductions, scatterAdd, row kernels). */
  private perOutput(n: number, op: string): [number, number, number] {
    return this.runtime.grid(Math.ceil(n / WG), op);
  }

  private elementwise(op: string, views: readonly StridedView[], outDtype: DType, body: string, extra = ''): DataId {
    const plan = planViews(op, views);
    const out = this.alloc(plan.size, outDtype, op);
    if (plan.size === 0) return out;
    const inputs = views.map((v) => this.data(v.data, op).buffer);
    const dtypes = views.map((v) => v.dtype);
    // 4 elements per load where the layout allows: far fewer (gathered) loads on CPU emulation.
    const vec = vectorize(plan);
    const code = vec
      ? elementwiseVec4Kernel(outDtype, dtypes, body, vec.plan.shape.length, vec.plan.contiguous, vec.scalar, extra)
      : elementwiseKernel(outDtype, dtypes, body, plan.shape.length, plan.contiguous, extra);
    const used = vec ? vec.plan : plan;
    this.runtime.dispatch(op, code, [out.buffer, ...inputs], metaWords(used), this.groups(used.size, op));
    return out;
  }

  upload(values: TypedArray, dtype: DType): DataId {
    const words = dtype === 'float32' ? (values instanceof Float32Array ? values : Float32Array.from(values))
      : dtype === 'int32' ? (values instanceof Int32Array ? values : Int32Array.from(values))
      : Uint32Array.from(values, (v) => (v ? 1 : 0));
    return { ...this.runtime.upload(words, 'upload'), size: values.length, dtype, freed: false } satisfies GpuData;
  }

  async read(id: DataId, dtype: DType, size: number): Promise<TypedArray> {
    const d = this.data(id, 'read');
    if (size === 0) return dtype === 'float32' ? new Float32Array(0) : dtype === 'int32' ? new Int32Array(0) : new Uint8Array(0);
    const bytes = await this.runtime.readBytes(d.buffer, size * 4, 'read');
    if (dtype === 'float32') return new Float32Array(bytes);
    if (dtype === 'int32') return new Int32Array(bytes);
    return Uint8Array.from(new Uint32Array(bytes), (v) => (v ? 1 : 0));
  }

  free(id: DataId): void {
    const d = this.data(id, 'free');
    d.freed = true;
    this.runtime.release(d);
  }

  fill(size: number, value: number, dtype: DType): DataId {
    const out = this.alloc(size, dtype, 'fill');
    if (size === 0) return out;
    const bits = dtype === 'float32' ? f32Bits(value) : dtype === 'int32' ? value | 0 : value ? 1 : 0;
    this.runtime.dispatch('fill', fillKernel(dtype), [out.buffer], Uint32Array.from([size, bits >>> 0]), this.groups(size, 'fill'));
    return out;
  }

  copy(x: StridedView): DataId {
    return this.elementwise('copy', [x], x.dtype, 'v0');
  }

  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    const outDom = outDtype === 'bool' ? domainOf(x.dtype) : domainOf(outDtype);
    const dom = op === 'isnan' || op === 'not' ? domainOf(x.dtype) : outDom;
    const expr = unaryExpr(op, dom);
    if (!expr) throw new HeedError(op, `has no ${x.dtype} kernel on WebGPU (cast to float32 first).`);
    const load = dom === 'f32' ? (x.dtype === 'float32' ? 'v0' : `f32(${x.dtype === 'bool' ? 'i32(v0)' : 'v0'})`)
      : x.dtype === 'bool' ? 'i32(v0)' : x.dtype === 'int32' ? 'v0' : 'f2i(v0)';
    const target = op === 'isnan' || op === 'not' ? 'bool' : outDtype;
    const fn = `fn fnUnary(x: ${dom}) -> ${WGSL_TYPE[target]} { return ${convert(`(${expr})`, dom, target)}; }`;
    return this.elementwise(op, [x], outDtype, `fnUnary(${load})`, fn);
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    const dom = COMPARE.has(op) ? (a.dtype === 'float32' || b.dtype === 'float32' ? 'f32' : 'i32') : outDtype === 'bool' ? 'i32' : domainOf(outDtype);
    const load = (v: string, d: DType) => (dom === 'f32' ? (d === 'float32' ? v : d === 'bool' ? `f32(i32(${v}))` : `f32(${v})`)
      : d === 'float32' ? `f2i(${v})` : d === 'bool' ? `i32(${v})` : v);
    const fn = `fn fnBinary(a: ${dom}, b: ${dom}) -> ${WGSL_TYPE[outDtype]} { return ${convert(`(${binaryExpr(op, dom)})`, dom, outDtype)}; }`;
    return this.elementwise(op, [a, b], outDtype, `fnBinary(${load('v0', a.dtype)}, ${load('v1', b.dtype)})`, fn);
  }

  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    return this.elementwise('where', [cond, a, b], a.dtype, 'select(v2, v1, v0 != 0u)');
  }

  cast(x: StridedView, dtype: DType): DataId {
    return this.elementwise('cast', [x], dtype, convert('v0', WGSL_TYPE[x.dtype], dtype));
  }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    checkRank(op, x.shape);
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const plan = coalesce(op, kept.map((i) => x.shape[i]), [{ offset: x.offset, strides: kept.map((i) => x.strides[i]) }]);
    const red = coalesce(op, axes.map((i) => x.shape[i]), [{ offset: 0, strides: axes.map((i) => x.strides[i]) }]);
    const out = this.alloc(plan.size, outDtype, op);
    if (plan.size === 0) return out;
    const meta = metaWords(plan, [red.shape.length, ...red.shape, ...red.operands[0].strides]);
    const inputs = [out.buffer, this.data(x.data, op).buffer];
    // One workgroup per output (shared-memory tree) when there are few outputs over a long axis;
    // on CPU emulation its barriers cost more than a plain loop unless outputs are very few.
    if (red.shape.length === 1 && red.size >= 256 && plan.size <= (this.software ? 8 : 4096)) {
      const code = reduceWorkgroupKernel(op, x.dtype, outDtype, plan.shape.length, plan.contiguous);
      this.runtime.dispatch(op, code, inputs, meta, this.runtime.grid(plan.size, op));
    } else {
      const code = reduceKernel(op, x.dtype, outDtype, plan.shape.length, plan.contiguous, red.shape.length);
      this.runtime.dispatch(op, code, inputs, meta, this.perOutput(plan.size, op));
    }
    return out;
  }

  /** The matmul variant used for a problem size (forced by debug.forceMatmulVariant, else the heuristic). */
  matmulVariant(B: number, M: number, N: number, K: number): MatmulVariant {
    const forced = this.runtime.debug.forceMatmulVariant as MatmulVariant | undefined;
    const maxInvocations = this.runtime.limits.maxComputeInvocationsPerWorkgroup;
    if (forced === 'tiled' && maxInvocations < 256) {
      throw new HeedError('matmul', `the tiled kernel needs 256 invocations per workgroup, but this device allows ${maxInvocations}; use 'blocked'.`);
    }
    return forced ?? chooseMatmulVariant(B, M, N, K, { software: this.software, maxInvocations });
  }

  matmul(a: StridedView, b: StridedView): DataId {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (K === 0 || B * M * N === 0) return this.fill(B * M * N, 0, 'float32');
    const out = this.alloc(B * M * N, 'float32', 'matmul');
    const variant = this.matmulVariant(B, M, N, K);
    const buffers = [out.buffer, this.data(a.data, 'matmul').buffer, this.data(b.data, 'matmul').buffer];
    const code = matmulKernel(variant);
    for (const [x, y, z, b0] of matmulGrids(variant, B, M, N, this.runtime.limits.maxComputeWorkgroupsPerDimension)) {
      const meta = Uint32Array.from([B, M, N, K, a.offset, ...a.strides, b.offset, ...b.strides, b0]);
      this.runtime.dispatch('matmul', code, buffers, meta, [x, y, z]);
    }
    return out;
  }

  gather(x: StridedView, axis: number, index: StridedView): DataId {
    const xOnIndex: Operand = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    return this.gatherLike('gather', x, index.shape, [xOnIndex, index], axis, index);
  }

  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    const shape = x.shape.map((d, i) => (i === axis ? index.shape[0] : d));
    const xv: Operand = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    const iv: Operand = { offset: index.offset, strides: shape.map((_, d) => (d === axis ? index.strides[0] : 0)) };
    return this.gatherLike('indexSelect', x, shape, [xv, iv], axis, index);
  }

  private gatherLike(op: string, x: StridedView, shape: readonly number[], operands: Operand[], axis: number, index: StridedView): DataId {
    const plan = coalesce(op, shape, operands);
    const out = this.alloc(plan.size, x.dtype, op);
    if (plan.size === 0) return out;
    const code = gatherKernel(x.dtype, plan.shape.length, plan.contiguous);
    const buffers = [out.buffer, this.data(x.data, op).buffer, this.data(index.data, op).buffer];
    this.runtime.dispatch(op, code, buffers, metaWords(plan, [x.strides[axis], x.shape[axis]]), this.groups(plan.size, op));
    return out;
  }

  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    checkRank('scatterAdd', shape);
    const n = numel(shape);
    if (n === 0 || index.shape[axis] === 0) return this.fill(n, 0, src.dtype);
    const out = this.alloc(n, src.dtype, 'scatterAdd');
    const zeroAxis = (v: StridedView): Operand => ({ offset: v.offset, strides: shape.map((_, d) => (d === axis ? 0 : v.strides[d])) });
    const plan = { shape, operands: [zeroAxis(index), zeroAxis(src)], contiguous: [false, false], size: n };
    const meta = metaWords(plan, [axis, index.shape[axis], index.strides[axis], src.strides[axis], ...index.shape]);
    const buffers = [out.buffer, this.data(index.data, 'scatterAdd').buffer, this.data(src.data, 'scatterAdd').buffer];
    this.runtime.dispatch('scatterAdd', scatterKernel(src.dtype, shape.length), buffers, meta, this.perOutput(n, 'scatterAdd'));
    return out;
  }

  concat(inputs: readonly StridedView[], axis: number): DataId {
    const shape = [...inputs[0].shape];
    shape[axis] = inputs.reduce((s, v) => s + v.shape[axis], 0);
    checkRank('concat', shape);
    const out = this.alloc(numel(shape), inputs[0].dtype, 'concat');
    const outStrides = rowMajor(shape);
    let start = 0;
    for (const v of inputs) {
      const plan = coalesce('concat', v.shape, [v, { offset: start * outStrides[axis], strides: outStrides }]);
      if (plan.size > 0) {
        const code = copyIntoKernel(v.dtype, plan.shape.length, plan.contiguous);
        this.runtime.dispatch('concat', code, [out.buffer, this.data(v.data, 'concat').buffer], metaWords(plan), this.groups(plan.size, 'concat'));
      }
      start += v.shape[axis];
    }
    return out;
  }

  random(kind: RandomKind, size: number, seed: number, offset: number): DataId {
    const out = this.alloc(size, 'float32', 'random');
    if (size === 0) return out;
    const meta = Uint32Array.from([size, seed >>> 0, offset >>> 0]);
    this.runtime.dispatch('random', randomKernel(kind), [out.buffer], meta, this.groups(size, 'random'));
    return out;
  }

  softmax(x: StridedView): DataId {
    return this.rows('softmax', x, null, null, 0);
  }

  logSoftmax(x: StridedView): DataId {
    return this.rows('logSoftmax', x, null, null, 0);
  }

  layerNorm(x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId {
    return this.rows('layerNorm', x, weight, bias, eps);
  }

  gelu(x: StridedView, approximate: 'none' | 'tanh'): DataId {
    return this.elementwise('gelu', [x], 'float32', geluExpr(approximate));
  }

  /**
   * One Adam step in three elementwise dispatches (new m, new v, new param). The step's
   * scalars travel as broadcast operands of one small buffer, so the kernels do not change
   * from step to step.
   */
  adam(param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] {
    const { lr, beta1, beta2, eps, c1, c2 } = step;
    const scalars = this.upload(Float32Array.from([beta1, 1 - beta1, beta2, 1 - beta2, lr * c1, c2, eps]), 'float32');
    const s = (i: number): StridedView => ({ data: scalars, dtype: 'float32', shape: param.shape, strides: param.shape.map(() => 0), offset: i });
    try {
      const m = this.elementwise('adam', [expAvg, grad, s(0), s(1)], 'float32', 'v2 * v0 + v3 * v1');
      const v = this.elementwise('adam', [expAvgSq, grad, s(2), s(3)], 'float32', 'v2 * v0 + v3 * (v1 * v1)');
      const mv: StridedView = { data: m, dtype: 'float32', shape: param.shape, strides: rowMajor(param.shape), offset: 0 };
      const vv: StridedView = { ...mv, data: v };
      const p = this.elementwise('adam', [param, mv, vv, s(4), s(5), s(6)], 'float32', 'v0 - v3 * v1 / (sqrt(v2 * v4) + v5)');
      return [p, m, v];
    } finally {
      this.free(scalars);
    }
  }

  /** A contiguous view of `v` (itself when already contiguous, else a copy the caller frees). */
  private contiguous(v: StridedView): { view: StridedView; temp: DataId | null } {
    const rm = rowMajor(v.shape);
    if (v.shape.every((d, i) => d === 1 || v.strides[i] === rm[i])) return { view: v, temp: null };
    const temp = this.copy(v);
    return { view: { data: temp, dtype: v.dtype, shape: v.shape, strides: rm, offset: 0 }, temp };
  }

  private withContiguous(views: readonly (StridedView | null)[], f: (vs: (StridedView | null)[]) => DataId): DataId {
    const made = views.map((v) => (v ? this.contiguous(v) : null));
    try {
      return f(made.map((m) => m?.view ?? null));
    } finally {
      for (const m of made) if (m?.temp) this.free(m.temp);
    }
  }

  private rows(kind: RowKind, x: StridedView, w: StridedView | null, b: StridedView | null, eps: number): DataId {
    const cols = x.shape[x.shape.length - 1] ?? 1;
    const n = numel(x.shape);
    const rows = cols === 0 ? 0 : n / cols;
    checkRank(kind, x.shape);
    if (rows === 0) return this.alloc(n, 'float32', kind);
    return this.withContiguous([x, w, b], ([xc, wc, bc]) => {
      const out = this.alloc(n, 'float32', kind);
      const xd = this.data(xc!.data, kind).buffer;
      const meta = Uint32Array.from([rows, cols, f32Bits(eps), wc ? 1 : 0, bc ? 1 : 0, xc!.offset, wc?.offset ?? 0, bc?.offset ?? 0]);
      const inputs = kind === 'layerNorm' ? [xd, wc ? this.data(wc.data, kind).buffer : xd, bc ? this.data(bc.data, kind).buffer : xd] : [xd];
      // Workgroup-per-row pays off on GPUs; on CPU emulation barriers cost more unless rows are few.
      const wide = cols >= WIDE_ROW && (!this.software || rows < 16);
      const grid = wide ? this.runtime.grid(rows, kind) : this.perOutput(rows, kind);
      this.runtime.dispatch(kind, rowKernel(kind, wide), [out.buffer, ...inputs], meta, grid);
      return out;
    });
  }

  attention(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): DataId {
    const [B, H, L, D] = q.shape;
    const S = k.shape[2];
    const Dv = v.shape[3];
    const n = B * H * L * Dv;
    if (n === 0) return this.alloc(n, 'float32', 'attention');
    return this.withContiguous([q, k, v, mask], ([qc, kc, vc, mc]) => {
      const out = this.alloc(n, 'float32', 'attention');
      const qd = this.data(qc!.data, 'attention').buffer;
      const meta = Uint32Array.from([B * H, L, S, D, Dv, f32Bits(scale), causal ? 1 : 0, mc ? 1 : 0, qc!.offset, kc!.offset, vc!.offset, mc?.offset ?? 0]);
      const buffers = [out.buffer, qd, this.data(kc!.data, 'attention').buffer, this.data(vc!.data, 'attention').buffer, mc ? this.data(mc.data, 'attention').buffer : qd];
      this.runtime.dispatch('attention', attentionKernel(), buffers, meta, this.perOutput(B * H * L, 'attention'));
      return out;
    });
  }

  flush(): void {
    this.runtime.flush();
  }

  dispose(): void {
    this.runtime.destroy();
  }
}
