/** `Linear`: a fully connected layer, `y = x·wᵀ + b`, as PyTorch's `nn.Linear`. */
import { Module } from "../module.ts";
import type { Tensor } from "../../tensor.ts";
import { linear } from "../../ops/linear.ts";
import { defaultLayerInit } from "../init.ts";
import { positiveInt } from "./util.ts";

/** Options of {@link Linear}. */
export interface LinearLayerOptions {
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/**
 * Fully connected layer. Parameters `weight` [out, in] (kaiming_uniform_(a=√5), i.e.
 * U(±1/√in)) and `bias` [out] (U(±1/√in)), as PyTorch.
 *
 * @example
 * ```ts
 * import { flatten, init, Linear, randn } from "../../../mod.ts";
 * await init();
 * const x = randn([4, 32, 7, 7], { seed: 0 });
 * const fc = new Linear(1568, 10);
 * const logits = fc.call(flatten(x)); // [N, 10] = [4, 10]
 * ```
 */
export class Linear extends Module {
  /** Size of each input's last dimension. */
  inFeatures: number;
  /** Size of each output's last dimension. */
  outFeatures: number;

  /** A [outFeatures, inFeatures] weight and (unless `bias: false`) a bias, PyTorch's init. */
  constructor(inFeatures: number, outFeatures: number, opts: LinearLayerOptions = {}) {
    super();
    this.inFeatures = positiveInt(inFeatures, "inFeatures", "Linear");
    this.outFeatures = positiveInt(outFeatures, "outFeatures", "Linear");
    const p = defaultLayerInit([outFeatures, inFeatures], opts.bias === false ? 0 : outFeatures);
    this.param("weight", p.weight);
    if (p.bias) this.param("bias", p.bias);
  }

  /** [out, in] */
  get weight(): Tensor {
    return this.getParam("weight")!;
  }
  /** [out], or null without bias. */
  get bias(): Tensor | null {
    return this.getParam("bias") ?? null;
  }

  /** x W^T + b over the last dimension of x. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
