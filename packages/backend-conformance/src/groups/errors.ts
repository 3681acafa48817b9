// SPDX-License-Identifier: MIT
// Error cases: each bad call must throw a HeedError whose message names the op and the
// offending shapes/dtypes/values, and must leave the state unchanged: memory() counts as
// before the call, input values unchanged, and the backend still computing correctly.
// Out-of-range indices are detected by the backend (core does not scan index values). The
// contract for them: index errors are raised at the op OR at the next read. A backend that
// can check synchronously (CPU) throws at the op; one whose kernels run asynchronously
// (WebGPU) may return a result and throw from the next read (the case reads the result); in
// both cases the error is a HeedError naming the op and the bad value, raised once, with the
// backend working afterwards.
// Bad arguments (unknown dtypes, bad shapes and sizes, axes given as strings, unknown option
// keys...) are rejected by core before they reach a backend, the same on every backend.
// A run during which the GC safety net reclaimed tensors is retried once (memory() is global).
import {
  MAX_NUMEL, add, arange, argmax, backward, cast, concat, expand, full, gather, indexSelect, layerNorm, linear, logicalAnd,
  logicalNot, matmul, max, memory, narrow, oneHot, ones, permute, randn, reshape, scaledDotProductAttention, scatterAdd, select,
  slice, softmax, split, stack, sum, tensor, tidy, variance, where, zeros, Tensor, type DType, type MemoryInfo,
} from '@heed/core';
import { ConformanceError, ensure, expectHeedError, readHost, type HostTensor } from '../assert.js';
import type { CaseContext, RunnableCase } from '../types.js';

/** What an error case sets up: live inputs, the failing call and what its message names. */
export interface ErrorSetup {
  readonly inputs: readonly Tensor[];
  readonly call: () => unknown;
  readonly mentions: readonly string[];
  /** Tensors to dispose at the end that are not inputs (e.g. already-disposed ones). */
  readonly extra?: readonly Tensor[];
}

/** An error case: its op, dtypes and setup (other groups build their own tables of these). */
export interface ErrorSpec {
  readonly op: string;
  readonly dtypes: readonly DType[];
  readonly setup: (ctx: CaseContext) => ErrorSetup;
  /** An index error: it may be raised at the op or at the next read of its result (see the top). */
  readonly atRead?: boolean;
}

/** Marks an out-of-range-index case: raised at the op or at the next read. */
const indexError = (spec: ErrorSpec): ErrorSpec => ({ ...spec, atRead: true });

const f32 = (ctx: CaseContext, shape: number[], start = 1): Tensor =>
  tensor(Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => start + i), { shape, backend: ctx.backend });
const i32 = (ctx: CaseContext, shape: number[], values: number[]): Tensor => tensor(values, { shape, dtype: 'int32', backend: ctx.backend });
const mask = (ctx: CaseContext, shape: number[]): Tensor => tensor(new Array<number>(shape.reduce((a, b) => a * b, 1)).fill(1), { shape, dtype: 'bool', backend: ctx.backend });

/**
 * An error case from the inputs it makes, the bad call on them and what the message must mention
 * (other groups build their tables with it and run them with {@link runError}).
 *
 * @example
 * ```ts
 * errorSpec('topk', (ctx) => [tensor([1, 2], { backend: ctx.backend })], ([x]) => topk(x, 3), ['topk', 'k = 3']);
 * ```
 */
export function errorSpec(op: string, make: (ctx: CaseContext) => Tensor[], call: (xs: Tensor[]) => unknown, mentions: string[], dtypes: DType[] = ['float32']): ErrorSpec {
  return { op, dtypes, setup: (ctx) => { const inputs = make(ctx); return { inputs, call: () => call(inputs), mentions }; } };
}
const simple = errorSpec;

const SPECS: Readonly<Record<string, ErrorSpec>> = {
  'add-shape-mismatch': simple('add', (c) => [f32(c, [2, 3]), f32(c, [4])], ([a, b]) => add(a, b), ['add', '[2, 3]', '[4]']),
  'add-scalar-operand-shape-mismatch': simple('add', (c) => [f32(c, [2, 3]), f32(c, [3, 2])], ([a, b]) => tidy(() => add(a.mul(2), b)), ['add', '[2, 3]', '[3, 2]']),
  'where-broadcast': simple('where', (c) => [mask(c, [2, 3]), f32(c, [2, 3]), f32(c, [3, 2])], ([m, a, b]) => where(m, a, b), ['where', '[2, 3]', '[3, 2]'], ['bool', 'float32']),
  'where-condition-dtype': simple('where', (c) => [f32(c, [2, 3])], ([m]) => where(m, 1, 2), ['where', 'bool', 'float32', '[2, 3]']),
  'matmul-inner-dims': simple('matmul', (c) => [f32(c, [2, 3]), f32(c, [4, 5])], ([a, b]) => matmul(a, b), ['matmul', '[2, 3]', '[4, 5]']),
  'matmul-vector-inner-dims': simple('matmul', (c) => [f32(c, [3]), f32(c, [4, 5])], ([a, b]) => matmul(a, b), ['matmul', '[3]', '[4, 5]']),
  'matmul-batch-dims': simple('matmul', (c) => [f32(c, [2, 3, 4]), f32(c, [3, 4, 5])], ([a, b]) => matmul(a, b), ['matmul', '[2, 3, 4]', '[3, 4, 5]']),
  'matmul-int-operand': simple('matmul', (c) => [i32(c, [2, 2], [1, 2, 3, 4]), f32(c, [2, 2])], ([a, b]) => matmul(a, b), ['matmul', 'int32', '[2, 2]'], ['int32', 'float32']),
  'linear-shape': simple('linear', (c) => [f32(c, [2, 3]), f32(c, [4, 5])], ([x, w]) => linear(x, w), ['matmul', '[2, 3]']),
  'sum-bad-axis': simple('sum', (c) => [f32(c, [2, 3])], ([x]) => sum(x, { axis: 2 }), ['sum', 'axis 2', 'rank 2']),
  'sum-repeated-axis': simple('sum', (c) => [f32(c, [2, 3])], ([x]) => sum(x, { axis: [1, -1] }), ['sum', 'same dimension']),
  'softmax-bad-axis': simple('softmax', (c) => [f32(c, [2, 3])], ([x]) => softmax(x, -3), ['softmax', 'axis -3']),
  'max-empty-axis': simple('max', (c) => [zeros([0, 3], { backend: c.backend })], ([x]) => max(x, { axis: 0 }), ['max', '[0, 3]']),
  'permute-repeated': simple('permute', (c) => [f32(c, [2, 3])], ([x]) => permute(x, [0, 0]), ['permute', '[0, 0]']),
  'reshape-size': simple('reshape', (c) => [f32(c, [2, 3])], ([x]) => reshape(x, [4, 2]), ['reshape', '6', '[4, 2]']),
  'expand-shape': simple('expand', (c) => [f32(c, [2, 3])], ([x]) => expand(x, [4, 3]), ['expand', '[2, 3]', '[4, 3]']),
  'narrow-range': simple('narrow', (c) => [f32(c, [4, 5])], ([x]) => narrow(x, 1, 3, 4), ['narrow', '[4, 5]']),
  'select-range': simple('select', (c) => [f32(c, [3, 4])], ([x]) => select(x, 0, 3), ['select', '[3, 4]']),
  'split-sizes': simple('split', (c) => [f32(c, [5])], ([x]) => split(x, [2, 2]), ['split', '[5]']),
  'concat-shapes': simple('concat', (c) => [f32(c, [2, 3]), f32(c, [2, 4])], (xs) => concat(xs, 0), ['concat', '[2, 3]', '[2, 4]']),
  'stack-shapes': simple('stack', (c) => [f32(c, [2, 3]), f32(c, [3, 2])], (xs) => stack(xs, 0), ['stack', '[2, 3]', '[3, 2]']),
  'gather-index-out-of-range': indexError(simple('gather', (c) => [f32(c, [2, 3]), i32(c, [2, 2], [0, 7, 1, 2])], ([x, i]) => gather(x, 1, i), ['gather', '7'], ['float32', 'int32'])),
  'gather-negative-index': indexError(simple('gather', (c) => [f32(c, [2, 3]), i32(c, [1, 3], [0, -1, 1])], ([x, i]) => gather(x, 0, i), ['gather', '-1'], ['float32', 'int32'])),
  'gather-index-dtype': simple('gather', (c) => [f32(c, [2, 3]), f32(c, [2, 3])], ([x, i]) => gather(x, 0, i), ['gather', 'int32', 'float32']),
  'gather-index-rank': simple('gather', (c) => [f32(c, [2, 3]), i32(c, [2], [0, 1])], ([x, i]) => gather(x, 0, i), ['gather', '[2, 3]', '[2]'], ['float32', 'int32']),
  'indexSelect-index-out-of-range': indexError(simple('indexSelect', (c) => [f32(c, [4, 2]), i32(c, [3], [0, 9, 1])], ([x, i]) => indexSelect(x, 0, i), ['indexSelect', '9'], ['float32', 'int32'])),
  'indexSelect-index-rank': simple('indexSelect', (c) => [f32(c, [4, 2]), i32(c, [1, 2], [0, 1])], ([x, i]) => indexSelect(x, 0, i), ['indexSelect', '[1, 2]'], ['float32', 'int32']),
  'scatterAdd-index-out-of-range': indexError(simple('scatterAdd', (c) => [f32(c, [3, 2]), i32(c, [2, 2], [0, 5, 1, 1]), f32(c, [2, 2])],
    ([x, i, s]) => scatterAdd(x, 0, i, s), ['scatterAdd', '5'], ['float32', 'int32'])),
  'scatterAdd-src-dtype': simple('scatterAdd', (c) => [f32(c, [3, 2]), i32(c, [2, 2], [0, 1, 1, 1]), i32(c, [2, 2], [1, 1, 1, 1])],
    ([x, i, s]) => scatterAdd(x, 0, i, s), ['scatterAdd', 'int32', 'float32'], ['float32', 'int32']),
  'logicalAnd-dtype': simple('logicalAnd', (c) => [f32(c, [2]), f32(c, [2])], ([a, b]) => logicalAnd(a, b), ['logicalAnd', 'float32']),
  'logicalNot-dtype': simple('logicalNot', (c) => [i32(c, [2], [1, 0])], ([a]) => logicalNot(a), ['logicalNot', 'int32'], ['int32']),
  'softmax-dtype': simple('softmax', (c) => [i32(c, [2], [1, 0])], ([a]) => softmax(a), ['softmax', 'int32'], ['int32']),
  'layerNorm-shape': simple('layerNorm', (c) => [f32(c, [2, 3])], ([x]) => layerNorm(x, [4]), ['layerNorm', '[4]', '[2, 3]']),
  'attention-shapes': simple('scaledDotProductAttention', (c) => [f32(c, [1, 2, 3]), f32(c, [1, 4, 5]), f32(c, [1, 4, 5])],
    ([q, k, v]) => scaledDotProductAttention(q, k, v), ['scaledDotProductAttention', '[1, 2, 3]', '[1, 4, 5]']),
  'backward-non-scalar': {
    op: 'backward', dtypes: ['float32'],
    setup: (ctx) => {
      const x = tensor([1, 2, 3, 4, 5, 6], { shape: [2, 3], backend: ctx.backend, requiresGrad: true });
      const y = x.mul(2);
      return { inputs: [x, y], call: () => backward(y), mentions: ['backward', '[2, 3]'] };
    },
  },
  'backward-without-grad': simple('backward', (c) => [f32(c, [2])], ([x]) => tidy(() => x.sum().backward()), ['backward', 'requiresGrad']),
  'backward-twice': {
    op: 'backward', dtypes: ['float32'],
    setup: (ctx) => {
      const x = tensor([1, 2], { backend: ctx.backend, requiresGrad: true });
      const y = tidy(() => x.exp().sum());
      y.backward();
      return { inputs: [x, y], call: () => y.backward(), mentions: ['backward', 'second time'] };
    },
  },
  'use-after-dispose': {
    op: 'add', dtypes: ['float32'],
    setup: (ctx) => {
      const gone = f32(ctx, [2, 3]);
      gone.dispose();
      return { inputs: [], call: () => add(gone, 1), mentions: ['add', 'disposed', '[2, 3]'], extra: [gone] };
    },
  },
  'use-after-dispose-view': {
    op: 'exp', dtypes: ['float32'],
    setup: (ctx) => {
      const base = f32(ctx, [2, 3]);
      const view = base.transpose();
      view.dispose();
      return { inputs: [base], call: () => view.exp(), mentions: ['exp', 'disposed', '[3, 2]'], extra: [view] };
    },
  },
  'read-after-dispose': {
    op: 'data', dtypes: ['float32'],
    setup: (ctx) => {
      const gone = f32(ctx, [4]);
      gone.dispose();
      return { inputs: [], call: () => gone.data(), mentions: ['data', 'disposed', '[4]'], extra: [gone] };
    },
  },
  'mixed-backends-add': {
    op: 'add', dtypes: ['float32'],
    setup: (ctx) => {
      const a = f32(ctx, [2, 3]);
      const b = tensor([1, 2, 3], { backend: ctx.second });
      return { inputs: [a, b], call: () => add(a, b), mentions: ['add', ctx.backend, ctx.second, '[2, 3]', '[3]'] };
    },
  },
  'mixed-backends-matmul': {
    op: 'matmul', dtypes: ['float32'],
    setup: (ctx) => {
      const a = f32(ctx, [2, 3]);
      const b = tensor([1, 2, 3, 4, 5, 6], { shape: [3, 2], backend: ctx.second });
      return { inputs: [a, b], call: () => matmul(a, b), mentions: ['matmul', ctx.backend, ctx.second, '[2, 3]', '[3, 2]'] };
    },
  },
  'mixed-backends-concat': {
    op: 'concat', dtypes: ['float32'],
    setup: (ctx) => {
      const a = f32(ctx, [2]);
      const b = tensor([1, 2], { backend: ctx.second });
      return { inputs: [a, b], call: () => concat([a, b]), mentions: ['concat', ctx.backend, ctx.second] };
    },
  },
  'ragged-data': simple('tensor', () => [], () => tensor([[1, 2], [3]] as number[][]), ['tensor', 'ragged']),
  'unsupported-dtype': simple('tensor', () => [], () => tensor([1], { dtype: 'float16' as DType }), ['tensor', 'float16']),
  // Bad arguments from JavaScript or JSON: core rejects them before any backend sees them.
  ...argumentSpecs(),
};

/** A value as a JavaScript caller may pass it, whatever the TypeScript signature says. */
const js = <T>(v: unknown): T => v as T;

/**
 * Bad dtypes, shapes, sizes, axes and options: each must be a HeedError raised in core (so
 * every backend, and the ones after it, keep working: an unknown dtype used to reach the
 * kernels and break the WebGPU backend for good).
 */
function argumentSpecs(): Record<string, ErrorSpec> {
  const huge = String(MAX_NUMEL);
  /** A creation call on the backend under test that must fail. */
  const creating = (op: string, call: (backend: string) => unknown, mentions: string[]): ErrorSpec =>
    ({ op, dtypes: ['float32'], setup: (ctx) => ({ inputs: [], call: () => call(ctx.backend), mentions }) });
  return {
    'cast-planned-dtype': simple('cast', (c) => [f32(c, [2, 3])], ([x]) => cast(x, js('float16')), ['cast', 'float16']),
    'cast-unknown-dtype': simple('cast', (c) => [f32(c, [2, 3])], ([x]) => x.cast(js('float64')), ['cast', 'float64']),
    'zeros-unknown-dtype': creating('zeros', (backend) => zeros([2], { dtype: js('float16'), backend }), ['zeros', 'float16']),
    'zeros-too-large': creating('zeros', (backend) => zeros([2 ** 20, 2 ** 20], { backend }), ['zeros', '[1048576, 1048576]', huge]),
    'zeros-negative-dim': creating('zeros', (backend) => zeros([2, -1], { backend }), ['zeros', '[2, -1]']),
    'ones-unknown-option': creating('ones', (backend) => ones([2], js({ device: 'gpu', backend })), ['ones', 'device', 'dtype, backend, requiresGrad']),
    'full-int32-overflow': creating('full', (backend) => full([2], 1e10, { dtype: 'int32', backend }), ['full', '10000000000', 'int32']),
    'tensor-int-requires-grad': creating('tensor', (backend) => tensor([1, 2], { dtype: 'int32', requiresGrad: true, backend }), ['tensor', 'requiresGrad', 'int32']),
    'arange-nan': creating('arange', (backend) => arange(0, NaN, 1, { backend }), ['arange', 'NaN']),
    'arange-too-long': creating('arange', (backend) => arange(0, 1e12, 1, { backend }), ['arange', huge]),
    'randn-too-large': creating('randn', (backend) => randn([2 ** 20, 2 ** 20], { backend }), ['randn', huge]),
    'reshape-not-an-array': simple('reshape', (c) => [f32(c, [2, 3])], ([x]) => reshape(x, js(6)), ['reshape', 'array']),
    'expand-too-large': simple('expand', (c) => [f32(c, [1])], ([x]) => expand(x, [2 ** 40]), ['expand', huge]),
    'slice-fractional': simple('slice', (c) => [f32(c, [2, 3])], ([x]) => slice(x, [[0.5, 2]]), ['slice', '0.5']),
    'sum-unknown-option': simple('sum', (c) => [f32(c, [2, 3])], ([x]) => sum(x, js({ dim: 1 })), ['sum', "'dim'", 'axis, keepdim']),
    'sum-string-axis': simple('sum', (c) => [f32(c, [2, 3])], ([x]) => x.sum(js('1')), ['sum', "'1'"]),
    'max-axis-twice': simple('max', (c) => [f32(c, [2, 3])], ([x]) => x.max(0, js({ axis: 1 })), ['max', 'twice']),
    'argmax-several-axes': simple('argmax', (c) => [f32(c, [2, 3])], ([x]) => argmax(x, js([0, 1])), ['argmax', 'one axis']),
    'variance-unknown-option': simple('var', (c) => [f32(c, [2, 3])], ([x]) => variance(x, js({ unbiased: false })), ['var', 'unbiased']),
    'oneHot-zero-classes': simple('oneHot', (c) => [i32(c, [3], [0, 1, 2])], ([i]) => oneHot(i, 0), ['oneHot', 'numClasses', '0'], ['int32']),
    'oneHot-class-out-of-range': indexError(simple('oneHot', (c) => [i32(c, [3], [0, 5, 1])], ([i]) => oneHot(i, 3), ['5'], ['int32'])),
    'oneHot-negative-class': indexError(simple('oneHot', (c) => [i32(c, [3], [0, -1, 1])], ([i]) => oneHot(i, 3), ['-1'], ['int32'])),
    'add-result-too-large': simple('add', (c) => [zeros([2 ** 16, 1], { backend: c.backend }), zeros([1, 2 ** 16], { backend: c.backend })],
      ([a, b]) => add(a, b), ['add', '[65536, 65536]', huge]),
    'matmul-result-too-large': simple('matmul', (c) => [zeros([2 ** 16, 1], { backend: c.backend }), zeros([1, 2 ** 16], { backend: c.backend })],
      ([a, b]) => matmul(a, b), ['matmul', '[65536, 65536]', huge]),
    'attention-unknown-option': simple('scaledDotProductAttention', (c) => [f32(c, [1, 2, 4])],
      ([q]) => scaledDotProductAttention(q, q, q, js({ causal: true })), ['scaledDotProductAttention', "'causal'", 'isCausal']),
    'to-unknown-backend': simple('to', (c) => [f32(c, [2])], ([x]) => x.to('no-such-backend'), ['to', 'no-such-backend']),
  };
}

/**
 * Runs an error case; a run during which the GC safety net reclaimed tensors (which moves the
 * global memory() counts) skips the exact memory comparisons and is retried once.
 *
 * @example
 * ```ts
 * await runError('einsum-arity', spec, ctx);
 * ```
 */
export async function runError(name: string, spec: ErrorSpec, ctx: CaseContext): Promise<void> {
  if (await runErrorOnce(name, spec, ctx, false)) await runErrorOnce(name, spec, ctx, true);
}

/** One run of an error case; returns true when memory checks were skipped because of the GC. */
async function runErrorOnce(name: string, spec: ErrorSpec, ctx: CaseContext, strict: boolean): Promise<boolean> {
  const baseline = memory();
  const gcMoved = (from: MemoryInfo) => !strict && memory().reclaimedByGC !== from.reclaimedByGC;
  const { inputs, call, mentions, extra = [] } = spec.setup(ctx);
  try {
    const valuesBefore: HostTensor[] = await Promise.all(inputs.map((t) => readHost(t)));
    const before = memory();
    let thrown = await captureAsync(call);
    if (spec.atRead && !thrown.error && thrown.value instanceof Tensor) {
      const result = thrown.value;
      thrown = await captureAsync(() => result.data());
      result.dispose();
      ensure(thrown.error !== null, `${name}: the op returned a result and reading it did not throw (index errors are raised at the op or at the next read)`);
    }
    const err = expectHeedError(() => { if (thrown.error) throw thrown.error; return thrown.value; }, mentions);
    ensure(err.op.length > 0, 'HeedError.op must name the op');
    const after = memory();
    ensure(gcMoved(before) || (after.numTensors === before.numTensors && after.numBuffers === before.numBuffers && after.numBytes === before.numBytes),
      () => `${name}: the failed call changed memory(): ${before.numTensors} tensors / ${before.numBuffers} buffers / ` +
        `${before.numBytes} bytes before, ${after.numTensors} / ${after.numBuffers} / ${after.numBytes} after`);
    const valuesAfter = await Promise.all(inputs.map((t) => readHost(t)));
    valuesAfter.forEach((v, i) => ensure(v.values.join() === valuesBefore[i].values.join(), `${name}: input ${i} changed after the failed call`));
    const check = tidy(() => tensor([1, 2, 3], { backend: ctx.backend }).mul(3).add(1));
    const ok = (await readHost(check)).values.join();
    check.dispose();
    ensure(ok === '4,7,10', `${name}: the backend computes wrong values after the error: [${ok}]`);
  } finally {
    for (const t of [...inputs, ...extra]) t.dispose();
  }
  if (gcMoved(baseline)) return true;
  const end = memory();
  ensure(end.numTensors === baseline.numTensors && end.numBuffers === baseline.numBuffers,
    () => `${name}: after disposing the inputs, memory() is ${end.numTensors} tensors / ${end.numBuffers} buffers, ` +
      `not back to ${baseline.numTensors} / ${baseline.numBuffers} (the failed call leaked)`);
  return false;
}

/** Runs `call` and captures a synchronous throw, a rejected promise, or the value. */
async function captureAsync(call: () => unknown): Promise<{ error: unknown; value: unknown }> {
  try {
    const value = call();
    if (value instanceof Promise) {
      try {
        return { error: null, value: await value };
      } catch (e) {
        return { error: e, value: null };
      }
    }
    return { error: null, value };
  } catch (e) {
    if (!(e instanceof Error)) throw new ConformanceError(`a non-Error was thrown: ${String(e)}`);
    return { error: e, value: null };
  }
}

/**
 * The error-handling cases.
 *
 * @example
 * ```ts
 * errorCases().map((c) => c.id); // ['errors/add-shape-mismatch', ...]
 * ```
 */
export function errorCases(): RunnableCase[] {
  return Object.entries(SPECS).map(([name, spec]) => ({
    id: `errors/${name}`, group: 'errors', op: spec.op, dtypes: spec.dtypes, hasGradient: false,
    run: (ctx: CaseContext) => runError(name, spec, ctx),
  }));
}
