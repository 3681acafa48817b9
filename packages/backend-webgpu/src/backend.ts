// SPDX-License-Identifier: MIT
// WebGPUBackend: every primitive of @heed/core's backend contract as WGSL dispatches, plus the
// fused softmax, logSoftmax, gelu, layerNorm, attention and Adam kernels (whose host side is
// in fused-ops.ts).
// Invariants: buffers hold f32 / i32 / u32-bool words, one per element; every kernel writes a
// NEW buffer and reads its inputs through strided metadata (no extra copies); zero-size
// results never dispatch (they get a minimum-size buffer); a DataId is used only while not freed.
// Every primitive validates its arguments (validate.ts) before allocating or recording, and an
// op that fails after allocating frees what it allocated (see `produce`), so a bad call leaves
// the backend as it was. gather/indexSelect/scatterAdd report out-of-range indices from the
// device (index-errors.ts): the next read or flush throws.
import {
  BACKEND_API_VERSION, HeedError, type AdamScalars, type Backend, type Conv2dParams, type BackendCapabilities, type BinaryOp, type DType, type DataId, type ElementwiseProgram,
  type RandomKind, type ReduceOp, type StridedView, type TypedArray, type UnaryOp, contiguousStrides, fmtShape, sizeOf, unravelIndex,
} from '@heed/core';
import { Runtime, type WebGPUDebug } from './runtime.js';
import { adamOp, attentionOp, rowsOp, type GpuData } from './fused-ops.js';
import { attentionBackwardOp, attentionForwardOp } from './attention-train.js';
import { argsortOp, topkOp } from './sorting.js';
import { conv2dOp } from './conv.js';
import type { IndexSite } from './index-errors.js';
import {
  HOST, STORED_DTYPES, checkAxes, checkAxis, checkDType, checkFloat, checkIndexDims, checkIs, checkOp, checkRandomKind,
  checkSameShape, checkShape, checkSize, checkView,
} from './validate.js';
import { binaryWgsl, convert, unaryWgsl, WGSL_TYPE } from './wgsl.js';
import { coalesce, checkRank, metaWords, planViews, vectorize, type Operand } from './layout.js';
import * as K from './kernels.js';
import { MATMUL_VARIANTS, chooseMatmulVariant, matmulGrids, matmulKernel as matmulKernelRaw, matmulWords, type MatmulVariant } from './matmul.js';
import { geluExpr } from './fused.js';
import { memoKernel } from './kernel-cache.js';
import { runProgram } from './fused-program.js';
import { runMatmulProgram } from './matmul-program.js';

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
  /** No synchronous reads; float32, int32 and bool; buffers up to min(maxStorageBufferBindingSize, maxBufferSize). */
  readonly capabilities: BackendCapabilities;
  /** @internal The runtime (pool, pipelines, batching, stats); for tests and diagnostics. */
  readonly runtime: Runtime;
  /** Whether the adapter is CPU-emulated (SwiftShader and the like); steers the matmul heuristic. */
  readonly software: boolean;
  /** Whether the device has the 'subgroups' feature with subgroups of exactly 4 lanes (the 'subgroup' matmul kernel's assumption). */
  readonly subgroups4: boolean;

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
    const lanes = info as { subgroupMinSize?: number; subgroupMaxSize?: number } | undefined;
    this.subgroups4 = device.features.has('subgroups') && lanes?.subgroupMinSize === 4 && lanes.subgroupMaxSize === 4;
    // The largest buffer a kernel can bind (core checks op results against it before dispatch).
    const maxBufferBytes = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize);
    this.capabilities = { syncRead: false, dtypes: STORED_DTYPES, maxBufferBytes, matmulBatchDims: 2 };
  }

  /** @internal */
  data(id: DataId, op: string): GpuData {
    const d = id as GpuData;
    if (!d || typeof d.cls !== 'number' || !d.buffer) throw new HeedError(op, 'received a buffer from another backend.');
    if (d.freed) throw new HeedError(op, 'a buffer was used after it was freed.');
    return d;
  }

  /** @internal Checks views (dtype, layout, inside their live buffers); throws a HeedError naming `op`. */
  views(op: string, ...views: readonly (StridedView | null)[]): void {
    for (const v of views) if (v) checkView(op, v, this.data(v.data, op).size);
  }

  /** @internal */
  alloc(size: number, dtype: DType, op: string): GpuData {
    return { ...this.runtime.acquire(Math.max(1, size) * 4, op), size, dtype, freed: false };
  }

  /** @internal A new buffer filled by `record`; if `record` throws, the buffer is released before rethrowing. */
  produce(size: number, dtype: DType, op: string, record: (out: GpuData) => void): GpuData {
    const out = this.alloc(size, dtype, op);
    try {
      if (size > 0) record(out);
    } catch (e) {
      this.free(out);
      throw e;
    }
    return out;
  }

  /** @internal Grid for a map kernel over `n` elements. */
  groups(n: number, op: string): [number, number, number] {
    return this.runtime.grid(Math.ceil(n / ELEMS_PER_GROUP), op);
  }

  /** @internal Grid for a kernel with one invocation per output (reductions, scatterAdd, row kernels). */
  perOutput(n: number, op: string): [number, number, number] {
    return this.runtime.grid(Math.ceil(n / WG), op);
  }

  /** @internal An elementwise kernel over same-shape `views` (validated by the caller) into a new `outDtype` buffer. */
  mapKernel(op: string, views: readonly StridedView[], outDtype: DType, body: string, extra = ''): DataId {
    const plan = planViews(op, views);
    return this.produce(plan.size, outDtype, op, (out) => {
      const inputs = views.map((v) => this.data(v.data, op).buffer);
      const dtypes = views.map((v) => v.dtype);
      // 4 elements per load where the layout allows: far fewer (gathered) loads on CPU emulation.
      const vec = vectorize(plan);
      const code = vec
        ? elementwiseVec4Kernel(outDtype, dtypes, body, vec.plan.shape.length, vec.plan.contiguous, vec.scalar, extra)
        : elementwiseKernel(outDtype, dtypes, body, plan.shape.length, plan.contiguous, extra);
      const used = vec ? vec.plan : plan;
      this.runtime.dispatch(op, code, [out.buffer, ...inputs], metaWords(used), this.groups(used.size, op));
    });
  }

  upload(values: TypedArray, dtype: DType): DataId {
    checkDType('upload', dtype);
    if (!ArrayBuffer.isView(values)) throw new HeedError('upload', `values must be a typed array, got ${typeof values}.`);
    return { ...this.runtime.upload(HOST[dtype].toWords(values), 'upload'), size: values.length, dtype, freed: false } satisfies GpuData;
  }

  /**
   * Reads `size` elements. Throws (once) a device error found since the last read: an
   * out-of-range index of an earlier gather/indexSelect/scatterAdd, or an invalid batch.
   */
  async read(id: DataId, dtype: DType, size: number): Promise<TypedArray> {
    const d = this.data(id, 'read');
    checkDType('read', dtype);
    checkSize('read', size);
    if (size > d.size) throw new HeedError('read', `cannot read ${size} elements of a buffer of ${d.size}.`);
    const bytes = await this.runtime.readBytes(d.buffer, Math.max(1, size) * 4, 'read');
    return HOST[dtype].fromWords(size === 0 ? new ArrayBuffer(0) : bytes.slice(0, size * 4));
  }

  free(id: DataId): void {
    const d = this.data(id, 'free');
    d.freed = true;
    this.runtime.release(d);
  }

  fill(size: number, value: number, dtype: DType): DataId {
    checkDType('fill', dtype);
    checkSize('fill', size);
    return this.produce(size, dtype, 'fill', (out) => {
      const meta = Uint32Array.from([size, HOST[dtype].fillBits(value)]);
      this.runtime.dispatch('fill', fillKernel(dtype), [out.buffer], meta, this.groups(size, 'fill'));
    });
  }

  copy(x: StridedView): DataId {
    this.views('copy', x);
    return this.mapKernel('copy', [x], x.dtype, 'v0');
  }

  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    checkOp('unary', op);
    this.views(op, x);
    checkDType(op, outDtype);
    const u = unaryWgsl(op, x.dtype, outDtype, 'fnUnary');
    if (!u) throw new HeedError(op, `has no ${x.dtype} kernel on WebGPU (cast to float32 first).`);
    return this.mapKernel(op, [x], outDtype, u.call('v0'), u.decl);
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    checkOp('binary', op);
    this.views(op, a, b);
    checkSameShape(op, [a, b]);
    checkDType(op, outDtype);
    const f = binaryWgsl(op, a.dtype, b.dtype, outDtype, 'fnBinary');
    return this.mapKernel(op, [a, b], outDtype, f.call('v0', 'v1'), f.decl);
  }

  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    this.views('where', cond, a, b);
    checkIs('where', 'the condition', cond.dtype, 'bool');
    checkIs('where', 'the second branch', b.dtype, a.dtype);
    checkSameShape('where', [cond, a, b]);
    return this.mapKernel('where', [cond, a, b], a.dtype, 'select(v2, v1, v0 != 0u)');
  }

  cast(x: StridedView, dtype: DType): DataId {
    this.views('cast', x);
    checkDType('cast', dtype);
    return this.mapKernel('cast', [x], dtype, convert('v0', WGSL_TYPE[x.dtype], dtype));
  }

  /** A fused elementwise program from lazy execution, as one dispatch (null to decline: see fused-program.ts). */
  elementwise(program: ElementwiseProgram, inputs: readonly StridedView[]): DataId[] | null {
    return runProgram(this, program, inputs);
  }

  /** A matmul with a fused elementwise epilogue from lazy execution, as one matmul dispatch (null to decline: see matmul-program.ts). */
  matmulElementwise(a: StridedView, b: StridedView, program: ElementwiseProgram, inputs: readonly (StridedView | null)[]): DataId[] | null {
    return runMatmulProgram(this, a, b, program, inputs);
  }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    checkOp('reduce', op);
    this.views(op, x);
    const arg = op === 'argmax' || op === 'argmin';
    checkAxes(op, axes, x.shape.length, arg);
    checkDType(op, outDtype);
    checkRank(op, x.shape);
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    // An arg op over an empty axis has no answer (the kernel would return index -1), as on the CPU backend.
    if (arg && x.shape[axes[0]] === 0 && kept.every((d) => x.shape[d] > 0)) {
      throw new HeedError(op, `cannot take ${op} over axis ${axes[0]} of size 0 (shape ${fmtShape(x.shape)}); the axis must be non-empty.`);
    }
    const plan = coalesce(op, kept.map((i) => x.shape[i]), [{ offset: x.offset, strides: kept.map((i) => x.strides[i]) }]);
    const red = coalesce(op, axes.map((i) => x.shape[i]), [{ offset: 0, strides: axes.map((i) => x.strides[i]) }]);
    return this.produce(plan.size, outDtype, op, (out) => {
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
    });
  }

  /** The matmul variant used for a problem size (forced by debug.forceMatmulVariant, else the heuristic). */
  matmulVariant(B: number, M: number, N: number, K: number): MatmulVariant {
    const forced = this.runtime.debug.forceMatmulVariant as MatmulVariant | undefined;
    const maxInvocations = this.runtime.limits.maxComputeInvocationsPerWorkgroup;
    if (forced === 'tiled' && maxInvocations < 256) {
      throw new HeedError('matmul', `the tiled kernel needs 256 invocations per workgroup, but this device allows ${maxInvocations}; use 'blocked'.`);
    }
    if (forced === 'subgroup' && !this.subgroups4) {
      throw new HeedError('matmul', "the subgroup kernel needs the 'subgroups' feature with 4-lane subgroups, which this device lacks; use 'blocked'.");
    }
    return forced ?? chooseMatmulVariant(B, M, N, K, { software: this.software, maxInvocations, subgroups4: this.subgroups4 });
  }

  matmul(a: StridedView, b: StridedView): DataId {
    this.views('matmul', a, b);
    const mm = matmulWords(a, b);
    if (mm === null) {
      throw new HeedError('matmul', `needs [B, M, K] x [B, K, N] (or [B1, B2, M, K] x [B1, B2, K, N]) views, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}.`);
    }
    const { B, M, N, K, words } = mm;
    if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new HeedError('matmul', `needs float32 operands, got ${a.dtype} and ${b.dtype}.`);
    if (K === 0 || B * M * N === 0) return this.fill(B * M * N, 0, 'float32');
    const variant = this.matmulVariant(B, M, N, K);
    return this.produce(B * M * N, 'float32', 'matmul', (out) => {
      const buffers = [out.buffer, this.data(a.data, 'matmul').buffer, this.data(b.data, 'matmul').buffer];
      const code = matmulKernel(variant);
      for (const [x, y, z, b0] of matmulGrids(variant, B, M, N, this.runtime.limits.maxComputeWorkgroupsPerDimension)) {
        words[12] = b0;
        this.runtime.dispatch('matmul', code, buffers, Uint32Array.from(words), [x, y, z]);
      }
    });
  }

  /** Out-of-range index values are thrown by the next read or flush (see index-errors.ts). */
  gather(x: StridedView, axis: number, index: StridedView): DataId {
    this.views('gather', x, index);
    checkAxis('gather', axis, x.shape.length);
    checkIs('gather', 'the index', index.dtype, 'int32');
    checkIndexDims('gather', x.shape, axis, index.shape);
    const xOnIndex: Operand = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    const site = this.site('gather', x, axis, index.shape, (i) => unravelIndex(i, index.shape));
    return this.gatherLike('gather', x, index, index.shape, [xOnIndex, index], axis, site);
  }

  /** Out-of-range index values are thrown by the next read or flush (see index-errors.ts). */
  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    this.views('indexSelect', x, index);
    checkAxis('indexSelect', axis, x.shape.length);
    checkIs('indexSelect', 'the index', index.dtype, 'int32');
    if (index.shape.length !== 1) throw new HeedError('indexSelect', `the index must be 1-D, got shape ${fmtShape(index.shape)}.`);
    const shape = x.shape.map((d, i) => (i === axis ? index.shape[0] : d));
    const xv: Operand = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    const iv: Operand = { offset: index.offset, strides: shape.map((_, d) => (d === axis ? index.strides[0] : 0)) };
    const site = this.site('indexSelect', x, axis, index.shape, (i) => [unravelIndex(i, shape)[axis]]);
    return this.gatherLike('indexSelect', x, index, shape, [xv, iv], axis, site);
  }

  private site(op: string, x: StridedView, axis: number, indexShape: readonly number[], position: (pos0: number) => number[]): IndexSite {
    return { op, axis, axisSize: x.shape[axis], indexShape: [...indexShape], context: `input shape ${fmtShape(x.shape)}`, position };
  }

  private gatherLike(op: string, x: StridedView, index: StridedView, shape: readonly number[], operands: Operand[], axis: number, site: IndexSite): DataId {
    const plan = coalesce(op, shape, operands);
    return this.produce(plan.size, x.dtype, op, (out) => {
      const code = gatherKernel(x.dtype, plan.shape.length, plan.contiguous);
      const buffers = [out.buffer, this.data(x.data, op).buffer, this.data(index.data, op).buffer];
      this.runtime.dispatch(op, code, buffers, metaWords(plan, [x.strides[axis], x.shape[axis]]), this.groups(plan.size, op), site);
    });
  }

  /** Out-of-range index values are thrown by the next read or flush (see index-errors.ts). */
  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    checkShape('scatterAdd', shape);
    this.views('scatterAdd', index, src);
    checkAxis('scatterAdd', axis, shape.length);
    checkIs('scatterAdd', 'the index', index.dtype, 'int32');
    if (index.shape.length !== src.shape.length || index.shape.some((d, i) => d !== src.shape[i])) {
      throw new HeedError('scatterAdd', `index shape ${fmtShape(index.shape)} and src shape ${fmtShape(src.shape)} differ; they must be equal.`);
    }
    checkIndexDims('scatterAdd', shape, axis, index.shape);
    checkRank('scatterAdd', shape);
    const n = sizeOf(shape);
    if (n === 0 || index.shape[axis] === 0) return this.fill(n, 0, src.dtype);
    const site: IndexSite = {
      op: 'scatterAdd', axis, axisSize: shape[axis], indexShape: [...index.shape], context: `output shape ${fmtShape(shape)}`,
      position: (i, j) => unravelIndex(i, shape).map((c, d) => (d === axis ? j : c)),
    };
    return this.produce(n, src.dtype, 'scatterAdd', (out) => {
      const zeroAxis = (v: StridedView): Operand => ({ offset: v.offset, strides: shape.map((_, d) => (d === axis ? 0 : v.strides[d])) });
      const plan = { shape, operands: [zeroAxis(index), zeroAxis(src)], contiguous: [false, false], size: n };
      const meta = metaWords(plan, [axis, index.shape[axis], index.strides[axis], src.strides[axis], ...index.shape]);
      const buffers = [out.buffer, this.data(index.data, 'scatterAdd').buffer, this.data(src.data, 'scatterAdd').buffer];
      this.runtime.dispatch('scatterAdd', scatterKernel(src.dtype, shape.length), buffers, meta, this.perOutput(n, 'scatterAdd'), site);
    });
  }

  concat(inputs: readonly StridedView[], axis: number): DataId {
    if (!inputs || inputs.length === 0) throw new HeedError('concat', 'needs at least one input.');
    this.views('concat', ...inputs);
    const first = inputs[0];
    checkAxis('concat', axis, first.shape.length);
    for (const v of inputs) {
      checkIs('concat', 'every input', v.dtype, first.dtype);
      if (v.shape.length !== first.shape.length || v.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
        throw new HeedError('concat', `input shapes ${fmtShape(first.shape)} and ${fmtShape(v.shape)} differ outside axis ${axis}.`);
      }
    }
    const shape = [...first.shape];
    shape[axis] = inputs.reduce((s, v) => s + v.shape[axis], 0);
    checkRank('concat', shape);
    return this.produce(sizeOf(shape), first.dtype, 'concat', (out) => {
      const outStrides = contiguousStrides(shape);
      let start = 0;
      for (const v of inputs) {
        const plan = coalesce('concat', v.shape, [v, { offset: start * outStrides[axis], strides: outStrides }]);
        if (plan.size > 0) {
          const code = copyIntoKernel(v.dtype, plan.shape.length, plan.contiguous);
          this.runtime.dispatch('concat', code, [out.buffer, this.data(v.data, 'concat').buffer], metaWords(plan), this.groups(plan.size, 'concat'));
        }
        start += v.shape[axis];
      }
    });
  }

  random(kind: RandomKind, size: number, seed: number, offset: number): DataId {
    checkRandomKind(kind);
    checkSize('random', size);
    return this.produce(size, 'float32', 'random', (out) => {
      const meta = Uint32Array.from([size, seed >>> 0, offset >>> 0]);
      this.runtime.dispatch('random', randomKernel(kind), [out.buffer], meta, this.groups(size, 'random'));
    });
  }

  softmax(x: StridedView): DataId {
    return rowsOp(this, 'softmax', x, null, null, 0);
  }

  logSoftmax(x: StridedView): DataId {
    return rowsOp(this, 'logSoftmax', x, null, null, 0);
  }

  layerNorm(x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId {
    return rowsOp(this, 'layerNorm', x, weight, bias, eps);
  }

  gelu(x: StridedView, approximate: 'none' | 'tanh'): DataId {
    this.views('gelu', x);
    checkFloat('gelu', [x]);
    if (approximate !== 'none' && approximate !== 'tanh') throw new HeedError('gelu', `approximate must be 'none' or 'tanh', got '${String(approximate)}'.`);
    return this.mapKernel('gelu', [x], 'float32', geluExpr(approximate));
  }

  /** One Adam step in three elementwise dispatches (see fused-ops.ts). */
  adam(param: StridedView, grad: StridedView, expAvg: StridedView, expAvgSq: StridedView, step: AdamScalars): [DataId, DataId, DataId] {
    return adamOp(this, param, grad, expAvg, expAvgSq, step);
  }

  attention(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): DataId {
    return attentionOp(this, q, k, v, mask, scale, causal);
  }

  /** Fused attention forward for training, `[out, lse]` (attention-train.ts); null for non-contiguous q, k, v. */
  attentionForward(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): [DataId, DataId] | null {
    return attentionForwardOp(this, q, k, v, mask, scale, causal);
  }

  /** Fused attention backward, `[dq, dk, dv]` from out, dOut and lse (attention-train.ts); null for non-contiguous inputs. */
  attentionBackward(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean,
    out: StridedView, dOut: StridedView, lse: StridedView): [DataId, DataId, DataId] | null {
    return attentionBackwardOp(this, q, k, v, mask, scale, causal, out, dOut, lse);
  }

  /** Stable argsort of the last axis by rank counting (see sorting.ts); null for dtypes other than float32/int32. */
  argsort(x: StridedView, descending: boolean): DataId | null {
    return argsortOp(this, x, descending);
  }

  /** Top-k indices of the last axis by a tournament of blocks (see sorting.ts); null for other dtypes or k > 1024. */
  topk(x: StridedView, k: number, largest: boolean): DataId | null {
    return topkOp(this, x, k, largest);
  }

  /** Fused conv2d, a direct convolution with one invocation per output (see conv.ts); null for non-float32 or non-contiguous views. */
  conv2d(x: StridedView, weight: StridedView, bias: StridedView | null, params: Conv2dParams): DataId | null {
    return conv2dOp(this, x, weight, bias, params);
  }

  /**
   * Submits the batched work. Throws (once) a device error found since the last read or
   * flush, e.g. an out-of-range index of an earlier gather whose check has come back.
   */
  flush(): void {
    this.runtime.flush();
    this.runtime.raisePending();
  }

  dispose(): void {
    this.runtime.destroy();
  }
}
