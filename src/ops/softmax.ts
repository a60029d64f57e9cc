/**
 * softmax and logSoftmax along one axis (one fused, numerically stable kernel each), and the
 * fused cross-entropy loss: one kernel computes every row's loss from the logits, another its
 * gradient `(softmax - smoothed one-hot) * g`, so training never materialises probabilities.
 */
import softmaxSrc from "../../kernels/softmax/softmax.wgsl" with { type: "text" };
import ceSrc from "../../kernels/softmax/cross_entropy.wgsl" with { type: "text" };
import ceGradSrc from "../../kernels/softmax/cross_entropy_grad.wgsl" with { type: "text" };
import reduceLib from "../../kernels/lib/workgroup_reduce.wgsl" with { type: "text" };
import {
  acquireBuffer,
  dispatch,
  grid1d,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import { type HostArray, numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, getOp, type KernelOp, type OpSpec, shapeError } from "./registry.ts";
import { normAxis } from "./util.ts";
import { exp, mul, sub } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { ints, rand } from "./samples.ts";
import type { OpSample } from "./spec.ts";

const SOFTMAX_SAMPLES: OpSample<SoftmaxAttrs>[] = [
  { name: "last axis", ins: [rand([3, 7], -3, 3)], attrs: { axis: 1 } },
  { name: "middle axis (inner > 1)", ins: [rand([2, 5, 3], -3, 3)], attrs: { axis: 1 } },
  { name: "long rows (more than a workgroup)", ins: [rand([2, 300], -3, 3)], attrs: { axis: 1 } },
  { name: "empty", ins: [rand([0, 4])], attrs: { axis: 1 } },
  // Along the positions of NCHW: every channel normalised on its own.
  { name: "over W of NCHW", ins: [rand([2, 3, 2, 5], -3, 3)], attrs: { axis: 3 } },
];
const ceSamples = (grad: boolean): OpSample<CrossEntropyAttrs>[] =>
  (["mean", "sum", "none"] as const).flatMap((reduction) =>
    [0, 0.1].map((labelSmoothing) => ({
      name: `${reduction}, label smoothing ${labelSmoothing}`,
      ins: [
        rand([4, 5], -3, 3),
        ints([4, 0, 2, 2]),
        ...(grad ? [rand(reduction === "none" ? [4] : [])] : []),
      ],
      attrs: { reduction, labelSmoothing },
    }))
  );

/** Attributes of softmax / logSoftmax: the (normalised) axis. */
export interface SoftmaxAttrs {
  /** The axis normalised over. */
  axis: number;
}

/** [outer, len, inner] view around `axis`. */
function rowsOf(shape: readonly number[], axis: number) {
  const len = shape[axis], inner = numel(shape.slice(axis + 1));
  return { len, inner, rows: numel(shape) / Math.max(len, 1) };
}

function softmaxCpu(
  x: HostArray,
  y: HostArray,
  shape: readonly number[],
  axis: number,
  log: boolean,
) {
  const { len, inner, rows } = rowsOf(shape, axis);
  if (len === 0) return;
  for (let r = 0; r < rows; r++) {
    const base = Math.floor(r / inner) * len * inner + (r % inner);
    let m = -Infinity;
    for (let j = 0; j < len; j++) m = Math.max(m, x[base + j * inner]);
    let s = 0;
    for (let j = 0; j < len; j++) s += Math.exp(x[base + j * inner] - m);
    const ls = Math.log(s);
    for (let j = 0; j < len; j++) {
      const at = base + j * inner;
      y[at] = log ? x[at] - m - ls : Math.exp(x[at] - m) / s;
    }
  }
}

function softmaxOp(name: "softmax" | "logSoftmax"): OpSpec<SoftmaxAttrs> {
  const log = name === "logSoftmax";
  return defineOp<SoftmaxAttrs>({
    name,
    inputNames: ["x"],
    shape([x], a) {
      if (x.dtype !== "f32") throw shapeError(name, `expects f32, got ${x.dtype}`, x.shape);
      if (a.axis < 0 || a.axis >= x.shape.length) {
        throw shapeError(name, `axis ${a.axis} is out of range`, x.shape);
      }
      return [{ shape: x.shape, dtype: "f32" }];
    },
    cpu([x], [y], a, info) {
      softmaxCpu(x, y, info.ins[0].shape, a.axis, log);
    },
    gpu([x], [y], a, info) {
      const { len, inner, rows } = rowsOf(info.ins[0].shape, a.axis);
      if (numel(info.ins[0].shape) === 0) return;
      const g = grid1d(rows, 1);
      const k = specialize("softmax", reduceLib + softmaxSrc, { LOG: String(log) });
      dispatch(k, [x, y], g, new Uniforms().u32(rows, g[0], len, inner));
    },
    // softmax: dx = y (g - Σ g y); logSoftmax: dx = g - softmax(x) Σ g.
    grad: ({ outs, attrs }, [g]) => {
      const y = outs[0];
      return log
        ? [sub(g, mul(exp(y), sum(g, attrs.axis, true)))]
        : [mul(y, sub(g, sum(mul(g, y), attrs.axis, true)))];
    },
    // Along another axis each channel is normalised on its own, but zeros become 1/n.
    channels: { kind: "map", reason: `${name} of zeros is not zero`, mixes: (a) => [a.axis] },
    cost: (info) => ({ macs: 0, flops: 5 * numel(info.ins[0].shape) }),
    onnx: (e, io) =>
      e.node(log ? "LogSoftmax" : "Softmax", io.inputs, io.outputs, { axis: io.attrs.axis }),
    samples: SOFTMAX_SAMPLES,
  });
}

const softmaxOps = { softmax: softmaxOp("softmax"), logSoftmax: softmaxOp("logSoftmax") };

/** exp(x) / Σ exp(x) along `axis` (default last), computed stably in one kernel. */
export function softmax(x: Tensor, axis = -1): Tensor {
  return apply1(softmaxOps.softmax, [x], { axis: normAxis("softmax", axis, x.rank) });
}

/** log(softmax(x)) along `axis` (default last): x - max - log Σ exp(x - max). */
export function logSoftmax(x: Tensor, axis = -1): Tensor {
  return apply1(softmaxOps.logSoftmax, [x], { axis: normAxis("logSoftmax", axis, x.rank) });
}

// ---------------------------------------------------------------------------------------------
// Cross-entropy

/** Options (and attributes) of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  /** Target = (1 - s) one-hot + s / C everywhere (default 0). */
  labelSmoothing?: number;
  /** "mean" over rows (default), "sum", or "none" (one loss per row). */
  reduction?: "mean" | "sum" | "none";
}

/** Normalised attributes of the crossEntropy op. */
export interface CrossEntropyAttrs {
  labelSmoothing: number;
  reduction: "mean" | "sum" | "none";
}

function checkCe(op: string, logits: TensorInfo, labels: TensorInfo): void {
  const [ls, ys] = [logits.shape, labels.shape];
  if (logits.dtype !== "f32") throw shapeError(op, `logits must be f32, got ${logits.dtype}`, ls);
  if (ls.length !== 2) throw shapeError(op, "logits must be [N, C]", ls, ys);
  if (labels.dtype !== "i32") {
    throw shapeError(
      op,
      `labels must be i32 class indices, got ${labels.dtype} (use cast(labels, "i32"))`,
      ls,
      ys,
    );
  }
  if (ys.length !== 1 || ys[0] !== ls[0]) {
    throw shapeError(
      op,
      `logits have ${ls[0]} rows but labels have shape [${ys}] (expected [${ls[0]}])`,
      ls,
      ys,
    );
  }
  if (ls[1] === 0) throw shapeError(op, "logits have no classes", ls, ys);
}

/** Per-row softmax statistics and the checked label, in float64. */
function* ceRows(op: string, x: HostArray, y: HostArray, n: number, c: number) {
  for (let r = 0; r < n; r++) {
    const label = y[r];
    if (!(label >= 0 && label < c)) {
      throw new Error(`${op}: label ${label} at row ${r} is out of range for ${c} classes`);
    }
    const base = r * c;
    let m = -Infinity, s = 0, t = 0;
    for (let j = 0; j < c; j++) m = Math.max(m, x[base + j]);
    for (let j = 0; j < c; j++) (s += Math.exp(x[base + j] - m), t += x[base + j]);
    yield { r, base, label, m, s, t };
  }
}

const ceOp = defineOp<CrossEntropyAttrs>({
  name: "crossEntropy",
  inputNames: ["logits", "labels"],
  shape([x, y], a) {
    checkCe("crossEntropy", x, y);
    return [{ shape: a.reduction === "none" ? [x.shape[0]] : [], dtype: "f32" }];
  },
  cpu([x, y], [out], a, info) {
    const [n, c] = info.ins[0].shape;
    const eps = a.labelSmoothing;
    let total = 0;
    for (const { r, base, label, m, s, t } of ceRows("crossEntropy", x, y, n, c)) {
      const loss = m + Math.log(s) - ((1 - eps) * x[base + label] + (eps / c) * t);
      if (a.reduction === "none") out[r] = loss;
      else total += loss;
    }
    if (a.reduction !== "none") out[0] = a.reduction === "mean" ? total / n : total;
  },
  gpu([x, y], [out], a, info) {
    const [n, c] = info.ins[0].shape;
    if (n === 0) return;
    const g = grid1d(n, 1);
    const u = new Uniforms().u32(n, g[0], c, 0).f32(a.labelSmoothing).u32(0, 0, 0);
    const rows = a.reduction === "none" ? out : acquireBuffer(n * 4);
    dispatch(specialize("cross_entropy", ceSrc), [x, y, rows], g, u);
    if (a.reduction !== "none") {
      // Reuse the registered reduction's kernel for the mean / sum over rows.
      const red = getOp(a.reduction === "mean" ? "mean" : "sum") as unknown as KernelOp<
        { axes: number[]; keepDims: boolean }
      >;
      red.gpu([rows], [out], { axes: [0], keepDims: false }, {
        ins: [{ shape: [n], dtype: "f32" }],
        outs: [{ shape: [], dtype: "f32" }],
      });
      releaseBuffer(rows);
    }
  },
  grad: ({ ins, attrs }, [g]) => [apply1(ceGradOp, [ins[0], ins[1], g], attrs), null],
  channels: { kind: "block", reason: "crossEntropy mixes the classes of each row" },
  cost: (info) => ({ macs: 0, flops: 5 * numel(info.ins[0].shape) }),
  onnx: (e, io) => {
    const { labelSmoothing: eps, reduction } = io.attrs;
    const [x, y] = io.inputs;
    const logp = e.fresh("logp"), y64 = e.fresh("labels64");
    e.node("LogSoftmax", [x], [logp], { axis: 1 });
    e.node("Cast", [y], [y64], { to: 7 });
    if (eps === 0) {
      e.node("NegativeLogLikelihoodLoss", [logp, y64], io.outputs, { reduction });
      return;
    }
    // (1 - eps) * nll + eps * mean_c(-logp), reduced the same way.
    const nll = e.fresh("nll"), rowMean = e.fresh("row_mean"), smooth = e.fresh("smooth");
    e.node("NegativeLogLikelihoodLoss", [logp, y64], [nll], { reduction });
    e.node("ReduceMean", [logp], [rowMean], { axes: [1], keepdims: 0 });
    let reduced = rowMean;
    if (reduction !== "none") {
      reduced = e.fresh("smooth_reduced");
      if (reduction === "mean") e.node("ReduceMean", [rowMean], [reduced], { keepdims: 0 });
      else e.node("ReduceSum", [rowMean], [reduced], { keepdims: 0 });
    }
    e.node("Mul", [reduced, e.constant([-eps], [])], [smooth]);
    const hard = e.fresh("hard");
    e.node("Mul", [nll, e.constant([1 - eps], [])], [hard]);
    e.node("Add", [hard, smooth], io.outputs);
  },
  samples: ceSamples(false),
});

const ceGradOp = defineOp<CrossEntropyAttrs>({
  name: "crossEntropyGrad",
  inputNames: ["logits", "labels", "gradOutput"],
  shape([x, y, g], a) {
    checkCe("crossEntropyGrad", x, y);
    const want = a.reduction === "none" ? [x.shape[0]] : [];
    if (g.shape.length !== want.length || g.shape.some((d, i) => d !== want[i])) {
      throw shapeError("crossEntropyGrad", "gradient has the wrong shape", g.shape, want);
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu([x, y, g], [dx], a, info) {
    const [n, c] = info.ins[0].shape;
    const eps = a.labelSmoothing, off = eps / c;
    const scale = a.reduction === "mean" ? 1 / n : 1;
    for (const { r, base, label, m, s } of ceRows("crossEntropyGrad", x, y, n, c)) {
      const gs = g[a.reduction === "none" ? r : 0] * scale;
      for (let j = 0; j < c; j++) {
        const q = j === label ? off + 1 - eps : off;
        dx[base + j] = (Math.exp(x[base + j] - m) / s - q) * gs;
      }
    }
  },
  gpu([x, y, g], [dx], a, info) {
    const [n, c] = info.ins[0].shape;
    if (n === 0) return;
    const gr = grid1d(n, 1);
    const u = new Uniforms().u32(n, gr[0], c, a.reduction === "none" ? 1 : 0);
    u.f32(a.labelSmoothing, a.reduction === "mean" ? 1 / n : 1).u32(0, 0);
    dispatch(specialize("cross_entropy_grad", reduceLib + ceGradSrc), [x, y, g, dx], gr, u);
  },
  grad: { none: "second derivatives of crossEntropy are not implemented" },
  channels: { kind: "block", reason: "crossEntropy mixes the classes of each row" },
  cost: (info) => ({ macs: 0, flops: 5 * numel(info.ins[0].shape) }),
  onnx: {
    none:
      "crossEntropyGrad is a training-only op (the backward kernel of crossEntropy); export the forward graph",
  },
  samples: ceSamples(true),
});

/**
 * Softmax cross-entropy of `logits` [N, C] against i32 class `labels` [N], as one fused op.
 * The gradient w.r.t. the logits is `(softmax - smoothed one-hot) * g` (divided by N for the
 * mean). Labels must lie in [0, C): the cpu backend throws naming the bad label; the GPU kernels
 * clamp them (never an out-of-bounds read).
 *
 * @example
 * ```ts
 * import { crossEntropy, init, randn, tensor } from "../../mod.ts";
 * await init();
 * const logits = randn([4, 3], { seed: 0 });
 * const y = tensor([0, 2, 1, 1], [4], { dtype: "i32" });
 * const loss = crossEntropy(logits, y, { labelSmoothing: 0.1 }); // scalar mean
 * ```
 */
export function crossEntropy(
  logits: Tensor,
  labels: Tensor,
  opts: CrossEntropyOptions = {},
): Tensor {
  const labelSmoothing = opts.labelSmoothing ?? 0;
  const reduction = opts.reduction ?? "mean";
  if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
    throw new Error(`crossEntropy: labelSmoothing must be in [0, 1), got ${labelSmoothing}`);
  }
  if (!["mean", "sum", "none"].includes(reduction)) {
    throw new Error(`crossEntropy: reduction must be "mean", "sum" or "none", got ${reduction}`);
  }
  return apply1(ceOp, [logits, labels], { labelSmoothing, reduction });
}
