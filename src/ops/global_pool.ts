/**
 * Global max pooling: [N, C, H, W] -> [N, C, 1, 1], the maximum of each (sample, channel)
 * plane (`nn.AdaptiveMaxPool2d(1)`, ONNX GlobalMaxPool; CBAM's channel attention reads it).
 * The gradient goes to the plane's maxima, split evenly between ties, as `max` over axes.
 */
import globalMaxSrc from "../../kernels/pool/global_max.wgsl" with { type: "text" };
import { dispatch, grid1d, type Kernel, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor } from "../tensor.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { div, eq, mul } from "./elementwise.ts";
import { expand } from "./movement.ts";
import { sum } from "./reduce.ts";
import { ramp, rand, values } from "./samples.ts";

type NoAttrs = Record<string, never>;

const globalMaxPoolOp: OpSpec<NoAttrs> = defineOp<NoAttrs>({
  name: "globalMaxPool2d",
  inputNames: ["x"],
  shape([x]) {
    if (x.shape.length !== 4) {
      throw shapeError(
        "globalMaxPool2d",
        `expects an NCHW input (rank 4), got rank ${x.shape.length}`,
        x.shape,
      );
    }
    if (x.dtype !== "f32") throw shapeError("globalMaxPool2d", `expects f32, got ${x.dtype}`);
    if (x.shape[2] < 1 || x.shape[3] < 1) {
      throw shapeError("globalMaxPool2d", "input has an empty spatial axis", x.shape);
    }
    return [{ shape: [x.shape[0], x.shape[1], 1, 1], dtype: "f32" }];
  },
  cpu([x], [y], _a, info) {
    const s = info.ins[0].shape;
    const len = s[2] * s[3];
    for (let pl = 0; pl < y.length; pl++) {
      let m = x[pl * len];
      for (let j = 1; j < len; j++) m = Math.max(m, x[pl * len + j]);
      y[pl] = m;
    }
  },
  gpu([x], [y], _a, info) {
    const s = info.ins[0].shape;
    const planes = s[0] * s[1], len = s[2] * s[3];
    const small = len <= 64;
    const grid = small ? grid1d(planes, 64) : grid1d(planes, 1);
    const k: Kernel = small
      ? { ...specialize("global_max_pool_per_thread", globalMaxSrc), entry: "per_thread" }
      : specialize("global_max_pool", globalMaxSrc);
    dispatch(k, [x, y], grid, new Uniforms().u32(planes, grid[0], len, 0));
  },
  grad: ({ ins, outs }, [g]) => {
    const x = ins[0];
    const hit = eq(x, expand(outs[0], x.shape));
    const count = sum(hit, [2, 3], true);
    return [mul(expand(g, x.shape), div(hit, expand(count, x.shape)))];
  },
  // max over a plane of zeros is zero: channels pass through.
  channels: { kind: "passthrough", mixes: () => [2, 3] },
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
  onnx: (e, io) => e.node("GlobalMaxPool", io.inputs, io.outputs),
  samples: [
    { name: "small plane (a thread per plane)", ins: [rand([2, 3, 5, 5])], attrs: {} },
    { name: "large plane (a workgroup per plane)", ins: [rand([1, 2, 9, 11])], attrs: {} },
    { name: "rising values, small planes", ins: [ramp([2, 3, 4, 5])], attrs: {} },
    { name: "falling values, large planes", ins: [ramp([1, 3, 9, 8], true)], attrs: {} },
    { name: "rising values, large planes", ins: [ramp([1, 3, 9, 8])], attrs: {} },
    {
      name: "2-way ties in every plane",
      ins: [values([1, -2, 1, 0.5, -1, 0.25, 0.25, -3], [1, 2, 2, 2])],
      attrs: {},
      ties: {
        rule: "tied maxima of a plane share the gradient evenly",
        breaks: [["earlierHigher"], ["earlierLower"]],
      },
    },
  ],
});

/**
 * Global max pooling of [N, C, H, W] to [N, C, 1, 1].
 *
 * @example
 * ```ts
 * import { globalMaxPool2d, init, randn } from "../../mod.ts";
 * await init();
 * globalMaxPool2d(randn([2, 8, 5, 5], { seed: 0 })); // [2, 8, 1, 1]
 * ```
 */
export function globalMaxPool2d(x: Tensor): Tensor {
  return apply1(globalMaxPoolOp, [x], {});
}
