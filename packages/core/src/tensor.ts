// SPDX-License-Identifier: MIT
// The Tensor handle: a strided view (shape, strides, offset) onto a reference-counted Storage
// on one backend, plus its autograd node. Ops never modify their inputs; the only in-place
// update is `assign` (for optimizers), which swaps the storage and bumps its version.
// Chainable op methods (x.add(y), x.sum()...) are attached in tensor-methods.ts.
import { checkBufferLimit, type Backend, type StridedView } from './backend.js';
import { isFloatDType, type DType, type TypedArray } from './dtype.js';
import { HeedError, fmtShape } from './errors.js';
import { contiguousStrides, isContiguous, sizeOf, type Shape } from './shape.js';
import { Storage } from './storage.js';
import type { Scope } from './scope.js';
import { trackTensor, untrackTensor } from './memory.js';
import type { GcHeld } from './gc-net.js';
import { GradNode } from './autograd/node.js';
import { formatTensor, type TensorDescription } from './format.js';
import { shownValues, shownValuesSync } from './print.js';
import { runKernel } from './kernel-dispatch.js';

// Node's util.inspect looks this symbol up (no node: import needed).
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

let nextId = 0;

/** @internal What a tensor handle owns: one reference to its storage and to its autograd node. */
export class Owned implements GcHeld {
  constructor(public storage: Storage, public node: GradNode | null) {}
  /** Drops both references (the GC safety net's release of an undisposed handle). */
  release(): void {
    this.storage.release();
    this.node?.release();
  }
}

/**
 * An n-dimensional array on a backend, with reverse-mode autodiff.
 *
 * Create tensors with {@link tensor}, {@link zeros}, {@link randn}... rather than the
 * constructor. Read values with `await t.data()` (or `t.dataSync()` on synchronous backends).
 *
 * @example
 * ```ts
 * const x = tensor([[1, 2], [3, 4]], { requiresGrad: true });
 * const loss = x.mul(x).sum();
 * loss.backward();
 * await x.grad!.data(); // Float32Array [2, 4, 6, 8]
 * ```
 */
export class Tensor {
  /** Unique id, for debugging. */
  readonly id = nextId++;
  /** Size of each dimension. */
  readonly shape: Shape;
  /** Element strides of each dimension (0 for broadcast dims). */
  readonly strides: readonly number[];
  /** Element offset of the first element in the storage. */
  readonly offset: number;
  /** Accumulated gradient (set by `backward()` on leaves that require grad). */
  grad: Tensor | null = null;
  /** @internal */ scope: Scope | null = null;
  /** @internal What this handle owns; shared with the GC safety net (gc-net.ts), which releases it. */
  readonly held: Owned;
  private disposed = false;

  /** @internal Use the creation ops instead. Takes over one reference to `storage` and `node`. */
  constructor(storage: Storage, shape: Shape, strides: readonly number[], offset: number, node: GradNode | null) {
    this.shape = shape;
    this.strides = strides;
    this.offset = offset;
    this.held = new Owned(storage, node);
    trackTensor(this);
  }

  /** @internal The reference-counted buffer. */
  get storage(): Storage {
    return this.held.storage;
  }

  /** @internal The autograd node (null when no gradient flows here). */
  get node(): GradNode | null {
    return this.held.node;
  }

  /** Element type. */
  get dtype(): DType {
    return this.storage.dtype;
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** Number of elements. */
  get size(): number {
    return sizeOf(this.shape);
  }

  /** The backend holding the data. */
  get backend(): Backend {
    return this.storage.backend;
  }

  /** Whether `dispose()` was called. */
  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Whether gradients flow to this tensor. */
  get requiresGrad(): boolean {
    return this.node !== null;
  }

  /** Whether this is a leaf (created by the user, not by an op that recorded a gradient). */
  get isLeaf(): boolean {
    return this.node === null || this.node.isLeaf;
  }

  /** Whether the view is row-major without gaps. */
  get isContiguous(): boolean {
    return this.offset === 0 && isContiguous(this.shape, this.strides) && this.storage.size === this.size;
  }

  /** @internal The strided view the kernels read. Throws if disposed. */
  stridedView(op: string): StridedView {
    this.assertLive(op);
    return { data: this.storage.data, dtype: this.dtype, shape: this.shape, strides: this.strides, offset: this.offset };
  }

  /** @internal Throws a clear error when used after dispose. */
  assertLive(op: string): void {
    if (this.disposed) {
      throw new HeedError(op, `tensor #${this.id} (shape ${fmtShape(this.shape)}, ${this.storage.dtype}) was disposed ` +
        'and cannot be used. Keep it alive (keep(), or return it from tidy()) until you are done with it.');
    }
    if (this.storage.freed) {
      throw new HeedError(op, `the data of tensor #${this.id} was freed.`);
    }
  }

  /**
   * Marks a leaf tensor as requiring gradients (in place). Returns `this`.
   *
   * @example
   * ```ts
   * const w = randn([3, 3]).requiresGrad_();
   * ```
   */
  requiresGrad_(flag = true): this {
    this.assertLive('requiresGrad_');
    if (!this.isLeaf) {
      throw new HeedError('requiresGrad_', 'only leaf tensors can change requiresGrad; call .detach() first.');
    }
    if (flag && !isFloatDType(this.dtype)) {
      throw new HeedError('requiresGrad_', `only float tensors can require gradients, got ${this.dtype}. Cast with .float() first.`);
    }
    if (flag && !this.node) {
      this.held.node = new GradNode('leaf', [], [], null, { inputs: [], output: null }, this);
    } else if (!flag && this.node) {
      this.node.release();
      this.held.node = null;
    }
    return this;
  }

  /** @internal Attaches the autograd node recorded for this (fresh) op output. */
  setNode(node: GradNode): void {
    this.held.node?.release();
    this.held.node = node;
  }

  /** @internal Adds `g` into `.grad` (called by the backward engine). */
  accumulateGrad(g: unknown): void {
    const grad = g as Tensor;
    if (this.grad === null) {
      this.grad = grad;
    } else {
      const sum = this.grad.add(grad);
      this.grad.dispose();
      grad.dispose();
      this.grad = sum;
    }
  }

  /**
   * Reads the values (row-major, contiguous) once all pending work is done.
   *
   * @example
   * ```ts
   * const values = await tensor([1, 2]).data(); // Float32Array [1, 2]
   * ```
   */
  async data(): Promise<TypedArray> {
    const c = this.contiguousStorage('data');
    try {
      return await runKernel(this.backend, 'read', c.data, this.dtype, this.size);
    } finally {
      c.release();
    }
  }

  /**
   * Reads the values synchronously. Only on backends with synchronous reads (CPU);
   * elsewhere throws and points to `await data()`.
   *
   * @example
   * ```ts
   * tensor([1, 2]).dataSync(); // Float32Array [1, 2]
   * ```
   */
  dataSync(): TypedArray {
    const backend = this.backend;
    if (!backend.capabilities.syncRead || !backend.readSync) {
      throw new HeedError('dataSync', `the '${backend.name}' backend cannot read synchronously; use 'await t.data()' instead.`);
    }
    const c = this.contiguousStorage('dataSync');
    try {
      return runKernel(backend, 'readSync', c.data, this.dtype, this.size);
    } finally {
      c.release();
    }
  }

  /**
   * Reads the values as nested arrays (numbers, or booleans for bool tensors).
   *
   * @example
   * ```ts
   * await tensor([[1, 2], [3, 4]]).array(); // [[1, 2], [3, 4]]
   * ```
   */
  async array(): Promise<NestedArray> {
    return toNested(await this.data(), this.shape, this.dtype);
  }

  /**
   * Reads a one-element tensor as a number.
   *
   * @example
   * ```ts
   * await tensor([[3]]).item(); // 3
   * ```
   */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new HeedError('item', `only one-element tensors can be converted to a number, got shape ${fmtShape(this.shape)}.`);
    }
    return (await this.data())[0];
  }

  /** A contiguous storage with this view's values (a new reference; release it after use). */
  private contiguousStorage(op: string): Storage {
    this.assertLive(op);
    if (this.isContiguous) return this.storage.retain();
    checkBufferLimit(this.backend, op, this.shape, this.dtype); // copying an expanded view can grow
    const data = runKernel(this.backend, 'copy', this.stridedView(op));
    return new Storage(this.backend, data, this.size, this.dtype);
  }

  /**
   * Frees this handle (and its gradient). The data is freed once no other view, and no
   * autograd graph, references it. Safe to call twice.
   *
   * @example
   * ```ts
   * const t = zeros([1000]);
   * t.dispose();
   * ```
   */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    untrackTensor(this);
    this.held.release();
    this.held.node = null;
    this.grad?.dispose();
    this.grad = null;
  }

  /**
   * Support for `using t = ...` (explicit resource management).
   *
   * @example
   * ```ts
   * { using t = zeros([4]); } // disposed here
   * ```
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * Replaces this tensor's values with those of `value` (same shape and dtype), in place.
   * For optimizers: call inside `noGrad`, on leaves. Other views of the old data keep the
   * old values, and tensors saved for backward are unaffected.
   *
   * @example
   * ```ts
   * noGrad(() => w.assign(w.sub(w.grad!.mul(0.1))));
   * ```
   */
  assign(value: Tensor): this {
    this.assertLive('assign');
    value.assertLive('assign');
    if (!this.isLeaf) throw new HeedError('assign', 'only leaf tensors can be assigned in place; use the op result instead.');
    if (value.backend !== this.backend) {
      throw new HeedError('assign', `value is on '${value.backend.name}' but the target is on '${this.backend.name}'; move it with .to().`);
    }
    if (value.dtype !== this.dtype || value.shape.length !== this.shape.length || value.shape.some((d, i) => d !== this.shape[i])) {
      throw new HeedError('assign', `value ${fmtShape(value.shape)} ${value.dtype} does not match target ` +
        `${fmtShape(this.shape)} ${this.dtype}; the shape and dtype must be equal.`);
    }
    const next = value.contiguousStorage('assign');
    next.version = this.storage.version + 1;
    this.storage.release();
    this.held.storage = next;
    (this as { strides: readonly number[] }).strides = contiguousStrides(this.shape);
    (this as { offset: number }).offset = 0;
    return this;
  }

  /**
   * The values, printed like PyTorch: `tensor([[1., 2.],\n        [3., 4.]])`, summarised with
   * `...` above 1000 elements (see {@link setPrintOptions}). On backends without synchronous
   * reads (WebGPU) it shows the shape, dtype and device and says to use `await t.print()`.
   * `console.log(t)` in Node prints the same.
   *
   * @example
   * ```ts
   * String(tensor([[1, 2], [3, 4]])); // 'tensor([[1., 2.],\n        [3., 4.]])'
   * ```
   */
  toString(): string {
    let values: ArrayLike<number> | null = null;
    let note: string | undefined;
    if (!this.disposed && !this.storage.freed && this.backend.capabilities.syncRead && this.backend.readSync) {
      try {
        values = shownValuesSync(this);
      } catch (e) {
        note = `values could not be read: ${(e as Error).message}`;
      }
    }
    return formatTensor(this.describe(values, note));
  }

  /** @internal Node's `util.inspect` hook (used by `console.log`): the same as `toString()`. */
  [INSPECT](): string {
    return this.toString();
  }

  /**
   * Prints the values with `console.log` once they are read (any backend), formatted like
   * {@link Tensor.toString}, and returns the printed string.
   *
   * @example
   * ```ts
   * await tensor([0.5, 2]).print(); // tensor([0.5000, 2.0000])
   * ```
   */
  async print(): Promise<string> {
    const values = this.disposed || this.storage.freed ? null : await shownValues(this);
    const text = formatTensor(this.describe(values));
    console.log(text);
    return text;
  }

  private describe(values: ArrayLike<number> | null, note?: string): TensorDescription {
    const node = this.held.node;
    return {
      shape: this.shape, dtype: this.dtype, values, note, device: this.storage.backend.name, disposed: this.disposed || this.storage.freed,
      requiresGrad: node !== null, gradFn: node && !node.isLeaf ? node.op : null,
    };
  }
}

/**
 * Nested arrays of numbers or booleans, as returned by {@link Tensor.array}.
 *
 * @example
 * ```ts
 * const rows: NestedArray = [[1, 2], [3, 4]];
 * ```
 */
export type NestedArray = number | boolean | NestedArray[];

function toNested(values: TypedArray, shape: Shape, dtype: DType): NestedArray {
  const conv = (v: number): number | boolean => (dtype === 'bool' ? v !== 0 : v);
  if (shape.length === 0) return conv(values[0]);
  const build = (dim: number, start: number): NestedArray[] => {
    const n = shape[dim];
    const step = sizeOf(shape.slice(dim + 1));
    const out: NestedArray[] = [];
    for (let i = 0; i < n; i++) {
      out.push(dim === shape.length - 1 ? conv(values[start + i]) : build(dim + 1, start + i * step));
    }
    return out;
  };
  return build(0, 0);
}
