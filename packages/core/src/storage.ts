// SPDX-License-Identifier: MIT
// Reference-counted backend buffers. A Storage is shared by every view of the same data and by
// autograd's saved tensors; the backend buffer is freed exactly once, when the count hits zero.
// Also keeps the live-buffer statistics behind `memory()`.
import type { Backend, DataId } from './backend.js';
import { DTYPE_INFO, type DType } from './dtype.js';
import { runKernel } from './kernel-dispatch.js';

/**
 * Live buffers and bytes of one backend.
 *
 * @example
 * ```ts
 * const s: BackendStats = { buffers: 1, bytes: 16 };
 * ```
 */
export interface BackendStats {
  buffers: number;
  bytes: number;
}

const stats = new Map<string, BackendStats>();

function statsFor(name: string): BackendStats {
  let s = stats.get(name);
  if (!s) stats.set(name, (s = { buffers: 0, bytes: 0 }));
  return s;
}

/**
 * A backend buffer plus its reference count. Internal to core; exported for backends' tests.
 *
 * @example
 * ```ts
 * const s = new Storage(backend, backend.fill(4, 0, 'float32'), 4, 'float32');
 * s.release(); // frees the buffer
 * ```
 */
export class Storage {
  private refs = 1;
  /** Whether the backend was told (`savedForBackward`) that autograd saved the buffer. */
  private savedNoted = false;
  /** Incremented by in-place updates (`assign`), so saved tensors can detect staleness. */
  version = 0;

  constructor(
    readonly backend: Backend,
    readonly data: DataId,
    readonly size: number,
    readonly dtype: DType,
  ) {
    const s = statsFor(backend.name);
    s.buffers++;
    s.bytes += size * DTYPE_INFO[dtype].bytesPerElement;
  }

  /** Whether the buffer has been freed. */
  get freed(): boolean {
    return this.refs <= 0;
  }

  /** Adds a reference. */
  retain(): this {
    this.refs++;
    return this;
  }

  /** Adds a reference held by an autograd saved tensor; the first one is told to a backend that wants it (`savedForBackward`). */
  retainSaved(): this {
    if (!this.savedNoted && this.backend.savedForBackward !== undefined) {
      this.savedNoted = true;
      runKernel(this.backend, 'savedForBackward', this.data);
    }
    return this.retain();
  }

  /** Drops a reference; frees the backend buffer on the last one. */
  release(): void {
    if (this.refs <= 0) return;
    if (--this.refs === 0) {
      const s = statsFor(this.backend.name);
      s.buffers--;
      s.bytes -= this.size * DTYPE_INFO[this.dtype].bytesPerElement;
      runKernel(this.backend, 'free', this.data);
    }
  }
}

/**
 * Live buffer counts and bytes per backend.
 *
 * @example
 * ```ts
 * storageStats().get('cpu'); // { buffers: 3, bytes: 48 }
 * ```
 */
export function storageStats(): ReadonlyMap<string, Readonly<BackendStats>> {
  return stats;
}
