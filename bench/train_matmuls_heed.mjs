// SPDX-License-Identifier: MIT
// The denominator of issue #13's "within 1.6x of the time its matmuls take alone": runs one
// training step of bench/train_heed.mjs's spec, records every matmul it dispatches (operand
// shapes and strides, i.e. which operands are transposed views), then times exactly those
// matmuls back to back on fresh inputs of the same layouts, with nothing else in between.
// usage: node bench/train_matmuls_heed.mjs [--backend=cpu|webgpu] [--reps=20]
import { parseArgs, emit } from '../../shared/peers/lib/common.mjs';
import { CFG, PARAM_NAMES, paramShapes, initParams, makeBatch } from '../../shared/peers/lib/model_spec.mjs';
import { setupHeed, sync } from './heed_setup.mjs';

const args = parseArgs();
const reps = Number(args.reps ?? 20);
const { heed, backend, meta } = await setupHeed(args);
const { B, T, D, H } = CFG;
const dh = D / H, N = B * T;
const shapes = paramShapes();
const init0 = initParams();
const P = Object.fromEntries(PARAM_NAMES.map((k) => [k, heed.tensor(init0[k], { shape: shapes[k] })]));
const { x, y } = makeBatch();
const X = heed.tensor(x, { shape: [B, T, D] });
const Y = heed.tensor(y, { shape: [N, D] });

// The spec's forward (primitives only; the matmuls are what matters here).
const heads = (t) => t.reshape([B, T, H, dh]).permute([0, 2, 1, 3]);
function layerNorm(t, g, b) {
  const xc = t.sub(t.mean({ axis: -1, keepdim: true }));
  return xc.div(xc.square().mean({ axis: -1, keepdim: true }).add(CFG.lnEps).sqrt()).mul(g).add(b);
}
function forward(p) {
  const x2 = X.reshape([N, D]);
  const h = layerNorm(x2, p.ln1_g, p.ln1_b);
  const q = heads(h.matmul(p.wq).add(p.bq)), k = heads(h.matmul(p.wk).add(p.bk)), v = heads(h.matmul(p.wv).add(p.bv));
  const a = heed.softmax(q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(dh)), -1);
  const r1 = x2.add(a.matmul(v).permute([0, 2, 1, 3]).reshape([N, D]).matmul(p.wo).add(p.bo));
  const f = heed.gelu(layerNorm(r1, p.ln2_g, p.ln2_b).matmul(p.w1).add(p.b1), 'tanh').matmul(p.w2).add(p.b2);
  return r1.add(f);
}

// Record the matmuls of one forward + backward.
const recorded = [];
const stop = heed.onKernel((_b, kernel, a) => {
  if (kernel === 'matmul') recorded.push(a.map((v) => ({ shape: [...v.shape], strides: [...v.strides] })));
});
heed.tidy(() => {
  const { grads } = heed.valueAndGrad((...ps) => forward(Object.fromEntries(PARAM_NAMES.map((k, i) => [k, ps[i]]))).sub(Y).square().mean())(...PARAM_NAMES.map((k) => P[k]));
  return grads;
}).forEach((g) => g.dispose());
stop();

/** A tensor whose view has exactly `shape` and `strides` (a permutation of a contiguous buffer). */
function withLayout({ shape, strides }) {
  const order = shape.map((_, d) => d).sort((i, j) => strides[j] - strides[i]); // outermost first
  const base = heed.randn(order.map((d) => shape[d]));
  const inverse = order.map((_, d) => order.indexOf(d));
  const v = base.permute(inverse);
  if (v !== base) base.dispose?.();
  return v;
}
const operands = recorded.map(([a, b]) => [withLayout(a), withLayout(b)]);
const runAll = async () => {
  let last = null;
  for (const [a, b] of operands) { last?.dispose(); last = heed.matmul(a, b); }
  await sync(backend, last);
  last.dispose();
};
for (let i = 0; i < 3; i++) await runAll();
const times = [];
for (let i = 0; i < reps; i++) { const t0 = performance.now(); await runAll(); times.push(performance.now() - t0); }
times.sort((a, b) => a - b);
const flops = recorded.reduce((s, [a, b]) => s + 2 * a.shape.slice(0, -1).reduce((p, d) => p * d, 1) * a.shape.at(-1) * b.shape.at(-1), 0);
emit({ ...meta, suite: 'train-matmuls', matmuls: recorded.length, mflop: flops / 1e6, medianMs: times[reps >> 1], minMs: times[0] });
process.exit(0);
