// SPDX-License-Identifier: MIT
// The WebGPU runtime: buffer pool by size class (buffers return to the pool only after the
// submit that last used them), pipeline cache keyed by shader source, and a command encoder
// that batches many dispatches until a read or flush submits them.
// Invariant: once the device is lost, every call throws a HeedError instead of hanging.
import { HeedError } from '@heed/core';

// WebGPU flag values (the GPUBufferUsage/GPUMapMode globals may not exist before Dawn loads).
const STORAGE = 0x80;
const COPY_SRC = 0x4;
const COPY_DST = 0x8;
const MAP_READ = 0x1;
const MAP_MODE_READ = 0x1;
const USAGE = STORAGE | COPY_SRC | COPY_DST;
/** Dispatches recorded before an automatic submit. */
const MAX_BATCH = 64;

/**
 * Debug switches of the WebGPU backend.
 *
 * @example
 * ```ts
 * await createWebGPUBackend({ debug: { printShaders: true, forceMatmulVariant: 'naive' } });
 * ```
 */
export interface WebGPUDebug {
  /** Log each shader when its pipeline is first compiled. */
  printShaders?: boolean;
  /** Force a matmul variant ('naive' or 'tiled') instead of the heuristic's choice. */
  forceMatmulVariant?: 'naive' | 'tiled';
}

/** Rounds a byte size up to its pool size class (powers of two, with quarter steps above 4 KiB). */
export function sizeClass(bytes: number): number {
  const b = Math.max(16, Math.ceil(bytes / 4) * 4);
  if (b <= 4096) return 2 ** Math.ceil(Math.log2(b));
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

/** Owns the device, pool, pipelines and the current command batch. */
export class Runtime {
  private readonly pool = new Map<number, GPUBuffer[]>();
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private batched = 0;
  /** Buffers released while their commands are unsubmitted: pooled after the next submit. */
  private pendingRelease: { buffer: GPUBuffer; cls: number }[] = [];
  /** Per-dispatch metadata buffers, destroyed after the next submit. */
  private transients: GPUBuffer[] = [];
  lostReason: string | null = null;
  /** Counters for tests and debugging. */
  readonly stats = { created: 0, reused: 0, submits: 0, dispatches: 0 };

  constructor(readonly device: GPUDevice, readonly debug: WebGPUDebug = {}) {
    void device.lost.then((info) => { this.lostReason = info.message || info.reason || 'unknown'; });
  }

  /** Throws if the device is gone. */
  check(op: string): void {
    if (this.lostReason !== null) {
      throw new HeedError(op, `the WebGPU device was lost (${this.lostReason}); create a new backend (registerBackend + setBackend) to continue.`);
    }
  }

  /** A storage buffer of at least `bytes`, from the pool when possible. */
  acquire(bytes: number, op: string): { buffer: GPUBuffer; cls: number } {
    this.check(op);
    const cls = sizeClass(bytes);
    const max = this.device.limits.maxStorageBufferBindingSize;
    if (cls > max) {
      throw new HeedError(op, `needs a ${bytes}-byte buffer but this device binds at most ${max} bytes per storage buffer; split the tensor.`);
    }
    const free = this.pool.get(cls);
    if (free && free.length > 0) {
      this.stats.reused++;
      return { buffer: free.pop() as GPUBuffer, cls };
    }
    this.stats.created++;
    return { buffer: this.device.createBuffer({ size: cls, usage: USAGE }), cls };
  }

  /** Returns a buffer to the pool once every command using it has been submitted. */
  release(buffer: GPUBuffer, cls: number): void {
    if (this.encoder) this.pendingRelease.push({ buffer, cls });
    else this.toPool(buffer, cls);
  }

  private toPool(buffer: GPUBuffer, cls: number): void {
    let list = this.pool.get(cls);
    if (!list) this.pool.set(cls, (list = []));
    list.push(buffer);
  }

  /** The compute pipeline for `code`, compiled once. */
  pipeline(code: string): GPUComputePipeline {
    let p = this.pipelines.get(code);
    if (!p) {
      if (this.debug.printShaders) console.log(`[heed webgpu] compiling shader:\n${code}`);
      const module = this.device.createShaderModule({ code });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(code, p);
    }
    return p;
  }

  /** Records one dispatch of `code` over `threads` invocations (64 per workgroup, 2-D when large). */
  dispatch(code: string, buffers: GPUBuffer[], threads: number, op: string): void {
    this.check(op);
    if (threads === 0) return;
    const pipeline = this.pipeline(code);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    const groups = Math.ceil(threads / 64);
    const maxX = this.device.limits.maxComputeWorkgroupsPerDimension;
    const x = Math.min(groups, maxX);
    const y = Math.ceil(groups / x);
    if (y > maxX) throw new HeedError(op, `${threads} threads exceed this device's dispatch limits.`);
    this.encoder ??= this.device.createCommandEncoder();
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(x, y);
    pass.end();
    this.stats.dispatches++;
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  /** Records one dispatch with an explicit workgroup grid (for kernels with 2-D/3-D workgroups). */
  dispatchGrid(code: string, buffers: GPUBuffer[], grid: [number, number, number], op: string): void {
    this.check(op);
    const max = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (grid.some((g) => g > max)) throw new HeedError(op, `workgroup grid [${grid.join(', ')}] exceeds this device's limit of ${max} per dimension.`);
    const pipeline = this.pipeline(code);
    const bindGroup = this.device.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
    });
    this.encoder ??= this.device.createCommandEncoder();
    const pass = this.encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(...grid);
    pass.end();
    this.stats.dispatches++;
    if (++this.batched >= MAX_BATCH) this.flush();
  }

  /** Submits the batched commands and recycles buffers released meanwhile. */
  flush(): void {
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.stats.submits++;
    this.encoder = null;
    this.batched = 0;
    for (const { buffer, cls } of this.pendingRelease) this.toPool(buffer, cls);
    this.pendingRelease = [];
    for (const b of this.transients) b.destroy();
    this.transients = [];
  }

  /** Copies `bytes` of `buffer` to a staging buffer and maps it (submits pending work first). */
  async readBytes(buffer: GPUBuffer, bytes: number, op: string): Promise<ArrayBuffer> {
    this.check(op);
    const size = Math.max(4, Math.ceil(bytes / 4) * 4);
    const staging = this.device.createBuffer({ size, usage: MAP_READ | COPY_DST });
    this.encoder ??= this.device.createCommandEncoder();
    this.encoder.copyBufferToBuffer(buffer, 0, staging, 0, size);
    this.flush();
    const lost = this.device.lost.then((info) => { throw new HeedError(op, `the WebGPU device was lost during a read (${info.message || info.reason}).`); });
    await Promise.race([staging.mapAsync(MAP_MODE_READ), lost]);
    const copy = staging.getMappedRange().slice(0, bytes);
    staging.unmap();
    staging.destroy();
    return copy;
  }

  /** A new buffer holding `data` (mapped at creation, so no submit is needed). */
  createWith(data: Uint32Array | Int32Array | Float32Array, op: string, transient: boolean): { buffer: GPUBuffer; cls: number } {
    this.check(op);
    const cls = sizeClass(data.byteLength);
    const buffer = this.device.createBuffer({ size: cls, usage: USAGE, mappedAtCreation: true });
    new Uint8Array(buffer.getMappedRange(0, data.byteLength)).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    buffer.unmap();
    if (transient) this.transients.push(buffer);
    else this.stats.created++;
    return { buffer, cls };
  }

  /** Frees everything. */
  destroy(): void {
    this.flush();
    for (const list of this.pool.values()) for (const b of list) b.destroy();
    this.pool.clear();
  }
}
