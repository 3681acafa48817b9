// SPDX-License-Identifier: MIT
// The Heed transformer-encoder-layer training step the bench scripts share (train_heed.mjs times
// it, webgpu_step_profile.mjs instruments the WebGPU runtime around it): the layer, data, seeds and
// Adam of ../shared/peers/lib/model_spec.mjs written with Heed's public API. LayerNorm and GELU are
// built from primitives exactly as the peers do, or with Heed's fused composites (`fused`: layerNorm
// / gelu, each one kernel plus one gradient rule). Adam is the peers' op-by-op formula, or core's
// `adamStep` (`stepAdam`: the backend's fused `adam` kernel where it has one, what nn.Adam uses).
// `compile` runs the step through core's compile(): the bias corrections c1/c2 of the ops Adam are
// 0-d tensor arguments (host numbers are frozen in a trace); `adamStep`'s are re-derived by compile.
// Invariants: the same flags give the same losses on every script (step 1 2.4807, step 8 1.8826);
// the tensors are created in one order (parameters, Adam moments, then the batch).
import { CFG, GELU_C, paramShapes, initParams, makeBatch, adamScalars, PARAM_NAMES } from '../../shared/peers/lib/model_spec.mjs';

/**
 * The step's flags from the parsed command line: `--fused`, `--adam=ops|step`, `--compile`.
 *
 * @example
 * const flags = stepFlags(parseArgs()); // { fused: false, stepAdam: true, compile: false } for --adam=step
 * @param {Record<string, string | boolean | undefined>} args
 * @returns {{ fused: boolean, stepAdam: boolean, compile: boolean }}
 */
export function stepFlags(args) {
  const stepAdam = args.adam === 'step';
  if (args.adam !== undefined && args.adam !== 'ops' && !stepAdam) {
    throw new Error(`unknown --adam=${args.adam}; use ops or step (the CPU's in-place adamUpdate is gone: step runs its fused kernel)`);
  }
  return { fused: Boolean(args.fused), stepAdam, compile: Boolean(args.compile) };
}

/**
 * The parameters (model_spec's initial values), their zeroed Adam moments, and the batch.
 *
 * @example
 * const { P, M, V, X, Y } = createState(heed);
 * @param {typeof import('@heed/core')} heed
 */
export function createState(heed) {
  const { B, T, D } = CFG;
  const shapes = paramShapes();
  const init0 = initParams();
  const P = {}, M = {}, V = {};
  for (const k of PARAM_NAMES) {
    P[k] = heed.tensor(init0[k], { shape: shapes[k] });
    M[k] = heed.zeros(shapes[k]);
    V[k] = heed.zeros(shapes[k]);
  }
  const { x, y } = makeBatch();
  const X = heed.tensor(x, { shape: [B, T, D] });
  const Y = heed.tensor(y, { shape: [B * T, D] });
  return { P, M, V, X, Y };
}

/**
 * The encoder layer's forward pass `forward(params, x)` -> [B*T, D].
 *
 * @example
 * const forward = makeForward(heed, { fused: true });
 * const out = forward(state.P, state.X);
 * @param {typeof import('@heed/core')} heed @param {{ fused: boolean }} flags
 */
export function makeForward(heed, { fused }) {
  const { B, T, D, H, lnEps } = CFG;
  const dh = D / H, N = B * T;
  function layerNorm(t, g, b) {
    if (fused) return heed.layerNorm(t, [D], g, b, lnEps);
    const mean = t.mean({ axis: -1, keepdim: true });
    const xc = t.sub(mean);
    const v = xc.square().mean({ axis: -1, keepdim: true });
    return xc.div(v.add(lnEps).sqrt()).mul(g).add(b);
  }
  function gelu(t) {
    if (fused) return heed.gelu(t, 'tanh');
    const t3 = t.mul(t).mul(t);
    const inner = t.add(t3.mul(0.044715)).mul(GELU_C);
    return t.mul(0.5).mul(inner.tanh().add(1));
  }
  const heads = (t) => t.reshape([B, T, H, dh]).permute([0, 2, 1, 3]);
  return function forward(p, xb) {
    const x2 = xb.reshape([N, D]);
    const h = layerNorm(x2, p.ln1_g, p.ln1_b);
    const q = heads(h.matmul(p.wq).add(p.bq));
    const k = heads(h.matmul(p.wk).add(p.bk));
    const v = heads(h.matmul(p.wv).add(p.bv));
    const s = q.matmul(k.transpose(-1, -2)).mul(1 / Math.sqrt(dh));
    const a = heed.softmax(s, -1);
    const o = a.matmul(v).permute([0, 2, 1, 3]).reshape([N, D]);
    const r1 = x2.add(o.matmul(p.wo).add(p.bo));
    const h2 = layerNorm(r1, p.ln2_g, p.ln2_b);
    const f = gelu(h2.matmul(p.w1).add(p.b1)).matmul(p.w2).add(p.b2);
    return r1.add(f);
  };
}

/**
 * The mean-squared-error loss of `forward` on the batch and its gradients, as a function of the
 * parameters in PARAM_NAMES order.
 *
 * @example
 * const { value, grads } = makeLossAndGrad(heed, forward, state)(...PARAM_NAMES.map((k) => state.P[k]));
 * @param {typeof import('@heed/core')} heed @param {(p: object, x: object) => object} forward
 * @param {{ X: object, Y: object }} state
 */
export function makeLossAndGrad(heed, forward, { X, Y }) {
  return heed.valueAndGrad((...params) => {
    const p = Object.fromEntries(PARAM_NAMES.map((k, i) => [k, params[i]]));
    return forward(p, X).sub(Y).square().mean();
  });
}

/**
 * Adam's update of every parameter and moment in place: `adam(grads, c1, c2, t)` with model_spec's
 * bias corrections c1/c2 (numbers or 0-d tensors) and the step count t (what `adamStep` reads).
 *
 * @example
 * const adam = makeAdam(heed, state, { stepAdam: false });
 * heed.noGrad(() => adam(grads, c1, c2, t));
 * @param {typeof import('@heed/core')} heed @param {{ P: object, M: object, V: object }} state
 * @param {{ stepAdam: boolean }} flags
 */
export function makeAdam(heed, { P, M, V }, { stepAdam }) {
  const { lr, beta1, beta2, eps } = CFG;
  return function adam(grads, c1, c2, t) {
    PARAM_NAMES.forEach((k, i) => {
      const g = grads[i];
      if (stepAdam) {
        const r = heed.adamStep(P[k], g, M[k], V[k], { lr, beta1, beta2, eps, step: t });
        P[k].assign(r.param);
        M[k].assign(r.expAvg);
        V[k].assign(r.expAvgSq);
        return;
      }
      const m = M[k].mul(beta1).add(g.mul(1 - beta1));
      const v = V[k].mul(beta2).add(g.square().mul(1 - beta2));
      const upd = m.mul(c1).mul(lr).div(v.mul(c2).sqrt().add(eps));
      P[k].assign(P[k].sub(upd));
      M[k].assign(m);
      V[k].assign(v);
    });
  };
}

/**
 * The whole training step: `await step(t)` runs step t (forward, backward, Adam; compiled with
 * `flags.compile`) and returns its loss; `compiled` is the compiled function (null when eager),
 * `state` the tensors.
 *
 * @example
 * const { step, compiled } = buildTrainStep(heed, stepFlags(args));
 * const loss1 = await step(1);
 * @param {typeof import('@heed/core')} heed @param {{ fused: boolean, stepAdam: boolean, compile: boolean }} flags
 */
export function buildTrainStep(heed, flags) {
  const state = createState(heed);
  const lossAndGrad = makeLossAndGrad(heed, makeForward(heed, flags), state);
  const adam = makeAdam(heed, state, flags);
  function stepBody(c1, c2, t) {
    return heed.tidy(() => {
      const { value, grads } = lossAndGrad(...PARAM_NAMES.map((k) => state.P[k]));
      heed.noGrad(() => adam(grads, c1, c2, t));
      return value;
    });
  }
  // compiled: a function of the bias corrections (0-d tensors); the step count t reaches adamStep
  // through `hostStep` (frozen in the trace, re-derived by compile).
  let hostStep = 1;
  const compiled = flags.compile ? heed.compile(function trainStep(c1t, c2t) { return stepBody(c1t, c2t, hostStep); }) : null;
  async function step(t) {
    const { c1, c2 } = adamScalars(t);
    let loss;
    if (compiled) {
      hostStep = t;
      const c1t = heed.tensor(c1), c2t = heed.tensor(c2);
      loss = compiled(c1t, c2t);
      c1t.dispose();
      c2t.dispose();
    } else {
      loss = stepBody(c1, c2, t);
    }
    const l = (await loss.data())[0]; // parameters are updated synchronously on the CPU backend
    loss.dispose();
    return l;
  }
  return { step, compiled, state };
}
