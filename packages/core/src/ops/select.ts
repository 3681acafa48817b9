// SPDX-License-Identifier: MIT
// Data-dependent selection and functional indexed updates: nonzero and maskedSelect read the
// mask back (their output shape depends on the data, so they are async); indexPut and scatter
// return a new tensor and are built on the scatterAdd and gather primitives. Writes to one
// place from several index entries (accumulate off, reduce none) are resolved
// deterministically on the device: the LAST entry in row-major index order wins, found by
// peeling the bits of the entries' positions (one scatterAdd + gather per bit), never by
// reading indices back.
import { HeedError, fmtShape } from '../errors.js';
import { broadcastShapes, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import { checkAxis, checkOptions, checkStorable, describeValue, type OptionKeys } from '../validate.js';
import { commonBackend, scalarTensor, toTensors, type TensorLike } from './operands.js';
import { binary, cast, unary, where } from './elementwise.js';
import { arange, tensor, zeros } from './creation.js';
import { gather, indexSelect, scatterAdd } from './indexing.js';
import { contiguous, expand, reshape, slice, unsqueeze } from './views.js';

function checkIndexTensor(op: string, what: string, t: unknown): Tensor {
  if (!(t instanceof Tensor)) throw new HeedError(op, `${what} must be a Tensor, got ${describeValue(t)}.`);
  if (t.dtype !== 'int32') {
    throw new HeedError(op, `${what} must be int32, got ${t.dtype} ${fmtShape(t.shape)}` +
      (t.dtype === 'bool' ? '; for a boolean mask use maskedFill/where, or convert it with await nonzero(mask).' : '; cast it with .int().'));
  }
  return t;
}

/** The values as a tensor of `x`'s dtype on `x`'s backend (numbers allowed). */
function valuesFor(op: string, x: Tensor, values: TensorLike): { v: Tensor; temps: Tensor[] } {
  if (typeof values === 'number') {
    checkStorable(op, 'the value', values, x.dtype);
    const v = scalarTensor(x.backend, values, x.dtype);
    return { v, temps: [v] };
  }
  const { tensors, temps } = toTensors(op, [values], x.backend);
  const v = tensors[0];
  commonBackend(op, [x, v]);
  if (v.dtype !== x.dtype) {
    for (const t of temps) t.dispose();
    throw new HeedError(op, `values dtype ${v.dtype} must equal x dtype ${x.dtype}; cast one of them.`);
  }
  return { v, temps };
}

function checkWritable(op: string, x: Tensor): void {
  if (x.dtype === 'bool') throw new HeedError(op, `x is bool ${fmtShape(x.shape)}; indexed updates need float32 or int32 (cast with .int()).`);
}

/**
 * Of the entries `groups` [m] (int32 ids in 0..count-1; entries with `valid` false take no
 * part), marks the last one of each group in position order (bool [m]).
 */
function lastOfGroups(groups: Tensor, valid: Tensor, count: number): Tensor {
  const m = groups.shape[0];
  const pos = arange(m, undefined, 1, { backend: groups.backend.name, dtype: 'int32' }); // int32: exact beyond 2^24 entries
  let alive = valid;
  for (let bit = Math.ceil(Math.log2(Math.max(m, 1))) - 1; bit >= 0; bit--) {
    // Among the alive entries of a group, keep those with this bit set if any has it.
    const has = binary('ge', binary('mod', pos, 2 ** (bit + 1)), 2 ** bit);
    const cand = cast(binary('and', alive, has), 'int32');
    const perGroup = scatterAdd(zeros([count], { backend: groups.backend.name, dtype: 'int32' }), 0, groups, cand);
    const groupHas = binary('gt', gather(perGroup, 0, groups), 0);
    alive = binary('and', alive, binary('or', has, unary('not', groupHas)));
  }
  return alive;
}

/** Rethrows a backend index error under `op`'s name with the shapes. */
function rangeError<T>(op: string, shapes: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (!(e instanceof HeedError)) throw e;
    const found = e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
    throw new HeedError(op, `an index lies outside the dimension it indexes (${shapes}): ${found}`);
  }
}

/**
 * Options of {@link indexPut}.
 *
 * @example
 * ```ts
 * const o: IndexPutOptions = { accumulate: true };
 * ```
 */
export interface IndexPutOptions {
  /** Add `values` into the entries instead of replacing them (default false). */
  accumulate?: boolean;
}

const INDEX_PUT_KEYS: OptionKeys<IndexPutOptions> = { accumulate: true };

/**
 * Returns a copy of `x` with `x[indices[0], indices[1], ...] = values` (like
 * `torch.index_put`, not in place): `indices` are int32 tensors for the leading dims that
 * broadcast together (negative entries count from the end); `values` broadcasts to the indexed
 * shape `[...broadcastIndexShape, ...x.shape.slice(indices.length)]`. With `accumulate` values
 * are added (duplicates sum); without it, of duplicate entries the last in row-major order wins
 * (PyTorch leaves this undefined), and only the winner receives a gradient. An out-of-range
 * entry throws a HeedError like scatterAdd's: at the op on CPU, at the next read on WebGPU.
 *
 * @example
 * ```ts
 * indexPut(zeros([3, 2]), [tensor([0, 2], { dtype: 'int32' })], tensor([1, 5])); // [[1, 1], [0, 0], [5, 5]]
 * indexPut(zeros([4]), [tensor([1, 1], { dtype: 'int32' })], 1, { accumulate: true }); // [0, 2, 0, 0]
 * ```
 */
export function indexPut(x: Tensor, indices: readonly Tensor[], values: TensorLike, options?: IndexPutOptions): Tensor {
  if (!(x instanceof Tensor)) throw new HeedError('indexPut', `x must be a Tensor, got ${describeValue(x)}.`);
  if (!Array.isArray(indices) || indices.length === 0 || indices.length > x.rank) {
    throw new HeedError('indexPut', `indices must be a list of 1 to ${x.rank} int32 tensors (one per leading dim of x ${fmtShape(x.shape)}), ` +
      `got ${Array.isArray(indices) ? `${indices.length}` : describeValue(indices)}.`);
  }
  const idx = indices.map((t, i) => checkIndexTensor('indexPut', `indices[${i}]`, t));
  commonBackend('indexPut', [x, ...idx]);
  checkWritable('indexPut', x);
  const accumulate = checkOptions('indexPut', options, INDEX_PUT_KEYS).accumulate ?? false;
  if (typeof accumulate !== 'boolean') throw new HeedError('indexPut', `accumulate must be a boolean, got ${describeValue(accumulate)}.`);
  const idxShape = broadcastShapes('indexPut', ...idx.map((t) => t.shape));
  const k = idx.length;
  const lead = x.shape.slice(0, k);
  const rest = x.shape.slice(k);
  const L = sizeOf(lead);
  const R = sizeOf(rest);
  const m = sizeOf(idxShape);
  const { v, temps } = valuesFor('indexPut', x, values);
  try {
    const target = [...idxShape, ...rest];
    if (v.rank > target.length || v.shape.some((d, i) => d !== 1 && d !== target[target.length - v.rank + i])) {
      throw new HeedError('indexPut', `values ${fmtShape(v.shape)} must broadcast to the indexed shape ${fmtShape(target)} ` +
        `(index shape ${fmtShape(idxShape)} of x ${fmtShape(x.shape)}, then its dims after the first ${k}).`);
    }
    return tidy(() => {
      const backend = x.backend.name;
      // Row of x[lead] each entry writes (L = out of range, so the backend rejects it).
      let row = zeros(idxShape, { dtype: 'int32', backend });
      let valid = binary('eq', row, 0);
      idx.forEach((t, d) => {
        const wrapped = where(binary('lt', t, 0), binary('add', t, lead[d]), t);
        valid = binary('and', valid, binary('and', binary('ge', wrapped, 0), binary('lt', wrapped, lead[d])));
        row = binary('add', binary('mul', row, lead[d]), wrapped);
      });
      const flatValid = reshape(valid, [m]);
      const flatRow = where(flatValid, reshape(row, [m]), L);
      const x2 = reshape(x, [L, R]);
      const vals = reshape(contiguous(expand(v, target)), [m, R]);
      const rowIndex = expand(unsqueeze(flatRow, 1), [m, R]);
      const shapes = `indices ${idx.map((t) => fmtShape(t.shape)).join(', ')} into x ${fmtShape(x.shape)}`;
      if (accumulate) return reshape(rangeError('indexPut', shapes, () => scatterAdd(x2, 0, rowIndex, vals)), x.shape);
      const winner = unsqueeze(lastOfGroups(where(flatValid, flatRow, 0), flatValid, L), 1);
      const placed = rangeError('indexPut', shapes, () =>
        scatterAdd(zeros([L, R], { dtype: x.dtype, backend }), 0, rowIndex, where(winner, vals, 0)));
      const hits = scatterAdd(zeros([L], { backend }), 0, where(flatValid, flatRow, 0), cast(flatValid, 'float32'));
      return reshape(where(unsqueeze(binary('gt', hits, 0), 1), placed, x2), x.shape);
    });
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Options of {@link scatter}.
 *
 * @example
 * ```ts
 * const o: ScatterOptions = { reduce: 'add' };
 * ```
 */
export interface ScatterOptions {
  /** `'add'` sums into the entries (like scatterAdd); default: replace them. */
  reduce?: 'add';
}

const SCATTER_KEYS: OptionKeys<ScatterOptions> = { reduce: true };

/**
 * Returns a copy of `x` with `out[..index[i][j]..] = src[i][j]` along `axis` (like
 * `torch.scatter`, not in place). `index` (int32) has `x`'s rank and no larger size than `src`
 * anywhere, nor than `x` outside `axis`; `src` may be a number. With `reduce: 'add'` the entries
 * are summed in; otherwise, of entries writing one place, the last in row-major order wins
 * (deterministic; PyTorch leaves this undefined) and only it receives a gradient. An
 * out-of-range index throws a HeedError like scatterAdd's (on WebGPU at the next read).
 *
 * @example
 * ```ts
 * scatter(zeros([2, 3]), 1, tensor([[2], [0]], { dtype: 'int32' }), tensor([[7], [9]])); // [[0, 0, 7], [9, 0, 0]]
 * scatter(zeros([3]), 0, tensor([0, 0], { dtype: 'int32' }), tensor([1, 2]), { reduce: 'add' }); // [3, 0, 0]
 * ```
 */
export function scatter(x: Tensor, axis: number, index: Tensor, src: TensorLike, options?: ScatterOptions): Tensor {
  if (!(x instanceof Tensor)) throw new HeedError('scatter', `x must be a Tensor, got ${describeValue(x)}.`);
  checkIndexTensor('scatter', 'index', index);
  commonBackend('scatter', [x, index]);
  checkWritable('scatter', x);
  const a = checkAxis('scatter', axis, x.rank);
  const reduce = checkOptions('scatter', options, SCATTER_KEYS).reduce;
  if (reduce !== undefined && reduce !== 'add') throw new HeedError('scatter', `reduce must be 'add' or omitted, got ${describeValue(reduce)}.`);
  const { v, temps } = valuesFor('scatter', x, src);
  try {
    const number = !(src instanceof Tensor);
    if (index.rank !== x.rank || (!number && v.rank !== x.rank) ||
      index.shape.some((d, i) => (!number && d > v.shape[i]) || (i !== a && d > x.shape[i]))) {
      throw new HeedError('scatter', `index ${fmtShape(index.shape)} must have the rank of x ${fmtShape(x.shape)}` +
        `${number ? '' : ` and src ${fmtShape(v.shape)}`}, and no larger size than ${number ? '' : 'src anywhere, nor than '}x outside axis ${axis}.`);
    }
    return tidy(() => {
      const backend = x.backend.name;
      const vals = number ? expand(reshape(v, index.shape.map(() => 1)), index.shape) : slice(v, index.shape.map((d) => [0, d] as const));
      const shapes = `index ${fmtShape(index.shape)} along axis ${a} of x ${fmtShape(x.shape)}`;
      if (reduce === 'add') return rangeError('scatter', shapes, () => scatterAdd(x, a, index, vals));
      // Flat position in x of each entry: the index along the axis, the entry's own coordinates elsewhere.
      const strides = x.shape.map((_, d) => sizeOf(x.shape.slice(d + 1)));
      let flat = binary('mul', index, strides[a]);
      index.shape.forEach((n, d) => {
        if (d === a) return;
        const coord = reshape(arange(n, undefined, 1, { backend }), index.shape.map((s, e) => (e === d ? n : 1)));
        flat = binary('add', flat, binary('mul', coord, strides[d]));
      });
      const valid = binary('and', binary('ge', index, 0), binary('lt', index, x.shape[a]));
      const m = index.size;
      const flatValid = reshape(valid, [m]);
      const groups = where(flatValid, reshape(flat, [m]), 0);
      const winner = reshape(lastOfGroups(groups, flatValid, x.size), index.shape);
      const placed = rangeError('scatter', shapes, () => scatterAdd(zeros(x.shape, { dtype: x.dtype, backend }), a, index, where(winner, vals, 0)));
      const hits = scatterAdd(zeros(x.shape, { backend }), a, where(valid, index, 0), cast(valid, 'float32'));
      return where(binary('gt', hits, 0), placed, x);
    });
  } finally {
    for (const t of temps) t.dispose();
  }
}

/**
 * Options of {@link nonzero}.
 *
 * @example
 * ```ts
 * const o: NonzeroOptions = { asTuple: true };
 * ```
 */
export interface NonzeroOptions {
  /** Return one 1-D int32 tensor of coordinates per dim instead of one `[count, rank]` tensor. */
  asTuple?: boolean;
}

const NONZERO_KEYS: OptionKeys<NonzeroOptions> = { asTuple: true };

/**
 * The coordinates of the nonzero (true) elements of `x`, int32 `[count, x.rank]` in row-major
 * order (like `torch.nonzero`); with `asTuple`, one 1-D tensor per dim (`torch.nonzero(x,
 * as_tuple=True)`), ready to pass to {@link indexPut}. Async: the output shape depends on the
 * values, which are read.
 *
 * @example
 * ```ts
 * await nonzero(tensor([[0, 1], [2, 0]])); // [[0, 1], [1, 0]]
 * const [rows, cols] = await nonzero(mask, { asTuple: true });
 * indexPut(x, [rows, cols], 0); // x with the masked entries zeroed
 * ```
 */
export async function nonzero(x: Tensor, options?: NonzeroOptions & { asTuple?: false }): Promise<Tensor>;
export async function nonzero(x: Tensor, options: NonzeroOptions & { asTuple: true }): Promise<Tensor[]>;
export async function nonzero(x: Tensor, options?: NonzeroOptions): Promise<Tensor | Tensor[]> {
  if (!(x instanceof Tensor)) throw new HeedError('nonzero', `x must be a Tensor, got ${describeValue(x)}.`);
  commonBackend('nonzero', [x]);
  const asTuple = checkOptions('nonzero', options, NONZERO_KEYS).asTuple ?? false;
  if (typeof asTuple !== 'boolean') throw new HeedError('nonzero', `asTuple must be a boolean, got ${describeValue(asTuple)}.`);
  const data = await x.data();
  const rank = x.rank;
  const coords: number[] = [];
  let count = 0;
  for (let i = 0; i < data.length; i++) {
    if (data[i] === 0) continue;
    count++;
    let rem = i;
    const at = coords.length;
    for (let d = rank - 1; d >= 0; d--) {
      coords[at + d] = rem % x.shape[d];
      rem = Math.floor(rem / x.shape[d]);
    }
  }
  const backend = x.backend.name;
  if (!asTuple) return tensor(Int32Array.from(coords), { dtype: 'int32', shape: [count, rank], backend });
  return Array.from({ length: rank }, (_, d) =>
    tensor(Int32Array.from({ length: count }, (_, k) => coords[k * rank + d]), { dtype: 'int32', shape: [count], backend }));
}

/**
 * The elements of `x` where the bool `mask` is true, as a 1-D tensor in row-major order (like
 * `torch.masked_select`); `mask` and `x` broadcast together. Async: the output size depends on
 * the mask, which is read. Differentiable in `x` (the gradient is scattered back).
 *
 * @example
 * ```ts
 * await maskedSelect(tensor([1, -2, 3]), tensor([true, false, true])); // [1, 3]
 * ```
 */
export async function maskedSelect(x: Tensor, mask: Tensor): Promise<Tensor> {
  if (!(x instanceof Tensor)) throw new HeedError('maskedSelect', `x must be a Tensor, got ${describeValue(x)}.`);
  if (!(mask instanceof Tensor)) throw new HeedError('maskedSelect', `mask must be a bool Tensor, got ${describeValue(mask)}.`);
  commonBackend('maskedSelect', [x, mask]);
  if (mask.dtype !== 'bool') {
    throw new HeedError('maskedSelect', `mask must be bool, got ${mask.dtype} ${fmtShape(mask.shape)}; make one with a comparison, e.g. x.gt(0).`);
  }
  const shape = broadcastShapes('maskedSelect', x.shape, mask.shape);
  const full = tidy(() => contiguous(expand(mask, shape)));
  const data = await full.data().finally(() => full.dispose());
  const picks: number[] = [];
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) picks.push(i);
  return tidy(() => {
    const flat = reshape(expand(x, shape), [sizeOf(shape)]);
    return indexSelect(flat, 0, tensor(Int32Array.from(picks), { dtype: 'int32', backend: x.backend.name }));
  });
}
