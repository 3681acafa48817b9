// SPDX-License-Identifier: MIT
// Fused kernels vs core fallbacks: for each optional kernel the backend provides, the same
// inputs run on the backend (fused kernel, spied to prove it ran) and on the same instance
// registered without fused kernels (core's decomposition over primitives). Outputs must agree,
// and so must gradients (core owns them, but they use the fused forward's saved output).
// Cases for kernels the backend lacks are skipped with a note. One more case, `fused/declined`,
// runs every check on the same instance with fused kernels that all decline (return null):
// core must then fall back and give the fallback's outputs and gradients.
import {
  adamStep, argsort, concat, conv1d, conv2d, gelu, initBackend, layerNorm, linear, logSoftmax, noGrad, registerBackend, removeBackend,
  scaledDotProductAttention, softmax, tidy, topk, type AdamStepOptions, type Backend, type FusedKernels, type Tensor,
} from '@heed/core';
import { assertTensorClose, ensure, readHost, type HostTensor } from '../assert.js';
import { FUSED_NAMES, wrapBackend } from '../backends.js';
import { Rng, draw, numel, upload, type ValueKind } from '../host.js';
import type { CaseContext, RunnableCase } from '../types.js';
import { runMatmulEpilogue } from './matmul-epilogue.js';

type In = { readonly shape: number[]; readonly kind?: ValueKind; readonly values?: number[]; readonly dtype?: 'float32' | 'bool' };

interface FusedCheck {
  readonly label: string;
  readonly inputs: readonly In[];
  readonly f: (xs: readonly Tensor[]) => Tensor;
  /** Also compare gradients w.r.t. the float inputs (`attention` fuses only without grad, its training pair only with). */
  readonly grad: boolean;
  /** Tolerance multiplier for ill-conditioned inputs. */
  readonly loose?: number;
}

const X = (...shape: number[]): In => ({ shape });
const R = (lo: number, hi: number, ...shape: number[]): In => ({ shape, kind: { kind: 'uniform', lo, hi } });
const M = (shape: number[], values: number[]): In => ({ shape, values, dtype: 'bool' });
const NEG = -Infinity;
/** Values from {-2..2} in a fixed scramble: many ties (stability). */
const TIES = (...shape: number[]): In => ({ shape, values: Array.from({ length: numel(shape) }, (_, i) => ((i * 7 + (i >> 3)) % 5) - 2) });
const SPECIAL: In = { shape: [2, 6], values: [1.5, NaN, NEG, 0, Infinity, NaN, -2, 1.5, NaN, Infinity, NEG, -0] };

const softmaxChecks = (f: typeof softmax): FusedCheck[] => [
  { label: 'rows', inputs: [R(-3, 3, 3, 5)], f: ([x]) => f(x), grad: true },
  { label: 'middle axis', inputs: [X(2, 3, 7)], f: ([x]) => f(x, 1), grad: true },
  { label: 'single element', inputs: [X(1)], f: ([x]) => f(x), grad: true },
  { label: 'rank 0', inputs: [X()], f: ([x]) => f(x, 0), grad: true },
  { label: 'wide rows', inputs: [R(-10, 10, 4, 1000)], f: ([x]) => f(x), grad: true },
  { label: 'odd widths', inputs: [R(-4, 4, 3, 17)], f: ([x]) => f(x), grad: true },
  { label: 'zero rows', inputs: [X(0, 5)], f: ([x]) => f(x), grad: false },
  { label: 'large values', inputs: [R(500, 1500, 2, 6)], f: ([x]) => f(x), grad: true },
  { label: 'transposed input', inputs: [X(5, 3)], f: ([x]) => f(x.transpose()), grad: true },
  { label: '-Infinity entries', inputs: [{ shape: [2, 4], values: [NEG, 0, 1, NEG, 2, NEG, NEG, 3] }], f: ([x]) => f(x), grad: false },
];

const CHECKS: { readonly [K in keyof FusedKernels]: readonly FusedCheck[] } = {
  linear: [
    { label: 'with bias', inputs: [X(5, 4), X(3, 4), X(3)], f: ([x, w, b]) => linear(x, w, b), grad: true },
    { label: 'no bias', inputs: [X(5, 4), X(3, 4)], f: ([x, w]) => linear(x, w), grad: true },
    { label: 'batched input', inputs: [X(2, 3, 6), X(7, 6), X(7)], f: ([x, w, b]) => linear(x, w, b), grad: true },
    { label: 'vector input', inputs: [X(6), X(2, 6), X(2)], f: ([x, w, b]) => linear(x, w, b), grad: true },
    { label: 'transposed weight view', inputs: [X(4, 5), X(5, 3), X(3)], f: ([x, w, b]) => linear(x, w.transpose(), b), grad: true },
    { label: 'transposed input view', inputs: [X(5, 4), X(3, 5), X(3)], f: ([x, w, b]) => linear(x.transpose(), w, b), grad: true },
    { label: 'one output', inputs: [X(8, 3), X(1, 3), X(1)], f: ([x, w, b]) => linear(x, w, b), grad: true },
    { label: 'empty batch', inputs: [X(0, 4), X(3, 4), X(3)], f: ([x, w, b]) => linear(x, w, b), grad: false },
  ],
  softmax: softmaxChecks(softmax),
  logSoftmax: softmaxChecks(logSoftmax),
  gelu: [
    ...(['none', 'tanh'] as const).flatMap((a): FusedCheck[] => [
      { label: `${a} small`, inputs: [R(-5, 5, 2, 5)], f: ([x]) => gelu(x, a), grad: true },
      { label: `${a} wide`, inputs: [R(-12, 12, 1001)], f: ([x]) => gelu(x, a), grad: true },
      { label: `${a} transposed`, inputs: [X(4, 3)], f: ([x]) => gelu(x.transpose(), a), grad: true },
      { label: `${a} empty`, inputs: [X(0)], f: ([x]) => gelu(x, a), grad: false },
    ]),
  ],
  layerNorm: [
    { label: 'plain', inputs: [X(3, 8)], f: ([x]) => layerNorm(x, [8]), grad: true },
    { label: 'affine', inputs: [X(3, 8), X(8), X(8)], f: ([x, w, b]) => layerNorm(x, [8], w, b), grad: true },
    { label: 'weight only', inputs: [X(2, 5), X(5)], f: ([x, w]) => layerNorm(x, [5], w, null, 1e-3), grad: true },
    { label: 'bias only', inputs: [X(2, 5), X(5)], f: ([x, b]) => layerNorm(x, [5], null, b), grad: true },
    { label: 'wide rows', inputs: [X(2, 3, 1000), X(1000), X(1000)], f: ([x, w, b]) => layerNorm(x, [1000], w, b), grad: true },
    { label: 'rows of one', inputs: [X(4, 1), X(1), X(1)], f: ([x, w, b]) => layerNorm(x, [1], w, b), grad: true },
    { label: 'two normalized dims', inputs: [X(2, 3, 4), X(3, 4), X(3, 4)], f: ([x, w, b]) => layerNorm(x, [3, 4], w, b), grad: true },
    { label: 'shifted mean', inputs: [R(100, 101, 3, 16)], f: ([x]) => layerNorm(x, [16]), grad: true, loose: 20 },
    { label: 'transposed input', inputs: [X(2, 6), X(2), X(2)], f: ([x, w, b]) => layerNorm(x.transpose(), [2], w, b), grad: true },
    { label: 'empty', inputs: [X(0, 4)], f: ([x]) => layerNorm(x, [4]), grad: false },
  ],
  attention: [
    { label: 'plain', inputs: [X(2, 2, 3, 8), X(2, 2, 5, 8), X(2, 2, 5, 4)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v), grad: false },
    {
      label: 'bool mask with a fully masked row',
      inputs: [X(1, 2, 3, 4), X(1, 2, 5, 4), X(1, 2, 5, 4), M([3, 5], [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m }), grad: false,
    },
    { label: 'additive mask', inputs: [X(2, 2, 3, 4), X(2, 2, 5, 4), X(2, 2, 5, 4), R(-4, 0, 2, 1, 3, 5)],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m }), grad: false },
    { label: 'causal', inputs: [X(1, 2, 4, 4), X(1, 2, 4, 4), X(1, 2, 4, 3)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { isCausal: true }), grad: false },
    { label: 'causal, L > S', inputs: [X(1, 1, 5, 4), X(1, 1, 3, 4), X(1, 1, 3, 2)],
      f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { isCausal: true }), grad: false },
    { label: 'causal and bool mask', inputs: [X(1, 2, 4, 4), X(1, 2, 4, 4), X(1, 2, 4, 3), M([4, 4], [1, 1, 0, 1, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0])],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: true }), grad: false },
    { label: 'broadcast batch', inputs: [X(2, 2, 3, 4), X(1, 2, 5, 4), X(2, 1, 5, 4)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v), grad: false },
    { label: 'custom scale', inputs: [X(1, 1, 3, 4), X(1, 1, 3, 4), X(1, 1, 3, 4)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { scale: 0.2 }), grad: false },
    { label: 'large', inputs: [X(1, 4, 64, 32), X(1, 4, 100, 32), X(1, 4, 100, 32)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v), grad: false },
  ],
  attentionForward: trainingAttentionChecks(),
  attentionBackward: trainingAttentionChecks(),
  adam: [
    { label: 'first step', inputs: [X(4, 5), R(-1, 1, 4, 5), X(4, 5), R(0, 1, 4, 5)], f: adamAll({ lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 }), grad: false },
    { label: 'late step, other betas', inputs: [X(3, 7), R(-2, 2, 3, 7), R(-0.5, 0.5, 3, 7), R(0, 2, 3, 7)],
      f: adamAll({ lr: 1e-3, beta1: 0.8, beta2: 0.98, eps: 1e-6, step: 250 }), grad: false },
    { label: 'large and odd-sized', inputs: [X(1001), R(-1, 1, 1001), X(1001), R(0, 1, 1001)], f: adamAll({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 3 }), grad: false },
    { label: 'transposed grad', inputs: [X(3, 4), R(-1, 1, 4, 3), X(3, 4), R(0, 1, 3, 4)],
      f: ([p, g, m, v]) => adamAll({ lr: 0.05, beta1: 0.9, beta2: 0.99, eps: 1e-8, step: 2 })([p, g.transpose(), m, v]), grad: false },
    { label: 'zero gradient and moments', inputs: [X(6), { shape: [6], values: [0, 0, 0, 0, 0, 0] }, { shape: [6], values: [0, 0, 0, 0, 0, 0] }, { shape: [6], values: [0, 0, 0, 0, 0, 0] }],
      f: adamAll({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 }), grad: false },
    { label: 'empty', inputs: [X(0), X(0), X(0), X(0)], f: adamAll({ lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, step: 1 }), grad: false },
  ],
  argsort: [
    { label: 'rows with ties', inputs: [TIES(3, 40)], f: ([x]) => argsort(x), grad: false },
    { label: 'descending, long rows with ties', inputs: [TIES(2, 150)], f: ([x]) => argsort(x, { descending: true }), grad: false },
    { label: 'NaN and infinities', inputs: [SPECIAL], f: ([x]) => argsort(x), grad: false },
    { label: 'NaN and infinities, descending', inputs: [SPECIAL], f: ([x]) => argsort(x, { descending: true }), grad: false },
    { label: 'axis 0 of a transposed input', inputs: [TIES(7, 5)], f: ([x]) => argsort(x.transpose(), { axis: 0 }), grad: false },
    { label: 'sort values', inputs: [R(-3, 3, 4, 33)], f: ([x]) => x.sort().values, grad: true },
  ],
  topk: [
    { label: 'wide rows', inputs: [R(-10, 10, 1, 300)], f: ([x]) => topk(x, 8).values, grad: true },
    { label: 'smallest, ties (indices)', inputs: [TIES(3, 40)], f: ([x]) => topk(x, 9, { largest: false }).indices, grad: false },
    { label: 'largest, ties (indices)', inputs: [TIES(3, 40)], f: ([x]) => topk(x, 9).indices, grad: false },
    { label: 'NaN and infinities', inputs: [SPECIAL], f: ([x]) => topk(x, 4).indices, grad: false },
    { label: 'k = 1', inputs: [R(-1, 1, 5, 17)], f: ([x]) => topk(x, 1).values, grad: true },
  ],
  conv2d: [
    { label: '3x3 padded, bias', inputs: [X(2, 3, 7, 6), X(4, 3, 3, 3), X(4)], f: ([x, w, b]) => conv2d(x, w, { bias: b, padding: 1 }), grad: true },
    { label: 'stride, dilation, same-size tuple', inputs: [X(1, 2, 9, 8), X(3, 2, 3, 2)], f: ([x, w]) => conv2d(x, w, { stride: [2, 1], dilation: [1, 2], padding: [1, 0] }), grad: true },
    { label: "'same' with an even kernel", inputs: [X(2, 2, 5, 6), X(3, 2, 4, 2)], f: ([x, w]) => conv2d(x, w, { padding: 'same' }), grad: true },
    { label: 'groups', inputs: [X(2, 4, 5, 5), X(6, 2, 3, 3), X(6)], f: ([x, w, b]) => conv2d(x, w, { bias: b, groups: 2 }), grad: true },
    { label: 'depthwise', inputs: [X(1, 4, 6, 6), X(4, 1, 3, 3)], f: ([x, w]) => conv2d(x, w, { groups: 4, stride: 2, padding: 1 }), grad: true },
    { label: 'transposed input', inputs: [X(2, 3, 6, 5), X(4, 3, 2, 2)], f: ([x, w]) => conv2d(x.transpose(2, 3), w), grad: true },
    { label: 'larger (parallel GEMM)', inputs: [X(4, 16, 20, 20), X(32, 16, 3, 3), X(32)], f: ([x, w, b]) => conv2d(x, w, { bias: b, padding: 1 }), grad: true, loose: 4 },
    { label: 'conv1d', inputs: [X(2, 3, 12), X(5, 3, 3)], f: ([x, w]) => conv1d(x, w, { padding: 2, dilation: 2 }), grad: true },
  ],
  // Core's ops never call `elementwise`; lazy execution does. Its conformance is the whole suite
  // run over LazyBackend(backend) (the backends' conformance-lazy tests), against the same fixtures.
  elementwise: [],
  // Reached by lazy execution only; its own checks call the kernel directly (matmul-epilogue.ts).
  matmulElementwise: [],
};

/** Attention with gradients (the fused training pair): masks, fully masked rows, L != S, odd sizes, broadcast batch. */
function trainingAttentionChecks(): FusedCheck[] {
  return [
    { label: 'plain, L != S', inputs: [X(2, 2, 3, 8), X(2, 2, 5, 8), X(2, 2, 5, 4)], f: ([q, k, v]) => scaledDotProductAttention(q, k, v), grad: true },
    {
      label: 'bool mask with a fully masked row',
      inputs: [X(1, 2, 3, 4), X(1, 2, 5, 4), X(1, 2, 5, 4), M([3, 5], [1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1])],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m }), grad: true,
    },
    { label: 'additive mask with -Infinity', inputs: [X(2, 2, 3, 4), X(2, 2, 5, 4), X(2, 2, 5, 4), { shape: [3, 5], values: [0, NEG, -1, 0.5, NEG, NEG, 0, 0, -2, 1, 0, 0, 0, NEG, 0] }],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m.detach() }), grad: true },
    { label: 'causal, L > S, odd sizes', inputs: [X(1, 3, 7, 5), X(1, 3, 4, 5), X(1, 3, 4, 3)],
      f: ([q, k, v]) => scaledDotProductAttention(q, k, v, { isCausal: true, scale: 0.3 }), grad: true },
    { label: 'broadcast batch, causal and key mask', inputs: [X(2, 2, 6, 4), X(1, 2, 6, 4), X(2, 1, 6, 4), M([2, 1, 1, 6], [1, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 1])],
      f: ([q, k, v, m]) => scaledDotProductAttention(q, k, v, { attnMask: m, isCausal: true }), grad: true },
  ];
}

/** adamStep's three results, flattened and concatenated (so one output can be compared). */
function adamAll(options: AdamStepOptions): (xs: readonly Tensor[]) => Tensor {
  return ([p, g, m, v]) => {
    const r = adamStep(p, g, m, v, options);
    return concat([r.param.flatten(), r.expAvg.flatten(), r.expAvgSq.flatten()]);
  };
}

function hostOf(inp: In, rng: Rng): HostTensor {
  const values = inp.values ?? (inp.dtype === 'bool' ? [] : draw(rng, numel(inp.shape), inp.kind ?? { kind: 'uniform' }));
  return { shape: inp.shape, dtype: inp.dtype ?? 'float32', values };
}

/** Replaces the instance's kernel with a counting wrapper until `restore` is called. */
function spy(instance: Backend, kernel: keyof FusedKernels): { count: () => number; restore: () => void } {
  const target = instance as unknown as Record<string, unknown>;
  const own = Object.prototype.hasOwnProperty.call(target, kernel);
  const original = target[kernel] as (...a: unknown[]) => unknown;
  let calls = 0;
  target[kernel] = function counted(this: unknown, ...args: unknown[]) { calls++; return original.apply(this, args); };
  return { count: () => calls, restore: () => { if (own) target[kernel] = original; else delete target[kernel]; } };
}

async function runOn(backend: string, hosts: readonly HostTensor[], check: FusedCheck, upstream: (shape: readonly number[]) => HostTensor) {
  const xs = hosts.map((h) => upload(h, backend, check.grad && h.dtype === 'float32'));
  try {
    const y = check.grad ? tidy(() => check.f(xs)) : noGrad(() => tidy(() => check.f(xs)));
    try {
      const out = await readHost(y);
      const grads: HostTensor[] = [];
      if (check.grad) {
        tidy(() => y.mul(upload(upstream(y.shape), backend)).sum().backward());
        for (const x of xs) if (x.grad) grads.push(await readHost(x.grad));
      }
      return { out, grads };
    } finally {
      y.dispose();
    }
  } finally {
    for (const x of xs) x.dispose();
  }
}

/** The seeded host inputs of a check and its upstream gradients (one per output shape). */
function inputsOf(kernel: keyof FusedKernels, check: FusedCheck) {
  const rng = new Rng(`fused/${kernel}/${check.label}`);
  const hosts = check.inputs.map((inp) => hostOf(inp, rng));
  const u = new Map<string, HostTensor>();
  const upstream = (shape: readonly number[]) => {
    const key = shape.join();
    if (!u.has(key)) u.set(key, { shape, dtype: 'float32', values: Array.from({ length: numel(shape) }, () => rng.normal()) });
    return u.get(key) as HostTensor;
  };
  return { hosts, upstream };
}

type Run = Awaited<ReturnType<typeof runOn>>;

/** Outputs and gradients of a run (`what`) must match the fallback's. */
function compare(what: string, kernel: keyof FusedKernels, check: FusedCheck, got: Run, fallback: Run, ctx: CaseContext): void {
  const k = check.loose ?? 1;
  assertTensorClose(`${kernel} (${check.label}): ${what} vs fallback output`, got.out, fallback.out, k * ctx.tol.rtol, k * ctx.tol.atol);
  ensure(got.grads.length === fallback.grads.length, `${kernel} (${check.label}): gradients reached different inputs`);
  got.grads.forEach((g, i) => assertTensorClose(`${kernel} (${check.label}): gradient ${i}, ${what} vs fallback forward`,
    g, fallback.grads[i], k * ctx.tol.gradRtol, k * 10 * ctx.tol.atol));
}

async function runFused(kernel: keyof FusedKernels, ctx: CaseContext): Promise<void> {
  if (kernel === 'matmulElementwise') return runMatmulEpilogue(ctx);
  if (typeof ctx.instance[kernel] !== 'function') ctx.skip(`the backend has no fused ${kernel} kernel`);
  for (const check of CHECKS[kernel]) {
    const { hosts, upstream } = inputsOf(kernel, check);
    const s = spy(ctx.instance, kernel);
    let fused;
    try {
      fused = await runOn(ctx.backend, hosts, check, upstream);
    } finally {
      s.restore();
    }
    ensure(s.count() > 0, `${kernel} (${check.label}): the fused kernel was not called`);
    compare('fused', kernel, check, fused, await runOn(ctx.fallback, hosts, check, upstream), ctx);
  }
}

/**
 * Every check on the instance registered with fused kernels that all decline (count the call,
 * return null), against the fallback registration: core must fall back for each of them.
 */
async function runDeclined(ctx: CaseContext): Promise<void> {
  const name = `${ctx.backend}~declining`;
  const calls = new Map<string, number>();
  const declining = Object.create(wrapBackend(ctx.instance, { name, withoutFused: true, ownsBackend: false })) as Backend;
  for (const kernel of FUSED_NAMES) {
    const decline = () => { calls.set(kernel, (calls.get(kernel) ?? 0) + 1); return null; };
    Object.defineProperty(declining, kernel, { value: decline, enumerable: true, configurable: true });
  }
  const realForward = (ctx.instance as Partial<FusedKernels>).attentionForward;
  registerBackend({ name, priority: -1000, create: () => declining });
  try {
    await initBackend(name);
    for (const kernel of FUSED_NAMES) {
      // The backward is only reached after a fused forward: let the real one run for its checks.
      if (kernel === 'attentionBackward' && realForward) {
        Object.defineProperty(declining, 'attentionForward', { value: realForward.bind(ctx.instance), enumerable: true, configurable: true });
      }
      if (kernel === 'attentionBackward' && !realForward) continue;
      if (CHECKS[kernel].length === 0) continue; // elementwise, matmulElementwise: reached by lazy execution only
      for (const check of CHECKS[kernel]) {
        const { hosts, upstream } = inputsOf(kernel, check);
        const got = await runOn(name, hosts, check, upstream);
        compare('declined', kernel, check, got, await runOn(ctx.fallback, hosts, check, upstream), ctx);
      }
      ensure((calls.get(kernel) ?? 0) > 0, `declined ${kernel}: core never called the kernel, so the decline path was not tested`);
    }
  } finally {
    removeBackend(name);
  }
}

/**
 * One case per optional fused kernel, plus `fused/declined` (every kernel declines; core's
 * fallbacks must give the same outputs and gradients). That one runs on every backend.
 *
 * @example
 * ```ts
 * fusedCases().map((c) => c.id); // ['fused/softmax', ..., 'fused/adam', 'fused/declined']
 * ```
 */
export function fusedCases(): RunnableCase[] {
  const perKernel = FUSED_NAMES.map((kernel): RunnableCase => ({
    id: `fused/${kernel}`, group: 'fused', op: kernel.startsWith('attention') ? 'scaledDotProductAttention' : kernel === 'adam' ? 'adamStep' : kernel,
    dtypes: kernel.startsWith('attention') ? ['float32', 'bool'] : ['float32'], hasGradient: kernel !== 'attention' && kernel !== 'adam',
    run: (ctx: CaseContext) => runFused(kernel, ctx),
  }));
  const declined: RunnableCase = {
    id: 'fused/declined', group: 'fused', op: 'fused kernels that decline', dtypes: ['float32', 'bool'], hasGradient: true,
    run: (ctx: CaseContext) => runDeclined(ctx),
  };
  return [...perKernel, declined];
}
