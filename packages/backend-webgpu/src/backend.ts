// SPDX-License-Identifier: MIT
// WebGPUBackend: every primitive of @heed/core's contract as WGSL dispatches, plus fused
// softmax, logSoftmax, gelu and layerNorm. Buffers hold f32/i32/u32 (bool); each kernel gets a
// small metadata buffer with shapes, strides and offsets, so views are read in place.
import {
  BACKEND_API_VERSION, HeedError, type Backend, type BackendCapabilities, type BinaryOp, type DType, type DataId,
  type RandomKind, type ReduceOp, type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { Runtime, type WebGPUDebug } from './runtime.js';
import { binaryExpr, convert, domainOf, unaryExpr, WGSL_TYPE } from './wgsl.js';
import { copyIntoKernel, elementwiseKernel, gatherKernel, matmulKernel, randomKernel, reduceKernel, rowKernel, scatterKernel } from './kernels.js';

/** A GPU buffer holding `size` elements of `dtype` (4 bytes each). */
interface GpuData {
  buffer: GPUBuffer;
  cls: number;
  size: number;
  dtype: DType;
  freed: boolean;
}

const MAX_RANK = 8;

/**
 * Picks the matmul kernel for a problem size: the 64x64-tile register-blocked kernel once the
 * output fills whole tiles, the simple one-thread-per-output kernel otherwise.
 *
 * @example
 * ```ts
 * chooseMatmulVariant(1, 512, 512, 512); // 'tiled'
 * chooseMatmulVariant(8, 4, 4, 64); // 'naive'
 * ```
 */
export function chooseMatmulVariant(batch: number, m: number, n: number, k: number): 'naive' | 'tiled' {
  return m >= 64 && n >= 64 && k >= 16 ? 'tiled' : 'naive';
}

/**
 * The WebGPU backend. Create it with {@link createWebGPUBackend}.
 *
 * @example
 * ```ts
 * const backend = await createWebGPUBackend();
 * registerBackend({ name: 'webgpu', priority: 2, async: true, create: () => backend });
 * ```
 */
export class WebGPUBackend implements Backend {
  readonly name: string;
  readonly apiVersion = BACKEND_API_VERSION;
  readonly capabilities: BackendCapabilities;
  /** @internal */ readonly runtime: Runtime;

  /** `name` lets one device serve several registry entries (tests, side-by-side setups). */
  constructor(device: GPUDevice, debug: WebGPUDebug = {}, name = 'webgpu') {
    this.name = name;
    this.runtime = new Runtime(device, debug);
    this.capabilities = { syncRead: false, dtypes: ['float32', 'int32', 'bool'], maxBufferBytes: device.limits.maxStorageBufferBindingSize };
  }

  private data(id: DataId, op: string): GpuData {
    const d = id as GpuData;
    if (!d || !(d.buffer instanceof Object) || typeof d.cls !== 'number') throw new HeedError(op, 'received a buffer from another backend.');
    if (d.freed) throw new HeedError(op, 'a buffer was used after it was freed.');
    return d;
  }

  private alloc(size: number, dtype: DType, op: string): GpuData {
    const { buffer, cls } = this.runtime.acquire(Math.max(1, size) * 4, op);
    return { buffer, cls, size, dtype, freed: false };
  }

  /** Metadata buffer: [n, rank, shape..., per operand: offset, strides...] + tail. */
  private meta(shape: readonly number[], operands: readonly { offset: number; strides: readonly number[] }[], tail: number[], op: string): GPUBuffer {
    if (shape.length > MAX_RANK) throw new HeedError(op, `tensors of rank ${shape.length} are not supported on WebGPU (at most ${MAX_RANK}).`);
    const n = shape.reduce((a, b) => a * b, 1);
    const words = [n, shape.length, ...shape];
    for (const o of operands) words.push(o.offset, ...o.strides);
    words.push(...tail);
    return this.runtime.createWith(Uint32Array.from(words), op, true).buffer;
  }

  private run(op: string, code: string, out: GpuData, inputs: readonly GpuData[], meta: GPUBuffer, threads: number): DataId {
    this.runtime.dispatch(code, [meta, out.buffer, ...inputs.map((d) => d.buffer)], threads, op);
    return out;
  }

  private elementwise(op: string, views: readonly StridedView[], outDtype: DType, body: string, extra = ''): DataId {
    const shape = views[0].shape;
    const n = shape.reduce((a, b) => a * b, 1);
    const out = this.alloc(n, outDtype, op);
    if (n === 0) return out;
    const inputs = views.map((v) => this.data(v.data, op));
    const code = elementwiseKernel(outDtype, views.map((v) => v.dtype), body, extra);
    return this.run(op, code, out, inputs, this.meta(shape, views, [], op), n);
  }

  upload(values: TypedArray, dtype: DType): DataId {
    const words = dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint32Array.from(values, (v) => (v ? 1 : 0));
    const { buffer, cls } = this.runtime.createWith(words.length > 0 ? words : new Uint32Array(1), 'upload', false);
    return { buffer, cls, size: values.length, dtype, freed: false } satisfies GpuData;
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
    this.runtime.release(d.buffer, d.cls);
  }

  fill(size: number, value: number, dtype: DType): DataId {
    const words = dtype === 'float32' ? new Float32Array(Math.max(1, size)).fill(value)
      : dtype === 'int32' ? new Int32Array(Math.max(1, size)).fill(value) : new Uint32Array(Math.max(1, size)).fill(value ? 1 : 0);
    const { buffer, cls } = this.runtime.createWith(words, 'fill', false);
    return { buffer, cls, size, dtype, freed: false } satisfies GpuData;
  }

  copy(x: StridedView): DataId {
    return this.elementwise('copy', [x], x.dtype, 'v0');
  }

  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    const outDom = outDtype === 'bool' ? domainOf(x.dtype) : domainOf(outDtype);
    const dom = op === 'isnan' || op === 'not' ? domainOf(x.dtype) : outDom;
    const expr = unaryExpr(op, dom);
    if (!expr) throw new HeedError(op, `has no ${x.dtype} kernel on WebGPU.`);
    const load = dom === 'f32' ? (x.dtype === 'float32' ? 'v0' : 'f32(v0)') : x.dtype === 'bool' ? 'i32(v0)' : x.dtype === 'int32' ? 'v0' : 'f2i(v0)';
    const bool = op === 'isnan' || op === 'not';
    const body = bool ? convert(`(${expr.replace(/\bx\b/g, 'xv')})`, dom, 'bool') : convert(`(${expr.replace(/\bx\b/g, 'xv')})`, dom, outDtype);
    return this.elementwise(op, [x], outDtype, `fnUnary(${load})`, `fn fnUnary(xv: ${dom}) -> ${WGSL_TYPE[outDtype]} { return ${body}; }`);
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    const isCompare = ['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'xor'].includes(op);
    const dom = isCompare ? domainOf(a.dtype) : outDtype === 'bool' ? 'i32' : domainOf(outDtype);
    const load = (v: string, d: DType) => (dom === 'f32' ? (d === 'float32' ? v : `f32(${v})`) : d === 'float32' ? `f2i(${v})` : d === 'bool' ? `i32(${v})` : v);
    const expr = binaryExpr(op, dom).replace(/\ba\b/g, 'av').replace(/\bb\b/g, 'bv');
    const body = convert(`(${expr})`, dom, outDtype);
    const fn = `fn fnBinary(av: ${dom}, bv: ${dom}) -> ${WGSL_TYPE[outDtype]} { return ${body}; }`;
    return this.elementwise(op, [a, b], outDtype, `fnBinary(${load('v0', a.dtype)}, ${load('v1', b.dtype)})`, fn);
  }

  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    return this.elementwise('where', [cond, a, b], a.dtype, 'select(v2, v1, v0 != 0u)');
  }

  cast(x: StridedView, dtype: DType): DataId {
    const from = WGSL_TYPE[x.dtype];
    return this.elementwise('cast', [x], dtype, convert('v0', from, dtype));
  }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    const kept = x.shape.map((_, i) => i).filter((i) => !axes.includes(i));
    const outShape = kept.map((i) => x.shape[i]);
    const n = outShape.reduce((p, q) => p * q, 1);
    const out = this.alloc(n, outDtype, op);
    if (n === 0) return out;
    const tail = [axes.length, ...axes.map((i) => x.shape[i]), ...axes.map((i) => x.strides[i])];
    const meta = this.meta(outShape, [{ offset: x.offset, strides: kept.map((i) => x.strides[i]) }], tail, op);
    return this.run(op, reduceKernel(op, x.dtype, outDtype), out, [this.data(x.data, op)], meta, n);
  }

  matmul(a: StridedView, b: StridedView): DataId {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    if (K === 0 || B * M * N === 0) return this.fill(B * M * N, 0, 'float32');
    const out = this.alloc(B * M * N, 'float32', 'matmul');
    const variant = this.runtime.debug.forceMatmulVariant ?? chooseMatmulVariant(B, M, N, K);
    const words = Uint32Array.from([B, M, N, K, a.offset, ...a.strides, b.offset, ...b.strides]);
    const meta = this.runtime.createWith(words, 'matmul', true).buffer;
    const buffers = [meta, out.buffer, this.data(a.data, 'matmul').buffer, this.data(b.data, 'matmul').buffer];
    if (variant === 'naive') {
      this.runtime.dispatch(matmulKernel('naive'), buffers, B * M * N, 'matmul');
    } else {
      this.runtime.dispatchGrid(matmulKernel('tiled'), buffers, [Math.ceil(N / 64), Math.ceil(M / 64), B], 'matmul');
    }
    return out;
  }

  gather(x: StridedView, axis: number, index: StridedView): DataId {
    const xOnIndex = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    const n = index.shape.reduce((p, q) => p * q, 1);
    const out = this.alloc(n, x.dtype, 'gather');
    if (n === 0) return out;
    const meta = this.meta(index.shape, [xOnIndex, index], [x.strides[axis], x.shape[axis]], 'gather');
    return this.run('gather', gatherKernel(x.dtype), out, [this.data(x.data, 'gather'), this.data(index.data, 'gather')], meta, n);
  }

  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    const shape = x.shape.map((d, i) => (i === axis ? index.shape[0] : d));
    const n = shape.reduce((p, q) => p * q, 1);
    const out = this.alloc(n, x.dtype, 'indexSelect');
    if (n === 0) return out;
    const xv = { offset: x.offset, strides: x.strides.map((s, d) => (d === axis ? 0 : s)) };
    const iv = { offset: index.offset, strides: shape.map((_, d) => (d === axis ? index.strides[0] : 0)) };
    const meta = this.meta(shape, [xv, iv], [x.strides[axis], x.shape[axis]], 'indexSelect');
    return this.run('indexSelect', gatherKernel(x.dtype), out, [this.data(x.data, 'indexSelect'), this.data(index.data, 'indexSelect')], meta, n);
  }

  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    const n = shape.reduce((p, q) => p * q, 1);
    if (n === 0 || index.shape[axis] === 0) return this.fill(n, 0, src.dtype);
    const out = this.alloc(n, src.dtype, 'scatterAdd');
    const zeroAxis = (v: StridedView) => ({ offset: v.offset, strides: shape.map((_, d) => (d === axis ? 0 : v.strides[d])) });
    const tail = [axis, index.shape[axis], index.strides[axis], src.strides[axis], ...index.shape];
    const meta = this.meta(shape, [zeroAxis(index), zeroAxis(src)], tail, 'scatterAdd');
    return this.run('scatterAdd', scatterKernel(src.dtype), out, [this.data(index.data, 'scatterAdd'), this.data(src.data, 'scatterAdd')], meta, n);
  }

  concat(inputs: readonly StridedView[], axis: number): DataId {
    const shape = [...inputs[0].shape];
    shape[axis] = inputs.reduce((s, v) => s + v.shape[axis], 0);
    const n = shape.reduce((p, q) => p * q, 1);
    const out = this.alloc(n, inputs[0].dtype, 'concat');
    const outStrides = shape.map((_, i) => shape.slice(i + 1).reduce((p, q) => p * q, 1));
    let start = 0;
    for (const v of inputs) {
      const m = v.shape.reduce((p, q) => p * q, 1);
      if (m > 0) {
        const region = { offset: start * outStrides[axis], strides: outStrides };
        this.run('concat', copyIntoKernel(v.dtype), out, [this.data(v.data, 'concat')], this.meta(v.shape, [v, region], [], 'concat'), m);
      }
      start += v.shape[axis];
    }
    return out;
  }

  random(kind: RandomKind, size: number, seed: number, offset: number): DataId {
    const out = this.alloc(size, 'float32', 'random');
    if (size === 0) return out;
    const meta = this.runtime.createWith(Uint32Array.from([size, seed >>> 0, offset >>> 0]), 'random', true).buffer;
    return this.run('random', randomKernel(kind), out, [], meta, size);
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
    const body = approximate === 'tanh'
      ? '0.5 * v0 * (1.0 + tanh32(0.7978845608028654 * (v0 + 0.044715 * v0 * v0 * v0)))'
      : '0.5 * v0 * (1.0 + erf32(v0 * 0.7071067811865476))';
    return this.elementwise('gelu', [x], 'float32', body);
  }

  private rows(kind: 'softmax' | 'logSoftmax' | 'layerNorm', x: StridedView, w: StridedView | null, b: StridedView | null, eps: number): DataId {
    const cols = x.shape[x.shape.length - 1] ?? 1;
    const n = x.shape.reduce((p, q) => p * q, 1);
    const rows = cols === 0 ? 0 : n / cols;
    const out = this.alloc(n, 'float32', kind);
    if (rows === 0) return out;
    const epsBits = new Uint32Array(new Float32Array([eps]).buffer)[0];
    const meta = this.runtime.createWith(Uint32Array.from([rows, cols, epsBits, w ? 1 : 0, b ? 1 : 0]), kind, true).buffer;
    const xd = this.data(x.data, kind);
    const inputs = kind === 'layerNorm' ? [xd, w ? this.data(w.data, kind) : xd, b ? this.data(b.data, kind) : xd] : [xd];
    return this.run(kind, rowKernel(kind), out, inputs, meta, rows);
  }

  flush(): void {
    this.runtime.flush();
  }

  dispose(): void {
    this.runtime.destroy();
  }
}
