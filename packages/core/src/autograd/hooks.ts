// SPDX-License-Identifier: MIT
// Per-tensor gradient hooks (PyTorch's `register_hook` / `register_post_accumulate_grad_hook`):
// kept per graph node in a WeakMap (no cost for tensors without hooks), run by the backward
// engine, installed on Tensor as methods, each registration returning a removable handle.
import { HeedError, fmtShape } from '../errors.js';
import { Tensor } from '../tensor.js';
import { tidy } from '../scope.js';
import type { GradNode } from './node.js';

/**
 * A hook on the gradient flowing into a tensor during `backward()`. It may return a tensor
 * (same shape and dtype) that replaces the gradient; the engine takes ownership of it and frees
 * the old gradient. Temporaries it creates are freed (it runs inside `tidy`). It must not
 * dispose the gradient it receives.
 *
 * @example
 * ```ts
 * const hook: GradHook = (g) => g.clamp(-1, 1);
 * ```
 */
export type GradHook = (grad: Tensor) => Tensor | void;

/**
 * A hook called with a leaf tensor once its `.grad` holds this backward's final value.
 *
 * @example
 * ```ts
 * const hook: PostAccumulateGradHook = (p) => console.log('grad ready', p.shape);
 * ```
 */
export type PostAccumulateGradHook = (tensor: Tensor) => void;

/**
 * Returned by hook registrations; `remove()` unregisters the hook (safe to call twice).
 *
 * @example
 * ```ts
 * const handle = w.registerHook((g) => g.mul(2));
 * handle.remove();
 * ```
 */
export interface RemovableHandle {
  /** Unregisters the hook. */
  remove(): void;
}

interface NodeHooks {
  pre: GradHook[];
  post: PostAccumulateGradHook[];
}

const registry = new WeakMap<GradNode, NodeHooks>();

function hooksOf(node: GradNode): NodeHooks {
  let h = registry.get(node);
  if (!h) registry.set(node, (h = { pre: [], post: [] }));
  return h;
}

function handleFor<T>(list: T[], fn: T): RemovableHandle {
  list.push(fn);
  return {
    remove: () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    },
  };
}

/** Registers `fn` on the gradient flowing into `t` (leaf or not). See {@link Tensor.registerHook}. */
function registerHook(t: Tensor, fn: GradHook): RemovableHandle {
  t.assertLive('registerHook');
  if (typeof fn !== 'function') throw new HeedError('registerHook', `the hook must be a function, got ${typeof fn}.`);
  if (!t.node) {
    throw new HeedError('registerHook', `cannot register a hook on tensor ${fmtShape(t.shape)} ${t.dtype}: it does not require ` +
      'grad. Call requiresGrad_() on it (leaves) or compute it from tensors that require grad.');
  }
  return handleFor(hooksOf(t.node).pre, fn);
}

/** Registers `fn` to run once leaf `t`'s `.grad` is final. See {@link Tensor.registerPostAccumulateGradHook}. */
function registerPostAccumulateGradHook(t: Tensor, fn: PostAccumulateGradHook): RemovableHandle {
  const op = 'registerPostAccumulateGradHook';
  t.assertLive(op);
  if (typeof fn !== 'function') throw new HeedError(op, `the hook must be a function, got ${typeof fn}.`);
  if (!t.node) {
    throw new HeedError(op, `cannot register a post-accumulate-grad hook on tensor ${fmtShape(t.shape)} ${t.dtype}: it does not ` +
      'require grad. Call requiresGrad_() on it first.');
  }
  if (!t.node.isLeaf) {
    throw new HeedError(op, `post-accumulate-grad hooks can only be registered on leaf tensors; tensor ${fmtShape(t.shape)} is ` +
      `the output of '${t.node.op}' (it has no .grad). Use registerHook() for gradients of intermediate tensors.`);
  }
  return handleFor(hooksOf(t.node).post, fn);
}

/** @internal Runs `node`'s gradient hooks on `g` (owned); returns the (possibly replaced) owned gradient. */
export function applyGradHooks(node: GradNode, g: Tensor): Tensor {
  const hooks = registry.get(node)?.pre;
  if (!hooks || hooks.length === 0) return g;
  let cur = g;
  for (const fn of [...hooks]) {
    let out: Tensor | void;
    try {
      out = tidy(() => fn(cur));
    } catch (e) {
      cur.dispose();
      throw e;
    }
    if (out === undefined || out === cur) continue;
    if (!(out instanceof Tensor) || out.dtype !== cur.dtype || out.rank !== cur.rank || out.shape.some((d, i) => d !== cur.shape[i])) {
      const got = out instanceof Tensor ? `${fmtShape(out.shape)} ${out.dtype}` : typeof out;
      cur.dispose();
      if (out instanceof Tensor) out.dispose();
      throw new HeedError('backward', `a gradient hook returned ${got} for a gradient of ${fmtShape(g.shape)} ${g.dtype}; a hook ` +
        'must return nothing or a tensor of the same shape and dtype.');
    }
    cur.dispose();
    cur = out;
  }
  return cur;
}

/** @internal Runs `node`'s post-accumulate hooks with its leaf tensor (after `.grad` is final). */
export function applyPostAccumulateHooks(node: GradNode, leaf: Tensor): void {
  const hooks = registry.get(node)?.post;
  if (!hooks) return;
  for (const fn of [...hooks]) fn(leaf);
}

declare module '../tensor.js' {
  interface Tensor {
    /**
     * Registers a hook on the gradient flowing into this tensor during `backward()` (leaf or
     * intermediate; like PyTorch's `register_hook`). The hook receives the summed gradient
     * before it is accumulated into `.grad` (leaves) or propagated further (intermediates)
     * and may return a replacement of the same shape and dtype. Hooks run in registration
     * order; the functional `grad()`/`valueAndGrad()` do not run hooks on leaves (they leave
     * `.grad` alone). Throws a HeedError if the tensor does not require grad.
     *
     * @example
     * ```ts
     * const w = tensor([1, 2], { requiresGrad: true });
     * const h = w.registerHook((g) => g.mul(2));
     * w.square().sum().backward(); // w.grad = 2 * 2w
     * h.remove();
     * ```
     */
    registerHook(fn: GradHook): RemovableHandle;
    /**
     * Registers a hook called with this leaf tensor once its `.grad` holds the final value of
     * the current `backward()` (like PyTorch's `register_post_accumulate_grad_hook`). The
     * engine finishes a leaf as soon as every op that used it has been differentiated, so the
     * hooks of different parameters run in the order their gradients become final, while the
     * backward pass is still running (DistributedDataParallel starts its all-reduce here).
     * Throws a HeedError on tensors that do not require grad or are not leaves.
     *
     * @example
     * ```ts
     * const w = tensor([1, 2], { requiresGrad: true });
     * w.registerPostAccumulateGradHook((p) => console.log('final', p.grad));
     * w.square().sum().backward();
     * ```
     */
    registerPostAccumulateGradHook(fn: PostAccumulateGradHook): RemovableHandle;
  }
}

Object.assign(Tensor.prototype, {
  registerHook(this: Tensor, fn: GradHook): RemovableHandle { return registerHook(this, fn); },
  registerPostAccumulateGradHook(this: Tensor, fn: PostAccumulateGradHook): RemovableHandle {
    return registerPostAccumulateGradHook(this, fn);
  },
});
