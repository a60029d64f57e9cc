/**
 * Fully connected layer as one op: `y = x·wᵀ + b` with `w` stored `[out, in]` (PyTorch layout),
 * or `y = x·w + b` with `w` stored `[in, out]` (`weightInOut`: the layout of ONNX MatMul
 * weights, so an imported model keeps its tensors as the file has them).
 * Any leading dims of `x` are batch dims. On WebGPU it runs the matmul op's kernels
 * (`encodeMatmul`) with the transpose folded into their flag, then the broadcasting add kernel for the bias, so no
 * transposed copy of the weight is ever made.
 */
import binarySrc from "../../kernels/elementwise/binary.wgsl" with { type: "text" };
import {
  acquireBuffer,
  dispatch,
  grid1d,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import { fillRows, gemm } from "../backend/wasm/ops.ts";
import { numel, type Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { broadcastStrides, elementMap, packShape, stridesOf } from "./util.ts";
import { encodeMatmul, matmul } from "./matmul.ts";
import { reshape } from "./movement.ts";
import { sum } from "./reduce.ts";
import { rand } from "./samples.ts";

/** Attributes of `linear`; the bias is present when a third input is given. */
export interface LinearAttrs {
  /** The weight is stored `[in, out]` instead of `[out, in]` (default false). */
  weightInOut?: boolean;
}

function dims(x: readonly number[], w: readonly number[], a: LinearAttrs) {
  const inF = x[x.length - 1];
  return { rows: numel(x.slice(0, -1)), inF, outF: a.weightInOut ? w[1] : w[0] };
}

const linearOp = defineOp<LinearAttrs>({
  name: "linear",
  inputNames: ["x", "weight", "bias"],
  shape(ins, a) {
    const [x, w, b] = ins;
    const [o, i] = a.weightInOut ? [1, 0] : [0, 1];
    if (x.shape.length < 1) throw shapeError("linear", "input must have at least 1 dimension");
    if (ins.some((t) => t.dtype !== "f32")) {
      throw shapeError("linear", "expects f32 input, weight and bias", ...ins.map((t) => t.shape));
    }
    if (w.shape.length !== 2) {
      const layout = a.weightInOut ? "[in_features, out_features]" : "[out_features, in_features]";
      throw shapeError("linear", `weight must be ${layout}`, x.shape, w.shape);
    }
    const inF = x.shape[x.shape.length - 1];
    if (w.shape[i] !== inF) {
      throw shapeError(
        "linear",
        `input has ${inF} features, weight expects ${w.shape[i]}; check in_features`,
        x.shape,
        w.shape,
      );
    }
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[o])) {
      throw shapeError("linear", `bias must be [${w.shape[o]}]`, w.shape, b.shape);
    }
    return [{ shape: [...x.shape.slice(0, -1), w.shape[o]], dtype: "f32" }];
  },
  cpu([x, w, b], [y], a, info) {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape, a);
    // Weight entry (o, k) sits at o*inF + k ([out, in]) or k*outF + o ([in, out]).
    const [so, sk] = a.weightInOut ? [1, outF] : [inF, 1];
    for (let r = 0; r < rows; r++) {
      const xo = r * inF;
      for (let o = 0; o < outF; o++) {
        const wo = o * so;
        let s = b ? b[o] : 0;
        for (let k = 0; k < inF; k++) s += x[xo + k] * w[wo + k * sk];
        y[r * outF + o] = s;
      }
    }
  },
  gpu([x, w, b], [y], a, info) {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape, a);
    // The matmul op's kernels (same pipelines as matmul(x, w, false, !weightInOut)).
    const transB = !a.weightInOut;
    const d = { m: rows, n: outF, k: inF, batch: 1, sa: 0, sb: 0, transA: false, transB };
    if (!b) {
      encodeMatmul(x, w, y, d);
      return;
    }
    const tmp = acquireBuffer(rows * outF * 4);
    encodeMatmul(x, w, tmp, d);
    // Same specialisation as add(t, bias) with broadcasting.
    const out = [rows, outF];
    const n = rows * outF;
    const g = grid1d(n);
    const add = specialize("add", binarySrc, {
      T: "f32",
      TO: "f32",
      EXPR: "return a + b;",
      ...elementMap("broadcast", "f32", "f32", n).defs,
    });
    const ub = new Uniforms().u32(n, g[0], 2, 0);
    packShape(ub, out, "linear");
    packShape(ub, stridesOf(out), "linear");
    packShape(ub, broadcastStrides([outF], out), "linear");
    dispatch(add, [tmp, b, y], g, ub);
    releaseBuffer(tmp);
  },
  wasm([x, w, b], [y], a, info) {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape, a);
    // Bias rows first, then the GEMM accumulates x·W onto them; W(k, o) read through strides.
    const [so, sk] = a.weightInOut ? [1, outF] : [inF, 1];
    if (b !== undefined) fillRows(y, b, rows, outF);
    gemm(
      1,
      rows,
      outF,
      inF,
      { ptr: x, batch: 0, row: inF, col: 1 },
      {
        ptr: w,
        batch: 0,
        row: sk,
        col: so,
      },
      y,
      b !== undefined,
    );
  },
  grad: ({ ins, attrs }, [g]) => {
    const [x, w, b] = ins;
    const { rows, inF, outF } = dims(x.shape, w.shape, attrs);
    const g2 = reshape(g, [rows, outF]);
    const x2 = reshape(x, [rows, inF]);
    const inOut = !!attrs.weightInOut;
    const dx = x.requiresGrad ? reshape(matmul(g2, w, false, inOut), x.shape) : null;
    const dw = !w.requiresGrad
      ? null
      : inOut
      ? matmul(x2, g2, true, false)
      : matmul(g2, x2, true, false);
    const db = b?.requiresGrad ? sum(g2, 0) : null;
    return b ? [dx, dw, db] : [dx, dw];
  },
  channels: {
    kind: "stem",
    outAxis: (a) => (a.weightInOut ? 1 : 0),
    inAxis: (a) => (a.weightInOut ? 0 : 1),
  },
  cost: (info, a) => {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape, a);
    const macs = rows * inF * outF;
    return { macs, flops: 2 * macs + (info.ins[2] ? rows * outF : 0) };
  },
  onnx: (e, io) => {
    const [x, w, b] = io.inputs;
    const inOut = !!io.attrs.weightInOut;
    if (io.info.ins[0].shape.length === 2) {
      e.node("Gemm", b ? [x, w, b] : [x, w], io.outputs, inOut ? {} : { transB: 1 });
      return;
    }
    let wt = w;
    if (!inOut) {
      wt = e.fresh("weight_t");
      e.node("Transpose", [w], [wt], { perm: [1, 0] });
    }
    if (!b) {
      e.node("MatMul", [x, wt], io.outputs);
      return;
    }
    const mm = e.fresh("matmul");
    e.node("MatMul", [x, wt], [mm]);
    e.node("Add", [mm, b], io.outputs);
  },
  samples: [
    { name: "[N, in] with bias (Gemm)", ins: [rand([4, 3]), rand([5, 3]), rand([5])], attrs: {} },
    { name: "rank 3 input, no bias", ins: [rand([2, 3, 4]), rand([5, 4])], attrs: {} },
    { name: "rank 3 input with bias", ins: [rand([2, 2, 3]), rand([4, 3]), rand([4])], attrs: {} },
    { name: "partial 32x32 tiles, bias", ins: [rand([33, 7]), rand([9, 7]), rand([9])], attrs: {} },
    {
      name: "vec4 kernel, partial tiles",
      ins: [rand([17, 8]), rand([132, 8]), rand([132])],
      attrs: {},
    },
    { name: "a single vector", ins: [rand([3]), rand([2, 3])], attrs: {} },
    {
      name: "weight [in, out], bias (Gemm)",
      ins: [rand([3, 4]), rand([4, 6]), rand([6])],
      attrs: { weightInOut: true },
    },
    {
      name: "weight [in, out], rank 3, vec4 kernel",
      ins: [rand([2, 5, 8]), rand([8, 12])],
      attrs: { weightInOut: true },
    },
  ],
});

/**
 * Fully connected layer: `y = x·wᵀ + b`, `w` is `[out, in]`, `x` is `[..., in]`; with
 * `weightInOut`, `y = x·w + b` for `w` stored `[in, out]`.
 *
 * @example
 * ```ts
 * import { init, linear, randn, zeros } from "../../mod.ts";
 * await init();
 * const y = linear(randn([8, 4], { seed: 1 }), randn([3, 4], { seed: 2 }), zeros([3])); // [8, 3]
 * ```
 */
export function linear(
  x: Tensor,
  w: Tensor,
  b: Tensor | null = null,
  opts: LinearAttrs = {},
): Tensor {
  return apply1(linearOp, b ? [x, w, b] : [x, w], opts.weightInOut ? { weightInOut: true } : {});
}
