/**
 * Normalisation layers: batch norm (training statistics with in-place running-stat updates, or
 * eval with running statistics), instance norm, group norm, layer norm over trailing dims and
 * ConvNeXt's channels-first layer norm (`layerNorm2d`, with `normCount` for pruned models), and
 * the one backward op they share.
 *
 * All of them share one plan (`norm_plan.ts`): the groups of elements that share statistics and
 * those that share an affine parameter. The cpu references walk it in `norm_cpu.ts`; five small
 * kernels serve every variant on the GPU (`norm_gpu.ts`). This file holds the op definitions.
 */
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply, apply1, defineOp, type OpInfo, shapeError } from "./registry.ts";
import { fill } from "./fill.ts";
import type { OnnxEmitter } from "./spec.ts";
import { type Core, makePlan, type NormBackwardAttrs } from "./norm_plan.ts";
import { applyCpu, backwardCpu, batchNormTrainCpu, forwardCpu } from "./norm_cpu.ts";
import { backwardGpu, batchNormEvalGpu, batchNormTrainGpu, forwardGpu } from "./norm_gpu.ts";
import * as S from "./norm_samples.ts";
import { backwardWasm, batchNormEvalWasm, batchNormTrainWasm, forwardWasm } from "./norm_wasm.ts";

// ---------------------------------------------------------------------------------------------
// Backward (one op for every normalisation; first-order only).

const normBackwardOp = defineOp<NormBackwardAttrs>({
  name: "normBackward",
  inputNames: ["x", "gradOutput", "gamma", "mean", "var"],
  shape(ins, a) {
    const outs: TensorInfo[] = [{ shape: ins[0].shape, dtype: "f32" }];
    if (a.params) {
      outs.push({ shape: ins[2].shape, dtype: "f32" }, { shape: ins[2].shape, dtype: "f32" });
    }
    return outs;
  },
  cpu: backwardCpu,
  gpu: backwardGpu,
  wasm: backwardWasm,
  grad: { none: "normalisation backward is first-order only" },
  channels: { kind: "block", reason: "backward op, not in forward graphs" },
  cost: (info) => ({ macs: 0, flops: 12 * numel(info.ins[0].shape) }),
  onnx: {
    none:
      "normBackward is a training-only op (the backward kernel of the norms); export the forward graph",
  },
  samples: S.normBackwardSamples,
});

/** Gradients of x, gamma, beta (inputs 0..2) of a normalisation, nulls where not needed. */
function normGrad(
  core: Core,
  eps: number,
  ins: readonly Tensor[],
  g: Tensor,
  fixedStats?: [Tensor, Tensor],
): (Tensor | null)[] {
  const [x, gamma, beta] = ins;
  const params = gamma.requiresGrad || beta.requiresGrad;
  const outs = apply(
    normBackwardOp,
    [x, g, gamma, ...(fixedStats ?? [])],
    { core, eps, center: !fixedStats, params },
  );
  const keep = (t: Tensor | undefined, want: boolean) => {
    if (!t) return null;
    if (want) return t;
    t.dispose();
    return null;
  };
  return [
    keep(outs[0], x.requiresGrad),
    keep(outs[1], gamma.requiresGrad),
    keep(outs[2], beta.requiresGrad),
  ];
}
function checkParam(
  op: string,
  what: string,
  t: TensorInfo,
  shape: readonly number[],
  x: TensorInfo,
) {
  if (t.dtype !== "f32") throw shapeError(op, `${what} must be f32, got ${t.dtype}`, t.shape);
  if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw shapeError(
      op,
      `${what} has shape [${t.shape}], expected [${shape}] for input [${x.shape}]`,
      x.shape,
      t.shape,
    );
  }
}

function checkX(op: string, x: TensorInfo, minRank: number, layout: string): void {
  if (x.shape.length < minRank) {
    throw shapeError(
      op,
      `expects a ${layout} input (rank >= ${minRank}), got rank ${x.shape.length}`,
      x.shape,
    );
  }
  if (x.dtype !== "f32") throw shapeError(op, `expects f32, got ${x.dtype}`, x.shape);
}
const normCost = (info: OpInfo) => ({ macs: 0, flops: 8 * numel(info.ins[0].shape) });

/** gamma/beta reshaped to [C, 1, ...] so they broadcast over an NC... tensor in ONNX. */
function channelParam(e: OnnxEmitter, name: string, rank: number, c: number): string {
  const out = e.fresh("per_channel");
  e.node("Reshape", [name, e.constant([c, ...Array(rank - 2).fill(1)], [rank - 1], "i64")], [out]);
  return out;
}

/** ones / zeros of shape [c] on x's backend, standing in for a missing gamma / beta. */
function affineOr(x: Tensor, t: Tensor | null, shape: readonly number[], value: number): Tensor {
  return t ?? fill(shape, value, x.backend);
}
// ---------------------------------------------------------------------------------------------
// batchNorm

/** Attributes of {@link batchNorm}. */
export interface BatchNormAttrs {
  /** Batch statistics (true, updating the running ones) or the running statistics. */
  training: boolean;
  /** Weight of the batch's statistics in the running averages. */
  momentum: number;
  /** Added to the variance before the square root. */
  eps: number;
}

const batchNormOp = defineOp<BatchNormAttrs>({
  name: "batchNorm",
  inputNames: ["x", "gamma", "beta", "runningMean", "runningVar"],
  mutates: [3, 4],
  shape([x, gamma, beta, rm, rv], a) {
    checkX("batchNorm", x, 2, "[N, C, ...]");
    const c = [x.shape[1]];
    checkParam("batchNorm", "gamma", gamma, c, x);
    checkParam("batchNorm", "beta", beta, c, x);
    checkParam("batchNorm", "runningMean", rm, c, x);
    checkParam("batchNorm", "runningVar", rv, c, x);
    if (a.training && numel(x.shape) / x.shape[1] < 2) {
      throw shapeError(
        "batchNorm",
        "training needs more than one value per channel; use a larger batch or eval mode",
        x.shape,
      );
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu(ins, [y], a, info) {
    const p = makePlan({ kind: "batch" }, info.ins[0].shape);
    if (a.training) return batchNormTrainCpu(ins, y, p, a.momentum, a.eps);
    const [x, gamma, beta, rm, rv] = ins;
    applyCpu(x, rm, rv, gamma, beta, y, p, a.eps);
  },
  gpu(ins, [y], a, info) {
    if (numel(info.ins[0].shape) === 0) return;
    const p = makePlan({ kind: "batch" }, info.ins[0].shape);
    if (a.training) batchNormTrainGpu(ins, y, p, a.momentum, a.eps);
    else batchNormEvalGpu(ins, y, p, a.eps);
  },
  wasm(ins, [y], a, info) {
    if (numel(info.ins[0].shape) === 0) return;
    const p = makePlan({ kind: "batch" }, info.ins[0].shape);
    if (a.training) batchNormTrainWasm(ins, y, p, a.momentum, a.eps);
    else batchNormEvalWasm(ins, y, p, a.eps);
  },
  grad: ({ ins, attrs }, [g]) =>
    normGrad(
      { kind: "batch" },
      attrs.eps,
      ins,
      g,
      attrs.training ? undefined : [ins[3], ins[4]],
    ),
  // Train mode outputs beta for a zero channel; eval mode gamma·(0 - runningMean)/sd + beta.
  channels: { kind: "accessory", perChannelInputs: [1, 2, 3, 4], zeroWhen: [[1, 2], [2, 3]] },
  cost: normCost,
  onnx: (e, io) =>
    e.node("BatchNormalization", io.inputs, io.outputs, {
      epsilon: { float: io.attrs.eps },
      momentum: { float: 1 - io.attrs.momentum },
    }),
  samples: S.batchNormSamples,
});

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  /** Batch statistics (true, updating the running ones) or the running statistics. */
  training: boolean;
  /** Weight of the batch's statistics in the running averages (default 0.1). */
  momentum?: number;
  /** Added to the variance before the square root (default 1e-5). */
  eps?: number;
}

/**
 * Batch normalisation over [N, C] or [N, C, ...] (PyTorch semantics). Training mode normalises
 * with the batch statistics (biased variance) and updates `runningMean`/`runningVar` in place
 * (running variance from the unbiased batch variance); eval mode uses the running statistics.
 * `gamma`/`beta` may be null (no affine).
 *
 * @example
 * ```ts
 * import { batchNorm, init, ones, randn, zeros } from "../../mod.ts";
 * await init();
 * const x = randn([8, 3, 4, 4], { seed: 0 });
 * const gamma = ones([3]), beta = zeros([3]);
 * const runMean = zeros([3]), runVar = ones([3]);
 * const y = batchNorm(x, gamma, beta, runMean, runVar, { training: true }); // updates runMean/Var
 * ```
 */
export function batchNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  runningMean: Tensor,
  runningVar: Tensor,
  opts: BatchNormOptions,
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(batchNormOp, [
    x,
    affineOr(x, gamma, c, 1),
    affineOr(x, beta, c, 0),
    runningMean,
    runningVar,
  ], { training: opts.training, momentum: opts.momentum ?? 0.1, eps: opts.eps ?? 1e-5 });
}

// ---------------------------------------------------------------------------------------------
// instanceNorm

/** Attributes of {@link instanceNorm}. */
export interface EpsAttrs {
  /** Added to the variance before the square root. */
  eps: number;
}

const instanceNormOp = defineOp<EpsAttrs>({
  name: "instanceNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta]) {
    checkX("instanceNorm", x, 3, "[N, C, ...spatial]");
    checkParam("instanceNorm", "gamma", gamma, [x.shape[1]], x);
    checkParam("instanceNorm", "beta", beta, [x.shape[1]], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) => forwardCpu(ins, y, { kind: "instance" }, a.eps, info),
  gpu: (ins, [y], a, info) => forwardGpu(ins, y, { kind: "instance" }, a.eps, info),
  wasm: (ins, [y], a, info) => forwardWasm(ins, y, { kind: "instance" }, a.eps, info),
  grad: ({ ins, attrs }, [g]) => normGrad({ kind: "instance" }, attrs.eps, ins, g),
  // A zero plane normalises to zero: the output is beta.
  channels: { kind: "accessory", perChannelInputs: [1, 2], zeroWhen: [[2]] },
  cost: normCost,
  onnx: (e, io) =>
    e.node("InstanceNormalization", io.inputs, io.outputs, { epsilon: { float: io.attrs.eps } }),
  samples: S.instanceNormSamples,
});

/** Instance normalisation: each (sample, channel) over its spatial positions, no running stats. */
export function instanceNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { eps?: number } = {},
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(instanceNormOp, [x, affineOr(x, gamma, c, 1), affineOr(x, beta, c, 0)], {
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// groupNorm

/** Attributes of {@link groupNorm}. */
export interface GroupNormAttrs {
  /** Groups the channels are split into. */
  groups: number;
  /** Added to the variance before the square root. */
  eps: number;
}

const groupNormOp = defineOp<GroupNormAttrs>({
  name: "groupNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    checkX("groupNorm", x, 2, "[N, C, ...]");
    const c = x.shape[1];
    if (!Number.isInteger(a.groups) || a.groups < 1 || c % a.groups !== 0) {
      throw shapeError("groupNorm", `${c} channels do not split into ${a.groups} groups`, x.shape);
    }
    checkParam("groupNorm", "gamma", gamma, [c], x);
    checkParam("groupNorm", "beta", beta, [c], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) => forwardCpu(ins, y, { kind: "group", groups: a.groups }, a.eps, info),
  gpu: (ins, [y], a, info) => forwardGpu(ins, y, { kind: "group", groups: a.groups }, a.eps, info),
  wasm: (ins, [y], a, info) =>
    forwardWasm(ins, y, { kind: "group", groups: a.groups }, a.eps, info),
  grad: ({ ins, attrs }, [g]) =>
    normGrad({ kind: "group", groups: attrs.groups }, attrs.eps, ins, g),
  channels: {
    kind: "accessory",
    perChannelInputs: [1, 2],
    zeroWhen: [[2]],
    blockSize: (a, info) => info.ins[0].shape[1] / a.groups,
  },
  cost: normCost,
  onnx: (e, io) => {
    // Opset 17 has no GroupNormalization: reshape to [N, G, -1], instance-normalise with unit
    // scale, reshape back, then the per-channel affine.
    const s = io.info.ins[0].shape, G = io.attrs.groups;
    const r = e.fresh("grouped"), nrm = e.fresh("grouped_norm"), back = e.fresh("normalised");
    const scaled = e.fresh("scaled");
    e.node("Reshape", [io.inputs[0], e.constant([0, G, -1], [3], "i64")], [r]);
    e.node(
      "InstanceNormalization",
      [
        r,
        e.constant(Array(G).fill(1), [G]),
        e.constant(Array(G).fill(0), [G]),
      ],
      [nrm],
      { epsilon: { float: io.attrs.eps } },
    );
    e.node("Reshape", [nrm, e.constant([0, ...s.slice(1)], [s.length], "i64")], [back]);
    e.node("Mul", [back, channelParam(e, io.inputs[1], s.length, s[1])], [scaled]);
    e.node("Add", [scaled, channelParam(e, io.inputs[2], s.length, s[1])], io.outputs);
  },
  samples: S.groupNormSamples,
});

/** Group normalisation: channels split into `groups`, each (sample, group) normalised. */
export function groupNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { groups: number; eps?: number },
): Tensor {
  const c = [x.shape[1] ?? 0];
  return apply1(groupNormOp, [x, affineOr(x, gamma, c, 1), affineOr(x, beta, c, 0)], {
    groups: opts.groups,
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// layerNorm (trailing dims)

/** Attributes of {@link layerNorm}. */
export interface LayerNormAttrs {
  /** The trailing dimensions normalised together. */
  normalizedShape: readonly number[];
  /** Added to the variance before the square root. */
  eps: number;
  /**
   * Divisor of the statistics (default: the normalised elements). A pruned model keeps the
   * original count so its removed (zero) channels still count, as layerNorm2d's normCount.
   */
  normCount?: number;
}

const layerCore = (a: LayerNormAttrs): Core => ({
  kind: "layer",
  normDims: a.normalizedShape.length,
  normCount: a.normCount,
});

const layerNormOp = defineOp<LayerNormAttrs>({
  name: "layerNorm",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    const ns = a.normalizedShape;
    if (x.dtype !== "f32") throw shapeError("layerNorm", `expects f32, got ${x.dtype}`, x.shape);
    const tail = x.shape.slice(x.shape.length - ns.length);
    if (
      ns.length === 0 || ns.length > x.shape.length || tail.some((d, i) => d !== ns[i])
    ) {
      throw shapeError(
        "layerNorm",
        `normalizedShape [${ns}] must equal the trailing dims of the input`,
        x.shape,
      );
    }
    checkParam("layerNorm", "gamma", gamma, ns, x);
    checkParam("layerNorm", "beta", beta, ns, x);
    const count = numel(ns);
    if (a.normCount !== undefined && (!Number.isInteger(a.normCount) || a.normCount < count)) {
      throw shapeError(
        "layerNorm",
        `normCount ${a.normCount} must be an integer >= the ${count} normalised elements`,
        x.shape,
      );
    }
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) => forwardCpu(ins, y, layerCore(a), a.eps, info),
  gpu: (ins, [y], a, info) => forwardGpu(ins, y, layerCore(a), a.eps, info),
  wasm: (ins, [y], a, info) => forwardWasm(ins, y, layerCore(a), a.eps, info),
  grad: ({ ins, attrs }, [g]) => normGrad(layerCore(attrs), attrs.eps, ins, g),
  // The normalised shape is the input's trailing dims (fewer channels after compression).
  follow: (a, _t, [x]) => ({
    ...a,
    normalizedShape: x.shape.slice(x.shape.length - a.normalizedShape.length),
  }),
  // Over one trailing axis (channels-last LayerNorm, as ConvNeXt blocks): an accessory of the
  // channels on that axis, exact for pruned models through normCount (see layerNorm2d).
  channels: {
    kind: "byAttrs",
    rule: (a) =>
      a.normalizedShape.length !== 1
        ? { kind: "block", reason: "layerNorm over several trailing axes mixes them" }
        : {
          kind: "accessory",
          perChannelInputs: [1, 2],
          axis: (_a, info) => info.ins[0].shape.length - 1,
          zeroWhen: [[1, 2]],
          normCount: {
            get: (b) => b.normCount ?? b.normalizedShape[0],
            set: (b, count) => ({ ...b, normCount: count }),
          },
        },
  },
  cost: normCost,
  onnx: (e, io) => {
    const a = io.attrs;
    if (a.normCount === undefined || a.normCount === numel(a.normalizedShape)) {
      return e.node("LayerNormalization", io.inputs, io.outputs, {
        axis: -a.normalizedShape.length,
        epsilon: { float: a.eps },
      });
    }
    meanVarNorm(e, io.inputs, io.outputs, -1, a.normCount, a.eps, (n) => n);
  },
  samples: S.layerNormSamples,
});

/**
 * y = (x - mean) / sqrt(var + eps) · gamma + beta over `axis`, with mean = Σx / count and
 * var = Σx² / count - mean² (missing elements count as zeros); `param` shapes gamma/beta.
 */
function meanVarNorm(
  e: OnnxEmitter,
  [x, gamma, beta]: string[],
  outputs: string[],
  axis: number,
  count: number,
  eps: number,
  param: (name: string) => string,
): void {
  const inv = e.constant([1 / count], []);
  const axes = e.constant([axis], [1], "i64");
  const t = (h: string) => e.fresh(h);
  const sum = t("sum"), mean = t("mean"), sq = t("sq"), sumSq = t("sum_sq"), ex2 = t("ex2");
  const m2 = t("mean_sq"), vr = t("var"), ve = t("var_eps"), sd = t("std"), d = t("centered");
  const xn = t("normalised"), sc = t("scaled");
  e.node("ReduceSum", [x, axes], [sum], { keepdims: 1 });
  e.node("Mul", [sum, inv], [mean]);
  e.node("Mul", [x, x], [sq]);
  e.node("ReduceSum", [sq, axes], [sumSq], { keepdims: 1 });
  e.node("Mul", [sumSq, inv], [ex2]);
  e.node("Mul", [mean, mean], [m2]);
  e.node("Sub", [ex2, m2], [vr]);
  e.node("Add", [vr, e.constant([eps], [])], [ve]);
  e.node("Sqrt", [ve], [sd]);
  e.node("Sub", [x, mean], [d]);
  e.node("Div", [d, sd], [xn]);
  e.node("Mul", [xn, param(gamma)], [sc]);
  e.node("Add", [sc, param(beta)], outputs);
}

/** Layer normalisation over the trailing `normalizedShape` dims (gamma/beta of that shape). */
export function layerNorm(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: { normalizedShape: readonly number[]; eps?: number },
): Tensor {
  const ns = [...opts.normalizedShape];
  return apply1(layerNormOp, [x, affineOr(x, gamma, ns, 1), affineOr(x, beta, ns, 0)], {
    normalizedShape: ns,
    eps: opts.eps ?? 1e-5,
  });
}

// ---------------------------------------------------------------------------------------------
// layerNorm2d (ConvNeXt channels-first)

/** Attributes of {@link layerNorm2d}. */
export interface LayerNorm2dAttrs {
  /** Added to the variance before the square root. */
  eps: number;
  /** Divisor of the statistics (default C): channels beyond C count as zeros. */
  normCount: number;
}

const layerNorm2dOp = defineOp<LayerNorm2dAttrs>({
  name: "layerNorm2d",
  inputNames: ["x", "gamma", "beta"],
  shape([x, gamma, beta], a) {
    checkX("layerNorm2d", x, 2, "[N, C, ...]");
    const c = x.shape[1];
    if (!Number.isInteger(a.normCount) || a.normCount < c) {
      throw shapeError(
        "layerNorm2d",
        `normCount ${a.normCount} must be an integer >= the ${c} input channels`,
        x.shape,
      );
    }
    checkParam("layerNorm2d", "gamma", gamma, [c], x);
    checkParam("layerNorm2d", "beta", beta, [c], x);
    return [{ shape: x.shape, dtype: "f32" }];
  },
  cpu: (ins, [y], a, info) =>
    forwardCpu(ins, y, { kind: "layer2d", normCount: a.normCount }, a.eps, info),
  gpu: (ins, [y], a, info) =>
    forwardGpu(ins, y, { kind: "layer2d", normCount: a.normCount }, a.eps, info),
  wasm: (ins, [y], a, info) =>
    forwardWasm(ins, y, { kind: "layer2d", normCount: a.normCount }, a.eps, info),
  grad: ({ ins, attrs }, [g]) =>
    normGrad({ kind: "layer2d", normCount: attrs.normCount }, attrs.eps, ins, g),
  // Accessory: output channel j is zero when gamma[j] = beta[j] = 0. Removing channel j changes
  // the statistics of the remaining channels unless the pruned model keeps normCount = the
  // original C and channel j's input was exactly zero (pruned channels are zero *before* this
  // norm): zero-invariant only with normCount, which compression keeps through this hook.
  channels: {
    kind: "accessory",
    perChannelInputs: [1, 2],
    zeroWhen: [[1, 2]],
    normCount: {
      get: (a) => a.normCount,
      set: (a, count) => ({ ...a, normCount: count }),
    },
  },
  cost: normCost,
  onnx: (e, io) => {
    const s = io.info.ins[0].shape;
    meanVarNorm(
      e,
      io.inputs,
      io.outputs,
      1,
      io.attrs.normCount,
      io.attrs.eps,
      (name) => channelParam(e, name, s.length, s[1]),
    );
  },
  samples: S.layerNorm2dSamples,
});

/** Options of {@link layerNorm2d}. */
export interface LayerNorm2dOptions {
  /** Added to the variance before the square root (default 1e-6). */
  eps?: number;
  /** Expected channel count (checked when given). */
  channels?: number;
  /**
   * Divisor of the statistics (default: the input's C). A pruned model keeps the original C
   * here so mean = Σx/normCount and var = Σx²/normCount - mean² match the unpruned model,
   * whose removed channels were zero.
   */
  normCount?: number;
}

/**
 * ConvNeXt's channels-first LayerNorm: normalises over C at every (n, h, w); gamma/beta [C].
 *
 * @example
 * ```ts
 * import { init, layerNorm2d, ones, randn, zeros } from "../../mod.ts";
 * await init();
 * const x = randn([2, 96, 8, 8], { seed: 0 });
 * const gamma = ones([96]), beta = zeros([96]);
 * const y = layerNorm2d(x, gamma, beta, { eps: 1e-6 }); // [2, 96, 8, 8]
 * ```
 */
export function layerNorm2d(
  x: Tensor,
  gamma: Tensor | null,
  beta: Tensor | null,
  opts: LayerNorm2dOptions = {},
): Tensor {
  const c = x.shape[1] ?? 0;
  if (opts.channels !== undefined && opts.channels !== c) {
    throw shapeError("layerNorm2d", `input has ${c} channels, expected ${opts.channels}`, x.shape);
  }
  return apply1(layerNorm2dOp, [x, affineOr(x, gamma, [c], 1), affineOr(x, beta, [c], 0)], {
    eps: opts.eps ?? 1e-6,
    normCount: opts.normCount ?? c,
  });
}
