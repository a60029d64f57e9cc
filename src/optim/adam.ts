/**
 * Adam and AdamW, exactly PyTorch's `torch.optim.Adam` / `AdamW` (bias-corrected moments; L2
 * weight decay added to the gradient for Adam, decoupled decay for AdamW). Each parameter
 * update is one in-place WGSL kernel that updates the parameter and both moments.
 */
import adamSrc from "../../kernels/optim/adam.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor } from "../tensor.ts";
import { apply, defineOp, shapeError } from "../ops/registry.ts";
import { rand } from "../ops/samples.ts";
import { type AdamStep, adamUpdate as adamUpdateWasm } from "../backend/wasm/ops.ts";
import { Optimizer, type ParamGroup, type ParamsInput } from "./optimizer.ts";

/** Hyper-parameters of {@link Adam} and {@link AdamW}. */
export interface AdamOptions {
  /** Learning rate (default 1e-3). */
  lr?: number;
  /** Decay rates of the first and second moments (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the second moment's square root (default 1e-8). */
  eps?: number;
  /** Weight decay (Adam: added to the gradient, default 0; AdamW: decoupled, default 1e-2). */
  weightDecay?: number;
}

// The wasm kernel takes the op's attributes as they are.
type AdamAttrs = AdamStep;

const adamOp = defineOp<AdamAttrs>({
  name: "adamUpdate",
  inputNames: ["param", "grad", "exp_avg", "exp_avg_sq"],
  mutates: [0, 2, 3],
  shape(ins) {
    const n = numel(ins[0].shape);
    if (ins.some((t) => t.dtype !== "f32" || numel(t.shape) !== n)) {
      throw shapeError(
        "adamUpdate",
        "parameter, gradient and moments must be f32 of one size",
        ...ins.map((t) => t.shape),
      );
    }
    return [];
  },
  cpu([w, g, m, v], _outs, a) {
    for (let i = 0; i < w.length; i++) {
      let p = w[i], gi = g[i];
      if (a.decoupled) p = p * (1 - a.lr * a.weightDecay);
      else gi = gi + a.weightDecay * p;
      const m1 = a.beta1 * m[i] + (1 - a.beta1) * gi;
      const v1 = a.beta2 * v[i] + (1 - a.beta2) * gi * gi;
      m[i] = m1;
      v[i] = v1;
      w[i] = p - a.stepSize * m1 / (Math.sqrt(v1) * a.invSqrtBc2 + a.eps);
    }
  },
  gpu([w, g, m, v], _outs, a, info) {
    const n = numel(info.ins[0].shape);
    const grid = grid1d(n);
    const u = new Uniforms().u32(n, grid[0])
      .f32(a.lr, a.weightDecay, a.beta1, a.beta2, a.eps, a.stepSize, a.invSqrtBc2)
      .u32(a.decoupled ? 1 : 0, 0, 0);
    dispatch(specialize("adam", adamSrc), [w, g, m, v], grid, u);
  },
  wasm([w, g, m, v], _outs, a, info) {
    adamUpdateWasm(w, g, m, v, numel(info.ins[0].shape), a);
  },
  grad: { none: "adamUpdate is an in-place optimizer update" },
  channels: { kind: "block", reason: "optimizer update" },
  cost: (info) => ({ macs: 0, flops: 12 * numel(info.ins[0].shape) }),
  onnx: { none: "adamUpdate is a training-only op (an in-place optimizer update)" },
  samples: [false, true].map((decoupled) => ({
    name: decoupled ? "AdamW, step 3, odd size" : "Adam with L2 decay, step 1, 2 workgroups",
    ins: [
      rand(decoupled ? [5, 7] : [2, 300]),
      rand([decoupled ? 35 : 600]),
      rand(decoupled ? [5, 7] : [2, 300], -0.1, 0.1),
      rand([decoupled ? 35 : 600], 0, 0.01),
    ],
    attrs: {
      lr: 1e-2,
      weightDecay: decoupled ? 0.1 : 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      stepSize: 1e-2 / (1 - 0.9 ** (decoupled ? 3 : 1)),
      invSqrtBc2: 1 / Math.sqrt(1 - 0.999 ** (decoupled ? 3 : 1)),
      decoupled,
    },
  })),
});

/** The hyper-parameters of one Adam(W) parameter group. */
export type AdamHyper = { lr: number; betas: [number, number]; eps: number; weightDecay: number };

/** What Adam and AdamW share: the moments, bias correction and the update kernel. */
export class AdamBase extends Optimizer<AdamHyper> {
  /** `decoupled`: AdamW's weight decay (p *= 1 - lr wd) instead of Adam's (added to g). */
  constructor(
    params: ParamsInput<AdamHyper>,
    opts: AdamOptions,
    private readonly decoupled: boolean,
    name: string,
  ) {
    super(params, {
      lr: opts.lr ?? 1e-3,
      betas: opts.betas ?? [0.9, 0.999],
      eps: opts.eps ?? 1e-8,
      weightDecay: opts.weightDecay ?? (decoupled ? 1e-2 : 0),
    }, name);
    for (const g of this.paramGroups) {
      const [b1, b2] = g.betas;
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) {
        throw new Error(`${name}: betas must be in [0, 1), got [${g.betas}]`);
      }
      if (!(g.eps >= 0)) throw new Error(`${name}: invalid eps ${g.eps}`);
      if (!(g.weightDecay >= 0)) throw new Error(`${name}: invalid weightDecay ${g.weightDecay}`);
    }
  }

  /** One Adam(W) update of `p` from its gradient `g`, with the group's hyper-parameters. */
  protected update(
    p: Tensor,
    g: Tensor,
    group: ParamGroup<AdamHyper>,
    st: Record<string, Tensor | number>,
  ): void {
    if (!st.expAvg) {
      st.expAvg = this.zerosLike(p);
      st.expAvgSq = this.zerosLike(p);
      st.step = 0;
    }
    const t = (st.step as number) + 1;
    st.step = t;
    const [beta1, beta2] = group.betas;
    const attrs: AdamAttrs = {
      lr: group.lr,
      weightDecay: group.weightDecay,
      beta1,
      beta2,
      eps: group.eps,
      stepSize: group.lr / (1 - beta1 ** t),
      invSqrtBc2: 1 / Math.sqrt(1 - beta2 ** t),
      decoupled: this.decoupled,
    };
    apply(adamOp, [p, g, st.expAvg as Tensor, st.expAvgSq as Tensor], attrs);
  }
}

/**
 * Adam (`torch.optim.Adam`): `g += wd·p`; `m = β1·m + (1−β1)·g`, `v = β2·v + (1−β2)·g²`;
 * `p -= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)`. Defaults lr 1e-3, betas (0.9, 0.999), eps 1e-8.
 *
 * @example
 * ```ts
 * import { Adam, init, Linear } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * ```
 */
export class Adam extends AdamBase {
  /** Adam over `params` (tensors or groups with their own options). */
  constructor(params: ParamsInput<AdamHyper>, opts: AdamOptions = {}) {
    super(params, opts, false, "Adam");
  }
}

/**
 * AdamW (`torch.optim.AdamW`): Adam with decoupled weight decay `p *= 1 − lr·wd` before the
 * Adam step. Default weight decay 1e-2.
 */
export class AdamW extends AdamBase {
  /** AdamW over `params` (tensors or groups with their own options). */
  constructor(params: ParamsInput<AdamHyper>, opts: AdamOptions = {}) {
    super(params, opts, true, "AdamW");
  }
}
