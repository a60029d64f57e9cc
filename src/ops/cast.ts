/**
 * `cast` between f32, i32 and u32, with one definition of the out-of-range cases on every
 * backend, and `copy`.
 */
import unarySrc from "../../kernels/elementwise/unary.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { type DType, numel, type Tensor } from "../tensor.ts";
import { affine } from "./elementwise.ts";
import { apply1, defineOp } from "./registry.ts";
import { ints, rand, values } from "./samples.ts";
import { elementMap } from "./util.ts";

interface CastAttrs {
  dtype: DType;
}
/**
 * f32 -> int conversion: truncate, then saturate to the range an f32 can hold below the
 * integer type's limits (i32: [-2^31, 2^31 - 128], u32: [0, 2^32 - 256]); NaN gives 0. Spelled
 * out in the kernel because backends disagree (Mesa's GL path turns 3e9 into -2^31 and -1.5
 * into 2^32 - 1 as u32, its Vulkan path saturates). i32 -> u32 clamps negatives to 0 and
 * u32 -> i32 reinterprets the bits, on both backends.
 */
const F32_TO_INT = {
  i32: { lo: -2147483648, hi: 2147483520, wgsl: "-2147483648.0, 2147483520.0" },
  u32: { lo: 0, hi: 4294967040, wgsl: "0.0, 4294967040.0" },
} as const;

const castOp = defineOp<CastAttrs>({
  name: "cast",
  shape: ([x], a) => [{ shape: x.shape, dtype: a.dtype }],
  cpu([x], [y], a, info) {
    const from = info.ins[0].dtype;
    let f = (v: number) => v; // to f32, and u32 -> i32 (the Int32Array wraps, as the GPU)
    if (a.dtype !== "f32" && from === "f32") {
      const { lo, hi } = F32_TO_INT[a.dtype];
      f = (v) => Number.isNaN(v) ? 0 : Math.min(hi, Math.max(lo, Math.trunc(v)));
    } else if (a.dtype === "u32") f = (v) => Math.max(0, v);
    for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  },
  gpu([x], [y], a, info) {
    const n = numel(a.dtype ? info.outs[0].shape : []);
    const from = info.ins[0].dtype;
    let expr = `return ${a.dtype}(x);`;
    if (a.dtype !== "f32" && from === "f32") {
      // x == x is false only for NaN (!= is not: Mesa's Vulkan path compares NaN ordered).
      expr = `return select(${a.dtype}(0), ${a.dtype}(clamp(trunc(x), ` +
        `${F32_TO_INT[a.dtype].wgsl})), x == x);`;
    } else if (a.dtype === "u32" && from === "i32") expr = "return u32(max(x, 0));";
    const { items, defs } = elementMap("unary", from, a.dtype, n);
    const g = grid1d(items);
    const k = specialize("cast", unarySrc, { T: from, TO: a.dtype, EXPR: expr, ...defs });
    dispatch(k, [x, y], g, new Uniforms().u32(items, g[0]).f32(0, 0));
  },
  grad: ({ ins }, [g]) => [ins[0].dtype === "f32" ? g : null],
  channels: { kind: "passthrough" },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    const to = io.attrs.dtype === "f32" ? 1 : io.attrs.dtype === "i32" ? 6 : 12;
    if (to !== 12 || io.info.ins[0].dtype === "u32") {
      return e.node("Cast", io.inputs, io.outputs, { to });
    }
    // ONNX wraps negative values cast to uint32; oto clamps them to 0 first.
    const pos = e.fresh("nonneg");
    e.node("Relu", io.inputs, [pos]);
    e.node("Cast", [pos], io.outputs, { to });
  },
  samples: [
    { name: "f32 to f32, NCHW", ins: [rand([2, 3, 2, 3], -3, 3)], attrs: { dtype: "f32" } },
    {
      name: "f32 to i32 truncates toward zero",
      ins: [values([-2.7, -0.5, 0, 0.5, 1.99, 3, -3.5], [7])],
      attrs: { dtype: "i32" },
    },
    {
      name: "f32 to u32 clamps negatives to 0",
      ins: [values([-2.7, -0.5, 0, 0.5, 1.99, 3, 4.5, 1e3], [2, 4])],
      attrs: { dtype: "u32" },
    },
    { name: "i32 to f32", ins: [ints([-4, 0, 3, 2, -1], [5])], attrs: { dtype: "f32" } },
    {
      name: "i32 to u32 clamps negatives",
      ins: [ints([-4, 0, 3, -1], [4])],
      attrs: { dtype: "u32" },
    },
    {
      name: "f32 to i32 saturates out-of-range values, NaN to 0",
      ins: [values([3e9, -3e9, NaN, 1e10, -2.5, 2147483520], [6])],
      attrs: { dtype: "i32" },
      onnx: { none: "ONNX Cast leaves out-of-range and NaN values undefined" },
    },
    {
      name: "f32 to u32 saturates out-of-range values, NaN to 0",
      ins: [values([5e9, 3e9, NaN, -1e10, 4294967040], [5])],
      attrs: { dtype: "u32" },
      onnx: { none: "ONNX Cast leaves out-of-range and NaN values undefined" },
    },
    { name: "u32 to f32", ins: [ints([0, 3, 9], [3], "u32")], attrs: { dtype: "f32" } },
  ],
});

/** Convert to another dtype (f32 → int truncates toward zero and saturates; NaN → 0). */
export function cast(x: Tensor, dtype: DType): Tensor {
  return apply1(castOp, [x], { dtype });
}

/** A fresh copy of x (same backend, own storage). */
export function copy(x: Tensor): Tensor {
  return x.dtype === "f32" ? affine(x, 1, 0) : cast(x, x.dtype);
}
