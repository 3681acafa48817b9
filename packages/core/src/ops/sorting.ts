// SPDX-License-Identifier: MIT
// Data-dependent orderings: sort, argsort and topk (PyTorch semantics and order: stable, ties
// in index order, NaN sorts as the largest value). Only the int32 indices depend on the
// backend: the optional fused kernels `topk` and `argsort` (FusedKernels) compute them when
// present and willing, else core ranks by broadcast comparisons (rank_i = #{j: x_j before
// x_i} + #{j < i: x_j equal to x_i}), chunked to bound memory, then scatters each index to
// its rank (topk with k <= n/4: a tournament of blocks, about n * max(32, 2k) comparisons
// per row). Values are always `gather(x, axis, indices)`, so the gradient (a scatter of the
// upstream gradient back to the picked positions) never depends on which path ran.
import type { DataId } from '../backend.js';
import { HeedError, fmtShape } from '../errors.js';
import type { Tensor } from '../tensor.js';
import { noGrad } from '../autograd/mode.js';
import { tidy } from '../scope.js';
import { checkAxis, checkBoolean, checkInt, checkOptions, type OptionKeys } from '../validate.js';
import { commonBackend, fromData } from './operands.js';
import { binary, cast, unary } from './elementwise.js';
import { gather, scatterAdd } from './indexing.js';
import { concat } from './join.js';
import { sum } from './reduce.js';
import { iota } from './reorder.js';
import { contiguous, expand, narrow, reshape, transpose, unsqueeze } from './views.js';
import { hasFusedKernel, runFusedKernel, runKernel } from '../kernel-dispatch.js';

/** Most elements of one comparison block of the fallback (bounds its temporary memory). */
const FALLBACK_BLOCK = 1 << 22;
/** The fallback topk runs a tournament when k <= n / TOURNAMENT_RATIO (else it ranks the whole row). */
const TOURNAMENT_RATIO = 4;

/**
 * The result of {@link sort} and {@link topk}: the values and their int32 positions along the axis.
 *
 * @example
 * ```ts
 * const { values, indices }: SortResult = sort(x);
 * ```
 */
export interface SortResult {
  /** The selected values, in order (differentiable). */
  readonly values: Tensor;
  /** Where each value was along the axis (int32). */
  readonly indices: Tensor;
}

/**
 * Options of {@link sort} and {@link argsort}.
 *
 * @example
 * ```ts
 * const o: SortOptions = { axis: 0, descending: true };
 * ```
 */
export interface SortOptions {
  /** The axis to sort along (default -1). */
  axis?: number;
  /** Largest first (default false). */
  descending?: boolean;
  /** Accepted for PyTorch compatibility: Heed's sort is always stable. */
  stable?: boolean;
}

/**
 * Options of {@link topk}.
 *
 * @example
 * ```ts
 * const o: TopkOptions = { axis: -1, largest: false };
 * ```
 */
export interface TopkOptions {
  /** The axis to select along (default -1). */
  axis?: number;
  /** The k largest (default true) or the k smallest. */
  largest?: boolean;
  /** Accepted for PyTorch compatibility: results are always sorted (largest first when `largest`). */
  sorted?: boolean;
}

const SORT_KEYS: OptionKeys<SortOptions> = { axis: true, descending: true, stable: true };
const TOPK_KEYS: OptionKeys<TopkOptions> = { axis: true, largest: true, sorted: true };

/**
 * Fallback from primitives: stable ranks of the last axis of `x` (float32 or int32) by
 * broadcast comparisons, in blocks of query positions, then each index scattered to its rank.
 */
function rankIndices(x: Tensor, descending: boolean): Tensor {
  return tidy(() => rankIndicesIn(x, descending));
}

/**
 * Whether candidate j (value `vj`, index `ij`) comes before candidate i in a stable sort, as
 * a broadcast bool tensor: a better value (NaN is the largest: last ascending, first
 * descending), or an equal value (NaNs are equal) and a smaller index.
 */
function comesBefore(vj: Tensor, vi: Tensor, ij: Tensor, ii: Tensor, descending: boolean): Tensor {
  let before = binary(descending ? 'gt' : 'lt', vj, vi);
  let equal = binary('eq', vj, vi);
  if (vj.dtype === 'float32') {
    const nanJ = unary('isnan', vj);
    const nanI = unary('isnan', vi);
    const nanFirst = descending ? binary('and', nanJ, unary('not', nanI)) : binary('and', nanI, unary('not', nanJ));
    before = binary('or', before, nanFirst);
    equal = binary('or', equal, binary('and', nanI, nanJ));
  }
  return binary('or', before, binary('and', equal, binary('lt', ij, ii)));
}

/** {@link rankIndices}'s body: every tensor it makes but the result is freed by the caller's tidy. */
function rankIndicesIn(x: Tensor, descending: boolean): Tensor {
  const n = x.shape[x.rank - 1];
  const rows = x.size / n;
  const block = Math.max(1, Math.floor(FALLBACK_BLOCK / Math.max(1, rows * n)));
  const ranks: Tensor[] = [];
  const xj = unsqueeze(x, -2); // [..., 1, n]
  const jIdx = reshape(iota(x.backend, n), [1, n]);
  for (let i0 = 0; i0 < n; i0 += block) {
    const c = Math.min(block, n - i0);
    ranks.push(tidy(() => { // frees each block's comparisons as soon as its ranks exist
      const xi = unsqueeze(narrow(x, -1, i0, c), -1); // [..., c, 1]
      const iIdx = reshape(iota(x.backend, c, i0), [c, 1]);
      return sum(cast(comesBefore(xj, xi, jIdx, iIdx, descending), 'int32'), -1);
    }));
  }
  const rank = ranks.length === 1 ? ranks[0] : concat(ranks, -1);
  const base = fromData(x.backend, runKernel(x.backend, 'fill', x.size, 0, 'int32'), x.shape, 'int32');
  const positions = expand(iota(x.backend, n), x.shape);
  return scatterAdd(base, -1, rank, positions);
}

/**
 * Fallback topk from primitives for k much smaller than the row: a tournament. Candidates
 * (value, original index) go in blocks of B = max(32, 2k); each block ranks its members by
 * broadcast comparisons (B^2 per block, in bounded chunks of blocks) and keeps its k best,
 * so each level at least halves the candidates, until one block is left. The tail block is
 * padded with the worst value (-Infinity or INT32_MIN descending, NaN or INT32_MAX
 * ascending) under indices past every real one, so padding always loses. About n * B
 * comparisons per row instead of n^2.
 */
function tournamentIndices(x: Tensor, descending: boolean, k: number): Tensor {
  return tidy(() => {
    const n = x.shape[x.rank - 1];
    const rows = x.size / n;
    const block = Math.max(32, 2 * k);
    const worst = x.dtype === 'float32' ? (descending ? -Infinity : NaN) : descending ? -(2 ** 31) : 2 ** 31 - 1;
    let values = reshape(x, [rows, n]);
    let index = expand(reshape(iota(x.backend, n), [1, n]), [rows, n]);
    let nextIndex = n;
    for (let m = n; ; m = values.shape[1]) {
      const blocks = Math.ceil(m / block);
      const pad = blocks * block - m;
      if (pad > 0) {
        values = concat([values, fromData(x.backend, runKernel(x.backend, 'fill', rows * pad, worst, x.dtype), [rows, pad], x.dtype)], 1);
        index = concat([index, expand(reshape(iota(x.backend, pad, nextIndex), [1, pad]), [rows, pad])], 1);
        nextIndex += pad;
      }
      const v3 = reshape(values, [rows, blocks, block]);
      const i3 = reshape(index, [rows, blocks, block]);
      const chunk = Math.max(1, Math.floor(FALLBACK_BLOCK / (rows * block * block)));
      const ranks: Tensor[] = [];
      for (let b0 = 0; b0 < blocks; b0 += chunk) {
        const c = Math.min(chunk, blocks - b0);
        ranks.push(tidy(() => {
          const v = narrow(v3, 1, b0, c);
          const i = narrow(i3, 1, b0, c);
          const before = comesBefore(unsqueeze(v, -2), unsqueeze(v, -1), unsqueeze(i, -2), unsqueeze(i, -1), descending);
          return sum(cast(before, 'int32'), -1); // [rows, c, block]: a permutation of 0..block-1 per block
        }));
      }
      const rank = ranks.length === 1 ? ranks[0] : concat(ranks, 1);
      const members = scatterAdd(fromData(x.backend, runKernel(x.backend, 'fill', rank.size, 0, 'int32'), rank.shape, 'int32'), -1, rank,
        expand(iota(x.backend, block), rank.shape));
      const best = narrow(members, -1, 0, k); // the k best of each block, in order
      index = reshape(gather(i3, -1, best), [rows, blocks * k]);
      if (blocks === 1) return reshape(index, [...x.shape.slice(0, -1), k]);
      values = reshape(gather(v3, -1, best), [rows, blocks * k]);
    }
  });
}

/**
 * The int32 positions of the first `k` entries of a stable sort of the last axis of `key`
 * (float32 or int32): the backend's fused topk or argsort when present and willing, else
 * the rank fallback.
 */
function orderIndices(key: Tensor, descending: boolean, k: number): Tensor {
  const n = key.shape[key.rank - 1];
  const outShape = [...key.shape.slice(0, -1), k];
  const backend = key.backend;
  return noGrad(() => {
    if (k === 0 || n === 0) return fromData(backend, runKernel(backend, 'fill', 0, 0, 'int32'), outShape, 'int32');
    const c = contiguous(key);
    try {
      let data: DataId | null = null;
      if (k < n && hasFusedKernel(backend, 'topk')) {
        data = runFusedKernel(backend, 'topk', c.stridedView('topk'), k, descending);
        if (data !== null) return fromData(backend, data, outShape, 'int32');
      }
      data = runFusedKernel(backend, 'argsort', c.stridedView('argsort'), descending);
      if (data === null && k * TOURNAMENT_RATIO <= n) return tournamentIndices(c, descending, k);
      const full = data !== null ? fromData(backend, data, key.shape, 'int32') : rankIndices(c, descending);
      if (k === n) return full;
      const first = narrow(full, -1, 0, k);
      const out = contiguous(first);
      first.dispose();
      full.dispose();
      return out;
    } finally {
      c.dispose();
    }
  });
}

/** Moves `axis` last (rank-0 tensors become `[1]`), runs `fn`, and moves the results back. */
function alongLast(op: string, x: Tensor, axis: number, fn: (t: Tensor) => Tensor[]): Tensor[] {
  if (x.rank === 0) {
    checkAxis(op, axis, 1);
    const r = reshape(x, [1]);
    const outs = fn(r);
    r.dispose();
    return outs.map((o) => { const s = reshape(o, []); o.dispose(); return s; });
  }
  const a = checkAxis(op, axis, x.rank);
  if (a === x.rank - 1) return fn(x);
  const t = transpose(x, a, -1);
  const outs = fn(t);
  t.dispose();
  return outs.map((o) => { const s = transpose(o, a, -1); o.dispose(); return s; });
}

/** Sort keys: bool sorts as int32 (false < true). */
function keyOf(op: string, t: Tensor): Tensor {
  if (t.dtype !== 'float32' && t.dtype !== 'int32' && t.dtype !== 'bool') {
    throw new HeedError(op, `cannot sort a ${t.dtype} tensor ${fmtShape(t.shape)}.`);
  }
  return t.dtype === 'bool' ? noGrad(() => cast(t, 'int32')) : t;
}

/** Values and indices of the first k of a stable sort of the last axis of `t`. */
function selectFirst(op: string, t: Tensor, descending: boolean, k: number): Tensor[] {
  const key = keyOf(op, t);
  const indices = orderIndices(key, descending, k);
  if (key !== t) key.dispose();
  const values = gather(t, -1, indices);
  return [values, indices];
}

/**
 * Sorts along an axis (torch.sort), stably: equal values keep their order; NaN sorts as the
 * largest value. Returns the sorted values (differentiable) and their int32 indices.
 *
 * @example
 * ```ts
 * const { values, indices } = sort(tensor([3, 1, 2])); // values [1, 2, 3], indices [1, 2, 0]
 * sort(x, { axis: 0, descending: true });
 * ```
 */
export function sort(x: Tensor, options?: SortOptions): SortResult {
  commonBackend('sort', [x]);
  const o = checkOptions('sort', options, SORT_KEYS);
  const descending = checkBoolean('sort', 'descending', o.descending) ?? false;
  checkBoolean('sort', 'stable', o.stable);
  const [values, indices] = alongLast('sort', x, o.axis ?? -1, (t) => selectFirst('sort', t, descending, t.shape[t.rank - 1]));
  return { values, indices };
}

/**
 * The int32 indices that sort `x` along an axis (torch.argsort): `sort(x, options).indices`.
 *
 * @example
 * ```ts
 * argsort(tensor([3, 1, 2])); // [1, 2, 0]
 * argsort(x, { descending: true });
 * ```
 */
export function argsort(x: Tensor, options?: SortOptions): Tensor {
  commonBackend('argsort', [x]);
  const o = checkOptions('argsort', options, SORT_KEYS);
  const descending = checkBoolean('argsort', 'descending', o.descending) ?? false;
  checkBoolean('argsort', 'stable', o.stable);
  const [indices] = alongLast('argsort', x, o.axis ?? -1, (t) => {
    const key = keyOf('argsort', t);
    const idx = orderIndices(key, descending, t.shape[t.rank - 1]);
    if (key !== t) key.dispose();
    return [idx];
  });
  return indices;
}

/**
 * The `k` largest (or smallest) entries along an axis (torch.topk), sorted (largest first when
 * `largest`), ties in index order. Values are differentiable; indices are int32.
 *
 * @example
 * ```ts
 * const { values, indices } = topk(tensor([1, 5, 3, 4]), 2); // values [5, 4], indices [1, 3]
 * topk(logits, 50, { axis: -1 }); // top-k sampling
 * ```
 */
export function topk(x: Tensor, k: number, options?: TopkOptions): SortResult {
  commonBackend('topk', [x]);
  const o = checkOptions('topk', options, TOPK_KEYS);
  const largest = checkBoolean('topk', 'largest', o.largest) ?? true;
  checkBoolean('topk', 'sorted', o.sorted);
  const axis = o.axis ?? -1;
  const n = x.rank === 0 ? 1 : x.shape[checkAxis('topk', axis, x.rank)];
  checkInt('topk', 'k', k, { min: 0 });
  if (k > n) {
    throw new HeedError('topk', `k = ${k} is larger than the size ${n} of axis ${axis} of ${fmtShape(x.shape)}; k must be in 0..${n}.`);
  }
  const [values, indices] = alongLast('topk', x, axis, (t) => selectFirst('topk', t, largest, k));
  return { values, indices };
}
