/**
 * PReLU: y = x for x > 0, else slope·x, with one slope per channel (axis 1) or one shared slope
 * (shape [1], which the ZIG partition keeps whole as a shared scalar).
 */
import preluSrc from "../../kernels/misc/prelu.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { add, affine, mul, step } from "./elementwise.ts";
import { reshape } from "./movement.ts";
import { sumTo } from "./reduce.ts";
import { rand, values } from "./samples.ts";

type NoAttrs = Record<string, never>;

/** Elements per channel and channel count of the slope indexing. */
function layout(x: TensorInfo, slope: TensorInfo): { inner: number; channels: number } {
  const channels = slope.shape[0];
  return { inner: channels === 1 ? 1 : numel(x.shape.slice(2)), channels };
}

/** The slope shaped to broadcast against x: [1, C, 1, ...] or [1]. */
function slopeBroadcast(x: Tensor, slope: Tensor): Tensor {
  if (slope.shape[0] === 1) return slope;
  return reshape(slope, [1, slope.shape[0], ...Array(x.rank - 2).fill(1)]);
}

const preluOp: OpSpec<NoAttrs> = defineOp<NoAttrs>({
  name: "prelu",
  inputNames: ["x", "slope"],
  shape([x, slope]) {
    if (x.dtype !== "f32" || slope.dtype !== "f32") {
      throw shapeError("prelu", "expects f32 input and slope", x.shape, slope.shape);
    }
    const c = x.shape.length >= 2 ? x.shape[1] : 1;
    const ok = slope.shape.length === 1 && (slope.shape[0] === 1 || slope.shape[0] === c);
    if (!ok) {
      throw shapeError(
        "prelu",
        `slope must have shape [1] or [${c}] (one per channel of axis 1)`,
        x.shape,
        slope.shape,
      );
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu([x, slope], [y], _a, info) {
    const { inner, channels } = layout(info.ins[0], info.ins[1]);
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      y[i] = v > 0 ? v : slope[Math.floor(i / inner) % channels] * v;
    }
  },
  gpu([x, slope], [y], _a, info) {
    const { inner, channels } = layout(info.ins[0], info.ins[1]);
    const n = numel(info.ins[0].shape);
    const g = grid1d(n);
    const u = new Uniforms().u32(n, g[0], inner, channels);
    dispatch(specialize("prelu", preluSrc), [x, slope, y], g, u);
  },
  grad: ({ ins }, [g]) => {
    const [x, slope] = ins;
    const pos = step(x), neg = affine(pos, -1, 1);
    const sb = slopeBroadcast(x, slope);
    const dx = x.requiresGrad ? mul(g, add(pos, mul(neg, sb))) : null;
    const ds = slope.requiresGrad
      ? reshape(sumTo(mul(g, mul(x, neg)), sb.shape), slope.shape)
      : null;
    return [dx, ds];
  },
  // Zero-invariant; a [C] slope is per-channel, a [1] slope a shared scalar kept whole.
  channels: { kind: "accessory", perChannelInputs: [1], zeroWhen: [[]] },
  cost: (info) => ({ macs: 0, flops: 2 * numel(info.ins[0].shape) }),
  onnx: (e, io) => {
    const [xs, ss] = [io.info.ins[0].shape, io.info.ins[1].shape];
    if (ss[0] === 1 || xs.length <= 2) return e.node("PRelu", io.inputs, io.outputs);
    // ONNX broadcasts from the right: the slope becomes [C, 1, ...].
    const s = e.fresh("slope");
    const shape = [ss[0], ...Array(xs.length - 2).fill(1)];
    e.node("Reshape", [io.inputs[1], e.constant(shape, [shape.length], "i64")], [s]);
    e.node("PRelu", [io.inputs[0], s], io.outputs);
  },
  samples: [
    { name: "per-channel slopes, NCHW", ins: [rand([2, 3, 3, 4]), rand([3], 0, 0.5)], attrs: {} },
    { name: "one shared slope", ins: [rand([2, 3, 5]), rand([1], 0, 0.5)], attrs: {} },
    { name: "[N, C] input", ins: [rand([4, 3]), rand([3], 0, 0.5)], attrs: {} },
    {
      name: "kink at 0",
      ins: [values([0, -1, 0.5, 0, 2, 0], [1, 2, 3]), values([0.25, 0.1])],
      attrs: {},
      ties: { rule: "d/dx at 0 is the slope: the derivative from below", breaks: [["down"]] },
    },
  ],
});

/**
 * PReLU with `slope` of shape [C] (per channel of axis 1) or [1] (shared).
 *
 * @example
 * ```ts
 * import { full, init, prelu, randn } from "../../mod.ts";
 * await init();
 * const x = randn([2, 3, 4, 4], { seed: 0 });
 * const slope = full([3], 0.25);
 * const y = prelu(x, slope); // x [N, C, H, W], slope [C]
 * ```
 */
export function prelu(x: Tensor, slope: Tensor): Tensor {
  return apply1(preluOp, [x, slope], {});
}
