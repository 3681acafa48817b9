// SPDX-License-Identifier: MIT
// Chainable methods on Tensor (x.add(y).relu().sum()): declared on the class by interface
// merging and installed on its prototype here. Each forwards to the functional op.
import type { DType } from './dtype.js';
import { Tensor } from './tensor.js';
import type { TensorLike } from './ops/operands.js';
import type { ArgReduceOptions, AxisArg, CorrectionOptions, KeepdimOptions, ReduceOptions, VarianceOptions } from './ops/reduce.js';
import type { SliceRange } from './ops/views.js';
import type { DiffOptions } from './ops/reorder.js';
import type { SortOptions, SortResult, TopkOptions } from './ops/sorting.js';
import type { BackwardOptions } from './autograd/engine.js';
import * as binary from './ops/binary-math.js';
import * as unaryOps from './ops/unary-math.js';
import * as elementwise from './ops/elementwise.js';
import * as reduce from './ops/reduce.js';
import * as views from './ops/views.js';
import * as mm from './ops/matmul.js';
import * as composites from './ops/composites.js';
import * as activations from './ops/activations.js';
import * as sampling from './ops/sampling.js';
import * as select from './ops/select.js';
import * as indexing from './ops/indexing.js';
import * as api from './autograd/api.js';
import * as move from './ops/move.js';
import * as reorder from './ops/reorder.js';
import * as scan from './ops/scan.js';
import * as sorting from './ops/sorting.js';

declare module './tensor.js' {
  interface Tensor {
    /**
     * Elementwise sum with broadcasting.
     * @example `x.add(1);`
     */
    add(other: TensorLike): Tensor;
    /**
     * Elementwise difference with broadcasting.
     * @example `x.sub(y);`
     */
    sub(other: TensorLike): Tensor;
    /**
     * Elementwise product with broadcasting.
     * @example `x.mul(2);`
     */
    mul(other: TensorLike): Tensor;
    /**
     * Elementwise true division with broadcasting.
     * @example `x.div(4);`
     */
    div(other: TensorLike): Tensor;
    /**
     * Elementwise power.
     * @example `x.pow(2);`
     */
    pow(exponent: TensorLike): Tensor;
    /**
     * Elementwise maximum.
     * @example `x.maximum(0);`
     */
    maximum(other: TensorLike): Tensor;
    /**
     * Elementwise minimum.
     * @example `x.minimum(1);`
     */
    minimum(other: TensorLike): Tensor;
    /**
     * Python-style remainder (sign of the divisor).
     * @example `x.remainder(3);`
     */
    remainder(other: TensorLike): Tensor;
    /**
     * Elementwise `==` (bool).
     * @example `x.eq(0);`
     */
    eq(other: TensorLike): Tensor;
    /**
     * Elementwise `!=` (bool).
     * @example `x.ne(0);`
     */
    ne(other: TensorLike): Tensor;
    /**
     * Elementwise `<` (bool).
     * @example `x.lt(0);`
     */
    lt(other: TensorLike): Tensor;
    /**
     * Elementwise `<=` (bool).
     * @example `x.le(0);`
     */
    le(other: TensorLike): Tensor;
    /**
     * Elementwise `>` (bool).
     * @example `x.gt(0);`
     */
    gt(other: TensorLike): Tensor;
    /**
     * Elementwise `>=` (bool).
     * @example `x.ge(0);`
     */
    ge(other: TensorLike): Tensor;
    /**
     * Logical and of bool tensors.
     * @example `a.logicalAnd(b);`
     */
    logicalAnd(other: TensorLike): Tensor;
    /**
     * Logical or of bool tensors.
     * @example `a.logicalOr(b);`
     */
    logicalOr(other: TensorLike): Tensor;
    /**
     * Logical not of a bool tensor.
     * @example `mask.logicalNot();`
     */
    logicalNot(): Tensor;
    /**
     * Negation.
     * @example `x.neg();`
     */
    neg(): Tensor;
    /**
     * Absolute value.
     * @example `x.abs();`
     */
    abs(): Tensor;
    /**
     * Sign (-1, 0, 1).
     * @example `x.sign();`
     */
    sign(): Tensor;
    /**
     * Exponential.
     * @example `x.exp();`
     */
    exp(): Tensor;
    /**
     * `exp(x) - 1`.
     * @example `x.expm1();`
     */
    expm1(): Tensor;
    /**
     * Natural log.
     * @example `x.log();`
     */
    log(): Tensor;
    /**
     * `log(1 + x)`.
     * @example `x.log1p();`
     */
    log1p(): Tensor;
    /**
     * Square root.
     * @example `x.sqrt();`
     */
    sqrt(): Tensor;
    /**
     * `1 / sqrt(x)`.
     * @example `x.rsqrt();`
     */
    rsqrt(): Tensor;
    /**
     * `x * x`.
     * @example `x.square();`
     */
    square(): Tensor;
    /**
     * `1 / x`.
     * @example `x.reciprocal();`
     */
    reciprocal(): Tensor;
    /**
     * Sine.
     * @example `x.sin();`
     */
    sin(): Tensor;
    /**
     * Cosine.
     * @example `x.cos();`
     */
    cos(): Tensor;
    /**
     * Hyperbolic tangent.
     * @example `x.tanh();`
     */
    tanh(): Tensor;
    /**
     * Logistic sigmoid.
     * @example `x.sigmoid();`
     */
    sigmoid(): Tensor;
    /**
     * `max(x, 0)`.
     * @example `x.relu();`
     */
    relu(): Tensor;
    /**
     * Error function.
     * @example `x.erf();`
     */
    erf(): Tensor;
    /**
     * Round down.
     * @example `x.floor();`
     */
    floor(): Tensor;
    /**
     * Round up.
     * @example `x.ceil();`
     */
    ceil(): Tensor;
    /**
     * Round half to even.
     * @example `x.round();`
     */
    round(): Tensor;
    /**
     * Whether each element is NaN (bool).
     * @example `x.isnan();`
     */
    isnan(): Tensor;
    /**
     * Clamps into `[min, max]`.
     * @example `x.clamp(0, 1);`
     */
    clamp(min?: number, max?: number): Tensor;
    /**
     * Sum over axes (all by default).
     * @example `x.sum({ axis: -1 });`
     */
    sum(options?: ReduceOptions): Tensor;
    /**
     * Sum over `axis` (a number or an array), e.g. `x.sum(-1)`.
     * @example `x.sum(-1, { keepdim: true });`
     */
    sum(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Mean over axes (all by default).
     * @example `x.mean({ axis: 0, keepdim: true });`
     */
    mean(options?: ReduceOptions): Tensor;
    /**
     * Mean over `axis` (a number or an array), e.g. `x.mean(-1)`.
     * @example `x.mean(0);`
     */
    mean(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Product over axes (all by default).
     * @example `x.prod();`
     */
    prod(options?: ReduceOptions): Tensor;
    /**
     * Product over `axis` (a number or an array), e.g. `x.prod(-1)`.
     * @example `x.prod(1);`
     */
    prod(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Maximum over axes: values only (unlike `torch.max(x, dim)`, no indices; use `argmax`).
     * @example `x.max({ axis: 1 });`
     */
    max(options?: ReduceOptions): Tensor;
    /**
     * Maximum over `axis`: values only (`torch.max(x, 1)` also returns indices; here use `x.argmax(1)`).
     * @example `x.max(1);`
     */
    max(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Minimum over axes: values only (use `argmin` for indices).
     * @example `x.min();`
     */
    min(options?: ReduceOptions): Tensor;
    /**
     * Minimum over `axis`: values only (use `argmin` for indices).
     * @example `x.min(-1, { keepdim: true });`
     */
    min(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Index of the maximum (int32), along `axis` or of the flattened tensor.
     * @example `logits.argmax(-1);`
     */
    argmax(axis?: number, keepdim?: boolean | KeepdimOptions): Tensor;
    /**
     * Index of the maximum (int32), with the axis in an options object.
     * @example `logits.argmax({ axis: -1, keepdim: true });`
     */
    argmax(options: ArgReduceOptions): Tensor;
    /**
     * Index of the minimum (int32), along `axis` or of the flattened tensor.
     * @example `x.argmin(0);`
     */
    argmin(axis?: number, keepdim?: boolean | KeepdimOptions): Tensor;
    /**
     * Index of the minimum (int32), with the axis in an options object.
     * @example `x.argmin({ axis: 0 });`
     */
    argmin(options: ArgReduceOptions): Tensor;
    /**
     * Variance (unbiased by default).
     * @example `x.variance({ axis: -1, correction: 0 });`
     */
    variance(options?: VarianceOptions): Tensor;
    /**
     * Variance over `axis` (a number or an array), e.g. `x.variance(-1)`.
     * @example `x.variance(-1, { correction: 0 });`
     */
    variance(axis: AxisArg, options?: CorrectionOptions): Tensor;
    /**
     * Standard deviation (unbiased by default).
     * @example `x.std();`
     */
    std(options?: VarianceOptions): Tensor;
    /**
     * Standard deviation over `axis` (a number or an array), e.g. `x.std(-1)`.
     * @example `x.std(1);`
     */
    std(axis: AxisArg, options?: CorrectionOptions): Tensor;
    /**
     * Stable `log(sum(exp(x)))`.
     * @example `x.logsumexp({ axis: -1 });`
     */
    logsumexp(options?: ReduceOptions): Tensor;
    /**
     * Stable `log(sum(exp(x)))` over `axis` (a number or an array), e.g. `x.logsumexp(-1)`.
     * @example `x.logsumexp(-1);`
     */
    logsumexp(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Whether any element is nonzero (bool).
     * @example `mask.any();`
     */
    any(options?: ReduceOptions): Tensor;
    /**
     * Whether any element is nonzero over `axis` (a number or an array), e.g. `x.any(-1)`.
     * @example `mask.any(-1);`
     */
    any(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Whether all elements are nonzero (bool).
     * @example `mask.all();`
     */
    all(options?: ReduceOptions): Tensor;
    /**
     * Whether all elements are nonzero over `axis` (a number or an array), e.g. `x.all(-1)`.
     * @example `mask.all(0);`
     */
    all(axis: AxisArg, options?: KeepdimOptions): Tensor;
    /**
     * Same values in a new shape (a view when possible).
     * @example `x.reshape([2, -1]);`
     */
    reshape(shape: readonly number[]): Tensor;
    /**
     * Alias of `reshape`.
     * @example `x.view([-1]);`
     */
    view(shape: readonly number[]): Tensor;
    /**
     * Flattens a range of dims.
     * @example `x.flatten(1);`
     */
    flatten(startDim?: number, endDim?: number): Tensor;
    /**
     * Reorders dims (a view).
     * @example `x.permute([0, 2, 1]);`
     */
    permute(perm: readonly number[]): Tensor;
    /**
     * Swaps two dims (default the last two).
     * @example `x.transpose();`
     */
    transpose(dim0?: number, dim1?: number): Tensor;
    /**
     * Broadcasts to a larger shape (a view).
     * @example `x.expand([4, -1]);`
     */
    expand(shape: readonly number[]): Tensor;
    /**
     * Strided sub-block (a view).
     * @example `x.slice([null, [0, 2]]);`
     */
    slice(ranges: readonly SliceRange[]): Tensor;
    /**
     * A range of one dim (a view).
     * @example `x.narrow(0, 1, 2);`
     */
    narrow(axis: number, start: number, length: number): Tensor;
    /**
     * One index of a dim, removing it (a view).
     * @example `x.select(0, 0);`
     */
    select(axis: number, index: number): Tensor;
    /**
     * Removes size-1 dims.
     * @example `x.squeeze();`
     */
    squeeze(axes?: number | readonly number[]): Tensor;
    /**
     * Inserts a size-1 dim.
     * @example `x.unsqueeze(0);`
     */
    unsqueeze(axis: number): Tensor;
    /**
     * A row-major copy if needed.
     * @example `x.transpose().contiguous();`
     */
    contiguous(): Tensor;
    /**
     * Matrix product (torch.matmul semantics).
     * @example `a.matmul(b);`
     */
    matmul(other: Tensor): Tensor;
    /**
     * Softmax along an axis (default last).
     * @example `logits.softmax(-1);`
     */
    softmax(axis?: number): Tensor;
    /**
     * Log-softmax along an axis (default last).
     * @example `logits.logSoftmax();`
     */
    logSoftmax(axis?: number): Tensor;
    /**
     * GELU activation.
     * @example `x.gelu();`
     */
    gelu(approximate?: 'none' | 'tanh'): Tensor;
    /**
     * SiLU activation.
     * @example `x.silu();`
     */
    silu(): Tensor;
    /**
     * Softplus `log(1 + exp(beta x)) / beta` (linear above `threshold`).
     * @example `x.softplus({ beta: 2 });`
     */
    softplus(options?: activations.SoftplusOptions): Tensor;
    /**
     * Stable `log(exp(x) + exp(other))`.
     * @example `a.logaddexp(b);`
     */
    logaddexp(other: TensorLike): Tensor;
    /**
     * Clamp to `[minVal, maxVal]` with hardtanh's gradient.
     * @example `x.hardtanh(-2, 2);`
     */
    hardtanh(minVal?: number, maxVal?: number): Tensor;
    /**
     * Leaky ReLU.
     * @example `x.leakyRelu(0.2);`
     */
    leakyRelu(negativeSlope?: number): Tensor;
    /**
     * ELU activation.
     * @example `x.elu(1.0);`
     */
    elu(alpha?: number): Tensor;
    /**
     * Mish activation, `x tanh(softplus(x))`.
     * @example `x.mish();`
     */
    mish(): Tensor;
    /**
     * Draws 0/1 with this tensor's probabilities.
     * @example `probs.bernoulli({ generator: new Generator(0) });`
     */
    bernoulli(options?: sampling.BernoulliOptions): Tensor;
    /**
     * Samples category indices from each row of weights.
     * @example `probs.multinomial(1);`
     */
    multinomial(numSamples: number, options?: sampling.MultinomialOptions): Tensor;
    /**
     * Coordinates of the nonzero elements, int32 `[count, rank]` (reads the data).
     * @example `const where = await mask.nonzero();`
     */
    nonzero(options?: select.NonzeroOptions & { asTuple?: false }): Promise<Tensor>;
    /**
     * Coordinates of the nonzero elements, one 1-D int32 tensor per dim (reads the data).
     * @example `const [rows, cols] = await mask.nonzero({ asTuple: true });`
     */
    nonzero(options: select.NonzeroOptions & { asTuple: true }): Promise<Tensor[]>;
    /**
     * Elements where a bool mask is true, 1-D (reads the mask).
     * @example `const positives = await x.maskedSelect(x.gt(0));`
     */
    maskedSelect(mask: Tensor): Promise<Tensor>;
    /**
     * Copy with `this[indices...] = values` (or `+=` with accumulate).
     * @example `x.indexPut([rows], 0);`
     */
    indexPut(indices: readonly Tensor[], values: TensorLike, options?: select.IndexPutOptions): Tensor;
    /**
     * Copy with `src` written along an axis at `index` (torch.scatter).
     * @example `x.scatter(1, idx, src);`
     */
    scatter(axis: number, index: Tensor, src: TensorLike, options?: select.ScatterOptions): Tensor;
    /**
     * Stable sort along an axis (NaN largest): values and int32 indices.
     * @example `const { values, indices } = x.sort({ descending: true });`
     */
    sort(options?: SortOptions): SortResult;
    /**
     * The int32 indices of a stable sort along an axis.
     * @example `x.argsort();`
     */
    argsort(options?: SortOptions): Tensor;
    /**
     * The k largest (or smallest) entries along an axis, sorted: values and int32 indices.
     * @example `const { values, indices } = logits.topk(5);`
     */
    topk(k: number, options?: TopkOptions): SortResult;
    /**
     * Cumulative sum along an axis.
     * @example `x.cumsum(0);`
     */
    cumsum(axis: number): Tensor;
    /**
     * Cumulative product along an axis.
     * @example `x.cumprod(-1);`
     */
    cumprod(axis: number): Tensor;
    /**
     * Lower triangle of the last two axes (others zeroed).
     * @example `scores.tril();`
     */
    tril(diagonal?: number): Tensor;
    /**
     * Upper triangle of the last two axes (others zeroed).
     * @example `x.triu(1);`
     */
    triu(diagonal?: number): Tensor;
    /**
     * `value` where the bool mask is true (a new tensor).
     * @example `scores.maskedFill(pad, -Infinity);`
     */
    maskedFill(mask: Tensor, value: number | Tensor): Tensor;
    /**
     * Repeats along each axis (torch.Tensor.repeat).
     * @example `x.repeat([2, 1]);`
     */
    repeat(repeats: readonly number[]): Tensor;
    /**
     * Tiles (torch.tile: short reps are padded with leading 1s).
     * @example `x.tile([2]);`
     */
    tile(reps: readonly number[]): Tensor;
    /**
     * Reverses the order along axes (a copy).
     * @example `x.flip(0);`
     */
    flip(dims: number | readonly number[]): Tensor;
    /**
     * Rolls elements along axes (flattened without dims).
     * @example `x.roll(1, 0);`
     */
    roll(shifts: number | readonly number[], dims?: number | readonly number[]): Tensor;
    /**
     * n-th forward difference along an axis.
     * @example `x.diff({ n: 1, axis: -1 });`
     */
    diff(options?: DiffOptions): Tensor;
    /**
     * torch.gather along an axis.
     * @example `x.gather(1, idx);`
     */
    gather(axis: number, index: Tensor): Tensor;
    /**
     * Entries along an axis by a 1-D index.
     * @example `table.indexSelect(0, ids);`
     */
    indexSelect(axis: number, index: Tensor): Tensor;
    /**
     * Converts to another dtype.
     * @example `x.cast('int32');`
     */
    cast(dtype: DType): Tensor;
    /**
     * Converts to float32.
     * @example `mask.float();`
     */
    float(): Tensor;
    /**
     * Converts to int32 (truncating).
     * @example `x.int();`
     */
    int(): Tensor;
    /**
     * Converts to bool (`!= 0`).
     * @example `x.bool();`
     */
    bool(): Tensor;
    /**
     * A copy that stays in the graph.
     * @example `x.clone();`
     */
    clone(): Tensor;
    /**
     * Shares data, cut from the graph.
     * @example `x.detach();`
     */
    detach(): Tensor;
    /**
     * Backpropagates into leaves' `.grad`.
     * @example `loss.backward();`
     */
    backward(gradientOrOptions?: Tensor | BackwardOptions | null, options?: BackwardOptions): void;
    /**
     * A copy on another backend (source must read synchronously; else use `toAsync`).
     * @example `x.to('cpu');`
     */
    to(backend: string): Tensor;
    /**
     * A copy on another backend, reading asynchronously.
     * @example `await x.toAsync('cpu');`
     */
    toAsync(backend: string): Promise<Tensor>;
  }
}

/** The first argument of a reduction method: an axis (or axes) or the options object. */
type AxisOrOptions = AxisArg | ReduceOptions;

const methods = {
  add(this: Tensor, other: TensorLike): Tensor { return binary.add(this, other); },
  sub(this: Tensor, other: TensorLike): Tensor { return binary.sub(this, other); },
  mul(this: Tensor, other: TensorLike): Tensor { return binary.mul(this, other); },
  div(this: Tensor, other: TensorLike): Tensor { return binary.div(this, other); },
  pow(this: Tensor, exponent: TensorLike): Tensor { return binary.pow(this, exponent); },
  maximum(this: Tensor, other: TensorLike): Tensor { return binary.maximum(this, other); },
  minimum(this: Tensor, other: TensorLike): Tensor { return binary.minimum(this, other); },
  remainder(this: Tensor, other: TensorLike): Tensor { return binary.remainder(this, other); },
  eq(this: Tensor, other: TensorLike): Tensor { return binary.eq(this, other); },
  ne(this: Tensor, other: TensorLike): Tensor { return binary.ne(this, other); },
  lt(this: Tensor, other: TensorLike): Tensor { return binary.lt(this, other); },
  le(this: Tensor, other: TensorLike): Tensor { return binary.le(this, other); },
  gt(this: Tensor, other: TensorLike): Tensor { return binary.gt(this, other); },
  ge(this: Tensor, other: TensorLike): Tensor { return binary.ge(this, other); },
  logicalAnd(this: Tensor, other: TensorLike): Tensor { return binary.logicalAnd(this, other); },
  logicalOr(this: Tensor, other: TensorLike): Tensor { return binary.logicalOr(this, other); },
  logicalNot(this: Tensor): Tensor { return unaryOps.logicalNot(this); },
  neg(this: Tensor): Tensor { return unaryOps.neg(this); },
  abs(this: Tensor): Tensor { return unaryOps.abs(this); },
  sign(this: Tensor): Tensor { return unaryOps.sign(this); },
  exp(this: Tensor): Tensor { return unaryOps.exp(this); },
  expm1(this: Tensor): Tensor { return unaryOps.expm1(this); },
  log(this: Tensor): Tensor { return unaryOps.log(this); },
  log1p(this: Tensor): Tensor { return unaryOps.log1p(this); },
  sqrt(this: Tensor): Tensor { return unaryOps.sqrt(this); },
  rsqrt(this: Tensor): Tensor { return unaryOps.rsqrt(this); },
  square(this: Tensor): Tensor { return unaryOps.square(this); },
  reciprocal(this: Tensor): Tensor { return unaryOps.reciprocal(this); },
  sin(this: Tensor): Tensor { return unaryOps.sin(this); },
  cos(this: Tensor): Tensor { return unaryOps.cos(this); },
  tanh(this: Tensor): Tensor { return unaryOps.tanh(this); },
  sigmoid(this: Tensor): Tensor { return unaryOps.sigmoid(this); },
  relu(this: Tensor): Tensor { return unaryOps.relu(this); },
  erf(this: Tensor): Tensor { return unaryOps.erf(this); },
  floor(this: Tensor): Tensor { return unaryOps.floor(this); },
  ceil(this: Tensor): Tensor { return unaryOps.ceil(this); },
  round(this: Tensor): Tensor { return unaryOps.round(this); },
  isnan(this: Tensor): Tensor { return unaryOps.isnan(this); },
  clamp(this: Tensor, min?: number, max?: number): Tensor { return elementwise.clamp(this, min, max); },
  // Reductions forward both call forms ((options) and (axis, options)); the op validates them.
  sum(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.sum(this, a as AxisArg, o); },
  mean(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.mean(this, a as AxisArg, o); },
  prod(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.prod(this, a as AxisArg, o); },
  max(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.max(this, a as AxisArg, o); },
  min(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.min(this, a as AxisArg, o); },
  argmax(this: Tensor, a?: number | ArgReduceOptions, k?: boolean | KeepdimOptions): Tensor { return reduce.argmax(this, a as number, k); },
  argmin(this: Tensor, a?: number | ArgReduceOptions, k?: boolean | KeepdimOptions): Tensor { return reduce.argmin(this, a as number, k); },
  variance(this: Tensor, a?: AxisArg | VarianceOptions, o?: CorrectionOptions): Tensor { return reduce.variance(this, a as AxisArg, o); },
  std(this: Tensor, a?: AxisArg | VarianceOptions, o?: CorrectionOptions): Tensor { return reduce.std(this, a as AxisArg, o); },
  logsumexp(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.logsumexp(this, a as AxisArg, o); },
  any(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.any(this, a as AxisArg, o); },
  all(this: Tensor, a?: AxisOrOptions, o?: KeepdimOptions): Tensor { return reduce.all(this, a as AxisArg, o); },
  reshape(this: Tensor, shape: readonly number[]): Tensor { return views.reshape(this, shape); },
  view(this: Tensor, shape: readonly number[]): Tensor { return views.reshape(this, shape); },
  flatten(this: Tensor, startDim?: number, endDim?: number): Tensor { return views.flatten(this, startDim, endDim); },
  permute(this: Tensor, perm: readonly number[]): Tensor { return views.permute(this, perm); },
  transpose(this: Tensor, dim0?: number, dim1?: number): Tensor { return views.transpose(this, dim0, dim1); },
  expand(this: Tensor, shape: readonly number[]): Tensor { return views.expand(this, shape); },
  slice(this: Tensor, ranges: readonly SliceRange[]): Tensor { return views.slice(this, ranges); },
  narrow(this: Tensor, axis: number, start: number, length: number): Tensor { return views.narrow(this, axis, start, length); },
  select(this: Tensor, axis: number, index: number): Tensor { return views.select(this, axis, index); },
  squeeze(this: Tensor, axes?: number | readonly number[]): Tensor { return views.squeeze(this, axes); },
  unsqueeze(this: Tensor, axis: number): Tensor { return views.unsqueeze(this, axis); },
  contiguous(this: Tensor): Tensor { return views.contiguous(this); },
  matmul(this: Tensor, other: Tensor): Tensor { return mm.matmul(this, other); },
  softmax(this: Tensor, axis?: number): Tensor { return composites.softmax(this, axis); },
  logSoftmax(this: Tensor, axis?: number): Tensor { return composites.logSoftmax(this, axis); },
  gelu(this: Tensor, approximate?: 'none' | 'tanh'): Tensor { return composites.gelu(this, approximate); },
  silu(this: Tensor): Tensor { return composites.silu(this); },
  softplus(this: Tensor, options?: activations.SoftplusOptions): Tensor { return activations.softplus(this, options); },
  logaddexp(this: Tensor, other: TensorLike): Tensor { return activations.logaddexp(this, other); },
  hardtanh(this: Tensor, minVal?: number, maxVal?: number): Tensor { return activations.hardtanh(this, minVal, maxVal); },
  leakyRelu(this: Tensor, negativeSlope?: number): Tensor { return activations.leakyRelu(this, negativeSlope); },
  elu(this: Tensor, alpha?: number): Tensor { return activations.elu(this, alpha); },
  mish(this: Tensor): Tensor { return activations.mish(this); },
  bernoulli(this: Tensor, options?: sampling.BernoulliOptions): Tensor { return sampling.bernoulli(this, options); },
  multinomial(this: Tensor, numSamples: number, options?: sampling.MultinomialOptions): Tensor { return sampling.multinomial(this, numSamples, options); },
  nonzero(this: Tensor, options?: select.NonzeroOptions): Promise<Tensor | Tensor[]> { return select.nonzero(this, options as select.NonzeroOptions & { asTuple: true }); },
  maskedSelect(this: Tensor, mask: Tensor): Promise<Tensor> { return select.maskedSelect(this, mask); },
  indexPut(this: Tensor, indices: readonly Tensor[], values: TensorLike, options?: select.IndexPutOptions): Tensor { return select.indexPut(this, indices, values, options); },
  scatter(this: Tensor, axis: number, index: Tensor, src: TensorLike, options?: select.ScatterOptions): Tensor { return select.scatter(this, axis, index, src, options); },
  gather(this: Tensor, axis: number, index: Tensor): Tensor { return indexing.gather(this, axis, index); },
  indexSelect(this: Tensor, axis: number, index: Tensor): Tensor { return indexing.indexSelect(this, axis, index); },
  sort(this: Tensor, options?: SortOptions): SortResult { return sorting.sort(this, options); },
  argsort(this: Tensor, options?: SortOptions): Tensor { return sorting.argsort(this, options); },
  topk(this: Tensor, k: number, options?: TopkOptions): SortResult { return sorting.topk(this, k, options); },
  cumsum(this: Tensor, axis: number): Tensor { return scan.cumsum(this, axis); },
  cumprod(this: Tensor, axis: number): Tensor { return scan.cumprod(this, axis); },
  tril(this: Tensor, diagonal?: number): Tensor { return reorder.tril(this, diagonal); },
  triu(this: Tensor, diagonal?: number): Tensor { return reorder.triu(this, diagonal); },
  maskedFill(this: Tensor, mask: Tensor, value: number | Tensor): Tensor { return reorder.maskedFill(this, mask, value); },
  repeat(this: Tensor, repeats: readonly number[]): Tensor { return reorder.repeat(this, repeats); },
  tile(this: Tensor, reps: readonly number[]): Tensor { return reorder.tile(this, reps); },
  flip(this: Tensor, dims: number | readonly number[]): Tensor { return reorder.flip(this, dims); },
  roll(this: Tensor, shifts: number | readonly number[], dims?: number | readonly number[]): Tensor { return reorder.roll(this, shifts, dims); },
  diff(this: Tensor, options?: DiffOptions): Tensor { return reorder.diff(this, options); },
  cast(this: Tensor, dtype: DType): Tensor { return elementwise.cast(this, dtype); },
  float(this: Tensor): Tensor { return elementwise.cast(this, 'float32'); },
  int(this: Tensor): Tensor { return elementwise.cast(this, 'int32'); },
  bool(this: Tensor): Tensor { return elementwise.cast(this, 'bool'); },
  clone(this: Tensor): Tensor { return elementwise.clone(this); },
  detach(this: Tensor): Tensor { return api.detach(this); },
  backward(this: Tensor, gradientOrOptions?: Tensor | BackwardOptions | null, options?: BackwardOptions): void { return api.backward(this, gradientOrOptions, options); },
  to(this: Tensor, backend: string): Tensor { return move.toBackend(this, backend); },
  toAsync(this: Tensor, backend: string): Promise<Tensor> { return move.toBackendAsync(this, backend); },
};

Object.assign(Tensor.prototype, methods);
