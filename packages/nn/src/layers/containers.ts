// SPDX-License-Identifier: MIT
// Containers: ModuleList (indexed children, keys `0`, `1`...), Sequential (a ModuleList whose
// forward chains its layers) and ModuleDict (named children, keys as given).
// Invariants: children are held in an internal array/map and exposed through namedChildren(),
// so state-dict keys are the indices or names, exactly like PyTorch; Sequential's forward
// frees the intermediate activations (only the output is left alive).
import { HeedError, tidy, type Tensor } from '@heed/core';
import { Module } from '../module.js';

/**
 * A module with a one-tensor forward, as chained by {@link Sequential}.
 *
 * @example
 * ```ts
 * const layer: TensorModule = new Linear(4, 4);
 * ```
 */
export interface TensorModule extends Module {
  /** Maps one tensor to one tensor. */
  forward(x: Tensor): Tensor;
}

/**
 * A list of submodules whose state-dict keys are their indices (`layers.0.weight`).
 *
 * @example
 * ```ts
 * const blocks = new ModuleList([new Linear(4, 4), new Linear(4, 4)]);
 * [...blocks.stateDict().keys()]; // ['0.weight', '0.bias', '1.weight', '1.bias']
 * ```
 */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  /** The children, in order. */
  protected items: M[];

  constructor(modules: Iterable<M> = []) {
    super();
    this.items = [...modules];
    this.items.forEach((m, i) => checkModule('ModuleList', m, String(i)));
  }

  /**
   * The children keyed by index (`'0'`, `'1'`...).
   *
   * @example `blocks.namedChildren()[0][0]; // '0'`
   */
  override namedChildren(): [string, Module][] {
    return this.items.map((m, i) => [String(i), m]);
  }

  /** Number of children. */
  get length(): number {
    return this.items.length;
  }

  /**
   * The child at `index` (negative counts from the end).
   *
   * @example
   * ```ts
   * blocks.at(-1);
   * ```
   */
  at(index: number): M {
    const i = index < 0 ? index + this.items.length : index;
    const m = this.items[i];
    if (!Number.isInteger(i) || m === undefined) throw new HeedError('ModuleList', `index ${index} is out of range for ${this.items.length} modules.`);
    return m;
  }

  /**
   * Appends a module. Returns `this`.
   *
   * @example
   * ```ts
   * blocks.append(new Linear(4, 4));
   * ```
   */
  append(m: M): this {
    checkModule('ModuleList', m, String(this.items.length));
    this.items.push(m);
    return this;
  }

  /**
   * Iterates over the children.
   *
   * @example
   * ```ts
   * for (const block of blocks) x = block.forward(x);
   * ```
   */
  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}

/**
 * Layers applied one after the other; keys are indices like PyTorch's `nn.Sequential`.
 *
 * @example
 * ```ts
 * const mlp = new Sequential(new Linear(4, 8), new ReLU(), new Linear(8, 2));
 * mlp.forward(randn([3, 4])).shape; // [3, 2]
 * ```
 */
export class Sequential extends ModuleList<TensorModule> {
  constructor(...modules: TensorModule[]) {
    super(modules);
  }

  /**
   * Runs `x` through every layer in order.
   *
   * @example
   * ```ts
   * mlp.forward(x);
   * ```
   */
  forward(x: Tensor): Tensor {
    if (this.items.length === 0) return x.reshape(x.shape);
    return tidy(() => this.items.reduce((h, m) => m.forward(h), x));
  }
}

/**
 * Named submodules whose state-dict keys are the names given (insertion order).
 *
 * @example
 * ```ts
 * const heads = new ModuleDict({ cls: new Linear(8, 2), reg: new Linear(8, 1) });
 * heads.get('cls').forward(x);
 * ```
 */
export class ModuleDict<M extends Module = Module> extends Module {
  /** The children by name. */
  protected entries: Map<string, M>;

  constructor(modules: Record<string, M> | Iterable<[string, M]> = {}) {
    super();
    const pairs: Iterable<[string, M]> = Symbol.iterator in modules ? (modules as Iterable<[string, M]>) : Object.entries(modules);
    this.entries = new Map();
    for (const [k, m] of pairs) this.set(k, m);
  }

  /**
   * The children keyed by name, in insertion order.
   *
   * @example `heads.namedChildren().map(([k]) => k); // ['cls', 'reg']`
   */
  override namedChildren(): [string, Module][] {
    return [...this.entries];
  }

  /**
   * The child named `key`; throws when absent.
   *
   * @example
   * ```ts
   * heads.get('cls');
   * ```
   */
  get(key: string): M {
    const m = this.entries.get(key);
    if (!m) throw new HeedError('ModuleDict', `no module named '${key}'; have [${[...this.entries.keys()].join(', ')}].`);
    return m;
  }

  /**
   * Adds or replaces the child `key` (a name without dots). Returns `this`.
   *
   * @example
   * ```ts
   * heads.set('aux', new Linear(8, 4));
   * ```
   */
  set(key: string, m: M): this {
    if (key === '' || key.includes('.')) throw new HeedError('ModuleDict', `key '${key}' must be non-empty and contain no '.'.`);
    checkModule('ModuleDict', m, key);
    this.entries.set(key, m);
    return this;
  }

  /**
   * Whether a child named `key` exists.
   *
   * @example
   * ```ts
   * heads.has('cls'); // true
   * ```
   */
  has(key: string): boolean {
    return this.entries.has(key);
  }

  /**
   * The names, in insertion order.
   *
   * @example
   * ```ts
   * heads.keys(); // ['cls', 'reg']
   * ```
   */
  keys(): string[] {
    return [...this.entries.keys()];
  }
}

function checkModule(op: string, m: unknown, key: string): void {
  if (!(m instanceof Module)) throw new HeedError(op, `entry '${key}' is not a Module.`);
}
