// SPDX-License-Identifier: MIT
// The WebGPU runtime: a buffer pool by size class, the pipeline and bind-group caches
// (pipeline-cache.ts, which also states the binding convention), a metadata arena, and one
// command encoder (with one open compute pass) that batches dispatches until a read, flush()
// or the batch limit submits them.
// Invariants: a freed buffer returns to the pool only after the submit that last used it
// (pending frees are released right after queue.submit); every dispatch of a batch gets its own
// 256-byte metadata slot, written with one queue.writeBuffer just before the submit; a cached
// bind group never outlives a buffer it names (destroying a buffer drops its bind groups); once
// the device is lost (or an allocation failed) every call throws a HeedError instead of hanging.
// Failure paths leave the runtime usable: everything in dispatch() that can throw runs before
// the batch is touched; each submit runs in a validation error scope, so an invalid batch (a
// kernel that failed to compile, a bad copy) fails the reads in it and is reported once,
// without poisoning later batches (failed pipelines and bind groups leave the caches); index
// errors found on the device (index-errors.ts) are thrown by the next read or flush.
import { HeedError } from '@heed/core';
import { ERROR_BYTES, IndexChecks, TAG_WORD, toHeedError, type DeviceError, type IndexSite } from './index-errors.js';
import { PipelineCache } from './pipeline-cache.js';
import { quietly } from './quiet-wait.js';

// WebGPU flag values (the GPUBufferUsage/GPUMapMode globals may not exist before Dawn loads).
const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
const MAP_MODE_READ = 0x1;
const USAGE = STORAGE | COPY_SRC | COPY_DST;
/** Dispatches recorded before an automatic submit. */
const MAX_BATCH = 128;
/** Metadata words per dispatch (one 256-byte slot, the usual storage offset alignment). */
export const META_WORDS = 64;
/** Pooled bytes kept for reuse; beyond this, freed buffers are destroyed. */
const POOL_CAP_BYTES = 512 * 1024 * 1024;

/**
 * Debug switches of the WebGPU backend.
 *
 * @example
 * ```ts
 * await createWebGPUBackend({ debug: { printShaders: true, forceMatmulVariant: 'naive' } });
 * ```
 */
export interface WebGPUDebug {
  /** Log each shader (console.log) when its pipeline is first compiled. */
  printShaders?: boolean;
  /** Force a matmul variant ('naive', 'blocked' or 'tiled') instead of the heuristic's choice. */
  forceMatmulVariant?: string;
  /**
   * Run the fused training attention (attentionForward/attentionBackward) at every size; by
   * default it declines below 2^24 scores (B*H*L*S), where the decomposition is faster.
   */
  alwaysFuseTrainingAttention?: boolean;
}

/**
 * Rounds a byte size up to its pool size class: powers of two up to 4 KiB, then quarter
 * steps between powers of two (so at most 25% is wasted).
 *
 * @example
 * ```ts
 * sizeClass(100); // 128
 * sizeClass(5000); // 5120
 * ```
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/**
 * A pooled GPU buffer and its size class.
 *
 * @example
 * ```ts
 * const { buffer, cls } = runtime.acquire(1024, 'add');
 * ```
 */
export interface PooledBuffer {
  readonly buffer: GPUBuffer;
  readonly cls: number;
}

/** One submitted batch: settles once its validation scope, index check and all earlier batches have. */
interface Submission {
  readonly settled: Promise<void>;
  /** The mapping of the read's staging buffer, for a batch submitted by a read. */
  readonly mapped: Promise<void> | null;
  /** Set when the batch failed validation: nothing in it ran. */
  invalid: boolean;
}

/**
 * Owns the device, the pool, compiled pipelines and the current command batch.
 *
 * @example
 * ```ts
 * const rt = new Runtime(device);
 * rt.dispatch('add', code, [out.buffer, a.buffer], words, [groups, 1, 1]);
 * rt.flush();
 * ```
 */
export class Runtime {
  private readonly pool = new Map<number, GPUBuffer[]>();
  private pooledBytes = 0;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private readonly metaHost = new Uint32Array(MAX_BATCH * META_WORDS);
  private readonly metaBuffer: GPUBuffer;
  /** Buffers freed while unsubmitted commands may use them: pooled after the next submit. */
  private pendingRelease: PooledBuffer[] = [];
  private failure: string | null = null;
  private readonly indexChecks: IndexChecks;
  private readonly cache: PipelineCache;
  /** Settles after every batch submitted so far (and every pipeline compiled so far) was checked. */
  private settled: Promise<void> = Promise.resolve();
  /** The first device error not reported yet, and how many more were found meanwhile. */
  private pending: DeviceError | null = null;
  /** Rejecters of the reads in flight, called once if the device is lost (one listener on device.lost, not one per read). */
  private readonly waitingReads = new Set<(info: GPUDeviceLostInfo) => void>();
  private pendingLater = 0;
  /** Tag of the first dispatch of the batch being recorded. */
  private batchStart = 0;
  /** Counters for tests and debugging (`live`: buffers acquired and not released). */
  readonly stats = { created: 0, reused: 0, submits: 0, dispatches: 0, pipelines: 0, bindGroups: 0, live: 0 };
  readonly limits: GPUSupportedLimits;
  /** In Node.js, wait for reads with short sleeps instead of Dawn's busy tick loop (quiet-wait.ts); {@link WebGPUBackendOptions.quietReads}. */
  quietReads = true;

  constructor(readonly device: GPUDevice, readonly debug: WebGPUDebug = {}) {
    this.limits = device.limits;
    if (device.limits.minStorageBufferOffsetAlignment > META_WORDS * 4) {
      throw new HeedError('createWebGPUBackend', `minStorageBufferOffsetAlignment ${device.limits.minStorageBufferOffsetAlignment} exceeds 256 bytes.`);
    }
    this.metaBuffer = device.createBuffer({ size: this.metaHost.byteLength, usage: STORAGE | COPY_DST });
    this.indexChecks = new IndexChecks(device, () => this.failure !== null);
    const hooks = { report: (e: DeviceError) => this.report(e), track: (scope: Promise<unknown>) => { this.settled = this.after(scope); } };
    this.cache = new PipelineCache(device, { buffer: this.metaBuffer, bytes: META_WORDS * 4 }, this.indexChecks.layout, hooks, this.stats, debug.printShaders);
    void device.lost.then((info) => {
      this.failure ??= `the WebGPU device was lost (${info.message || info.reason || 'unknown reason'})`;
      for (const reject of this.waitingReads) reject(info);
      this.waitingReads.clear();
    });
  }

  /** Throws a HeedError if the device is gone or an earlier allocation failed. */
  check(op: string): void {
    if (this.failure !== null) throw new HeedError(op, `${this.failure}; create a new backend (registerBackend + setBackend) to continue.`);
  }

  /** A promise that settles (never rejects) after every earlier submission and `more`. */
  private after(...more: (Promise<unknown> | null)[]): Promise<void> {
    return Promise.all([this.settled, ...more]).then(() => undefined, () => undefined);
  }

  /** Keeps a device error for the next read or flush (only the first is kept; later ones are counted). */
  private report(err: DeviceError): void {
    if (this.pending === null) this.pending = err;
    else this.pendingLater++;
  }

  /** Whether a device error is waiting to be thrown by the next read or flush. */
  hasPendingError(): boolean {
    return this.pending !== null;
  }

  /** Takes the pending device error as a HeedError (so it is reported once), or null. */
  private takePending(): HeedError | null {
    if (this.pending === null) return null;
    const err = toHeedError(this.pending, this.pendingLater);
    this.pending = null;
    this.pendingLater = 0;
    return err;
  }

  /** Throws the pending device error, if any (flush() calls this after submitting). */
  raisePending(): void {
    const err = this.takePending();
    if (err) throw err;
  }

  private checkSize(bytes: number, op: string): void {
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > max) {
      throw new HeedError(op, `needs a ${bytes}-byte buffer, but this device binds at most ${max} bytes per storage buffer ` +
        '(maxStorageBufferBindingSize); split the tensor into smaller pieces.');
    }
  }

  private create(bytes: number, op: string, mapped: boolean): GPUBuffer {
    this.device.pushErrorScope('out-of-memory');
    let buffer: GPUBuffer;
    try {
      buffer = this.device.createBuffer({ size: bytes, usage: USAGE, mappedAtCreation: mapped });
    } catch (e) {
      void this.device.popErrorScope();
      throw new HeedError(op, `could not allocate ${bytes} bytes on the GPU (${e instanceof Error ? e.message : String(e)}).`);
    }
    void this.device.popErrorScope().then((err) => {
      if (err) this.failure ??= `${op}: the GPU ran out of memory allocating ${bytes} bytes (${err.message})`;
    });
    this.stats.created++;
    return buffer;
  }

  /** A storage buffer of at least `bytes`, from the pool when possible. */
  acquire(bytes: number, op: string): PooledBuffer {
    this.check(op);
    this.checkSize(bytes, op);
    const max = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    const cls = Math.min(sizeClass(bytes), Math.floor(max / 4) * 4);
    const free = this.pool.get(cls);
    if (free && free.length > 0) {
      this.stats.reused++;
      this.stats.live++;
      this.pooledBytes -= cls;
      return { buffer: free.pop() as GPUBuffer, cls };
    }
    const buffer = this.create(cls, op, false);
    this.stats.live++;
    return { buffer, cls };
  }

  /** A buffer holding `data` (pooled buffer + queue.writeBuffer, ordered before later dispatches). */
  upload(data: Uint32Array | Int32Array | Float32Array, op: string): PooledBuffer {
    const pooled = this.acquire(Math.max(4, data.byteLength), op);
    if (data.byteLength > 0) this.device.queue.writeBuffer(pooled.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return pooled;
  }

  /** Returns a buffer to the pool once every command that used it has been submitted. */
  release(pooled: PooledBuffer): void {
    this.stats.live--;
    if (this.encoder) this.pendingRelease.push(pooled);
    else this.toPool(pooled);
  }

  private toPool({ buffer, cls }: PooledBuffer): void {
    if (this.pooledBytes + cls > POOL_CAP_BYTES) { this.destroyBuffer(buffer); return; }
    let list = this.pool.get(cls);
    if (!list) this.pool.set(cls, (list = []));
    list.push(buffer);
    this.pooledBytes += cls;
  }

  /** Destroys a buffer and forgets the bind groups that name it. */
  private destroyBuffer(buffer: GPUBuffer): void {
    this.cache.forget(buffer);
    buffer.destroy();
  }

  /**
   * Records one dispatch. Binding 0 is the metadata slot holding `meta`; `buffers` follow from
   * binding 1 (the `writable` outputs first, read-write; the rest read-only). `grid` is checked
   * against maxComputeWorkgroupsPerDimension.
   * With `site`, the kernel checks its indices (index-errors.ts): it binds the error buffer
   * as group 1 and finds its dispatch tag in metadata word TAG_WORD.
   * Everything that can throw happens before the batch is touched, so a throw leaves it as it was.
   */
  dispatch(op: string, code: string, buffers: readonly GPUBuffer[], meta: Uint32Array, grid: readonly [number, number, number], site?: IndexSite, writable = 1): void {
    this.check(op);
    if (grid[0] * grid[1] * grid[2] === 0) return;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (grid.some((g) => g > max)) throw new HeedError(op, `workgroup grid [${grid.join(', ')}] exceeds this device's limit of ${max} per dimension.`);
    const words = site ? TAG_WORD : META_WORDS;
    if (meta.length > words) throw new HeedError(op, `needs ${meta.length} metadata words (at most ${words}).`);
    const pipeline = this.cache.pipeline(code, buffers.length, op, site !== undefined, writable);
    const group = this.cache.bindGroup(buffers, writable);
    const encoder = (this.encoder ??= this.device.createCommandEncoder());
    // One compute pass per batch: WebGPU orders the dispatches of a pass (storage writes are
    // visible to later dispatches), so nothing is lost by not ending the pass each time.
    const pass = (this.pass ??= encoder.beginComputePass());
    const slot = this.batched;
    const tag = this.stats.dispatches >>> 0;
    if (slot === 0) this.batchStart = tag;
    this.metaHost.set(meta, slot * META_WORDS);
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group, [slot * META_WORDS * 4]);
    if (site) {
      this.metaHost[slot * META_WORDS + TAG_WORD] = tag;
      this.indexChecks.watch(tag, site);
      pass.setBindGroup(1, this.indexChecks.group);
    }
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
    this.stats.dispatches++;
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  /** Ends the open compute pass (before copies, or the submit). */
  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** A 1-D or 2-D grid of `groups` workgroups within the per-dimension limit. */
  grid(groups: number, op: string): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, max);
    const y = Math.ceil(groups / Math.max(1, x));
    if (y > max) throw new HeedError(op, `${groups} workgroups exceed this device's dispatch limits (${max} per dimension).`);
    return [x, y, 1];
  }

  /**
   * Submits the batched commands, then recycles buffers released meanwhile. Device errors are
   * not thrown here (the backend's flush() raises them); see {@link Runtime.raisePending}.
   */
  flush(): void {
    this.submit();
  }

  /**
   * Submits the batch inside a validation error scope, with the copy-out of the index-error
   * words when the batch checks indices (into the end of `read`, the staging buffer of a
   * read, which is then mapped). The returned submission settles when both (and every earlier
   * submission) have come back; an invalid batch is reported once.
   */
  private submit(read: GPUBuffer | null = null): Submission | null {
    const encoder = this.encoder;
    if (!encoder) return null;
    const batched = this.batched;
    const first = this.batchStart;
    // The runtime starts a fresh batch whatever happens below.
    this.endPass();
    this.encoder = null;
    this.batched = 0;
    const released = this.pendingRelease;
    this.pendingRelease = [];
    const sub: Submission = { settled: Promise.resolve(), mapped: null, invalid: false };
    try {
      if (batched > 0) this.device.queue.writeBuffer(this.metaBuffer, 0, this.metaHost.buffer, 0, batched * META_WORDS * 4);
      const check = this.indexChecks.encode(encoder, read);
      this.device.pushErrorScope('validation');
      try {
        this.device.queue.submit([encoder.finish()]);
      } finally {
        const scope = this.device.popErrorScope().then((err) => {
          if (!err) return;
          sub.invalid = true;
          const what = batched > 0 ? `the batch of dispatches #${first}..#${first + batched - 1}` : 'a batch of copies';
          this.report({ op: 'submit', message: `${what} failed WebGPU validation (${err.message.split('\n').slice(0, 3).join(' ')}), so none of it ran; ` +
            'this is a bug in @heed/backend-webgpu. Later batches are not affected.' });
        }, () => undefined);
        // Mapping starts after the submit (a buffer pending a map cannot be used by one).
        const mapped = read ? read.mapAsync(MAP_MODE_READ) : null;
        const found = check ? check.collect(check.own ? check.staging.mapAsync(MAP_MODE_READ) : mapped ?? Promise.resolve()).then((e) => { if (e) this.report(e); }) : null;
        const settled = this.after(scope, found);
        Object.assign(sub, { settled, mapped });
        this.settled = settled;
      }
      this.stats.submits++;
    } finally {
      this.indexChecks.forgetBatch();
      for (const p of released) this.toPool(p);
    }
    return sub;
  }

  /** Copies `bytes` of `buffer` to a MAP_READ staging buffer and maps it (submits pending work first). */
  async readBytes(buffer: GPUBuffer, bytes: number, op: string): Promise<ArrayBuffer> {
    this.check(op);
    // Room for the index-error words after the data when this batch checks indices (8-aligned for getMappedRange).
    const size = Math.max(8, Math.ceil(bytes / 8) * 8);
    const staging = this.device.createBuffer({ size: size + (this.indexChecks.active ? ERROR_BYTES : 0), usage: MAP_READ | COPY_DST });
    this.encoder ??= this.device.createCommandEncoder();
    this.endPass();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, Math.max(4, Math.ceil(bytes / 4) * 4));
    const sub = this.submit(staging) as Submission;
    let onLost: ((info: GPUDeviceLostInfo) => void) | null = null;
    const lost = new Promise<never>((_, reject) => {
      onLost = (info) => reject(new HeedError(op, `the WebGPU device was lost during a read (${info.message || info.reason}).`));
      this.waitingReads.add(onLost);
    });
    try {
      await quietly(Promise.race([Promise.all([sub.mapped, sub.settled]), lost]), this.quietReads);
    } catch (e) {
      staging.destroy();
      this.check(op);
      throw e instanceof HeedError ? e : new HeedError(op, `reading from the GPU failed (${e instanceof Error ? e.message : String(e)}).`);
    } finally {
      if (onLost) this.waitingReads.delete(onLost);
    }
    this.check(op);
    // Device errors of this batch or earlier ones come first (once); an invalid batch never read anything.
    const err = this.takePending() ?? (sub.invalid ? new HeedError(op, 'the batch holding this read failed WebGPU validation ' +
      '(reported by an earlier read), so its values are not available; this is a bug in @heed/backend-webgpu.') : null);
    if (err) {
      staging.unmap();
      staging.destroy();
      throw err;
    }
    const copy = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  /** Submits pending work and destroys every pooled buffer. */
  destroy(): void {
    if (this.failure === null) this.flush();
    for (const list of this.pool.values()) for (const b of list) this.destroyBuffer(b);
    this.pool.clear();
    this.cache.clear();
    this.pooledBytes = 0;
    this.metaBuffer.destroy();
    this.indexChecks.destroy();
  }
}
