/** `Sequential`: run child modules one after another. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";

/**
 * A chain of modules; the output of each is the input of the next. Children are named "0",
 * "1", ... (as PyTorch), or by the names given to {@link Sequential.fromEntries}.
 *
 * @example
 * ```ts
 * import { Conv2d, Flatten, init, randn, ReLU, Sequential } from "../../../mod.ts";
 * await init();
 * const net = new Sequential(new Conv2d(1, 8, 3), new ReLU(), new Flatten());
 * net.call(randn([2, 1, 28, 28], { seed: 0 })); // [2, 5408] = [2, 8·26·26]
 * const named = Sequential.fromEntries([["conv", new Conv2d(1, 8, 3)], ["act", new ReLU()]]);
 * named.namedParameters(); // [["conv.weight", ...], ["conv.bias", ...]]
 * ```
 */
export class Sequential extends Module {
  /** The modules in order, registered as children "0", "1", ... */
  constructor(...modules: Module[]) {
    super();
    modules.forEach((m, i) => this.module(String(i), m));
  }

  /** A Sequential with named children, in order. */
  static fromEntries(entries: Iterable<readonly [string, Module]>): Sequential {
    const s = new Sequential();
    for (const [name, m] of entries) {
      if (!name || name.includes(".")) {
        throw new Error(
          `Sequential.fromEntries: invalid child name "${name}" (no dots, not empty)`,
        );
      }
      if (s.children().some(([n]) => n === name)) {
        throw new Error(`Sequential.fromEntries: duplicate child name "${name}"`);
      }
      s.module(name, m);
    }
    return s;
  }

  /** Number of children. */
  get length(): number {
    return this.children().length;
  }

  /** The i-th child (negative counts from the end). */
  at(i: number): Module {
    const c = this.children();
    const m = c.at(i);
    if (!m) throw new Error(`Sequential.at: index ${i} out of range for ${c.length} modules`);
    return m[1];
  }

  /** Append a module (named by its index). */
  append(m: Module): this {
    this.module(String(this.length), m);
    return this;
  }

  /** Each module on the previous one's output, in order. */
  forward(x: Tensor): Tensor {
    let h = x;
    for (const [, m] of this.children()) h = m.call(h);
    return h;
  }
}
