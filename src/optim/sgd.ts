/**
 * Stochastic gradient descent with momentum, dampening, Nesterov and (L2) weight decay, exactly
 * PyTorch's `torch.optim.SGD`. Each parameter update is one in-place WGSL kernel.
 */
import sgdSrc from "../../kernels/optim/sgd.wgsl" with { type: "text" };
import sgdMomentumSrc from "../../kernels/optim/sgd_momentum.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply, defineOp, shapeError } from "../ops/registry.ts";
import { rand } from "../ops/samples.ts";

const sgd = (lr: number, weightDecay: number, momentum = 0, nesterov = false, first = false) => ({
  lr,
  weightDecay,
  momentum,
  dampening: 0.1,
  nesterov,
  first,
});
import {
  type SgdMomentumStep,
  sgdMomentumUpdate as sgdMomentumWasm,
  sgdUpdate as sgdUpdateWasm,
} from "../backend/wasm/ops.ts";
import { Optimizer, type ParamGroup, type ParamsInput } from "./optimizer.ts";

/** Hyper-parameters of {@link SGD}. */
export interface SgdOptions {
  /** Learning rate. */
  lr: number;
  /** Momentum factor (default 0). */
  momentum?: number;
  /** Dampening of the momentum (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and no dampening). */
  nesterov?: boolean;
  /** Weight decay added to the gradient (default 0). */
  weightDecay?: number;
}

// The wasm kernel takes the op's attributes as they are.
type SgdAttrs = SgdMomentumStep;

function checkUpdate(op: string, ins: readonly TensorInfo[]): [] {
  const [p] = ins;
  for (const t of ins) {
    if (t.dtype !== "f32") throw shapeError(op, "expects f32 tensors", ...ins.map((x) => x.shape));
    if (numel(t.shape) !== numel(p.shape)) {
      throw shapeError(
        op,
        "parameter, gradient and state differ in size",
        ...ins.map((x) => x.shape),
      );
    }
  }
  return [];
}

const sgdOp = defineOp<SgdAttrs>({
  name: "sgdUpdate",
  inputNames: ["param", "grad"],
  mutates: [0],
  shape: (ins) => checkUpdate("sgdUpdate", ins),
  cpu([w, g], _outs, a) {
    for (let i = 0; i < w.length; i++) w[i] = w[i] - a.lr * (g[i] + a.weightDecay * w[i]);
  },
  gpu([w, g], _outs, a, info) {
    const n = numel(info.ins[0].shape);
    const grid = grid1d(n);
    const u = new Uniforms().u32(n, grid[0]).f32(a.lr, a.weightDecay);
    dispatch(specialize("sgd", sgdSrc), [w, g], grid, u);
  },
  wasm([w, g], _outs, a, info) {
    sgdUpdateWasm(w, g, numel(info.ins[0].shape), a.lr, a.weightDecay);
  },
  grad: { none: "sgdUpdate is an in-place optimizer update" },
  channels: { kind: "block", reason: "optimizer update" },
  cost: (info) => ({ macs: 0, flops: 3 * numel(info.ins[0].shape) }),
  onnx: { none: "sgdUpdate is a training-only op (an in-place optimizer update)" },
  samples: [
    { name: "odd size, weight decay", ins: [rand([3, 5]), rand([15])], attrs: sgd(0.1, 0.01) },
    { name: "2 workgroups", ins: [rand([600]), rand([600])], attrs: sgd(0.05, 0) },
  ],
});

const sgdMomentumOp = defineOp<SgdAttrs>({
  name: "sgdMomentumUpdate",
  inputNames: ["param", "grad", "momentum_buffer"],
  mutates: [0, 2],
  shape: (ins) => checkUpdate("sgdMomentumUpdate", ins),
  cpu([w, g, buf], _outs, a) {
    for (let i = 0; i < w.length; i++) {
      const d = g[i] + a.weightDecay * w[i];
      const b = a.first ? d : a.momentum * buf[i] + (1 - a.dampening) * d;
      buf[i] = b;
      w[i] = w[i] - a.lr * (a.nesterov ? d + a.momentum * b : b);
    }
  },
  gpu([w, g, buf], _outs, a, info) {
    const n = numel(info.ins[0].shape);
    const grid = grid1d(n);
    const u = new Uniforms().u32(n, grid[0]).f32(a.lr, a.weightDecay, a.momentum, a.dampening)
      .u32(a.nesterov ? 1 : 0, a.first ? 1 : 0);
    dispatch(specialize("sgd_momentum", sgdMomentumSrc), [w, g, buf], grid, u);
  },
  wasm([w, g, buf], _outs, a, info) {
    sgdMomentumWasm(w, g, buf, numel(info.ins[0].shape), a);
  },
  grad: { none: "sgdMomentumUpdate is an in-place optimizer update" },
  channels: { kind: "block", reason: "optimizer update" },
  cost: (info) => ({ macs: 0, flops: 6 * numel(info.ins[0].shape) }),
  onnx: { none: "sgdMomentumUpdate is a training-only op (an in-place optimizer update)" },
  samples: [
    {
      name: "first step sets the buffer",
      ins: [rand([7]), rand([7]), rand([7])],
      attrs: sgd(0.1, 0.01, 0.9, false, true),
    },
    {
      name: "momentum with dampening",
      ins: [rand([3, 5]), rand([15]), rand([15])],
      attrs: sgd(0.1, 0.01, 0.9),
    },
    {
      name: "Nesterov, 2 workgroups",
      ins: [rand([300]), rand([300]), rand([300])],
      attrs: sgd(0.05, 0, 0.8, true),
    },
  ],
});

/**
 * SGD, as `torch.optim.SGD`:
 * `d = g + wd·p`; with momentum `buf = momentum·buf + (1−dampening)·d` (`buf = d` on the first
 * step), `d = nesterov ? d + momentum·buf : buf`; then `p -= lr·d`.
 *
 * @example
 * ```ts
 * import { init, Linear, SGD } from "../../mod.ts";
 * await init();
 * const model = new Linear(4, 3);
 * const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 });
 * ```
 */
export class SGD extends Optimizer<Required<SgdOptions>> {
  /** SGD over `params` (tensors or groups with their own options). */
  constructor(params: ParamsInput<Required<SgdOptions>>, opts: SgdOptions) {
    const defaults: Required<SgdOptions> = {
      lr: opts.lr,
      momentum: opts.momentum ?? 0,
      dampening: opts.dampening ?? 0,
      nesterov: opts.nesterov ?? false,
      weightDecay: opts.weightDecay ?? 0,
    };
    super(params, defaults, "SGD");
    for (const g of this.paramGroups) {
      if (g.momentum < 0) throw new Error(`SGD: invalid momentum ${g.momentum}`);
      if (g.weightDecay < 0) throw new Error(`SGD: invalid weightDecay ${g.weightDecay}`);
      if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) {
        throw new Error("SGD: Nesterov momentum requires a momentum > 0 and zero dampening");
      }
    }
  }

  /** One SGD update of `p` from its gradient `g`, with the group's hyper-parameters. */
  protected update(
    p: Tensor,
    g: Tensor,
    group: ParamGroup<Required<SgdOptions>>,
    st: Record<string, Tensor | number>,
  ): void {
    const attrs: SgdAttrs = {
      lr: group.lr,
      weightDecay: group.weightDecay,
      momentum: group.momentum,
      dampening: group.dampening,
      nesterov: group.nesterov,
      first: false,
    };
    if (group.momentum === 0) {
      apply(sgdOp, [p, g], attrs);
      return;
    }
    let buf = st.momentumBuffer as Tensor | undefined;
    if (!buf) {
      st.momentumBuffer = buf = this.zerosLike(p);
      attrs.first = true;
    }
    apply(sgdMomentumOp, [p, g, buf], attrs);
  }
}
