/**
 * `Module`: the base of every layer and model, as in PyTorch. A module owns named parameters
 * (trainable tensors), buffers (state such as BatchNorm running statistics) and child modules;
 * `call(x)` runs `forward` with the module's path recorded, so errors, graph capture and
 * reports name layers like "layer2.0.conv1".
 */
import type { Tensor } from "../tensor.ts";
import { withPath } from "../ops/registry.ts";
import { checkInterrupt } from "../interrupt.ts";
import { defaultLayerInit, type ParamInitOptions } from "./init.ts";

/** What a model's `forward` returns: one tensor, an array of tensors or a record of them. */
export type ModuleOutput = Tensor | readonly Tensor[] | { readonly [name: string]: Tensor };

/** A module whatever its output (what graph capture, compression and export accept). */
// deno-lint-ignore no-explicit-any
export type AnyModule = Module<any>;

/**
 * Base class of layers and models.
 *
 * @example
 * ```ts
 * import { init, Linear, Module, randn, relu, type Tensor } from "../../mod.ts";
 * await init();
 * class Net extends Module {
 *   fc = this.module("fc", new Linear(4, 2));
 *   forward(x: Tensor) { return relu(this.fc.call(x)); }
 * }
 * const net = new Net();
 * const y = net.call(randn([3, 4], { seed: 0 })); // [3, 2]
 * net.namedParameters(); // [["fc.weight", ...], ["fc.bias", ...]]
 *
 * // Several inputs and outputs: `forward` takes tensors and returns a tensor, an array or a
 * // record of tensors (the type parameter says which).
 * class TwoHeads extends Module<{ logits: Tensor; box: Tensor }> {
 *   a = this.module("a", new Linear(4, 3));
 *   b = this.module("b", new Linear(4, 2));
 *   forward(x: Tensor, y: Tensor) {
 *     return { logits: this.a.call(x), box: this.b.call(y) };
 *   }
 * }
 * const { logits, box } = new TwoHeads().call(randn([3, 4]), randn([3, 4])); // [3, 3], [3, 2]
 * ```
 */
export abstract class Module<O extends ModuleOutput = Tensor> {
  /** Train mode (batch statistics, dropout) or eval mode. */
  training = true;
  private readonly _params = new Map<string, Tensor>();
  private readonly _buffers = new Map<string, Tensor>();
  private readonly _children = new Map<string, AnyModule>();
  /** This module's name inside its parent ("" for the root). */
  name = "";
  /**
   * Names of the model's inputs and outputs in exported files (ONNX); `importOnnx` sets the
   * source file's, compression keeps them. Unset: "input" and "output" (numbered when several).
   */
  ioNames?: { inputs: string[]; outputs: string[] };

  /** The computation. Invoke modules with {@link call}, which records the module path. */
  abstract forward(...xs: Tensor[]): O;

  /**
   * Run `forward` with this module's name pushed on the op path (a stop requested through
   * `setInterruptProbe` is honoured here, between layers).
   */
  call(...xs: Tensor[]): O {
    checkInterrupt(this.name || "forward");
    return withPath(this.name, () => this.forward(...xs));
  }

  /**
   * A fresh weight (and bias) for this model's conv, transposed-conv or linear layer at `path`
   * (its stateDict name without ".weight") with the shape `weightShape`, which may be narrower
   * than the layer's own: what {@link reinitialized} draws for a compressed architecture
   * trained from scratch. Default: PyTorch's `reset_parameters` ({@link defaultLayerInit}); a
   * model built with its own initialisation overrides this so that the scratch control starts
   * the way the model does.
   */
  initLayer(
    path: string,
    weightShape: readonly number[],
    biasSize: number,
    opts: ParamInitOptions = {},
  ): { weight: Tensor; bias: Tensor | null } {
    void path;
    return defaultLayerInit(weightShape, biasSize, opts);
  }

  /** Register (or replace) a trainable parameter; it is kept and requires grad. */
  param(name: string, t: Tensor): Tensor {
    t.keep();
    t.requiresGrad = true;
    t.label = name;
    const old = this._params.get(name);
    if (old && old !== t) old.dispose();
    this._params.set(name, t);
    return t;
  }

  /** Register (or replace) a buffer (saved with the weights, not trained). */
  buffer(name: string, t: Tensor): Tensor {
    t.keep();
    t.label = name;
    const old = this._buffers.get(name);
    if (old && old !== t) old.dispose();
    this._buffers.set(name, t);
    return t;
  }

  /** Register a child module under `name` and return it. */
  module<M extends AnyModule>(name: string, m: M): M {
    m.name = name;
    this._children.set(name, m);
    return m;
  }

  /** Direct parameter by local name (or undefined). */
  getParam(name: string): Tensor | undefined {
    return this._params.get(name);
  }
  /** Direct buffer by local name (or undefined). */
  getBuffer(name: string): Tensor | undefined {
    return this._buffers.get(name);
  }
  /** Child modules in registration order. */
  children(): [string, AnyModule][] {
    return [...this._children];
  }

  /** Every parameter with its dotted path, depth first in registration order. */
  namedParameters(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this._params) out.push([prefix + n, p]);
    for (const [n, c] of this._children) out.push(...c.namedParameters(`${prefix}${n}.`));
    return out;
  }
  /** Every buffer with its dotted path. */
  namedBuffers(prefix = ""): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, b] of this._buffers) out.push([prefix + n, b]);
    for (const [n, c] of this._children) out.push(...c.namedBuffers(`${prefix}${n}.`));
    return out;
  }
  /** Every module with its dotted path (the root as ""). */
  namedModules(prefix = ""): [string, AnyModule][] {
    const out: [string, AnyModule][] = [[prefix.replace(/\.$/, ""), this]];
    for (const [n, c] of this._children) out.push(...c.namedModules(`${prefix}${n}.`));
    return out;
  }
  /** All parameters. */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }
  /** Parameters and buffers by path (what is saved to disk). */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }
  /** Number of trainable scalars. */
  numParameters(): number {
    return this.parameters().reduce((s, p) => s + p.size, 0);
  }

  /** Switch this module and its children to train (default) or eval mode. */
  train(on = true): this {
    this.training = on;
    for (const [, c] of this._children) c.train(on);
    return this;
  }
  /** Switch to eval mode. */
  eval(): this {
    return this.train(false);
  }

  /** Find a parameter or buffer by dotted path and replace it (used by compression). */
  setTensor(path: string, t: Tensor): void {
    const parts = path.split(".");
    const leaf = parts.pop()!;
    const m = parts.reduce<AnyModule>((cur, p) => {
      const c = cur._children.get(p);
      if (!c) throw new Error(`setTensor: no module "${p}" in path "${path}"`);
      return c;
    }, this);
    if (m._params.has(leaf)) m.param(leaf, t);
    else if (m._buffers.has(leaf)) m.buffer(leaf, t);
    else throw new Error(`setTensor: "${path}" is neither a parameter nor a buffer`);
  }

  /** Free every parameter and buffer. */
  dispose(): void {
    for (const [, t] of this.stateDict()) t.dispose();
  }
}
