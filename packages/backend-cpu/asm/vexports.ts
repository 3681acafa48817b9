// SPDX-License-Identifier: MIT
// Vector math exported (not inlined) for the fused elementwise modules generated at run time
// (src/fast/codegen-wasm.ts imports them): the same f32x4 exp/tanh/sigmoid the fast unary
// kernels use, so fused programs compute what the op-by-op fast kernels compute.
import { vexp, vsigmoid, vtanh } from './vmath';

/** exp on 4 lanes. */
export function vexp4(x: v128): v128 { return vexp(x); }

/** tanh on 4 lanes. */
export function vtanh4(x: v128): v128 { return vtanh(x); }

/** sigmoid on 4 lanes. */
export function vsigmoid4(x: v128): v128 { return vsigmoid(x); }
