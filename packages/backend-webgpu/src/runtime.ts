// SPDX-License-Identifier: MIT
// The WebGPU runtime: a buffer pool by size class, a pipeline cache keyed by shader source, a
// bind-group cache, a metadata arena, and one command encoder (with one open compute pass)
// that batches dispatches until a read, flush() or the batch limit submits them.
// Binding convention of every kernel: 0 = metadata (read-only storage, bound at a dynamic
// offset), 1 = the output (read-write storage), 2.. = inputs (read-only storage). Pipelines use
// explicit layouts of that shape, so a bind group depends only on the buffers and is reused
// across dispatches and steps.
// Invariants: a freed buffer returns to the pool only after the submit that last used it
// (pending frees are released right after queue.submit); every dispatch of a batch gets its own
// 256-byte metadata slot, written with one queue.writeBuffer just before the submit; a cached
// bind group never outlives a buffer it names (destroying a buffer drops its bind groups); once
// the device is lost (or an allocation failed) every call throws a HeedError instead of hanging.
import { HeedError } from '@heed/core';

// WebGPU flag values (the GPUBufferUsage/GPUMapMode globals may not exist before Dawn loads).
const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
const MAP_MODE_READ = 0x1;
const USAGE = STORAGE | COPY_SRC | COPY_DST;
const COMPUTE_STAGE = 0x4;
/** Cached bind groups kept at most; beyond this the cache starts over. */
const BIND_GROUP_CACHE_MAX = 4096;
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
  private readonly pipelines = new Map<string, { pipeline: GPUComputePipeline; buffers: number }>();
  /** Explicit layouts by number of buffers after the metadata (see the file comment). */
  private readonly layouts = new Map<number, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Bind-group keys that name each buffer (by buffer id), to drop them when it is destroyed. */
  private readonly groupsOfBuffer = new Map<number, string[]>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private batched = 0;
  private readonly metaHost = new Uint32Array(MAX_BATCH * META_WORDS);
  private readonly metaBuffer: GPUBuffer;
  /** Buffers freed while unsubmitted commands may use them: pooled after the next submit. */
  private pendingRelease: PooledBuffer[] = [];
  private failure: string | null = null;
  /** Counters for tests and debugging. */
  readonly stats = { created: 0, reused: 0, submits: 0, dispatches: 0, pipelines: 0, bindGroups: 0 };
  readonly limits: GPUSupportedLimits;

  constructor(readonly device: GPUDevice, readonly debug: WebGPUDebug = {}) {
    this.limits = device.limits;
    if (device.limits.minStorageBufferOffsetAlignment > META_WORDS * 4) {
      throw new HeedError('createWebGPUBackend', `minStorageBufferOffsetAlignment ${device.limits.minStorageBufferOffsetAlignment} exceeds 256 bytes.`);
    }
    this.metaBuffer = device.createBuffer({ size: this.metaHost.byteLength, usage: STORAGE | COPY_DST });
    void device.lost.then((info) => { this.failure ??= `the WebGPU device was lost (${info.message || info.reason || 'unknown reason'})`; });
  }

  /** Throws a HeedError if the device is gone or an earlier allocation failed. */
  check(op: string): void {
    if (this.failure !== null) throw new HeedError(op, `${this.failure}; create a new backend (registerBackend + setBackend) to continue.`);
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
      this.pooledBytes -= cls;
      return { buffer: free.pop() as GPUBuffer, cls };
    }
    return { buffer: this.create(cls, op, false), cls };
  }

  /** A buffer holding `data` (pooled buffer + queue.writeBuffer, ordered before later dispatches). */
  upload(data: Uint32Array | Int32Array | Float32Array, op: string): PooledBuffer {
    const pooled = this.acquire(Math.max(4, data.byteLength), op);
    if (data.byteLength > 0) this.device.queue.writeBuffer(pooled.buffer, 0, data.buffer, data.byteOffset, data.byteLength);
    return pooled;
  }

  /** Returns a buffer to the pool once every command that used it has been submitted. */
  release(pooled: PooledBuffer): void {
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
    const id = this.bufferIds.get(buffer);
    if (id !== undefined) {
      for (const key of this.groupsOfBuffer.get(id) ?? []) this.bindGroups.delete(key);
      this.groupsOfBuffer.delete(id);
    }
    buffer.destroy();
  }

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  /** The explicit bind-group and pipeline layout for kernels with `buffers` buffers after the metadata. */
  private layout(buffers: number): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    let l = this.layouts.get(buffers);
    if (!l) {
      const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'read-only-storage', hasDynamicOffset: true } }];
      for (let k = 1; k <= buffers; k++) entries.push({ binding: k, visibility: COMPUTE_STAGE, buffer: { type: k === 1 ? 'storage' : 'read-only-storage' } });
      const group = this.device.createBindGroupLayout({ entries });
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: [group] }) };
      this.layouts.set(buffers, l);
    }
    return l;
  }

  /** The compute pipeline of `code` (entry point `main`, `buffers` buffers after the metadata), compiled once. */
  pipeline(code: string, buffers: number): GPUComputePipeline {
    // Memoised sources (kernel-cache.ts) are the same string object each time: hashed once.
    let p = this.pipelines.get(code);
    if (!p) {
      if (this.debug.printShaders) console.log(`[heed webgpu] compiling shader:\n${code}`);
      this.device.pushErrorScope('validation');
      const module = this.device.createShaderModule({ code });
      const pipeline = this.device.createComputePipeline({ layout: this.layout(buffers).pipeline, compute: { module, entryPoint: 'main' } });
      void this.device.popErrorScope().then((err) => {
        if (err) this.failure ??= `a WebGPU kernel failed to compile (${err.message.split('\n').slice(0, 3).join(' ')}); this is a bug in @heed/backend-webgpu`;
      });
      p = { pipeline, buffers };
      this.pipelines.set(code, p);
      this.stats.pipelines++;
    }
    if (p.buffers !== buffers) throw new HeedError('dispatch', `a kernel compiled for ${p.buffers} buffers was given ${buffers}; this is a bug in @heed/backend-webgpu.`);
    return p.pipeline;
  }

  /** The bind group of (metadata, `buffers`), created once per buffer combination. */
  private bindGroup(buffers: readonly GPUBuffer[]): GPUBindGroup {
    const ids = buffers.map((b) => this.bufferId(b));
    const key = ids.join(',');
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size >= BIND_GROUP_CACHE_MAX) { this.bindGroups.clear(); this.groupsOfBuffer.clear(); }
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.metaBuffer, offset: 0, size: META_WORDS * 4 } }];
      buffers.forEach((buffer, k) => entries.push({ binding: k + 1, resource: { buffer } }));
      group = this.device.createBindGroup({ layout: this.layout(buffers.length).group, entries });
      this.bindGroups.set(key, group);
      for (const id of new Set(ids)) {
        const keys = this.groupsOfBuffer.get(id);
        if (keys) keys.push(key);
        else this.groupsOfBuffer.set(id, [key]);
      }
      this.stats.bindGroups++;
    }
    return group;
  }

  /**
   * Records one dispatch. Binding 0 is the metadata slot holding `meta`; `buffers` follow from
   * binding 1 (the output first). `grid` is checked against maxComputeWorkgroupsPerDimension.
   */
  dispatch(op: string, code: string, buffers: readonly GPUBuffer[], meta: Uint32Array, grid: readonly [number, number, number]): void {
    this.check(op);
    if (grid[0] * grid[1] * grid[2] === 0) return;
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (grid.some((g) => g > max)) throw new HeedError(op, `workgroup grid [${grid.join(', ')}] exceeds this device's limit of ${max} per dimension.`);
    if (meta.length > META_WORDS) throw new HeedError(op, `needs ${meta.length} metadata words (at most ${META_WORDS}).`);
    const pipeline = this.pipeline(code, buffers.length);
    const slot = this.batched;
    this.metaHost.set(meta, slot * META_WORDS);
    const group = this.bindGroup(buffers);
    this.encoder ??= this.device.createCommandEncoder();
    // One compute pass per batch: WebGPU orders the dispatches of a pass (storage writes are
    // visible to later dispatches), so nothing is lost by not ending the pass each time.
    this.pass ??= this.encoder.beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, group, [slot * META_WORDS * 4]);
    this.pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);
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

  /** Submits the batched commands, then recycles buffers released meanwhile. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    if (this.batched > 0) this.device.queue.writeBuffer(this.metaBuffer, 0, this.metaHost.buffer, 0, this.batched * META_WORDS * 4);
    this.device.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.encoder = null;
    this.batched = 0;
    const released = this.pendingRelease;
    this.pendingRelease = [];
    for (const p of released) this.toPool(p);
  }

  /** Copies `bytes` of `buffer` to a MAP_READ staging buffer and maps it (submits pending work first). */
  async readBytes(buffer: GPUBuffer, bytes: number, op: string): Promise<ArrayBuffer> {
    this.check(op);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
    this.encoder ??= this.device.createCommandEncoder();
    this.endPass();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.flush();
    const lost = this.device.lost.then((info) => { throw new HeedError(op, `the WebGPU device was lost during a read (${info.message || info.reason}).`); });
    try {
      await Promise.race([staging.mapAsync(MAP_MODE_READ), lost]);
    } catch (e) {
      this.check(op);
      throw e instanceof HeedError ? e : new HeedError(op, `reading from the GPU failed (${e instanceof Error ? e.message : String(e)}).`);
    }
    this.check(op);
    const copy = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  /** Submits pending work and destroys every pooled buffer. */
  destroy(): void {
    if (this.failure === null) this.flush();
    for (const list of this.pool.values()) for (const b of list) this.destroyBuffer(b);
    this.pool.clear();
    this.bindGroups.clear();
    this.groupsOfBuffer.clear();
    this.pooledBytes = 0;
    this.metaBuffer.destroy();
  }
}
