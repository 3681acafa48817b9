// SPDX-License-Identifier: MIT
// The runtime's caches of GPU objects: compute pipelines keyed by shader source, the explicit
// layouts they share (one per buffer count, with or without the index-error group), and bind
// groups keyed by their buffers. Binding convention: 0 = metadata (read-only storage at a
// dynamic offset), 1 = the output (read-write), 2.. = inputs (read-only); checked kernels
// also bind the index-error buffer as group 1 (index-errors.ts).
// Invariants: nothing invalid stays cached. A pipeline whose shader fails to compile and a bind
// group that fails validation leave their cache when the error scope comes back (the compile
// error is reported once to the next read or flush), so a bad kernel cannot poison later
// batches; a cached bind group never outlives a buffer it names (see `forget`).
import { HeedError } from '@heed/core';
import type { DeviceError } from './index-errors.js';

const COMPUTE_STAGE = 0x4;
/** Cached bind groups kept at most; beyond this the cache starts over. */
const BIND_GROUP_CACHE_MAX = 4096;

/**
 * What the cache needs from the runtime.
 *
 * @example
 * ```ts
 * const hooks: CacheHooks = { report: (e) => pending.push(e), track: (p) => { settled = Promise.all([settled, p]); } };
 * ```
 */
export interface CacheHooks {
  /** Keeps a device error for the next read or flush. */
  readonly report: (err: DeviceError) => void;
  /** Makes later submissions settle only after `scope` (so a read sees a compile error first). */
  readonly track: (scope: Promise<unknown>) => void;
}

interface Compiled {
  readonly pipeline: GPUComputePipeline;
  readonly buffers: number;
  readonly checked: boolean;
}

/**
 * Pipelines, layouts and bind groups of one device.
 *
 * @example
 * ```ts
 * const cache = new PipelineCache(device, { buffer: metaBuffer, bytes: 256 }, checks.layout, hooks, stats);
 * pass.setPipeline(cache.pipeline(code, 2, 'exp', false));
 * pass.setBindGroup(0, cache.bindGroup([out, x]), [slotOffset]);
 * ```
 */
export class PipelineCache {
  private readonly pipelines = new Map<string, Compiled>();
  private readonly layouts = new Map<string, { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout }>();
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  /** Bind-group keys that name each buffer (by buffer id), to drop them when it is destroyed. */
  private readonly groupsOfBuffer = new Map<number, string[]>();
  private readonly bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;

  constructor(
    private readonly device: GPUDevice,
    private readonly meta: { readonly buffer: GPUBuffer; readonly bytes: number },
    private readonly errorLayout: GPUBindGroupLayout,
    private readonly hooks: CacheHooks,
    private readonly stats: { pipelines: number; bindGroups: number },
    private readonly printShaders = false,
  ) {}

  /** The layouts for kernels with `buffers` buffers after the metadata, the first `writable` of them read-write (`checked`: plus group 1). */
  private layout(buffers: number, checked: boolean, writable = 1): { group: GPUBindGroupLayout; pipeline: GPUPipelineLayout } {
    const key = `${buffers}${checked ? 'c' : ''}w${writable}`;
    let l = this.layouts.get(key);
    if (!l) {
      let group: GPUBindGroupLayout;
      if (checked) group = this.layout(buffers, false, writable).group;
      else {
        const entries: GPUBindGroupLayoutEntry[] = [{ binding: 0, visibility: COMPUTE_STAGE, buffer: { type: 'read-only-storage', hasDynamicOffset: true } }];
        for (let k = 1; k <= buffers; k++) entries.push({ binding: k, visibility: COMPUTE_STAGE, buffer: { type: k <= writable ? 'storage' : 'read-only-storage' } });
        group = this.device.createBindGroupLayout({ entries });
      }
      l = { group, pipeline: this.device.createPipelineLayout({ bindGroupLayouts: checked ? [group, this.errorLayout] : [group] }) };
      this.layouts.set(key, l);
    }
    return l;
  }

  /**
   * The compute pipeline of `code` (entry point `main`), compiled once. Generated code that
   * interpolated `undefined` or `NaN` (outside comments) is refused before compiling; a
   * compile error is reported once and evicts the pipeline.
   */
  pipeline(code: string, buffers: number, op: string, checked: boolean, writable = 1): GPUComputePipeline {
    // Memoised sources (kernel-cache.ts) are the same string object each time: hashed once.
    let p = this.pipelines.get(code);
    if (!p) {
      const junk = /\b(undefined|NaN)\b/.exec(code.replace(/\/\/.*$/gm, ''));
      if (junk) {
        throw new HeedError(op, `generated WGSL contains '${junk[1]}' (an argument the kernel generator does not know reached it); ` +
          'this is a bug in @heed/backend-webgpu, or a backend primitive was called with an invalid argument.');
      }
      if (this.printShaders) console.log(`[heed webgpu] compiling shader:\n${code}`);
      const layout = this.layout(buffers, checked, writable).pipeline;
      let made: Compiled | null = null;
      this.device.pushErrorScope('validation');
      try {
        const module = this.device.createShaderModule({ code });
        made = { pipeline: this.device.createComputePipeline({ layout, compute: { module, entryPoint: 'main' } }), buffers, checked };
      } finally {
        // Popped even when a call above threw, so error scopes stay balanced.
        this.hooks.track(this.device.popErrorScope().then((err) => {
          if (!err) return;
          if (made && this.pipelines.get(code) === made) this.pipelines.delete(code);
          this.hooks.report({ op, message: `a WebGPU kernel failed to compile (${err.message.split('\n').slice(0, 3).join(' ')}); ` +
            'this is a bug in @heed/backend-webgpu. The results of the batch that used it are invalid; the backend keeps working.' });
        }, () => undefined));
      }
      p = made;
      this.pipelines.set(code, p);
      this.stats.pipelines++;
    }
    if (p.buffers !== buffers || p.checked !== checked) {
      const what = (n: number, c: boolean) => `${n} buffers${c ? ' with index checks' : ''}`;
      throw new HeedError(op, `a kernel compiled for ${what(p.buffers, p.checked)} was given ${what(buffers, checked)}; this is a bug in @heed/backend-webgpu.`);
    }
    return p.pipeline;
  }

  /** The bind group of (metadata, `buffers`, the first `writable` read-write), created once per buffer combination (an invalid one is not kept). */
  bindGroup(buffers: readonly GPUBuffer[], writable = 1): GPUBindGroup {
    const ids = buffers.map((b) => this.bufferId(b));
    const key = writable === 1 ? ids.join(',') : `w${writable}:${ids.join(',')}`;
    let group = this.bindGroups.get(key);
    if (!group) {
      if (this.bindGroups.size >= BIND_GROUP_CACHE_MAX) { this.bindGroups.clear(); this.groupsOfBuffer.clear(); }
      const entries: GPUBindGroupEntry[] = [{ binding: 0, resource: { buffer: this.meta.buffer, offset: 0, size: this.meta.bytes } }];
      buffers.forEach((buffer, k) => entries.push({ binding: k + 1, resource: { buffer } }));
      const layout = this.layout(buffers.length, false, writable).group;
      let made: GPUBindGroup | null = null;
      this.device.pushErrorScope('validation');
      try {
        made = this.device.createBindGroup({ layout, entries });
      } finally {
        void this.device.popErrorScope().then((err) => { if (err && made && this.bindGroups.get(key) === made) this.bindGroups.delete(key); }, () => undefined);
      }
      group = made;
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

  private bufferId(buffer: GPUBuffer): number {
    let id = this.bufferIds.get(buffer);
    if (id === undefined) this.bufferIds.set(buffer, (id = this.nextBufferId++));
    return id;
  }

  /** Forgets the bind groups that name `buffer` (before it is destroyed). */
  forget(buffer: GPUBuffer): void {
    const id = this.bufferIds.get(buffer);
    if (id === undefined) return;
    for (const key of this.groupsOfBuffer.get(id) ?? []) this.bindGroups.delete(key);
    this.groupsOfBuffer.delete(id);
  }

  /** Drops every bind group (the runtime is being destroyed). */
  clear(): void {
    this.bindGroups.clear();
    this.groupsOfBuffer.clear();
  }
}
