// SPDX-License-Identifier: MIT
// Memoised WGSL generators. Generating a kernel's source costs a few microseconds of string
// building, and looking a fresh multi-kilobyte string up in the pipeline cache means hashing
// it; with the source memoised by its (small) arguments, every later dispatch reuses the same
// string object, whose hash V8 has already computed. This is most of the per-dispatch CPU
// cost of small ops.
// Invariant: a generator's output depends only on its arguments (all of them primitives or
// arrays of primitives), so the joined arguments are a complete cache key.

/**
 * Wraps a pure WGSL generator so that equal arguments return the identical string.
 *
 * @example
 * ```ts
 * const fill = memoKernel(fillKernel);
 * fill('float32') === fill('float32'); // true, same object
 * ```
 */
export function memoKernel<A extends readonly unknown[]>(generate: (...args: A) => string): (...args: A) => string {
  const cache = new Map<string, string>();
  return (...args: A): string => {
    const key = args.map((a) => (Array.isArray(a) ? a.join(',') : String(a))).join('\u0001');
    let code = cache.get(key);
    if (code === undefined) {
      code = generate(...args);
      cache.set(key, code);
    }
    return code;
  };
}
