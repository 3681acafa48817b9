// SPDX-License-Identifier: MIT
// withEval: runs a function with a module in evaluation mode and restores its training flag
// afterwards, safely when several such sections overlap (two async decodes of one model in a
// server). The first section to enter records the flag and switches to eval; only the last one
// to leave restores it, so one finishing decode cannot turn dropout back on under another.
// Invariant: the bookkeeping lives in a WeakMap, not on the module, so state-dict reflection
// never sees it.
import type { Module } from './module.js';

interface EvalSections {
  depth: number;
  /** The training flag the first section found. */
  wasTraining: boolean;
}

const sections = new WeakMap<Module, EvalSections>();

function enter(module: Module): void {
  const open = sections.get(module);
  if (open) {
    open.depth += 1;
    return;
  }
  sections.set(module, { depth: 1, wasTraining: module.training });
  module.eval();
}

function leave(module: Module): void {
  const open = sections.get(module);
  if (!open) return;
  open.depth -= 1;
  if (open.depth > 0) return;
  sections.delete(module);
  if (open.wasTraining) module.train();
}

/**
 * Runs `fn` with `module` (and every descendant) in evaluation mode, then restores the training
 * flag it had, also when `fn` throws or its promise rejects. Overlapping calls (concurrent async
 * decodes) share one eval section: the mode is restored when the last of them ends. Calling
 * `train()`/`eval()` yourself inside a section is not undone until then.
 *
 * @example
 * ```ts
 * const [a, b] = await Promise.all([
 *   withEval(model, () => model.greedyDecode(srcA)),
 *   withEval(model, () => model.greedyDecode(srcB)),
 * ]); // dropout stays off until both have finished
 * ```
 */
export function withEval<T>(module: Module, fn: () => T): T {
  enter(module);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    leave(module);
    throw error;
  }
  if (result instanceof Promise) {
    return result.finally(() => leave(module)) as T;
  }
  leave(module);
  return result;
}
