// SPDX-License-Identifier: MIT
// Weight initialisation with torch.nn.init semantics: xavier (Glorot) and kaiming (He)
// uniform/normal with fan modes and gains, plus uniform/normal/constant fills.
// Invariants: every function fills its tensor in place (`assign` under noGrad, so parameters
// keep their identity and requiresGrad), returns it, leaves no temporaries alive, and draws
// from `generator` when given (else the global generator), so a seed fixes the result.
import { HeedError, fmtShape, full, noGrad, rand, randn, tidy, type Generator, type Tensor } from '@heed/core';

/**
 * Gains of `calculateGain`, keyed by nonlinearity (PyTorch's table). `leaky_relu` and
 * `selu` use the functions' extra parameter where PyTorch does.
 *
 * @example
 * ```ts
 * NONLINEARITY_GAINS.tanh(); // 5 / 3
 * ```
 */
export const NONLINEARITY_GAINS = {
  linear: () => 1,
  conv1d: () => 1,
  conv2d: () => 1,
  conv3d: () => 1,
  conv_transpose1d: () => 1,
  conv_transpose2d: () => 1,
  conv_transpose3d: () => 1,
  sigmoid: () => 1,
  tanh: () => 5 / 3,
  relu: () => Math.SQRT2,
  leaky_relu: (slope = 0.01) => Math.sqrt(2 / (1 + slope * slope)),
  selu: () => 3 / 4,
} as const satisfies Record<string, (param?: number) => number>;

/**
 * A nonlinearity name understood by {@link calculateGain}.
 *
 * @example
 * ```ts
 * const n: Nonlinearity = 'relu';
 * ```
 */
export type Nonlinearity = keyof typeof NONLINEARITY_GAINS;

/**
 * Which fan kaiming init preserves: `fan_in` keeps forward activations' variance,
 * `fan_out` keeps the backward gradients'.
 *
 * @example
 * ```ts
 * const m: FanMode = 'fan_out';
 * ```
 */
export type FanMode = 'fan_in' | 'fan_out';

/**
 * The recommended gain for a nonlinearity (`torch.nn.init.calculate_gain`). `param` is the
 * negative slope of `leaky_relu` (default 0.01).
 *
 * @example
 * ```ts
 * calculateGain('relu'); // 1.414...
 * calculateGain('leaky_relu', 0.2);
 * ```
 */
export function calculateGain(nonlinearity: Nonlinearity, param?: number): number {
  const fn = (NONLINEARITY_GAINS as Record<string, ((p?: number) => number) | undefined>)[nonlinearity];
  if (!fn) throw new HeedError('calculateGain', `unknown nonlinearity '${String(nonlinearity)}'; use one of ${Object.keys(NONLINEARITY_GAINS).join(', ')}.`);
  return fn(param);
}

/**
 * `[fanIn, fanOut]` of a weight of shape `[out, in, ...kernel]` (PyTorch's rule; rank >= 2).
 *
 * @example
 * ```ts
 * calculateFanInAndFanOut([8, 4]); // [4, 8]
 * ```
 */
export function calculateFanInAndFanOut(shape: readonly number[]): [number, number] {
  if (shape.length < 2) {
    throw new HeedError('init', `fan in and fan out need a tensor of rank >= 2, got ${fmtShape(shape)}.`);
  }
  const receptive = shape.slice(2).reduce((a, b) => a * b, 1);
  return [shape[1] * receptive, shape[0] * receptive];
}

/** Nesting depth of {@link noInit} calls (0: fills run). */
let noInitDepth = 0;

/**
 * Runs `fn` with every init function of this file turned into a no-op (tensors keep the
 * values they were created with, e.g. zeros), like HF's `no_init_weights`: for building a model
 * whose weights a checkpoint replaces right after, without paying for random draws.
 *
 * @example
 * ```ts
 * const model = noInit(() => new Linear(4096, 4096)); // weight all zeros, loaded next
 * ```
 */
export function noInit<T>(fn: () => T): T {
  noInitDepth++;
  try {
    return fn();
  } finally {
    noInitDepth--;
  }
}

/** Fills `t` in place with `make()` computed in a tidy scope, under noGrad (not inside {@link noInit}). */
function fill(t: Tensor, op: string, make: () => Tensor): Tensor {
  t.assertLive(op);
  if (t.dtype !== 'float32') throw new HeedError(op, `expects a float32 tensor, got ${t.dtype} ${fmtShape(t.shape)}.`);
  if (noInitDepth > 0) return t;
  noGrad(() => tidy(() => { t.assign(make()); }));
  return t;
}

function drawOptions(t: Tensor, generator?: Generator): { backend: string; generator?: Generator } {
  return { backend: t.backend.name, generator };
}

/**
 * Fills `t` with values uniform in `[a, b)`, in place.
 *
 * @example
 * ```ts
 * uniform_(w, -0.1, 0.1, new Generator(0));
 * ```
 */
export function uniform_(t: Tensor, a = 0, b = 1, generator?: Generator): Tensor {
  if (!(b >= a)) throw new HeedError('uniform_', `needs a <= b, got a=${a}, b=${b}.`);
  return fill(t, 'uniform_', () => rand(t.shape, drawOptions(t, generator)).mul(b - a).add(a));
}

/**
 * Fills `t` with normal values of the given mean and standard deviation, in place.
 *
 * @example
 * ```ts
 * normal_(embedding.weight, 0, 0.02);
 * ```
 */
export function normal_(t: Tensor, mean = 0, std = 1, generator?: Generator): Tensor {
  if (!(std >= 0)) throw new HeedError('normal_', `std must be >= 0, got ${std}.`);
  return fill(t, 'normal_', () => randn(t.shape, drawOptions(t, generator)).mul(std).add(mean));
}

/**
 * Fills `t` with `value`, in place.
 *
 * @example
 * ```ts
 * constant_(bias, 0.1);
 * ```
 */
export function constant_(t: Tensor, value: number): Tensor {
  return fill(t, 'constant_', () => full(t.shape, value, { backend: t.backend.name }));
}

/**
 * Fills `t` with zeros, in place.
 *
 * @example
 * ```ts
 * zeros_(linear.bias!);
 * ```
 */
export function zeros_(t: Tensor): Tensor {
  return constant_(t, 0);
}

/**
 * Fills `t` with ones, in place.
 *
 * @example
 * ```ts
 * ones_(norm.weight!);
 * ```
 */
export function ones_(t: Tensor): Tensor {
  return constant_(t, 1);
}

/**
 * Options of {@link xavierUniform} and {@link xavierNormal}.
 *
 * @example
 * ```ts
 * xavierUniform(w, { gain: calculateGain('tanh'), generator: new Generator(1) });
 * ```
 */
export interface XavierOptions {
  /** Scaling factor (default 1). */
  gain?: number;
  /** Random stream (default: the global generator). */
  generator?: Generator;
}

/**
 * Glorot/Xavier uniform init in place: `U(-a, a)` with `a = gain * sqrt(6 / (fanIn + fanOut))`.
 *
 * @example
 * ```ts
 * xavierUniform(mha.inProjWeight!);
 * ```
 */
export function xavierUniform(t: Tensor, options: XavierOptions = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const a = (options.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return uniform_(t, -a, a, options.generator);
}

/**
 * Glorot/Xavier normal init in place: `N(0, std²)` with `std = gain * sqrt(2 / (fanIn + fanOut))`.
 *
 * @example
 * ```ts
 * xavierNormal(w, { gain: 1 });
 * ```
 */
export function xavierNormal(t: Tensor, options: XavierOptions = {}): Tensor {
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const std = (options.gain ?? 1) * Math.sqrt(2 / (fanIn + fanOut));
  return normal_(t, 0, std, options.generator);
}

/**
 * Options of {@link kaimingUniform} and {@link kaimingNormal} (PyTorch's defaults).
 *
 * @example
 * ```ts
 * kaimingNormal(w, { mode: 'fan_out', nonlinearity: 'relu' });
 * ```
 */
export interface KaimingOptions {
  /** Negative slope of the rectifier after this layer (for `leaky_relu`; default 0). */
  a?: number;
  /** Fan to preserve (default `'fan_in'`). */
  mode?: FanMode;
  /** Nonlinearity after this layer (default `'leaky_relu'`). */
  nonlinearity?: Nonlinearity;
  /** Random stream (default: the global generator). */
  generator?: Generator;
}

function kaimingStd(t: Tensor, options: KaimingOptions): number {
  const mode = options.mode ?? 'fan_in';
  if (mode !== 'fan_in' && mode !== 'fan_out') throw new HeedError('kaiming', `mode must be 'fan_in' or 'fan_out', got '${String(mode)}'.`);
  const [fanIn, fanOut] = calculateFanInAndFanOut(t.shape);
  const fan = mode === 'fan_in' ? fanIn : fanOut;
  return calculateGain(options.nonlinearity ?? 'leaky_relu', options.a ?? 0) / Math.sqrt(fan);
}

/**
 * He/Kaiming uniform init in place: `U(-b, b)` with `b = gain * sqrt(3 / fan)`. With
 * `{ a: Math.sqrt(5) }` this is PyTorch's default `nn.Linear` weight init.
 *
 * @example
 * ```ts
 * kaimingUniform(w, { a: Math.sqrt(5) });
 * ```
 */
export function kaimingUniform(t: Tensor, options: KaimingOptions = {}): Tensor {
  const bound = Math.sqrt(3) * kaimingStd(t, options);
  return uniform_(t, -bound, bound, options.generator);
}

/**
 * He/Kaiming normal init in place: `N(0, std²)` with `std = gain / sqrt(fan)`.
 *
 * @example
 * ```ts
 * kaimingNormal(w, { nonlinearity: 'relu' });
 * ```
 */
export function kaimingNormal(t: Tensor, options: KaimingOptions = {}): Tensor {
  return normal_(t, 0, kaimingStd(t, options), options.generator);
}
