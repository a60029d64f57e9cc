/** `fill`: a tensor of one shape, dtype and constant value (no inputs). */
import fillSrc from "../../kernels/elementwise/fill.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import * as wasmK from "../backend/wasm/ops.ts";
import { type BackendName, type DType, numel, type Tensor } from "../tensor.ts";
import { apply, defineOp, shapeError } from "./registry.ts";
import { bitsOf } from "./util.ts";

interface FillAttrs {
  shape: readonly number[];
  value: number;
  dtype: DType;
}

const fillOp = defineOp<FillAttrs>({
  name: "fill",
  shape: (_ins, a) => {
    if (a.shape.some((d) => !Number.isInteger(d) || d < 0)) {
      throw shapeError("fill", "shape entries must be non-negative integers", a.shape);
    }
    return [{ shape: a.shape, dtype: a.dtype }];
  },
  cpu(_ins, [y], a) {
    y.fill(a.value);
  },
  gpu(_ins, [y], a) {
    const n = numel(a.shape);
    const g = grid1d(n);
    dispatch(
      specialize("fill", fillSrc),
      [y],
      g,
      new Uniforms().u32(n, g[0], bitsOf(a.value, a.dtype), 0),
    );
  },
  wasm(_ins, [y], a) {
    wasmK.fill(y, numel(a.shape), a.value, a.dtype);
  },
  grad: { none: "fill has no inputs" },
  channels: { kind: "block", reason: "constant" },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    // A constant: written as an initializer (ConstantOfShape needs a TENSOR attribute).
    const n = numel(io.attrs.shape);
    const c = e.constant(new Array(n).fill(io.attrs.value), [...io.attrs.shape], io.attrs.dtype);
    e.node("Identity", [c], io.outputs);
  },
  samples: [
    { name: "f32, odd size", ins: [], attrs: { shape: [3, 5], value: -2.5, dtype: "f32" } },
    { name: "i32", ins: [], attrs: { shape: [7], value: -3, dtype: "i32" } },
    { name: "u32, 2 workgroups", ins: [], attrs: { shape: [2, 300], value: 7, dtype: "u32" } },
    { name: "empty", ins: [], attrs: { shape: [0, 4], value: 1, dtype: "f32" } },
  ],
});

/** A tensor of `shape` filled with `value`. */
export function fill(
  shape: readonly number[],
  value: number,
  backend?: BackendName,
  dtype: DType = "f32",
): Tensor {
  return apply(fillOp, [], { shape: [...shape], value, dtype }, backend)[0];
}
