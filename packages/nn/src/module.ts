// SPDX-License-Identifier: MIT
// The Module base class. Parameters, buffers and submodules are found by reflection over a
// module's own enumerable properties: a Tensor marked with `parameter()` is a parameter, one
// marked with `buffer()` a buffer, a Module value a child. State-dict keys are PyTorch's:
// dotted paths whose components are the property names in snake_case (`selfAttn` ->
// `self_attn`), overridable per module with `stateKey()`.
// Invariants: parameters are live float32 leaf tensors with requiresGrad, kept out of every
// scope (a module built inside `tidy` keeps its weights); traversal order is PyTorch's
// (own parameters, then own buffers, then children, depth first); a tensor shared by two
// modules (tied weights) is listed once by `parameters()` but under every key by `stateDict()`;
// `loadStateDict` validates everything before it changes anything.
import { HeedError, Tensor, fmtShape, keep, noGrad } from '@heed/core';

/** What a tensor property of a module is. */
type TensorRole = 'parameter' | 'buffer' | 'transientBuffer';

const roles = new WeakMap<Tensor, TensorRole>();

/**
 * Marks `t` as a trainable parameter: makes it require gradients and keeps it out of every
 * scope. Assign the result to a module property and reflection finds it. Returns `t`.
 *
 * @example
 * ```ts
 * class Scale extends Module {
 *   gain = parameter(ones([4]));
 *   forward(x: Tensor): Tensor { return x.mul(this.gain); }
 * }
 * ```
 */
export function parameter(t: Tensor): Tensor {
  t.assertLive('parameter');
  if (!t.isLeaf) {
    throw new HeedError('parameter', `tensor ${fmtShape(t.shape)} was computed by an op (not a leaf); ` +
      'create parameters under noGrad(), or pass x.detach().');
  }
  if (t.dtype !== 'float32') throw new HeedError('parameter', `parameters must be float32, got ${t.dtype} ${fmtShape(t.shape)}.`);
  if (!t.requiresGrad) t.requiresGrad_();
  roles.set(t, 'parameter');
  return keep(t);
}

/**
 * Options for {@link buffer}.
 *
 * @example `const opts: BufferOptions = { persistent: false };`
 */
export interface BufferOptions {
  /** Whether the buffer is part of the state dict (default true, like PyTorch). */
  persistent?: boolean;
}

/**
 * Marks `t` as a buffer: module state that is not trained (running statistics, position
 * tables). Kept out of every scope. Non-persistent buffers are not in the state dict.
 *
 * @example
 * ```ts
 * class Table extends Module {
 *   pe = buffer(zeros([16, 8]), { persistent: false });
 * }
 * ```
 */
export function buffer(t: Tensor, options: BufferOptions = {}): Tensor {
  t.assertLive('buffer');
  roles.set(t, options.persistent === false ? 'transientBuffer' : 'buffer');
  return keep(t);
}

/**
 * Whether `t` was marked with {@link parameter}.
 *
 * @example `isParameter(new Linear(2, 2).weight); // true`
 */
export function isParameter(t: Tensor): boolean {
  return roles.get(t) === 'parameter';
}

/**
 * Whether `t` was marked with {@link buffer} (persistent or not).
 *
 * @example `isBuffer(new SinusoidalPositionalEncoding(8).pe); // true`
 */
export function isBuffer(t: Tensor): boolean {
  const r = roles.get(t);
  return r === 'buffer' || r === 'transientBuffer';
}

/**
 * Converts a camelCase property name to PyTorch's snake_case (`inProjWeight` -> `in_proj_weight`,
 * `linear1` stays `linear1`).
 *
 * @example `toSnakeCase('selfAttn'); // 'self_attn'`
 */
export function toSnakeCase(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/([A-Z])([A-Z][a-z])/g, '$1_$2').toLowerCase();
}

/**
 * What `loadStateDict` did not match (empty lists in strict mode, which throws instead).
 *
 * @example `const { missingKeys, unexpectedKeys } = model.loadStateDict(dict, { strict: false });`
 */
export interface LoadStateDictResult {
  /** Keys of the module absent from the dict (left unchanged). */
  missingKeys: string[];
  /** Keys of the dict the module does not have (ignored). */
  unexpectedKeys: string[];
}

/**
 * Options of {@link Module.loadStateDict}.
 *
 * @example `model.loadStateDict(dict, { strict: false });`
 */
export interface LoadStateDictOptions {
  /** Throw on missing or unexpected keys (default true). */
  strict?: boolean;
}

/**
 * A state dict: PyTorch-style dotted keys to tensors, as a Map or a plain record.
 *
 * @example `const d: StateDict = new Map([['weight', w], ['bias', b]]);`
 */
export type StateDict = Map<string, Tensor> | Record<string, Tensor>;

/**
 * Base class of every layer. Subclasses assign parameters (`parameter(...)`), buffers
 * (`buffer(...)`) and child modules to properties in their constructor, in PyTorch's
 * registration order, and define a `forward` method. Everything else (parameters, state
 * dict, train/eval, moving, deep copies, disposal) comes from reflection.
 *
 * Optimizers use the {@link Module.namedParameters} interface: every parameter is a leaf
 * Tensor with `requiresGrad`, updated in place with `param.assign(newValue)` inside `noGrad`.
 *
 * @example
 * ```ts
 * class TwoLayer extends Module {
 *   fc1 = new Linear(4, 8);
 *   fc2 = new Linear(8, 2);
 *   forward(x: Tensor): Tensor { return tidy(() => this.fc2.forward(this.fc1.forward(x).relu())); }
 * }
 * const m = new TwoLayer();
 * [...m.stateDict().keys()]; // ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
 * ```
 */
export class Module {
  /** Whether the module is in training mode (dropout active). Change with `train()`/`eval()`. */
  training = true;

  /**
   * The state-dict key of property `prop` (default: its snake_case form). Override to map
   * a TypeScript name onto a different PyTorch name.
   *
   * @example `class M extends Module { protected override stateKey(p: string) { return p === 'w' ? 'weight' : super.stateKey(p); } }`
   */
  protected stateKey(prop: string): string {
    return toSnakeCase(prop);
  }

  /**
   * Own tensors as `[key, tensor, role, property]` (parameters first, then buffers).
   * @internal
   */
  protected ownTensors(): [string, Tensor, TensorRole, string][] {
    const params: [string, Tensor, TensorRole, string][] = [];
    const buffers: [string, Tensor, TensorRole, string][] = [];
    for (const prop of Object.keys(this)) {
      const v: unknown = (this as Record<string, unknown>)[prop];
      if (!(v instanceof Tensor)) continue;
      const role = roles.get(v);
      if (role === 'parameter') params.push([this.stateKey(prop), v, role, prop]);
      else if (role) buffers.push([this.stateKey(prop), v, role, prop]);
    }
    return [...params, ...buffers];
  }

  /**
   * Direct submodules with their state-dict key (reflection over own properties).
   *
   * @example `for (const [name, child] of layer.namedChildren()) console.log(name);`
   */
  namedChildren(): [string, Module][] {
    const out: [string, Module][] = [];
    for (const prop of Object.keys(this)) {
      const v: unknown = (this as Record<string, unknown>)[prop];
      if (v instanceof Module) out.push([this.stateKey(prop), v]);
    }
    return out;
  }

  /**
   * Direct submodules.
   *
   * @example `encoder.children().length;`
   */
  children(): Module[] {
    return this.namedChildren().map(([, m]) => m);
  }

  /**
   * This module and all its descendants, depth first, with dotted names (`''` for this one).
   * A module reachable twice is listed once.
   *
   * @example `[...model.namedModules()].map(([name]) => name); // ['', 'linear1', ...]`
   */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [];
    const seen = new Set<Module>();
    const visit = (m: Module, name: string) => {
      if (seen.has(m)) return;
      seen.add(m);
      out.push([name, m]);
      for (const [key, child] of m.namedChildren()) visit(child, name ? `${name}.${key}` : key);
    };
    visit(this, prefix);
    return out;
  }

  /**
   * Every module of the tree (this one first).
   *
   * @example `model.modules().filter((m) => m instanceof Dropout).length;`
   */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Every (key, tensor, role) of the tree, in state-dict order, duplicates included. */
  private walkTensors(): [string, Tensor, TensorRole][] {
    const out: [string, Tensor, TensorRole][] = [];
    const visit = (m: Module, prefix: string, path: Set<Module>) => {
      if (path.has(m)) throw new HeedError('Module', `module cycle at '${prefix}': a module cannot contain itself.`);
      path.add(m);
      for (const [key, t, role] of m.ownTensors()) out.push([prefix + key, t, role]);
      for (const [key, child] of m.namedChildren()) visit(child, `${prefix}${key}.`, path);
      path.delete(m);
    };
    visit(this, '', new Set());
    return out;
  }

  /**
   * Parameters with their dotted PyTorch names; a shared (tied) parameter appears once, under
   * its first name. This is the interface optimizers consume.
   *
   * @example `for (const [name, p] of model.namedParameters()) console.log(name, p.shape);`
   */
  namedParameters(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [key, t, role] of this.walkTensors()) {
      if (role !== 'parameter' || seen.has(t)) continue;
      seen.add(t);
      out.push([key, t]);
    }
    return out;
  }

  /**
   * The parameters (unique tensors), in state-dict order.
   *
   * @example `const opt = new AdamW(model.parameters(), { lr: 1e-3 });`
   */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /**
   * Buffers (persistent and not) with their dotted names; shared ones appear once.
   *
   * @example `model.namedBuffers().map(([name]) => name);`
   */
  namedBuffers(): [string, Tensor][] {
    const seen = new Set<Tensor>();
    const out: [string, Tensor][] = [];
    for (const [key, t, role] of this.walkTensors()) {
      if (role === 'parameter' || seen.has(t)) continue;
      seen.add(t);
      out.push([key, t]);
    }
    return out;
  }

  /**
   * The buffers (unique tensors).
   *
   * @example `model.buffers().length;`
   */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, b]) => b);
  }

  /**
   * Number of trainable scalars (each shared parameter counted once).
   *
   * @example `new Linear(4, 3).numParameters(); // 15`
   */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  /**
   * Parameters and persistent buffers under PyTorch's keys (e.g. `layers.0.self_attn.in_proj_weight`).
   * The values ARE the module's tensors (not copies): do not dispose them; `clone()` them to snapshot.
   *
   * @example `[...new Linear(2, 3).stateDict().keys()]; // ['weight', 'bias']`
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [key, t, role] of this.walkTensors()) if (role !== 'transientBuffer') out.set(key, t);
    return out;
  }

  /**
   * Copies values from `dict` (PyTorch keys) into the parameters and persistent buffers, in place
   * (`assign`, so optimizers keep working). Shapes must match. Values on another backend are
   * moved. With `strict` (default), missing or unexpected keys throw before anything changes.
   * The dict's tensors are not retained: dispose them afterwards if you own them.
   *
   * @example `const { missingKeys } = model.loadStateDict(await loadFile('model.safetensors'), { strict: false });`
   */
  loadStateDict(dict: StateDict, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const strict = options.strict ?? true;
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !entries.has(k));
    const unexpectedKeys = [...entries.keys()].filter((k) => !own.has(k));
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      throw new HeedError('loadStateDict', `the state dict does not match the module: ` +
        `missing keys [${missingKeys.join(', ')}], unexpected keys [${unexpectedKeys.join(', ')}]. ` +
        'Pass { strict: false } to load the matching keys only.');
    }
    const plan: [Tensor, Tensor][] = [];
    for (const [key, target] of own) {
      const value = entries.get(key);
      if (value === undefined) continue;
      if (!(value instanceof Tensor)) throw new HeedError('loadStateDict', `value of '${key}' is not a Tensor.`);
      value.assertLive('loadStateDict');
      if (value.dtype !== target.dtype || value.rank !== target.rank || value.shape.some((d, i) => d !== target.shape[i])) {
        throw new HeedError('loadStateDict', `'${key}': expected ${fmtShape(target.shape)} ${target.dtype}, ` +
          `got ${fmtShape(value.shape)} ${value.dtype}.`);
      }
      plan.push([target, value]);
    }
    noGrad(() => {
      for (const [target, value] of plan) {
        if (value.backend === target.backend) {
          target.assign(value);
        } else {
          const moved = value.to(target.backend.name);
          target.assign(moved);
          moved.dispose();
        }
      }
    });
    return { missingKeys, unexpectedKeys };
  }

  /**
   * Sets training mode on this module and every descendant (dropout active). Returns `this`.
   *
   * @example `model.train();`
   */
  train(mode = true): this {
    for (const m of this.modules()) m.training = mode;
    return this;
  }

  /**
   * Sets evaluation mode (dropout off). Same as `train(false)`.
   *
   * @example `model.eval();`
   */
  eval(): this {
    return this.train(false);
  }

  /**
   * Disposes and clears the `.grad` of every parameter.
   *
   * @example `model.zeroGrad();`
   */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Turns gradient tracking of every parameter on or off (freezing). Returns `this`.
   *
   * @example `model.encoder.requiresGrad_(false); // freeze the encoder`
   */
  requiresGrad_(flag = true): this {
    for (const p of this.parameters()) p.requiresGrad_(flag);
    return this;
  }

  /**
   * Calls `fn` on every module of the tree (children first, like PyTorch). Returns `this`.
   *
   * @example `model.apply((m) => { if (m instanceof Linear) zeros_(m.weight); });`
   */
  apply(fn: (m: Module) => void): this {
    const seen = new Set<Module>();
    const visit = (m: Module) => {
      if (seen.has(m)) return;
      seen.add(m);
      for (const child of m.children()) visit(child);
      fn(m);
    };
    visit(this);
    return this;
  }

  /**
   * Moves every parameter and buffer to the backend `backendName`, in place: the properties are
   * replaced by copies there (the old tensors and any gradients are disposed). Call it before
   * creating an optimizer. The source backend must read synchronously (use `toAsync` otherwise).
   *
   * @example `model.to('webgpu');`
   */
  to(backendName: string): this {
    return this.replaceTensors((t) => noGrad(() => t.to(backendName)));
  }

  /**
   * Like {@link Module.to} for sources that read asynchronously (e.g. WebGPU to CPU).
   *
   * @example `await model.toAsync('cpu');`
   */
  async toAsync(backendName: string): Promise<this> {
    const moved = new Map<Tensor, Tensor>();
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) moved.set(t, await t.toAsync(backendName));
    return this.replaceTensors((t) => moved.get(t) as Tensor);
  }

  private replaceTensors(make: (t: Tensor) => Tensor): this {
    const memo = new Map<Tensor, Tensor>();
    for (const m of this.modules()) {
      for (const [, t, role, prop] of m.ownTensors()) {
        let next = memo.get(t);
        if (!next) {
          const moved = make(t);
          next = moved.detach();
          moved.dispose();
          next = role === 'parameter' ? parameter(next) : buffer(next, { persistent: role === 'buffer' });
          memo.set(t, next);
        }
        (m as unknown as Record<string, Tensor>)[prop] = next;
      }
    }
    for (const old of memo.keys()) old.dispose();
    return this;
  }

  /**
   * A deep copy with independent parameters and buffers (like `copy.deepcopy`): child modules and
   * marked tensors are copied (shared ones stay shared within the copy); other properties
   * (numbers, options, functions) are copied by reference; arrays and Maps are copied one level
   * deep (for containers). Gradients are not copied.
   *
   * @example `const layer2 = layer.clone();`
   */
  clone(): this {
    const memo = new Map<object, unknown>();
    const copyValue = (v: unknown): unknown => {
      if (v instanceof Tensor) {
        const role = roles.get(v);
        if (!role) return v;
        if (!memo.has(v)) {
          const c = noGrad(() => v.clone());
          memo.set(v, role === 'parameter' ? parameter(c) : buffer(c, { persistent: role === 'buffer' }));
        }
        return memo.get(v);
      }
      if (v instanceof Module) return copyModule(v);
      if (Array.isArray(v)) return v.map(copyValue);
      if (v instanceof Map) return new Map([...(v as Map<unknown, unknown>)].map(([k, x]) => [k, copyValue(x)]));
      return v;
    };
    const copyModule = (m: Module): Module => {
      const hit = memo.get(m);
      if (hit) return hit as Module;
      const c = Object.create(Object.getPrototypeOf(m) as object) as Module;
      memo.set(m, c);
      for (const key of Reflect.ownKeys(m)) {
        const d = Object.getOwnPropertyDescriptor(m, key) as PropertyDescriptor;
        if ('value' in d) d.value = copyValue(d.value);
        Object.defineProperty(c, key, d);
      }
      return c;
    };
    return copyModule(this) as this;
  }

  /**
   * Disposes every parameter and buffer (and their gradients). The module is unusable after.
   *
   * @example `model.dispose();`
   */
  dispose(): void {
    for (const t of [...this.parameters(), ...this.buffers()]) t.dispose();
  }

  /**
   * Support for `using model = new Linear(4, 4)`.
   *
   * @example `{ using layer = new Linear(2, 2); }`
   */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /**
   * A one-line summary of the extra configuration, shown by `toString()` (override it).
   *
   * @example `new Linear(4, 3).extraRepr(); // 'inFeatures=4, outFeatures=3, bias=true'`
   */
  extraRepr(): string {
    return '';
  }

  /**
   * A PyTorch-like printout of the module tree.
   *
   * @example `console.log(String(model));`
   */
  toString(): string {
    const children = this.namedChildren();
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (children.length === 0) return `${head})`;
    const lines = children.map(([k, c]) => `  (${k}): ${String(c).split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}
