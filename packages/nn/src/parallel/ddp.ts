// SPDX-License-Identifier: MIT
// DistributedDataParallel (PyTorch's name and behaviour): broadcasts rank 0's parameters and
// buffers at creation, buckets the parameters (reverse registration order, bucketCapMb) and
// starts each bucket's all-reduce from the post-accumulate-grad hooks as soon as all of its
// gradients are final during the (synchronous) backward; `finishGradSync()` awaits them.
// Invariants: buckets are launched strictly in bucket order on every rank (the collectives
// match across ranks); hooks never throw into backward except for the "gradient ready twice"
// misuse; after finishGradSync every rank holds bitwise identical gradients.
import { DTYPE_INFO, HeedError, noGrad, zerosLike, type RemovableHandle, type Tensor } from '@heed/core';
import type { Module, StateDict, LoadStateDictOptions, LoadStateDictResult } from '../module.js';
import type { GradReduceOp, ProcessGroupLike } from './group-like.js';

/**
 * Options of {@link DistributedDataParallel.create}.
 *
 * @example
 * ```ts
 * const o: DistributedDataParallelOptions = { bucketCapMb: 25, reduceOp: 'mean', findUnusedParameters: false };
 * ```
 */
export interface DistributedDataParallelOptions {
  /** Maximum bucket size in MiB (default 25, like PyTorch); a parameter larger than that gets its own bucket. */
  bucketCapMb?: number;
  /**
   * `'mean'` (default): gradients are averaged over ranks, right when every rank's loss is a
   * mean over equally many samples. `'sum'`: summed, for a loss you scale yourself, e.g. a sum
   * over this rank's tokens divided by the all-reduced global token count (exact for uneven shards).
   */
  reduceOp?: GradReduceOp;
  /**
   * Allow parameters that get no gradient in a backward (a branch not taken on this rank):
   * they contribute zeros to the reduction. Without it, `finishGradSync()` throws naming them.
   */
  findUnusedParameters?: boolean;
  /** Broadcast rank 0's parameters and buffers at creation (default true). */
  broadcastAtStart?: boolean;
}

interface Bucket {
  readonly params: Tensor[];
  readonly names: string[];
  ready: number;
  launched: Promise<void> | null;
}

/**
 * Data-parallel training over the ranks of a process group, like PyTorch's
 * `DistributedDataParallel`. Every rank runs the same model on its own shard of the batch.
 *
 * Heed's `backward()` is synchronous and collectives are asynchronous, so the protocol per
 * step is: `loss.backward()` (each bucket's all-reduce starts inside it, from the parameters'
 * post-accumulate-grad hooks, as soon as the bucket's gradients are final), then
 * `await ddp.finishGradSync()` (launches what is left, awaits everything; afterwards the
 * gradients are reduced and identical on every rank, so `clipGradNorm` and the optimizer give
 * the same result everywhere), then the optimizer step. `await ddp.step(optimizer)` does the
 * last two. Use {@link DistributedDataParallel.noSync} for gradient accumulation. JavaScript
 * runs `backward()` to completion on its thread, so what overlaps with the rest of backward is
 * only work a transport does off this thread; a transport that reads and exchanges on this
 * thread (the threads transport) makes its progress once backward has returned. The launch
 * order and bucket boundaries are PyTorch's either way.
 *
 * Unlike PyTorch, `stateDict()` has no `module.` prefix: it is the wrapped module's, so a
 * checkpoint written by a data-parallel run loads into a plain model and back (PyTorch users
 * strip `module.` by hand). Call the model's own methods on {@link DistributedDataParallel.module}.
 *
 * @example
 * ```ts
 * const ddp = await DistributedDataParallel.create(model, group);
 * const loss = ddp.module.loss(src, tgt); // this rank's shard
 * loss.backward();
 * await ddp.finishGradSync();
 * clipGradNorm(model, 1);
 * optimizer.step();
 * optimizer.zeroGrad();
 * ```
 */
export class DistributedDataParallel<M extends Module = Module> {
  /** The wrapped model: call its own methods (`forward`, `loss`, ...) on it. */
  readonly module: M;
  /** The process group the gradients are reduced over. */
  readonly group: ProcessGroupLike;
  /** The bucket layout: parameter names per bucket, in launch order (reverse registration order). */
  readonly buckets: readonly (readonly string[])[];
  private readonly plan: Bucket[];
  private readonly where = new Map<Tensor, { bucket: Bucket; name: string }>();
  private readonly ready = new Set<Tensor>();
  private readonly handles: RemovableHandle[] = [];
  private nextLaunch = 0;
  private syncEnabled = true;
  private readonly reduceOp: GradReduceOp;
  private readonly findUnused: boolean;

  private constructor(module: M, group: ProcessGroupLike, options: DistributedDataParallelOptions) {
    const op = 'DistributedDataParallel';
    this.module = module;
    this.group = group;
    const cap = options.bucketCapMb ?? 25;
    if (!(typeof cap === 'number' && cap > 0)) throw new HeedError(op, `bucketCapMb must be a number > 0, got ${String(cap)}.`);
    this.reduceOp = options.reduceOp ?? 'mean';
    if (this.reduceOp !== 'mean' && this.reduceOp !== 'sum') {
      throw new HeedError(op, `reduceOp must be 'mean' or 'sum', got ${String(this.reduceOp)}.`);
    }
    this.findUnused = options.findUnusedParameters ?? false;
    const seen = new Set<Tensor>();
    const named = module.namedParameters().filter(([, p]) => p.requiresGrad && !seen.has(p) && (seen.add(p), true));
    const capBytes = cap * 2 ** 20;
    this.plan = [];
    let cur: Bucket | null = null;
    let bytes = 0;
    for (const [name, p] of named.reverse()) {
      const size = p.size * DTYPE_INFO[p.dtype].bytesPerElement;
      if (!cur || (bytes > 0 && bytes + size > capBytes)) {
        cur = { params: [], names: [], ready: 0, launched: null };
        this.plan.push(cur);
        bytes = 0;
      }
      cur.params.push(p);
      cur.names.push(name);
      bytes += size;
      this.where.set(p, { bucket: cur, name });
    }
    this.buckets = this.plan.map((b) => [...b.names]);
    for (const [, p] of named) this.handles.push(p.registerPostAccumulateGradHook((t) => this.onGradReady(t)));
  }

  /**
   * Wraps `module` for data-parallel training over `group` and (by default) broadcasts rank 0's
   * parameters and buffers to every rank, so all ranks start from the same weights. Every rank
   * must call it with the same architecture.
   *
   * @example
   * ```ts
   * const ddp = await DistributedDataParallel.create(model, group, { reduceOp: 'sum' });
   * ```
   */
  static async create<M extends Module>(module: M, group: ProcessGroupLike, options: DistributedDataParallelOptions = {}): Promise<DistributedDataParallel<M>> {
    const ddp = new DistributedDataParallel(module, group, options);
    if (options.broadcastAtStart ?? true) {
      const state = [...module.parameters(), ...module.buffers()];
      await group.broadcast([...new Set(state)], { src: 0 });
    }
    return ddp;
  }

  /** This rank. @example `if (ddp.rank === 0) await save(ddp.stateDict());` */
  get rank(): number {
    return this.group.rank;
  }

  /** Number of ranks. @example `const perRank = globalBatch / ddp.worldSize;` */
  get worldSize(): number {
    return this.group.worldSize;
  }

  private onGradReady(p: Tensor): void {
    if (!this.syncEnabled) return;
    const entry = this.where.get(p);
    if (!entry) return;
    if (this.ready.has(p)) {
      throw new HeedError('DistributedDataParallel', `the gradient of parameter '${entry.name}' became ready twice before ` +
        'finishGradSync(): call `await ddp.finishGradSync()` after every backward, or accumulate inside `ddp.noSync(...)`.');
    }
    this.ready.add(p);
    entry.bucket.ready++;
    this.launchReady();
  }

  /** Launches the ready buckets in bucket order (the same order on every rank). */
  private launchReady(): void {
    while (this.nextLaunch < this.plan.length) {
      const b = this.plan[this.nextLaunch];
      if (b.ready < b.params.length) return;
      const grads = b.params.map((p) => p.grad as Tensor);
      b.launched = this.group.allReduce(grads, { op: this.reduceOp });
      b.launched.catch(() => {}); // observed by finishGradSync; never an unhandled rejection
      this.nextLaunch++;
    }
  }

  /**
   * Waits until every bucket's all-reduce is done (launching the ones still pending), so each
   * parameter's `.grad` holds the reduction over all ranks. Call after `backward()` and before
   * clipping / the optimizer step, on every rank. With `findUnusedParameters`, parameters that
   * got no gradient contribute zeros; without it, they make this throw a HeedError naming them.
   * Nothing happens if no gradient became ready since the last call (e.g. only `noSync` steps).
   *
   * @example
   * ```ts
   * loss.backward();
   * await ddp.finishGradSync();
   * ```
   */
  async finishGradSync(): Promise<void> {
    if (this.ready.size === 0 && this.nextLaunch === 0) return;
    const missing = this.plan.flatMap((b) => b.params.filter((p) => !this.ready.has(p)));
    if (missing.length > 0 && !this.findUnused) {
      const names = missing.map((p) => `'${this.where.get(p)?.name}'`);
      this.reset();
      throw new HeedError('DistributedDataParallel.finishGradSync', `rank ${this.rank}: ${missing.length} parameter(s) got no gradient ` +
        `in this backward (${names.slice(0, 8).join(', ')}${names.length > 8 ? ', ...' : ''}); every rank must reduce every ` +
        'parameter. Pass { findUnusedParameters: true } if parts of the model are not used in every step, or freeze them.');
    }
    for (const p of missing) {
      if (!p.grad) p.grad = noGrad(() => zerosLike(p));
      this.ready.add(p);
      (this.where.get(p) as { bucket: Bucket }).bucket.ready++;
    }
    this.launchReady();
    try {
      for (const b of this.plan) await b.launched;
    } finally {
      this.reset();
    }
  }

  private reset(): void {
    this.ready.clear();
    this.nextLaunch = 0;
    for (const b of this.plan) {
      b.ready = 0;
      b.launched = null;
    }
  }

  /**
   * `finishGradSync()` then `optimizer.step()`: the usual end of a data-parallel step.
   *
   * @example
   * ```ts
   * loss.backward();
   * await ddp.step(optimizer);
   * optimizer.zeroGrad();
   * ```
   */
  async step(optimizer: { step(): void }): Promise<void> {
    await this.finishGradSync();
    optimizer.step();
  }

  /**
   * Runs `fn` (sync or async) with gradient synchronisation off: backward calls inside only
   * accumulate into `.grad` locally. The first backward after it (outside) reduces the
   * accumulated gradients — PyTorch's `no_sync()` for gradient accumulation.
   *
   * @example
   * ```ts
   * ddp.noSync(() => ddp.module.loss(a, b).backward()); // micro-batch 1: local only
   * ddp.module.loss(c, d).backward();                    // micro-batch 2: reduces 1 + 2
   * await ddp.finishGradSync();
   * ```
   */
  noSync<T>(fn: () => T): T {
    const before = this.syncEnabled;
    this.syncEnabled = false;
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.syncEnabled = before;
      throw e;
    }
    if (result instanceof Promise) {
      return result.finally(() => { this.syncEnabled = before; }) as T;
    }
    this.syncEnabled = before;
    return result;
  }

  /** The wrapped module's parameters. @example `new Adam(ddp.parameters(), { lr: 1e-3 });` */
  parameters(): Tensor[] {
    return this.module.parameters();
  }

  /** The wrapped module's state dict (no `module.` prefix). @example `if (ddp.rank === 0) await saveSafetensors(path, ddp.stateDict());` */
  stateDict(): Map<string, Tensor> {
    return this.module.stateDict();
  }

  /** Loads into the wrapped module (keys without a `module.` prefix). @example `ddp.loadStateDict(await loadSafetensors(path));` */
  loadStateDict(dict: StateDict, options?: LoadStateDictOptions): LoadStateDictResult {
    return this.module.loadStateDict(dict, options);
  }

  /**
   * Removes the gradient hooks (the module trains on its own again). The module is not disposed.
   *
   * @example
   * ```ts
   * ddp.dispose();
   * ```
   */
  dispose(): void {
    for (const h of this.handles) h.remove();
    this.handles.length = 0;
    this.reset();
  }
}
