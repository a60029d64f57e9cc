/**
 * Fully connected layer as one op: `y = x·wᵀ + b` with `w` stored `[out, in]` (PyTorch layout).
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
import { numel, type Tensor } from "../tensor.ts";
import { apply1, defineOp, shapeError } from "./registry.ts";
import { broadcastStrides, elementMap, packShape, stridesOf } from "./util.ts";
import { encodeMatmul, matmul } from "./matmul.ts";
import { reshape } from "./movement.ts";
import { sum } from "./reduce.ts";

/** `linear` has no attributes: the bias is present when a third input is given. */
export type LinearAttrs = Record<string, never>;

function dims(x: readonly number[], w: readonly number[]) {
  const inF = x[x.length - 1];
  return { rows: numel(x.slice(0, -1)), inF, outF: w[0] };
}

const linearOp = defineOp<LinearAttrs>({
  name: "linear",
  inputNames: ["x", "weight", "bias"],
  shape(ins) {
    const [x, w, b] = ins;
    if (x.shape.length < 1) throw shapeError("linear", "input must have at least 1 dimension");
    if (ins.some((t) => t.dtype !== "f32")) {
      throw shapeError("linear", "expects f32 input, weight and bias", ...ins.map((t) => t.shape));
    }
    if (w.shape.length !== 2) {
      throw shapeError("linear", "weight must be [out_features, in_features]", x.shape, w.shape);
    }
    const inF = x.shape[x.shape.length - 1];
    if (w.shape[1] !== inF) {
      throw shapeError(
        "linear",
        `input has ${inF} features, weight expects ${w.shape[1]}; check in_features`,
        x.shape,
        w.shape,
      );
    }
    if (b && (b.shape.length !== 1 || b.shape[0] !== w.shape[0])) {
      throw shapeError("linear", `bias must be [${w.shape[0]}]`, w.shape, b.shape);
    }
    return [{ shape: [...x.shape.slice(0, -1), w.shape[0]], dtype: "f32" }];
  },
  cpu([x, w, b], [y], _a, info) {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape);
    for (let r = 0; r < rows; r++) {
      const xo = r * inF;
      for (let o = 0; o < outF; o++) {
        const wo = o * inF;
        let s = b ? b[o] : 0;
        for (let k = 0; k < inF; k++) s += x[xo + k] * w[wo + k];
        y[r * outF + o] = s;
      }
    }
  },
  gpu([x, w, b], [y], _a, info) {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape);
    // The matmul op's kernels (same pipelines as matmul(x, w, false, true)).
    const d = { m: rows, n: outF, k: inF, batch: 1, sa: 0, sb: 0, transA: false, transB: true };
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
  grad: ({ ins }, [g]) => {
    const [x, w, b] = ins;
    const { rows, inF, outF } = dims(x.shape, w.shape);
    const g2 = reshape(g, [rows, outF]);
    const x2 = reshape(x, [rows, inF]);
    const dx = x.requiresGrad ? reshape(matmul(g2, w), x.shape) : null;
    const dw = w.requiresGrad ? matmul(g2, x2, true, false) : null;
    const db = b?.requiresGrad ? sum(g2, 0) : null;
    return b ? [dx, dw, db] : [dx, dw];
  },
  channels: { kind: "stem", outAxis: 0, inAxis: 1 },
  cost: (info) => {
    const { rows, inF, outF } = dims(info.ins[0].shape, info.ins[1].shape);
    const macs = rows * inF * outF;
    return { macs, flops: 2 * macs + (info.ins[2] ? rows * outF : 0) };
  },
  onnx: (e, io) => {
    const [x, w, b] = io.inputs;
    if (io.info.ins[0].shape.length === 2) {
      e.node("Gemm", b ? [x, w, b] : [x, w], io.outputs, { transB: 1 });
      return;
    }
    const wt = e.fresh("weight_t");
    e.node("Transpose", [w], [wt], { perm: [1, 0] });
    if (!b) {
      e.node("MatMul", [x, wt], io.outputs);
      return;
    }
    const mm = e.fresh("matmul");
    e.node("MatMul", [x, wt], [mm]);
    e.node("Add", [mm, b], io.outputs);
  },
});

/**
 * Fully connected layer: `y = x·wᵀ + b`, `w` is `[out, in]`, `x` is `[..., in]`.
 *
 * @example
 * ```ts
 * import { init, linear, randn, zeros } from "../../mod.ts";
 * await init();
 * const y = linear(randn([8, 4], { seed: 1 }), randn([3, 4], { seed: 2 }), zeros([3])); // [8, 3]
 * ```
 */
export function linear(x: Tensor, w: Tensor, b: Tensor | null = null): Tensor {
  return apply1(linearOp, b ? [x, w, b] : [x, w], {});
}
