// SPDX-License-Identifier: MIT
// The reverse-mode engine: walks the graph from the roots in reverse creation order, calls
// each node's rule, reduces broadcast gradients to input shapes (the one place this happens)
// and either accumulates into leaves' `.grad` or returns gradients for chosen nodes. A leaf is
// finished (hooks, `.grad`, post-accumulate hooks) as soon as its last consumer was visited.
// Invariants: temporaries are disposed; without retainGraph, saved tensors are freed after use.
import { HeedError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import type { Shape } from '../shape.js';
import { keep, tidy } from '../scope.js';
import { enableGrad, noGrad } from './mode.js';
import type { GradNode, SavedTensor } from './node.js';
import { gradRules, type GradContext } from './rules.js';
import type { OpName } from './record.js';
import { reshape } from '../ops/views.js';
import { sum } from '../ops/reduce.js';
import { add } from '../ops/binary-math.js';
import { applyGradHooks, applyPostAccumulateHooks } from './hooks.js';

/**
 * Options for `backward()` and the functional gradient API.
 *
 * @example
 * ```ts
 * loss.backward({ retainGraph: true });
 * ```
 */
export interface BackwardOptions {
  /** Keep saved tensors so the graph can be differentiated again (default false). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients (default false). */
  createGraph?: boolean;
}

/** Sums a gradient over broadcast dimensions so it matches `shape`. */
export function reduceToShape(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const s = sum(g, { axis: axes, keepdim: false });
  const out = reshape(s, shape);
  s.dispose();
  return out;
}

/** A second handle on the same data and graph node. */
function alias(t: Tensor): Tensor {
  return new Tensor(t.storage.retain(), t.shape, t.strides, t.offset, t.node?.retain() ?? null);
}

function restore(saved: SavedTensor | null, node: GradNode | null): Tensor | null {
  if (!saved) return null;
  return new Tensor(saved.storage.retain(), saved.shape, saved.strides, saved.offset, node?.retain() ?? null);
}

/** Nodes reachable from `roots`, youngest first (a valid reverse topological order). */
function collect(roots: readonly GradNode[]): GradNode[] {
  const seen = new Set<GradNode>();
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop() as GradNode;
    if (seen.has(n)) continue;
    seen.add(n);
    for (const e of n.edges) if (e && !seen.has(e)) stack.push(e);
  }
  return [...seen].sort((a, b) => b.seq - a.seq);
}

/**
 * Runs backward from `roots` seeded with `seeds`. With `targets`, returns the gradient reaching
 * each target node (and leaves `.grad` alone); without, accumulates into leaves.
 */
export function runBackward(roots: readonly Tensor[], seeds: readonly Tensor[], options: BackwardOptions, targets?: readonly GradNode[]): Map<GradNode, Tensor> {
  const createGraph = options.createGraph ?? false;
  const retainGraph = options.retainGraph ?? createGraph;
  const pending = new Map<GradNode, Tensor>();
  const results = new Map<GradNode, Tensor>();
  const targetSet = new Set(targets ?? []);
  const accumulate = (node: GradNode, g: Tensor) => {
    const prev = pending.get(node);
    if (!prev) pending.set(node, g);
    else {
      pending.set(node, add(prev, g));
      prev.dispose();
      g.dispose();
    }
  };
  const mode = createGraph ? enableGrad : noGrad;
  const order = collect(roots.map((r) => r.node as GradNode));
  // Consumers of each node still to be visited: a leaf is final when its count reaches zero.
  const consumers = new Map<GradNode, number>();
  for (const n of order) for (const e of n.edges) if (e) consumers.set(e, (consumers.get(e) ?? 0) + 1);
  const finishLeaf = (node: GradNode) => {
    let g = pending.get(node);
    if (!g) return;
    pending.delete(node);
    if (targetSet.has(node)) {
      results.set(node, applyGradHooks(node, g));
      return;
    }
    const leaf = node.leaf;
    if (targets || !leaf || leaf.isDisposed) {
      g.dispose();
      return;
    }
    g = applyGradHooks(node, g);
    leaf.accumulateGrad(keep(g));
    applyPostAccumulateHooks(node, leaf as Tensor);
  };
  const visited = (node: GradNode) => {
    for (const e of node.edges) {
      if (!e) continue;
      const left = (consumers.get(e) as number) - 1;
      consumers.set(e, left);
      if (left === 0 && e.isLeaf) finishLeaf(e);
    }
  };
  const backwardPass = () => {
    roots.forEach((r, i) => accumulate(r.node as GradNode, seeds[i]));
    for (const node of order) if (node.isLeaf && !consumers.has(node)) finishLeaf(node);
    for (const node of order) {
      if (node.isLeaf) continue;
      let g = pending.get(node);
      if (!g) {
        visited(node);
        continue;
      }
      pending.delete(node);
      g = applyGradHooks(node, g);
      if (targetSet.has(node)) {
        results.set(node, g);
        visited(node);
        continue;
      }
      if (node.savedReleased) {
        g.dispose();
        throw new HeedError('backward', `trying to backward through the graph a second time (op '${node.op}'); its saved tensors ` +
          'were already freed. Pass { retainGraph: true } to the first backward() if you need to call it twice.');
      }
      const seen = new Set<Tensor>([g]);
      // A rule may hand back `g` itself or one tensor twice: give each use its own handle.
      const grads = applyRule(node, g).map((gi) => {
        if (!gi || !seen.has(gi)) return gi && (seen.add(gi), gi);
        return alias(gi);
      });
      g.dispose();
      grads.forEach((gi, i) => {
        const edge = node.edges[i];
        if (!edge || !gi) {
          gi?.dispose();
          return;
        }
        const shape = node.inputMeta[i].shape;
        const reduced = reduceToShape(gi, shape);
        if (reduced !== gi) gi.dispose();
        accumulate(edge, reduced);
      });
      if (!retainGraph) node.releaseSaved();
      visited(node);
    }
  };
  try {
    mode(backwardPass);
  } finally {
    for (const g of pending.values()) g.dispose(); // also when a rule or a hook threw
  }
  return results;
}

function applyRule(node: GradNode, dy: Tensor): (Tensor | null)[] {
  const rule = gradRules[node.op as OpName] as (typeof gradRules)[OpName] | undefined;
  if (!rule) throw new HeedError('backward', `no gradient rule for op '${node.op}'.`);
  const saved = node.getSaved();
  const inputs = saved.inputs.map((s) => restore(s, s?.node ?? null));
  const output = restore(saved.output, node);
  const ctx: GradContext<unknown> = {
    inputs,
    output,
    attrs: node.attrs,
    inputShapes: node.inputMeta.map((m) => m.shape),
    needs: node.edges.map((e) => e !== null),
  };
  try {
    const grads = tidy(() => (rule.backward as (dy: Tensor, c: GradContext<unknown>) => (Tensor | null)[])(dy, ctx));
    grads.forEach((g, i) => {
      const want = node.inputMeta[i];
      if (g && want && g.rank < want.shape.length) {
        throw new HeedError('backward', `rule '${node.op}' produced a gradient of shape ${fmtShape(g.shape)} for input ${fmtShape(want.shape)}.`);
      }
    });
    return grads;
  } finally {
    for (const t of inputs) t?.dispose();
    output?.dispose();
  }
}
