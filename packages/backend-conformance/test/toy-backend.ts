// SPDX-License-Identifier: MIT
// A toy third-party backend: buffers are plain JS number arrays, kernels are naive loops over
// strided indices, reads resolve on a later macrotask (like a GPU readback) and there are no
// synchronous reads. It implements every primitive plus fused softmax, layerNorm and
// attention, using only @heed/core's public API — proof that a plugin needs no core changes.
// Invariants: kernels never modify inputs and return new buffers; a freed buffer throws on
// any use (including a read that resolves after the free); double frees throw.
import {
  BACKEND_API_VERSION, HeedError, normalAt, uniformAt,
  type Backend, type BackendCapabilities, type BinaryOp, type DataId, type DType, type RandomKind, type ReduceOp,
  type StridedView, type TypedArray, type UnaryOp,
} from '@heed/core';
import { BINARY, UNARY, offsets, store, unflatten } from './toy-math.js';

/** The toy's buffer handle. `values` is null once freed. */
class ToyBuffer {
  constructor(public values: number[] | null, readonly dtype: DType) {}
}

function live(id: DataId, op: string): number[] {
  if (!(id instanceof ToyBuffer)) throw new HeedError(op, 'the buffer does not belong to the toy backend.');
  if (id.values === null) throw new HeedError(op, 'a toy buffer was used after it was freed.');
  return id.values;
}

/** The values of a strided view, row-major. */
function gatherView(v: StridedView, op: string): number[] {
  const src = live(v.data, op);
  return offsets(v).map((o) => src[o]);
}

const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
const make = (values: number[], dtype: DType): ToyBuffer => new ToyBuffer(values.map((v) => store(v, dtype)), dtype);

function typed(values: number[], dtype: DType): TypedArray {
  return dtype === 'float32' ? Float32Array.from(values) : dtype === 'int32' ? Int32Array.from(values) : Uint8Array.from(values);
}

function checkIndex(op: string, k: number, len: number, axis: number): void {
  if (!(k >= 0 && k < len)) throw new HeedError(op, `index ${k} is out of range for axis ${axis} of size ${len}.`);
}

/**
 * The toy backend (name `'toy'` unless another name is given).
 *
 * @example
 * ```ts
 * registerBackend({ name: 'toy', priority: 0, create: () => new ToyBackend() });
 * ```
 */
export class ToyBackend implements Backend {
  readonly apiVersion = BACKEND_API_VERSION;
  readonly capabilities: BackendCapabilities = { syncRead: false, dtypes: ['float32', 'int32', 'bool'] };
  constructor(readonly name = 'toy') {}

  upload(values: TypedArray, dtype: DType): DataId {
    return make(Array.from(values), dtype);
  }

  read(data: DataId, dtype: DType, n: number): Promise<TypedArray> {
    live(data, 'read');
    // Resolve later, reading the buffer only then: core must keep it alive until we are done.
    return new Promise((resolve, reject) => setTimeout(() => {
      try {
        resolve(typed(live(data, 'read').slice(0, n), dtype));
      } catch (e) {
        reject(e);
      }
    }, 0));
  }

  free(data: DataId): void {
    live(data, 'free');
    (data as ToyBuffer).values = null;
  }

  fill(n: number, value: number, dtype: DType): DataId {
    return make(new Array<number>(n).fill(value), dtype);
  }

  copy(x: StridedView): DataId {
    return make(gatherView(x, 'copy'), x.dtype);
  }

  unary(op: UnaryOp, x: StridedView, outDtype: DType): DataId {
    return make(gatherView(x, op).map(UNARY[op]), outDtype);
  }

  binary(op: BinaryOp, a: StridedView, b: StridedView, outDtype: DType): DataId {
    const bv = gatherView(b, op);
    return make(gatherView(a, op).map((v, i) => BINARY[op](v, bv[i])), outDtype);
  }

  where(cond: StridedView, a: StridedView, b: StridedView): DataId {
    const c = gatherView(cond, 'where');
    const av = gatherView(a, 'where');
    const bv = gatherView(b, 'where');
    return make(c.map((v, i) => (v ? av[i] : bv[i])), a.dtype);
  }

  reduce(op: ReduceOp, x: StridedView, axes: readonly number[], outDtype: DType): DataId {
    const values = gatherView(x, op);
    const keep = x.shape.map((_, d) => !axes.includes(d));
    const outShape = x.shape.filter((_, d) => keep[d]);
    const groups: number[][] = Array.from({ length: size(outShape) }, () => []);
    values.forEach((v, i) => {
      const idx = unflatten(i, x.shape).filter((_, d) => keep[d]);
      let o = 0;
      for (let d = 0; d < idx.length; d++) o = o * outShape[d] + idx[d];
      groups[o].push(v);
    });
    const reduceOne = (g: number[]): number => {
      switch (op) {
        case 'sum': return g.reduce((s, v) => s + v, 0);
        case 'prod': return g.reduce((s, v) => s * v, 1);
        case 'max': return g.some(Number.isNaN) ? NaN : Math.max(...g);
        case 'min': return g.some(Number.isNaN) ? NaN : Math.min(...g);
        // NaN wins (the first one), as in PyTorch; Math.max(...g) would be NaN, found nowhere.
        case 'argmax': return g.some(Number.isNaN) ? g.findIndex(Number.isNaN) : g.indexOf(Math.max(...g));
        case 'argmin': return g.some(Number.isNaN) ? g.findIndex(Number.isNaN) : g.indexOf(Math.min(...g));
      }
    };
    return make(groups.map(reduceOne), outDtype);
  }

  matmul(a: StridedView, b: StridedView): DataId {
    const [B, M, K] = a.shape;
    const N = b.shape[2];
    const av = gatherView(a, 'matmul');
    const bv = gatherView(b, 'matmul');
    const out: number[] = [];
    for (let n0 = 0; n0 < B; n0++) {
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < N; j++) {
          let s = 0;
          for (let k = 0; k < K; k++) s += av[(n0 * M + i) * K + k] * bv[(n0 * K + k) * N + j];
          out.push(s);
        }
      }
    }
    return make(out, 'float32');
  }

  cast(x: StridedView, dtype: DType): DataId {
    const v = gatherView(x, 'cast');
    return make(dtype === 'int32' ? v.map(Math.trunc) : v, dtype);
  }

  gather(x: StridedView, axis: number, index: StridedView): DataId {
    const xv = gatherView(x, 'gather');
    const iv = gatherView(index, 'gather');
    const xStrides = x.shape.map((_, d) => size(x.shape.slice(d + 1)));
    return make(iv.map((k, p) => {
      checkIndex('gather', k, x.shape[axis], axis);
      const idx = unflatten(p, index.shape);
      idx[axis] = k;
      return xv[idx.reduce((o, v, d) => o + v * xStrides[d], 0)];
    }), x.dtype);
  }

  indexSelect(x: StridedView, axis: number, index: StridedView): DataId {
    const xv = gatherView(x, 'indexSelect');
    const iv = gatherView(index, 'indexSelect');
    iv.forEach((k) => checkIndex('indexSelect', k, x.shape[axis], axis));
    const outShape = x.shape.map((d, i) => (i === axis ? iv.length : d));
    const xStrides = x.shape.map((_, d) => size(x.shape.slice(d + 1)));
    const out: number[] = [];
    for (let p = 0; p < size(outShape); p++) {
      const idx = unflatten(p, outShape);
      idx[axis] = iv[idx[axis]];
      out.push(xv[idx.reduce((o, v, d) => o + v * xStrides[d], 0)]);
    }
    return make(out, x.dtype);
  }

  scatterAdd(shape: readonly number[], axis: number, index: StridedView, src: StridedView): DataId {
    const iv = gatherView(index, 'scatterAdd');
    const sv = gatherView(src, 'scatterAdd');
    const out = new Array<number>(size(shape)).fill(0);
    const strides = shape.map((_, d) => size(shape.slice(d + 1)));
    iv.forEach((k, p) => {
      checkIndex('scatterAdd', k, shape[axis], axis);
      const idx = unflatten(p, index.shape);
      idx[axis] = k;
      out[idx.reduce((o, v, d) => o + v * strides[d], 0)] += sv[p];
    });
    return make(out, src.dtype);
  }

  concat(inputs: readonly StridedView[], axis: number): DataId {
    const parts = inputs.map((v) => ({ v, values: gatherView(v, 'concat') }));
    const outShape = [...inputs[0].shape];
    outShape[axis] = inputs.reduce((s, v) => s + v.shape[axis], 0);
    const out: number[] = [];
    for (let p = 0; p < size(outShape); p++) {
      const idx = unflatten(p, outShape);
      let k = idx[axis];
      const part = parts.find((q) => (k < q.v.shape[axis] ? true : ((k -= q.v.shape[axis]), false))) as (typeof parts)[number];
      idx[axis] = k;
      let o = 0;
      for (let d = 0; d < idx.length; d++) o = o * part.v.shape[d] + idx[d];
      out.push(part.values[o]);
    }
    return make(out, inputs[0].dtype);
  }

  random(kind: RandomKind, n: number, seed: number, offset: number): DataId {
    const at = kind === 'uniform' ? uniformAt : normalAt;
    return make(Array.from({ length: n }, (_, i) => at(seed, offset + i)), 'float32');
  }

  /** Fused softmax over the last axis. */
  softmax(x: StridedView): DataId {
    return make(this.rows(x, 'softmax').flatMap((r) => {
      const m = Math.max(...r);
      const e = r.map((v) => Math.exp(v - m));
      const s = e.reduce((a, b) => a + b, 0);
      return e.map((v) => v / s);
    }), 'float32');
  }

  /** Fused LayerNorm over the last axis. */
  layerNorm(x: StridedView, weight: StridedView | null, bias: StridedView | null, eps: number): DataId {
    const w = weight ? gatherView(weight, 'layerNorm') : null;
    const b = bias ? gatherView(bias, 'layerNorm') : null;
    return make(this.rows(x, 'layerNorm').flatMap((r) => {
      const mu = r.reduce((a, v) => a + v, 0) / r.length;
      const variance = r.reduce((a, v) => a + (v - mu) ** 2, 0) / r.length;
      const rstd = 1 / Math.sqrt(variance + eps);
      return r.map((v, i) => (v - mu) * rstd * (w ? w[i] : 1) + (b ? b[i] : 0));
    }), 'float32');
  }

  /** Fused attention on [B, H, L, D] inputs; fully masked rows give zeros. */
  attention(q: StridedView, k: StridedView, v: StridedView, mask: StridedView | null, scale: number, causal: boolean): DataId {
    const [B, H, L, D] = q.shape;
    const S = k.shape[2];
    const Dv = v.shape[3];
    const [qv, kv, vv] = [gatherView(q, 'attention'), gatherView(k, 'attention'), gatherView(v, 'attention')];
    const mv = mask ? gatherView(mask, 'attention') : null;
    const out: number[] = [];
    for (let bh = 0; bh < B * H; bh++) {
      for (let l = 0; l < L; l++) {
        const scores = Array.from({ length: S }, (_, s) => {
          if (causal && s > l) return -Infinity;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += qv[(bh * L + l) * D + d] * kv[(bh * S + s) * D + d];
          return dot * scale + (mv ? mv[(bh * L + l) * S + s] : 0);
        });
        const m = Math.max(...scores);
        const w = scores.map((s) => (m === -Infinity ? 0 : Math.exp(s - m)));
        const total = w.reduce((a, b) => a + b, 0);
        for (let j = 0; j < Dv; j++) {
          let acc = 0;
          for (let s = 0; s < S; s++) acc += w[s] === 0 ? 0 : (w[s] / total) * vv[(bh * S + s) * Dv + j];
          out.push(acc);
        }
      }
    }
    return make(out, 'float32');
  }

  /** The rows (last axis) of a view. */
  private rows(x: StridedView, op: string): number[][] {
    const values = gatherView(x, op);
    const n = x.shape.length === 0 ? 1 : x.shape[x.shape.length - 1];
    const rows: number[][] = [];
    for (let i = 0; i < values.length; i += n) rows.push(values.slice(i, i + n));
    return rows;
  }
}
