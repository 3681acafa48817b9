// SPDX-License-Identifier: MIT
// Bad arguments from JavaScript callers or JSON: every public entry checks dtypes, shapes,
// sizes, axes and option objects, and throws a HeedError naming the op before anything reaches
// the backend. After each rejected call memory() is unchanged (and finite) and the backend
// still computes correctly. Also: reductions take an axis positionally, and oneHot checks its
// classes.
import { describe, expect, it } from 'vitest';
import { expectClose } from './setup.js';
import {
  Generator, HeedError, MAX_NUMEL, adamStep, allocArray, isFloatDType, linear, promoteTypes, add, all, any, arange, argmax, argmin, cast, chunk, clamp, concat, dropout,
  expand, eye, flatten, full, fullLike, gather, gelu, indexSelect, layerNorm, linspace, logSoftmax, logsumexp, matmul, max,
  mean, memory, min, narrow, oneHot, ones, onesLike, permute, prod, rand, randint, randn, reshape, scalar, scaledDotProductAttention,
  scatterAdd, select, slice, softmax, split, squeeze, stack, std, sum, tensor, tidy, transpose, unsqueeze, variance, where,
  zeros, zerosLike, type Tensor,
} from '@heed/core';

/** A JS caller: any value, whatever the TypeScript signature says. */
const js = <T>(v: unknown): T => v as T;

const x = tensor([[1, 2, 3], [4, 5, 6]]);
const idx = tensor([0, 2, 1], { dtype: 'int32' });
const q = ones([1, 2, 4]);
const p = tensor([1, 2]);
const g = tensor([0.5, -0.5]);
const m0 = zeros([2]);
const v0 = zeros([2]);
const one = tensor([1]);
const ones22 = ones([2, 2]);
const negIdx = tensor([0, -1], { dtype: 'int32' });
const emptyIdx = zeros([0], { dtype: 'int32' });

/** One rejected call: the op it must name and fragments its message must contain. */
type Case = [op: string, call: () => unknown, ...mentions: (string | RegExp)[]];

function expectRejected(name: string, [op, call, ...mentions]: Case): void {
  const before = memory();
  let caught: unknown = null;
  try {
    const r = call();
    if (r instanceof Promise) throw new Error('asynchronous result: this table only has synchronous calls');
    caught = new Error(`no error; the call returned ${String(r)}`);
    if (r && typeof r === 'object' && 'dispose' in r) (r as Tensor).dispose();
  } catch (e) {
    caught = e;
  }
  expect(caught, `${name}: ${String(caught)}`).toBeInstanceOf(HeedError);
  const err = caught as HeedError;
  expect(err.op, name).toBe(op);
  expect(err.message.startsWith(`${op}: `), name).toBe(true);
  for (const m of mentions) {
    if (typeof m === 'string') expect(err.message, name).toContain(m);
    else expect(err.message, name).toMatch(m);
  }
  const after = memory();
  expect(Number.isFinite(after.numBytes), `${name}: memory().numBytes is ${after.numBytes}`).toBe(true);
  expect([after.numTensors, after.numBuffers, after.numBytes], `${name} changed memory()`).toEqual([before.numTensors, before.numBuffers, before.numBytes]);
  const check = tidy(() => tensor([1, 2, 3]).mul(3).add(1));
  expect(Array.from(check.dataSync()), `${name}: the backend is broken after the error`).toEqual([4, 7, 10]);
  check.dispose();
}

const LIMIT = String(MAX_NUMEL);

const CREATION: Record<string, Case> = {
  'tensor float16': ['tensor', () => tensor([1], { dtype: js('float16') }), 'float16', 'planned'],
  'tensor unknown dtype': ['tensor', () => tensor([1], { dtype: js('float64') }), "'float64'", 'bool, int32, float32'],
  'tensor dtype not a string': ['tensor', () => tensor([1], { dtype: js(3) }), 'dtype', '3'],
  'tensor unknown option': ['tensor', () => tensor([1], js({ dtyp: 'int32' })), "'dtyp'", 'dtype, backend, requiresGrad, shape'],
  'tensor options not an object': ['tensor', () => tensor([1], js('int32')), 'options', "'int32'"],
  'tensor shape not an array': ['tensor', () => tensor([1, 2], { shape: js(2) }), 'shape', 'array'],
  'tensor shape fractional': ['tensor', () => tensor([1, 2], { shape: [2.5] }), '2.5'],
  'tensor string value': ['tensor', () => tensor(js(['a', 'b'])), 'string'],
  'tensor object value': ['tensor', () => tensor(js([{}])), 'object'],
  'tensor undefined data': ['tensor', () => tensor(js(undefined)), 'undefined'],
  'tensor DataView': ['tensor', () => tensor(js(new DataView(new ArrayBuffer(4)))), 'DataView'],
  'tensor int32 overflow': ['tensor', () => tensor([1, 2 ** 31], { dtype: 'int32' }), '2147483648', 'int32'],
  'tensor int32 NaN': ['tensor', () => tensor([NaN], { dtype: 'int32' }), 'NaN', 'int32'],
  'tensor requiresGrad on int32': ['tensor', () => tensor([1], { dtype: 'int32', requiresGrad: true }), 'requiresGrad', 'int32'],
  'tensor requiresGrad not a boolean': ['tensor', () => tensor([1], { requiresGrad: js('yes') }), 'requiresGrad', "'yes'"],
  'tensor unknown backend': ['tensor', () => tensor([1], { backend: 'nope' }), "'nope'", 'cpu'],
  'tensor backend not a string': ['tensor', () => tensor([1], { backend: js(1) }), 'backend'],
  'scalar string': ['tensor', () => scalar(js('1')), 'string'],
  'zeros 2^20 x 2^20': ['zeros', () => zeros([2 ** 20, 2 ** 20]), '[1048576, 1048576]', LIMIT],
  'zeros 2^53': ['zeros', () => zeros([2 ** 53]), String(2 ** 53)],
  'zeros negative': ['zeros', () => zeros([2, -1]), '-1', 'non-negative'],
  'zeros NaN': ['zeros', () => zeros([NaN]), 'NaN'],
  'zeros fractional': ['zeros', () => zeros([1.5]), '1.5'],
  'zeros number shape': ['zeros', () => zeros(js(3)), 'shape', 'array'],
  'zeros string dim': ['zeros', () => zeros(js(['2'])), "'2'"],
  'zeros float16': ['zeros', () => zeros([2], { dtype: js('float16') }), 'float16'],
  'ones unknown option': ['ones', () => ones([2], js({ dtype: 'int32', device: 'gpu' })), "'device'"],
  'full value string': ['full', () => full([2], js('1')), 'value', "'1'"],
  'full int32 overflow': ['full', () => full([2], 1e10, { dtype: 'int32' }), '10000000000', 'int32'],
  'full int32 NaN': ['full', () => full([2], NaN, { dtype: 'int32' }), 'NaN', 'int32'],
  'full huge': ['full', () => full([2 ** 16, 2 ** 16], 1), '[65536, 65536]', LIMIT],
  'zerosLike not a tensor': ['zerosLike', () => zerosLike(js([1, 2])), 'Tensor'],
  'onesLike float16': ['onesLike', () => onesLike(x, { dtype: js('float16') }), 'float16'],
  'fullLike unknown option': ['fullLike', () => fullLike(x, 1, js({ shape: [2] })), "'shape'"],
  'arange NaN stop': ['arange', () => arange(0, NaN), 'NaN'],
  'arange NaN start': ['arange', () => arange(NaN), 'NaN'],
  'arange infinite': ['arange', () => arange(0, Infinity), 'Infinity'],
  'arange string': ['arange', () => arange(js('5')), "'5'"],
  'arange 1e12 elements': ['arange', () => arange(0, 1e12), '1000000000000', LIMIT],
  'arange int32 overflow': ['arange', () => arange(2 ** 31 - 2, 2 ** 31 + 2), 'int32'],
  'arange zero step': ['arange', () => arange(0, 5, 0), 'step'],
  'arange float16': ['arange', () => arange(0, 5, 1, { dtype: js('float16') }), 'float16'],
  'linspace huge': ['linspace', () => linspace(0, 1, 1e12), LIMIT],
  'linspace fractional num': ['linspace', () => linspace(0, 1, 2.5), '2.5'],
  'linspace NaN': ['linspace', () => linspace(NaN, 1, 3), 'NaN'],
  'linspace unknown option': ['linspace', () => linspace(0, 1, 3, js({ endpoint: false })), "'endpoint'"],
  'eye negative': ['eye', () => eye(-1), '-1'],
  'eye fractional': ['eye', () => eye(2.5), '2.5'],
  'eye huge': ['eye', () => eye(1e5, 1e5), LIMIT],
  'eye string': ['eye', () => eye(js('3')), "'3'"],
  'rand huge': ['rand', () => rand([2 ** 20, 2 ** 20]), LIMIT],
  'rand negative': ['rand', () => rand([-2]), '-2'],
  'rand generator not a Generator': ['rand', () => rand([2], { generator: js(5) }), 'generator'],
  'rand unknown option': ['rand', () => rand([2], js({ seed: 1 })), "'seed'", 'generator'],
  'randn float16': ['randn', () => randn([2], { dtype: js('float16') }), 'float16'],
  'randint overflow': ['randint', () => randint(0, 2 ** 32, [2]), 'int32'],
  'randint dtype option': ['randint', () => randint(0, 5, [2], js({ dtype: 'float32' })), "'dtype'"],
  'randint NaN shape': ['randint', () => randint(0, 5, [NaN]), 'NaN'],
};

const CASTS: Record<string, Case> = {
  'cast float16': ['cast', () => cast(x, js('float16')), 'float16', 'planned'],
  'cast unknown': ['cast', () => cast(x, js('float64')), "'float64'", 'bool, int32, float32'],
  'cast undefined': ['cast', () => cast(x, js(undefined)), 'undefined'],
  'Tensor.cast float16': ['cast', () => x.cast(js('float16')), 'float16'],
  'Tensor.to unknown backend': ['to', () => x.to('nope'), "'nope'", 'cpu'],
  'Tensor.to not a string': ['to', () => x.to(js(1)), 'backend'],
  'cast not a tensor': ['cast', () => cast(js([1]), 'int32'), 'Tensor'],
  'promoteTypes planned': ['promoteTypes', () => promoteTypes('float32', js('float16')), 'float16'],
  'isFloatDType unknown': ['isFloatDType', () => isFloatDType(js('x')), "'x'"],
  'allocArray unknown dtype': ['allocArray', () => allocArray(js('float64'), 2), "'float64'"],
  'allocArray negative size': ['allocArray', () => allocArray('float32', -1), '-1'],
};

const VIEWS: Record<string, Case> = {
  'reshape number': ['reshape', () => reshape(x, js(6)), 'shape', 'array'],
  'reshape string dim': ['reshape', () => reshape(x, js([2, '3'])), "'3'"],
  'view fractional': ['reshape', () => x.view([1.5, 4]), '1.5'],
  'reshape two -1': ['reshape', () => reshape(x, [-1, -1]), 'more than one -1'],
  'permute string': ['permute', () => permute(x, js('10')), 'perm'],
  'permute fractional': ['permute', () => permute(x, [0, 0.5]), '0.5'],
  'transpose string axis': ['transpose', () => transpose(x, 0, js('1')), "'1'"],
  'expand number': ['expand', () => expand(x, js(3)), 'shape', 'array'],
  'expand huge': ['expand', () => expand(one, [2 ** 40]), LIMIT],
  'expand fractional': ['expand', () => expand(one, [2.5]), '2.5'],
  'slice not an array': ['slice', () => slice(x, js('0:1')), 'ranges'],
  'slice fractional start': ['slice', () => slice(x, [[0.5, 2]]), '0.5'],
  'slice range not an array': ['slice', () => slice(x, js([5])), 'range'],
  'slice zero step': ['slice', () => slice(x, [[0, 2, 0]]), 'step'],
  'narrow fractional': ['narrow', () => narrow(x, 1, 0.5, 1), '0.5'],
  'narrow string axis': ['narrow', () => narrow(x, js('1'), 0, 1), "'1'"],
  'select NaN': ['select', () => select(x, 0, NaN), 'NaN'],
  'squeeze string': ['squeeze', () => squeeze(x, js('0')), "'0'"],
  'unsqueeze fractional': ['unsqueeze', () => unsqueeze(x, 0.5), '0.5'],
  'flatten NaN': ['flatten', () => flatten(x, NaN), 'NaN'],
};

const REDUCTIONS: Record<string, Case> = {
  'sum unknown key': ['sum', () => sum(x, js({ axis: 0, keepDim: true })), "'keepDim'", 'axis, keepdim'],
  'sum axis twice': ['sum', () => sum(x, -1, js({ axis: 0 })), 'axis', 'twice'],
  'sum options then extra': ['sum', () => sum(js(x), js({ axis: 0 }), js({ keepdim: true })), 'second argument'],
  'sum string axis': ['sum', () => sum(x, js('1')), "'1'"],
  'sum boolean': ['sum', () => sum(x, js(true)), 'true', 'axis'],
  'sum axis in options as string': ['sum', () => sum(x, js({ axis: '0' })), "'0'"],
  'sum keepdim not boolean': ['sum', () => sum(x, { axis: 0, keepdim: js('yes') }), 'keepdim', "'yes'"],
  'sum out of range': ['sum', () => sum(x, 2), 'axis 2', 'rank 2'],
  'Tensor.sum unknown key': ['sum', () => x.sum(js({ dims: 0 })), "'dims'"],
  'Tensor.sum fractional axis': ['sum', () => x.sum(0.5), '0.5'],
  'mean unknown key': ['mean', () => mean(x, js({ dim: 0 })), "'dim'", 'axis, keepdim'],
  'Tensor.mean bad axis': ['mean', () => x.mean([0, 5]), 'axis 5'],
  'max unknown key': ['max', () => max(x, js({ axis: 0, dim: 1 })), "'dim'"],
  'Tensor.max repeated axis': ['max', () => x.max([1, -1]), 'same dimension'],
  'min string': ['min', () => min(x, js('0')), "'0'"],
  'prod unknown key': ['prod', () => prod(x, js({ dtype: 'int32' })), "'dtype'"],
  'logsumexp unknown key': ['logsumexp', () => logsumexp(x, js({ axes: 0 })), "'axes'"],
  'any unknown key': ['any', () => any(x, js({ keepdims: true })), "'keepdims'"],
  'all out of range': ['all', () => all(x, -3), 'axis -3'],
  'variance unknown key': ['var', () => variance(x, js({ unbiased: false })), "'unbiased'", 'axis, keepdim, correction'],
  'variance correction string': ['var', () => variance(x, -1, js({ correction: '0' })), 'correction', "'0'"],
  'std unknown key': ['var', () => std(x, js({ ddof: 0 })), "'ddof'"],
  'argmax array axis': ['argmax', () => argmax(x, js([0, 1])), 'one axis'],
  'argmax fractional': ['argmax', () => argmax(x, 0.5), '0.5'],
  'argmax unknown key': ['argmax', () => argmax(x, js({ axis: 0, dim: 1 })), "'dim'", 'axis, keepdim'],
  'argmax keepdim string': ['argmax', () => argmax(x, 0, js('yes')), 'keepdim', "'yes'"],
  'argmin out of range': ['argmin', () => x.argmin(2), 'axis 2'],
};

const idx2 = tensor([[0, 1], [1, 0]], { dtype: 'int32' });
const OTHERS: Record<string, Case> = {
  'oneHot zero classes': ['oneHot', () => oneHot(idx, 0), 'numClasses', '0'],
  'oneHot fractional classes': ['oneHot', () => oneHot(idx, 2.5), '2.5'],
  'oneHot -2 classes': ['oneHot', () => oneHot(idx, -2), '-2'],
  'oneHot class out of range': ['oneHot', () => oneHot(idx, 2), '2', 'numClasses 2'],
  'oneHot negative class': ['oneHot', () => oneHot(negIdx, 3), '-1'],
  'oneHot huge': ['oneHot', () => oneHot(idx, 2 ** 30), LIMIT],
  'oneHot float index': ['oneHot', () => oneHot(x, 3), 'int32'],
  'oneHot infer from empty': ['oneHot', () => oneHot(emptyIdx, -1), 'empty'],
  'gather string axis': ['gather', () => gather(x, js('1'), idx2), "'1'"],
  'indexSelect fractional axis': ['indexSelect', () => indexSelect(x, 0.5, idx), '0.5'],
  'scatterAdd NaN axis': ['scatterAdd', () => scatterAdd(x, NaN, idx2, ones22), 'NaN'],
  'concat not an array': ['concat', () => concat(js(x)), 'array'],
  'concat fractional axis': ['concat', () => concat([x, x], 0.5), '0.5'],
  'stack not an array': ['stack', () => stack(js(x)), 'array'],
  'split string': ['split', () => split(x, js('1')), "'1'"],
  'chunk string axis': ['chunk', () => chunk(x, 2, js('0')), "'0'"],
  'clamp string bound': ['clamp', () => clamp(x, js('0')), "'0'"],
  'add result too large': ['add', () => tidy(() => add(zeros([2 ** 16, 1]), zeros([1, 2 ** 16]))), '[65536, 65536]', LIMIT],
  'where result too large': ['where', () => tidy(() => where(zeros([2 ** 16, 1], { dtype: 'bool' }), zeros([1, 2 ** 16]), 0)), LIMIT],
  'matmul result too large': ['matmul', () => tidy(() => matmul(zeros([2 ** 16, 1]), zeros([1, 2 ** 16]))), '[65536, 65536]', LIMIT],
  'softmax string axis': ['softmax', () => softmax(x, js('1')), "'1'"],
  'logSoftmax fractional': ['logSoftmax', () => logSoftmax(x, 0.5), '0.5'],
  'gelu approximate': ['gelu', () => gelu(x, js('fast')), "'fast'"],
  'layerNorm shape number': ['layerNorm', () => layerNorm(x, js(3)), 'normalizedShape'],
  'layerNorm eps string': ['layerNorm', () => layerNorm(x, [3], null, null, js('1e-5')), 'eps'],
  'dropout training string': ['dropout', () => dropout(x, 0.5, js('yes')), 'training'],
  'dropout generator': ['dropout', () => dropout(x, 0.5, true, js(1)), 'generator'],
  'attention unknown key': ['scaledDotProductAttention', () => scaledDotProductAttention(q, q, q, js({ causal: true })), "'causal'", 'isCausal'],
  'attention scale NaN': ['scaledDotProductAttention', () => scaledDotProductAttention(q, q, q, { scale: NaN }), 'scale'],
  'attention isCausal string': ['scaledDotProductAttention', () => scaledDotProductAttention(q, q, q, { isCausal: js('yes') }), 'isCausal'],
  'attention dropoutP 2': ['scaledDotProductAttention', () => scaledDotProductAttention(q, q, q, { dropoutP: 2 }), 'dropoutP'],
  'adamStep unknown key': ['adamStep', () => adamStep(p, g, m0, v0, js({ lr: 0.1, beta1: 0.9, beta2: 0.99, eps: 1e-8, step: 1, decay: 0 })), "'decay'"],
  'adamStep lr NaN': ['adamStep', () => adamStep(p, g, m0, v0, { lr: NaN, beta1: 0.9, beta2: 0.99, eps: 1e-8, step: 1 }), 'lr'],
  'linear weight not a tensor': ['linear', () => linear(x, js([1])), 'Tensor'],
  'Generator.manualSeed NaN': ['manualSeed', () => new Generator(0).manualSeed(NaN), 'NaN'],
  'adamStep missing options': ['adamStep', () => adamStep(p, g, m0, v0, js(undefined)), 'lr'],
};

describe('validation: every public entry rejects bad arguments with a HeedError naming the op', () => {
  for (const [group, table] of Object.entries({ CREATION, CASTS, VIEWS, REDUCTIONS, OTHERS })) {
    describe(group, () => {
      for (const [name, c] of Object.entries(table)) it(name, () => expectRejected(name, c));
    });
  }

  it('inputs are unchanged after all those rejected calls', () => {
    expectClose(x, [1, 2, 3, 4, 5, 6], [2, 3]);
    expectClose(idx, [0, 2, 1], [3]);
  });
});

describe('reductions take the axis positionally (JS callers)', () => {
  const m = tensor([[1, 5, 3], [7, 2, 4]]);

  it('sum/mean/prod/max/min/logsumexp with a number or an array reduce those axes only', () => {
    expectClose(m.sum(-1), [9, 13], [2]);
    expectClose(sum(m, 0), [8, 7, 7], [3]);
    expectClose(m.sum(-1, { keepdim: true }), [9, 13], [2, 1]);
    expectClose(m.sum([0, 1]), [22], []);
    expectClose(m.mean(0), [4, 3.5, 3.5], [3]);
    expectClose(mean(m, 1, { keepdim: true }), [3, 13 / 3], [2, 1]);
    expectClose(m.prod(1), [15, 56], [2]);
    expectClose(m.max(1), [5, 7], [2]);
    expectClose(max(m, 0, { keepdim: true }), [7, 5, 4], [1, 3]);
    expectClose(m.min(1), [1, 2], [2]);
    expectClose(m.logsumexp(1), [Math.log(Math.exp(1) + Math.exp(5) + Math.exp(3)), Math.log(Math.exp(7) + Math.exp(2) + Math.exp(4))], [2]);
  });

  it('the options object still works, and undefined-valued keys are ignored', () => {
    expectClose(m.sum({ axis: 1 }), [9, 13], [2]);
    expectClose(m.sum({ axis: undefined, keepdim: undefined }), [22], []);
    expectClose(m.sum(), [22], []);
  });

  it('variance/std take the axis first and the correction in the options', () => {
    // population variance of [1, 5, 3] is 8/3, of [7, 2, 4] is 38/9
    expectClose(variance(m, 1, { correction: 0 }), [8 / 3, 38 / 9], [2]);
    expectClose(m.variance(-1), [4, 19 / 3], [2]);
    expectClose(m.std(1, { correction: 0, keepdim: true }), [Math.sqrt(8 / 3), Math.sqrt(38 / 9)], [2, 1]);
    expectClose(std(m, { axis: 1 }), [2, Math.sqrt(19 / 3)], [2]);
  });

  it('any/all with a positional axis', () => {
    const b = tensor([[true, false], [false, false]]);
    expect(Array.from(b.any(1).dataSync())).toEqual([1, 0]);
    expect(Array.from(all(b, 0).dataSync())).toEqual([0, 0]);
    expect(Array.from(any(b, 0, { keepdim: true }).dataSync())).toEqual([1, 0]);
  });

  it('argmax/argmin accept an axis, an options object, and keepdim as a boolean or an object', () => {
    expectClose(argmax(m, 1), [1, 0], [2]);
    expectClose(m.argmax({ axis: 0 }), [1, 0, 1], [3]);
    expectClose(argmax(m, { axis: 1, keepdim: true }), [1, 0], [2, 1]);
    expectClose(m.argmin(1, { keepdim: true }), [0, 1], [2, 1]);
    expectClose(argmin(m, 1, true), [0, 1], [2, 1]);
    expectClose(argmax(m), [3], []);
  });

  it('gradients flow through the positional form', () => {
    const w = tensor([[1, 2], [3, 4]], { requiresGrad: true });
    const loss = tidy(() => w.sum(-1).mul(tensor([1, 10])).sum());
    loss.backward();
    expectClose(w.grad!, [1, 1, 10, 10], [2, 2]);
    loss.dispose();
    w.dispose();
  });
});

describe('oneHot', () => {
  it('encodes valid classes (float32) and infers the class count with -1', () => {
    const i = tensor([[0, 2], [1, 0]], { dtype: 'int32' });
    const h = oneHot(i, 3);
    expect(h.dtype).toBe('float32');
    expectClose(h, [1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0], [2, 2, 3]);
    expectClose(oneHot(i, -1), [1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0], [2, 2, 3]);
    expectClose(oneHot(tensor([0, 1], { dtype: 'int32' }), 4), [1, 0, 0, 0, 0, 1, 0, 0], [2, 4]);
    expectClose(oneHot(zeros([0], { dtype: 'int32' }), 2), [], [0, 2]);
  });

  it('reports the offending class and its position', () => {
    const i = tensor([[0, 1], [5, 0]], { dtype: 'int32' });
    expectRejected('oneHot position', ['oneHot', () => oneHot(i, 3), '5', '[1, 0, 0]', 'numClasses 3', '0..2']);
  });
});
