// SPDX-License-Identifier: MIT
// The one table of allowed deviations from PyTorch's values in the 'special-values' group
// (fixtures/special.json: +-0, +-inf, NaN, subnormal and huge inputs). Everything not listed
// here must match PyTorch's CPU result on every backend: a deviation found by the group is a
// bug to fix, not a row to add. An entry names the case, the backend(s) by `Backend.name` and
// what may differ; the group still checks those cases, against the alternative answer.
// Invariant: every entry names a case of special.json that has the data its allowance needs
// (checked when the case list is built).

/**
 * What an entry allows. `flushed-subnormals`: each element may instead equal the fixture's
 * `flushed` answer, i.e. PyTorch's result for the same inputs with every subnormal input read
 * as a zero of its sign (flush-to-zero / denormals-are-zero hardware). Subnormal outputs may
 * be flushed everywhere already (the group's absolute tolerance is the smallest normal float32).
 *
 * @example
 * ```ts
 * const a: SpecialAllowance = 'flushed-subnormals';
 * ```
 */
export type SpecialAllowance = 'flushed-subnormals';

/**
 * One allowed deviation.
 *
 * @example
 * ```ts
 * const e: SpecialValueException = { backends: ['webgpu'], allow: 'flushed-subnormals', reason: 'WGSL may flush subnormals' };
 * ```
 */
export interface SpecialValueException {
  /** `Backend.name` of the instances it applies to (the real backend, not the suite's alias). */
  readonly backends: readonly string[];
  /** What may differ (see {@link SpecialAllowance}). */
  readonly allow: SpecialAllowance;
  /** Why no kernel can reasonably match there. */
  readonly reason: string;
}

const WGSL_FLUSH: SpecialValueException = {
  backends: ['webgpu'],
  allow: 'flushed-subnormals',
  reason: 'WGSL lets an implementation flush subnormal f32 values to zero when it reads or writes them (WGSL spec, ' +
    '"Floating Point Evaluation"), and SwiftShader (the CI adapter) does: log(1e-40) is -inf, 1e-40 == 0 is true, ' +
    'ceil(1e-40) is 0. A shader cannot tell a flushed input from a real zero, so these cases are checked against ' +
    "PyTorch's answer for the inputs with subnormals read as zeros.",
};

/** Cases whose elements read a subnormal input (as an operand, or in the same row). */
const FLUSHED_ON_WEBGPU = [
  'unary/abs', 'unary/log', 'unary/sqrt', 'unary/rsqrt', 'unary/relu', 'unary/floor', 'unary/ceil', 'unary/sign',
  'unary/floor-ceil-near-zero', 'elementwise/cast-bool', 'elementwise/clamp-min',
  'binary/mul-pairs', 'binary/mul-outer', 'binary/div-pairs', 'binary/div-outer', 'binary/pow-pairs', 'binary/pow-outer',
  'binary/remainder-pairs', 'binary/remainder-outer', 'binary/atan2-pairs', 'binary/atan2-outer',
  'binary/eq-pairs', 'binary/eq-outer', 'binary/ne-pairs', 'binary/ne-outer', 'binary/lt-pairs', 'binary/lt-outer',
  'binary/le-pairs', 'binary/le-outer', 'binary/gt-pairs', 'binary/gt-outer', 'binary/ge-pairs', 'binary/ge-outer',
  'binary/pow-scalar-0p5', 'binary/maximum-scalar-0', 'binary/pow-scalar-left-0',
  'reduce/all-rows5', 'reduce/all-rows19', 'composite/layerNorm-specials', 'composite/layerNorm-constant-rows-grad',
] as const;

/**
 * Allowed deviations, keyed by case id (`special-values/...`). Every other value of the group
 * must equal PyTorch's (NaN for NaN, the same infinity, the sign of zero where the case says so).
 *
 * @example
 * ```ts
 * Object.keys(SPECIAL_VALUE_EXCEPTIONS); // the case ids with an allowed deviation
 * ```
 */
export const SPECIAL_VALUE_EXCEPTIONS: Readonly<Record<string, readonly SpecialValueException[]>> = Object.fromEntries(
  FLUSHED_ON_WEBGPU.map((id) => [`special-values/${id}`, [WGSL_FLUSH]]),
);
