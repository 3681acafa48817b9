// SPDX-License-Identifier: MIT
// Grad mode: whether ops record the autograd graph. A simple depth counter, so nested
// `noGrad`/`enableGrad` blocks restore the outer mode even when they throw.
import { HeedError } from '../errors.js';

let enabled = true;

/**
 * Whether ops currently record gradients.
 *
 * @example
 * ```ts
 * noGrad(() => isGradEnabled()); // false
 * ```
 */
export function isGradEnabled(): boolean {
  return enabled;
}

function withMode<T>(mode: boolean, fn: () => T, op: string): T {
  const previous = enabled;
  enabled = mode;
  try {
    const result = fn();
    if (result instanceof Promise) {
      throw new HeedError(op, 'the function returned a Promise; grad mode blocks must be synchronous. ' +
        'Await the async work outside, or use setGradEnabled() around it.');
    }
    return result;
  } finally {
    enabled = previous;
  }
}

/**
 * Runs `fn` without recording gradients (like `torch.no_grad()`).
 *
 * @example
 * ```ts
 * const y = noGrad(() => w.mul(2)); // y.requiresGrad === false
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  return withMode(false, fn, 'noGrad');
}

/**
 * Runs `fn` with gradient recording on, even inside {@link noGrad}.
 *
 * @example
 * ```ts
 * noGrad(() => enableGrad(() => w.mul(2))).requiresGrad; // true
 * ```
 */
export function enableGrad<T>(fn: () => T): T {
  return withMode(true, fn, 'enableGrad');
}

/**
 * Sets grad mode globally and returns the previous value (for async code).
 *
 * @example
 * ```ts
 * const prev = setGradEnabled(false);
 * try { await evaluate(); } finally { setGradEnabled(prev); }
 * ```
 */
export function setGradEnabled(mode: boolean): boolean {
  const previous = enabled;
  enabled = mode;
  return previous;
}
