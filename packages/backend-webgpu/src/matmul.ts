// SPDX-License-Identifier: MIT
// Batched matmul kernels on strided [B, M, K] x [B, K, N] views and the one heuristic that
// picks between them. Transposed operands are just swapped strides and broadcast batches are
// stride 0, so no operand is ever copied.
// Variants: 'naive' (one invocation per output; tiny or skinny problems), 'blocked' (8x8 outputs
// per invocation in registers, operands read straight from storage: best where "shared memory"
// is ordinary memory, e.g. SwiftShader), 'subgroup' (software adapters whose subgroups are 4
// lanes, SwiftShader's SIMD width: each lane owns 8x8 outputs of columns strided by 4, and every
// A value is loaded by one lane only and handed to the other three with subgroupBroadcast, so a
// SIMD gather of A fetches 4 useful values instead of one value 4 times; over the training
// step's shapes and 1024^3, about 1.15x 'blocked' with Dawn robustness off and 1.4x with it on:
// bench/webgpu_matmul_sweep.mjs) and 'tiled' (64x64 workgroup tiles staged
// through workgroup memory, 4x4 outputs per invocation: the classic GPU kernel).
// md layout (matmulWords): [B, M, N, K, aOff, aS0, aS1, aS2, bOff, bS0, bS1, bS2, batchStart,
// B2, aS0', bS0']: batch index b runs over B = B1 * B2 and reads at (b / B2) * S0 + (b % B2) * S0'
// (rank-3 views: B2 = 1, S0' = 0).
// Invariant: every variant accumulates in k order from 0, so results differ only by rounding.
import type { StridedView } from '@heed/core';

/**
 * Names of the matmul kernels.
 *
 * @example
 * ```ts
 * const v: MatmulVariant = 'tiled';
 * ```
 */
export type MatmulVariant = 'naive' | 'blocked' | 'subgroup' | 'tiled';

/**
 * All matmul variants (valid values of `debug.forceMatmulVariant`).
 *
 * @example
 * ```ts
 * MATMUL_VARIANTS.includes('blocked'); // true
 * ```
 */
export const MATMUL_VARIANTS: readonly MatmulVariant[] = ['naive', 'blocked', 'subgroup', 'tiled'];

/**
 * What the heuristic knows about the device.
 *
 * @example
 * ```ts
 * chooseMatmulVariant(1, 512, 512, 512, { software: true }); // 'blocked'
 * ```
 */
export interface MatmulDeviceHints {
  /** A CPU-emulated adapter (SwiftShader, WARP, llvmpipe): workgroup memory and barriers cost more than they save. */
  readonly software?: boolean;
  /** The device's maxComputeInvocationsPerWorkgroup (the tiled kernel needs 256). */
  readonly maxInvocations?: number;
  /** The device has the 'subgroups' feature and its subgroups are exactly 4 lanes (the subgroup kernel needs that). */
  readonly subgroups4?: boolean;
}

/**
 * The matmul heuristic: 'naive' for tiny or skinny products (few outputs, or M or N below 8),
 * otherwise 'tiled' on real GPUs when both M and N fill a 64-wide tile, 'subgroup' on software
 * adapters with 4-lane subgroups, else 'blocked'.
 *
 * @example
 * ```ts
 * chooseMatmulVariant(1, 512, 512, 512); // 'tiled'
 * chooseMatmulVariant(1, 512, 512, 512, { software: true }); // 'blocked'
 * chooseMatmulVariant(1, 512, 512, 512, { software: true, subgroups4: true }); // 'subgroup'
 * chooseMatmulVariant(8, 4, 4, 64); // 'naive'
 * ```
 */
export function chooseMatmulVariant(B: number, M: number, N: number, K: number, hints: MatmulDeviceHints = {}): MatmulVariant {
  if (M < 8 || N < 8 || B * M * N < 1024 || K < 4) return 'naive';
  const tiledOk = (hints.maxInvocations ?? 256) >= 256;
  if (!hints.software && tiledOk && M >= 64 && N >= 64) return 'tiled';
  return hints.software && hints.subgroups4 ? 'subgroup' : 'blocked';
}

const HEAD = `@group(0) @binding(0) var<storage, read> md: array<u32>;
@group(0) @binding(1) var<storage, read_write> outBuf: array<f32>;
@group(0) @binding(2) var<storage, read> A: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;`;

const rep = (n: number, f: (i: number) => string, sep = ' '): string => Array.from({ length: n }, (_, i) => f(i)).join(sep);
const grid2 = (tm: number, tn: number, f: (p: number, q: number) => string): string =>
  rep(tm, (p) => rep(tn, (q) => f(p, q)), '\n  ');

/**
 * What a matmul kernel does with each finished output instead of storing it: `head` replaces the
 * bindings (md at 0, then A and B must keep those names) and may add module-scope WGSL; `init`
 * runs once at the start of the kernel (e.g. copying metadata words into private memory, where
 * constant-index reads are cheap on CPU emulation); `store` is WGSL for the output `acc` at flat
 * index `index` (batch `b`, `row`, `col`), all WGSL u32 expressions. Used by the fused matmul +
 * elementwise kernel (matmul-program.ts).
 *
 * @example
 * ```ts
 * const e: MatmulEpilogue = { head, store: (acc, index) => `out0[${index}] = relu(${acc});` };
 * ```
 */
export interface MatmulEpilogue {
  readonly head: string;
  readonly init?: string;
  readonly store: (acc: string, index: string, b: string, row: string, col: string) => string;
}

const PLAIN: MatmulEpilogue = { head: HEAD, store: (acc, index) => `outBuf[${index}] = ${acc};` };

/**
 * Stores the tm x tn accumulators of outputs (row + p, col + q * colStep) that lie inside M x N.
 * The plain store is unrolled; an epilogue runs in a loop over a private copy of the block, so
 * its code appears once in the kernel instead of tm * tn times (SwiftShader inlines every call:
 * a GELU epilogue unrolled 64 times made its compiler peak tens of MB higher).
 */
function store(tm: number, tn: number, epi: MatmulEpilogue, colStep = 1): string {
  const c = (q: number): string => `col + ${q * colStep}u`;
  if (epi !== PLAIN && tm * tn > 1) {
    return `var cs = array<f32, ${tm * tn}>(${rep(tm * tn, (i) => `c${Math.floor(i / tn)}_${i % tn}`, ', ')});
  for (var p = 0u; p < ${tm}u; p = p + 1u) {
    if (row + p >= M) { break; }
    for (var q = 0u; q < ${tn}u; q = q + 1u) {
      let cq = col + q * ${colStep}u;
      if (cq < N) { ${epi.store(`cs[p * ${tn}u + q]`, '(ob + (row + p) * N + cq)', 'b', '(row + p)', 'cq')} }
    }
  }`;
  }
  return rep(tm, (p) => `if (row + ${p}u < M) {\n    ${rep(tn, (q) => `if (${c(q)} < N) { ${epi.store(`c${p}_${q}`, `ob + (row + ${p}u) * N + ${c(q)}`, 'b', `row + ${p}u`, c(q))} }`, '\n    ')}\n  }`, '\n  ');
}

/** Outputs per invocation (rows x cols) and workgroup shape of each variant. */
const GEOMETRY: { readonly [V in MatmulVariant]: { tm: number; tn: number; wx: number; wy: number } } = {
  naive: { tm: 1, tn: 1, wx: 64, wy: 1 },
  blocked: { tm: 8, tn: 8, wx: 8, wy: 8 },
  subgroup: { tm: 8, tn: 8, wx: 4, wy: 4 },
  tiled: { tm: 4, tn: 4, wx: 16, wy: 16 },
};

/**
 * The 'subgroup' kernel body (tm = tn = 8, workgroup 4x4 = 4 subgroups of 4 lanes stacked down
 * the rows; 32x32 outputs per workgroup). Subgroup s of a workgroup owns rows rb..rb+7; lane l
 * owns columns cb + 4q (cb = tile column + l), so B loads of adjacent lanes are adjacent
 * columns. Per k step, lane l loads A rows rb + l and rb + 4 + l (two gathers for eight rows)
 * and subgroupBroadcast with a constant lane hands each row's value to all lanes. K runs two
 * steps per trip, then a plain step for an odd K. No lane leaves early (the broadcasts need all
 * four): out-of-range rows and columns read clamped addresses and store nothing.
 */
function subgroupKernel(prologue: string, epi: MatmulEpilogue): string {
  const { tm, tn, wy } = GEOMETRY.subgroup;
  const fmas = (a: (p: number) => string, pad: string): string =>
    rep(tm, (p) => `{ let a = ${a(p)}; ${rep(tn, (q) => `c${p}_${q} = fma(a, b${q}, c${p}_${q});`)} }`, `\n${pad}`);
  const step = (kk: string): string => `${rep(tn, (q) => `let b${q} = B[ob${q}${kk}];`)}
      let ga0 = A[oa0${kk.replace('kb', 'ka')}]; let ga1 = A[oa1${kk.replace('kb', 'ka')}];
      ${fmas((p) => `subgroupBroadcast(ga${p >> 2}, ${p & 3}u)`, '      ')}`;
  return `enable subgroups;
${epi.head}
@compute @workgroup_size(4, ${wy}) fn main(@builtin(workgroup_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32) {
  ${prologue}
  let row = gid.y * ${tm * wy}u + lid.y * ${tm}u; let col = gid.x * ${4 * tn}u + lane;
  var oa0 = aBase + min(row + lane, M - 1u) * aSm; var oa1 = aBase + min(row + 4u + lane, M - 1u) * aSm;
  ${rep(tn, (q) => `var ob${q} = bBase + min(col + ${4 * q}u, N - 1u) * bSn;`)}
  let ka1 = aSk; let kb1 = bSk; let ka2 = 2u * aSk; let kb2 = 2u * bSk;
  var k = 0u;
  for (; k + 2u <= K; k = k + 2u) {
    {
      ${step('')}
    }
    {
      ${step(' + kb1')}
    }
    oa0 = oa0 + ka2; oa1 = oa1 + ka2; ${rep(tn, (q) => `ob${q} = ob${q} + kb2;`)}
  }
  if (k < K) {
    ${rep(tn, (q) => `let b${q} = B[ob${q}];`)}
    ${fmas((p) => `A[aBase + min(row + ${p}u, M - 1u) * aSm + k * aSk]`, '    ')}
  }
  ${store(tm, tn, epi, 4)}
}\n`;
}

/**
 * WGSL of a matmul variant; `epi` changes what is done with each output (default: store it).
 *
 * @example
 * ```ts
 * const code = matmulKernel('blocked');
 * ```
 */
export function matmulKernel(variant: MatmulVariant, epi: MatmulEpilogue = PLAIN): string {
  if (variant === 'naive') {
    return `${epi.head}
@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let i = gid.x + gid.y * nwg.x * 64u;
  let M = md[1]; let N = md[2]; let K = md[3];${epi.init ? `\n  ${epi.init}` : ''}
  if (i >= md[0] * M * N) { return; }
  let b = i / (M * N); let m = (i / N) % M; let n = i % N;
  let bq = b / md[13]; let br = b % md[13];
  var oa = md[4] + bq * md[5] + br * md[14] + m * md[6]; let sa = md[7];
  var ob = md[8] + bq * md[9] + br * md[15] + n * md[11]; let sb = md[10];
  var acc = 0.0;
  for (var k = 0u; k < K; k = k + 1u) { acc = fma(A[oa], B[ob], acc); oa = oa + sa; ob = ob + sb; }
  ${epi.store('acc', 'i', 'b', 'm', 'n')}
}\n`;
  }
  const { tm, tn, wx, wy } = GEOMETRY[variant];
  const prologue = `let M = md[1]; let N = md[2]; let K = md[3];${epi.init ? `\n  ${epi.init}` : ''}
  let b = md[12] + gid.z; let bq = b / md[13]; let br = b % md[13];
  let aBase = md[4] + bq * md[5] + br * md[14]; let aSm = md[6]; let aSk = md[7];
  let bBase = md[8] + bq * md[9] + br * md[15]; let bSk = md[10]; let bSn = md[11];
  let ob = b * M * N;
  ${grid2(tm, tn, (p, q) => `var c${p}_${q} = 0.0;`)}`;
  if (variant === 'subgroup') return subgroupKernel(prologue, epi);
  if (variant === 'blocked') {
    return `${epi.head}
@compute @workgroup_size(${wx}, ${wy}) fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  ${prologue}
  let row = gid.y * ${tm}u; let col = gid.x * ${tn}u;
  if (row >= M || col >= N) { return; }
  ${rep(tm, (p) => `var oa${p} = aBase + min(row + ${p}u, M - 1u) * aSm;`)}
  ${rep(tn, (q) => `var ob${q} = bBase + min(col + ${q}u, N - 1u) * bSn;`)}
  for (var k = 0u; k < K; k = k + 1u) {
    ${rep(tm, (p) => `let a${p} = A[oa${p}]; oa${p} = oa${p} + aSk;`)}
    ${rep(tn, (q) => `let b${q} = B[ob${q}]; ob${q} = ob${q} + bSk;`)}
    ${grid2(tm, tn, (p, q) => `c${p}_${q} = fma(a${p}, b${q}, c${p}_${q});`)}
  }
  ${store(tm, tn, epi)}
}\n`;
  }
  // tiled: 64x64 output tile per 16x16 workgroup, K staged 16 at a time through workgroup memory.
  const BM = tm * wy, BN = tn * wx, BK = 16, T = wx * wy;
  const loadsA = (BM * BK) / T, loadsB = (BN * BK) / T;
  return `${epi.head}
var<workgroup> tA: array<f32, ${BK * BM}>;
var<workgroup> tB: array<f32, ${BK * BN}>;
@compute @workgroup_size(${wx}, ${wy}) fn main(@builtin(workgroup_id) gid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  ${prologue}
  let row0 = gid.y * ${BM}u; let col0 = gid.x * ${BN}u;
  let flat = lid.y * ${wx}u + lid.x;
  for (var t = 0u; t < K; t = t + ${BK}u) {
    ${rep(loadsA, (e) => `{ let idx = flat + ${e * T}u; let kk = idx / ${BM}u; let r = row0 + idx % ${BM}u; let ka = t + kk;
      tA[idx] = select(0.0, A[aBase + min(r, M - 1u) * aSm + min(ka, K - 1u) * aSk], r < M && ka < K); }`, '\n    ')}
    ${rep(loadsB, (e) => `{ let idx = flat + ${e * T}u; let kk = idx / ${BN}u; let c = col0 + idx % ${BN}u; let ka = t + kk;
      tB[idx] = select(0.0, B[bBase + min(ka, K - 1u) * bSk + min(c, N - 1u) * bSn], c < N && ka < K); }`, '\n    ')}
    workgroupBarrier();
    for (var k = 0u; k < ${BK}u; k = k + 1u) {
      ${rep(tm, (p) => `let a${p} = tA[k * ${BM}u + lid.y * ${tm}u + ${p}u];`)}
      ${rep(tn, (q) => `let b${q} = tB[k * ${BN}u + lid.x * ${tn}u + ${q}u];`)}
      ${grid2(tm, tn, (p, q) => `c${p}_${q} = fma(a${p}, b${q}, c${p}_${q});`)}
    }
    workgroupBarrier();
  }
  let row = row0 + lid.y * ${tm}u; let col = col0 + lid.x * ${tn}u;
  ${store(tm, tn, epi)}
}\n`;
}

/** Metadata words of the matmul kernels (the md layout above). */
export const MATMUL_WORDS = 16;

/**
 * The batch count, shape and metadata words of `a @ b` for rank-3 `[B, M, K] x [B, K, N]` or
 * rank-4 `[B1, B2, M, K] x [B1, B2, K, N]` views (word 12, the first batch of a dispatch, is 0);
 * null when the views are neither or do not agree.
 *
 * @example
 * ```ts
 * const mm = matmulWords(a, b); // { B, M, N, K, words } with words.length === MATMUL_WORDS
 * ```
 */
export function matmulWords(a: StridedView, b: StridedView): { B: number; M: number; N: number; K: number; words: number[] } | null {
  const r = a.shape.length;
  if ((r !== 3 && r !== 4) || b.shape.length !== r) return null;
  const [M, K] = a.shape.slice(r - 2);
  const [Kb, N] = b.shape.slice(r - 2);
  if (Kb !== K || a.shape.slice(0, r - 2).some((d, i) => d !== b.shape[i])) return null;
  const B2 = r === 4 ? a.shape[1] : 1;
  const B = a.shape[0] * B2;
  const two = (v: StridedView): number => (r === 4 ? v.strides[1] : 0);
  const words = [B, M, N, K, a.offset, a.strides[0], a.strides[r - 2], a.strides[r - 1], b.offset, b.strides[0], b.strides[r - 2], b.strides[r - 1], 0, B2, two(a), two(b)];
  return { B, M, N, K, words };
}

/**
 * Workgroup grids for a variant: one entry per dispatch, each `[x, y, z, batchStart]`, splitting
 * the batch (grid z) at `maxPerDim`. The naive kernel uses a flat 1-D/2-D grid over B*M*N.
 *
 * @example
 * ```ts
 * matmulGrids('blocked', 1, 512, 512, 65535); // [[8, 8, 1, 0]]
 * ```
 */
export function matmulGrids(variant: MatmulVariant, B: number, M: number, N: number, maxPerDim: number): [number, number, number, number][] {
  if (variant === 'naive') {
    const groups = Math.ceil((B * M * N) / 64);
    const x = Math.min(groups, maxPerDim);
    return [[x, Math.ceil(groups / x), 1, 0]];
  }
  const { tm, tn, wx, wy } = GEOMETRY[variant];
  const gx = Math.ceil(N / (tn * wx)), gy = Math.ceil(M / (tm * wy));
  const out: [number, number, number, number][] = [];
  for (let b0 = 0; b0 < B; b0 += maxPerDim) out.push([gx, gy, Math.min(maxPerDim, B - b0), b0]);
  return out;
}
