// SPDX-License-Identifier: MIT
// The addon's one set of vector math, in scalar form that GCC inlines into vectorised loops
// (rows.c's softmax/GELU, attention.c's online softmax): the same formulas as the WASM
// kernels' f32x4 math (backend-cpu asm/vmath.ts), so native and WASM results agree closely.
// The `_m` forms take `fused`: 1 evaluates every multiply-add of the polynomials as one fmaf,
// the way the WASM kernels' relaxed-SIMD build does on a CPU with FMA (relaxed_madd), 0 as a
// multiply then an add (the plain SIMD build); with the matching choice results are bitwise
// the WASM kernels'. The plain names are the unfused forms.
#ifndef HEED_VMATH_H
#define HEED_VMATH_H
#include <math.h>
#include <stdint.h>
#include <string.h>

static inline float from_bits(int32_t i) { float f; memcpy(&f, &i, sizeof f); return f; }

/* a * b + c, fused (one rounding) or not: the WASM kernels' madd (asm/simd.ts). */
static inline float v_madd(float a, float b, float c, int fused) { return fused ? fmaf(a, b, c) : a * b + c; }

/* e^x: Cephes expf (range reduction by ln 2, degree-5 polynomial), 2^n in two factors so
   n = 128 does not overflow and subnormal results round once; NaN stays NaN. */
static inline float v_exp_m(float x0, int fused) {
  float x = x0 < -103.972f ? -103.972f : x0;
  x = x > 88.7228f ? 88.7228f : x;
  float fx = (x * 1.44269504088896341f + 12582912.f) - 12582912.f; /* round to nearest even */
  float r = x - fx * 0.693359375f;
  r = r - fx * -2.12194440e-4f;
  float y = 1.9875691500e-4f;
  y = v_madd(y, r, 1.3981999507e-3f, fused);
  y = v_madd(y, r, 8.3334519073e-3f, fused);
  y = v_madd(y, r, 4.1665795894e-2f, fused);
  y = v_madd(y, r, 1.6666665459e-1f, fused);
  y = v_madd(y, r, 5.0000001201e-1f, fused);
  y = v_madd(y, r * r, r + 1.f, fused);
  int32_t n = (int32_t)(fx == fx ? fx : 0.f);
  int32_t h = n >> 1;
  y = (y * from_bits((h + 127) << 23)) * from_bits((n - h + 127) << 23);
  y = x0 < -103.972f ? 0.f : y;
  return x0 > 88.7228f ? INFINITY : y;
}
static inline float v_exp(float x0) { return v_exp_m(x0, 0); }

/* tanh: Eigen's rational form on [-7.9053, 7.9053], x itself for tiny |x|, exactly +-1 beyond
   9.0109 (so gelu(-inf) is NaN like the reference, not -inf). */
static inline float v_tanh_m(float x0, int fused) {
  const float lim = 7.90531110763549805f;
  float x = x0 < -lim ? -lim : x0;
  x = x > lim ? lim : x;
  float x2 = x * x;
  float p = -2.76076847742355e-16f;
  p = v_madd(p, x2, 2.00018790482477e-13f, fused);
  p = v_madd(p, x2, -8.60467152213735e-11f, fused);
  p = v_madd(p, x2, 5.12229709037114e-08f, fused);
  p = v_madd(p, x2, 1.48572235717979e-05f, fused);
  p = v_madd(p, x2, 6.37261928875436e-04f, fused);
  p = v_madd(p, x2, 4.89352455891786e-03f, fused);
  p = p * x;
  float q = 1.19825839466702e-06f;
  q = v_madd(q, x2, 1.18534705686654e-04f, fused);
  q = v_madd(q, x2, 2.26843463243900e-03f, fused);
  q = v_madd(q, x2, 4.89352518554385e-03f, fused);
  float y = fabsf(x) < 0.0004f ? x : p / q;
  return fabsf(x0) > 9.0109f ? copysignf(1.f, x0) : y;
}
static inline float v_tanh(float x0) { return v_tanh_m(x0, 0); }

/* erf: Abramowitz-Stegun 7.1.26 (|error| <= 1.5e-7), odd symmetry. */
static inline float v_erf(float x) {
  float ax = fabsf(x);
  float t = 1.f / (ax * 0.3275911f + 1.f);
  float p = 1.061405429f;
  p = p * t + -1.453152027f;
  p = p * t + 1.421413741f;
  p = p * t + -0.284496736f;
  p = p * t + 0.254829592f;
  p = p * t;
  return copysignf(1.f - p * v_exp(-(ax * ax)), x);
}

#endif
