/**
 * Layers: convolutions, normalisations, fully connected layers, pooling, softmax, dropout,
 * resizing and padding, mapped onto oto's ops so the partition sees conv/linear stems and norm
 * accessories exactly as it does for a model written with oto's layers.
 */
import type { Tensor } from "../../tensor.ts";
import * as ops from "../../ops/index.ts";
import { linear } from "../../ops/linear.ts";
import { hostValue, isHost, size } from "../values.ts";
import {
  attrFloat,
  attrInt,
  attrInts,
  attrString,
  NodeError,
  type OpImport,
  type Role,
  type RunContext,
  unsupported,
  type Val,
} from "./types.ts";
import { axis, host, isTensor, need, optScalar } from "./common.ts";

type Pair = [number, number];

function rank4(x: Val, what: string): Tensor {
  if (!isTensor(x)) throw new NodeError(`${what} is a constant; oto runs it on data only`);
  if (x.rank !== 4) {
    throw new NodeError(
      `${what} has rank ${x.rank}; oto supports the 2-D (NCHW) form of this operator only`,
    );
  }
  return x;
}

/**
 * Strides, dilations and [top, left, bottom, right] pads of a 2-D window operator, from the
 * attributes (auto_pad included) for an input of spatial size `hw` and kernel `k`.
 */
function window2d(ctx: RunContext, hw: readonly number[], k: Pair) {
  const n = ctx.node;
  const two = (name: string, def: number): Pair => {
    const v = attrInts(n, name, null) ?? [def, def];
    if (v.length !== 2) throw unsupported(name, v, "2-D windows only");
    return [v[0], v[1]];
  };
  const strides = two("strides", 1), dil = two("dilations", 1);
  const ks = attrInts(n, "kernel_shape", null);
  if (ks && (ks.length !== 2 || ks[0] !== k[0] || ks[1] !== k[1])) {
    throw unsupported("kernel_shape", ks, `the weight's kernel is [${k}]`);
  }
  const autoPad = attrString(n, "auto_pad", "NOTSET");
  let pads = attrInts(n, "pads", null) ?? [0, 0, 0, 0];
  if (pads.length !== 4) throw unsupported("pads", pads, "2-D windows only");
  if (autoPad === "VALID") pads = [0, 0, 0, 0];
  else if (autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    const total = [0, 1].map((i) => {
      const out = Math.ceil(hw[i] / strides[i]);
      return Math.max(0, (out - 1) * strides[i] + dil[i] * (k[i] - 1) + 1 - hw[i]);
    });
    const lo = total.map((t) => (autoPad === "SAME_UPPER" ? Math.floor(t / 2) : Math.ceil(t / 2)));
    pads = [lo[0], lo[1], total[0] - lo[0], total[1] - lo[1]];
  } else if (autoPad !== "NOTSET") {
    throw unsupported("auto_pad", autoPad, "NOTSET, VALID, SAME_UPPER, SAME_LOWER");
  }
  return { strides, dil, pads };
}

/** Split [t, l, b, r] pads into the symmetric part and the extra padding after it. */
function symmetric(pads: readonly number[]): { sym: Pair; extra: number[] | null } {
  const sym: Pair = [Math.min(pads[0], pads[2]), Math.min(pads[1], pads[3])];
  const extra = [pads[0] - sym[0], pads[1] - sym[1], pads[2] - sym[0], pads[3] - sym[1]];
  return { sym, extra: extra.some((p) => p !== 0) ? extra : null };
}

function padExtra(x: Tensor, extra: number[] | null, value = 0): Tensor {
  if (!extra) return x;
  return ops.pad(x, [[0, 0], [0, 0], [extra[0], extra[2]], [extra[1], extra[3]]], value);
}

const convRoles = (): (Role | undefined)[] => [undefined, "weight", "bias"];

function conv(ctx: RunContext, ins: readonly (Val | undefined)[]): Val[] {
  const x = rank4(need(ins, 0, "X"), "X");
  const w = ctx.tensor(need(ins, 1, "W"));
  const b = ins[2] === undefined ? null : ctx.tensor(ins[2]);
  if (w.rank !== 4) throw new NodeError(`weight has rank ${w.rank}; 2-D convolutions only`);
  const g = window2d(ctx, x.shape.slice(2), [w.shape[2], w.shape[3]]);
  const { sym, extra } = symmetric(g.pads);
  return [
    ops.conv2d(padExtra(x, extra), w, b, {
      stride: g.strides,
      padding: sym,
      dilation: g.dil,
      groups: attrInt(ctx.node, "group", 1),
    }),
  ];
}

function convTranspose(ctx: RunContext, ins: readonly (Val | undefined)[]): Val[] {
  const n = ctx.node;
  const x = rank4(need(ins, 0, "X"), "X");
  const w = ctx.tensor(need(ins, 1, "W"));
  const b = ins[2] === undefined ? null : ctx.tensor(ins[2]);
  const k: Pair = [w.shape[2], w.shape[3]];
  const groups = attrInt(n, "group", 1);
  const strides = (attrInts(n, "strides", null) ?? [1, 1]) as Pair;
  const dil = (attrInts(n, "dilations", null) ?? [1, 1]) as Pair;
  let outPad = (attrInts(n, "output_padding", null) ?? [0, 0]) as Pair;
  let pads = attrInts(n, "pads", null) ?? [0, 0, 0, 0];
  const outShape = attrInts(n, "output_shape", null);
  const autoPad = attrString(n, "auto_pad", "NOTSET");
  if (outShape || autoPad === "SAME_UPPER" || autoPad === "SAME_LOWER") {
    // Total padding that gives the requested (or SAME: input·stride) output size.
    const want = outShape ? outShape.slice(-2) : [0, 1].map((i) => x.shape[2 + i] * strides[i]);
    const total = [0, 1].map((i) =>
      strides[i] * (x.shape[2 + i] - 1) + outPad[i] + (k[i] - 1) * dil[i] + 1 - want[i]
    );
    const upper = autoPad !== "SAME_LOWER";
    const lo = total.map((t) => (upper ? Math.floor(t / 2) : t - Math.floor(t / 2)));
    pads = [lo[0], lo[1], total[0] - lo[0], total[1] - lo[1]];
  } else if (autoPad === "VALID") pads = [0, 0, 0, 0];
  if (pads[0] !== pads[2] || pads[1] !== pads[3]) {
    // Extra end padding crops one more row/column: the same as a smaller output padding.
    const d = [pads[2] - pads[0], pads[3] - pads[1]];
    if (d.some((v, i) => v < 0 || v > outPad[i])) {
      throw unsupported("pads", pads, "symmetric pads, or end pads covered by output_padding");
    }
    outPad = [outPad[0] - d[0], outPad[1] - d[1]];
    pads = [pads[0], pads[1], pads[0], pads[1]];
  }
  return [
    ops.convTranspose2d(x, w, b, {
      stride: strides,
      padding: [pads[0], pads[1]],
      dilation: dil,
      groups,
      outputPadding: outPad,
    }),
  ];
}

function pool(kind: "max" | "avg"): OpImport {
  return {
    run(ctx, ins) {
      const n = ctx.node;
      const x = rank4(need(ins, 0, "X"), "X");
      if (kind === "max" && n.outputs.length > 1 && n.outputs[1]) {
        throw new NodeError("the Indices output of MaxPool is not supported");
      }
      const ks = attrInts(n, "kernel_shape", null);
      if (!ks || ks.length !== 2) throw unsupported("kernel_shape", ks, "2-D windows");
      const g = window2d(ctx, x.shape.slice(2), [ks[0], ks[1]]);
      const ceil = attrInt(n, "ceil_mode", 0) === 1;
      const { sym, extra } = symmetric(g.pads);
      if (kind === "max") {
        if (attrInt(n, "storage_order", 0) !== 0) {
          throw unsupported("storage_order", 1, "row-major only");
        }
        // Extra padding at the end only (SAME padding of an even input) is ceil mode when that
        // gives the same windows: no pad op, so the channels stay prunable. Otherwise padded
        // taps never win a max, and explicit -inf padding is the same.
        let useCeil = ceil, y = x;
        if (extra) {
          const out = (i: number, pads: number, c: boolean) => {
            const span = g.dil[i] * (ks[i] - 1) + 1, len = x.shape[2 + i] + pads - span;
            return (c ? Math.ceil(len / g.strides[i]) : Math.floor(len / g.strides[i])) + 1;
          };
          const endOnly = extra[0] === 0 && extra[1] === 0 && !ceil;
          const same = [0, 1].every((i) =>
            out(i, 2 * sym[i], true) === out(i, 2 * sym[i] + extra[2 + i], false)
          );
          if (endOnly && same) useCeil = true;
          else y = padExtra(x, extra, -Infinity);
        }
        return [
          ops.maxPool2d(y, {
            kernel: ks,
            stride: g.strides,
            padding: sym,
            dilation: g.dil,
            ceilMode: useCeil,
          }),
        ];
      }
      if (g.dil.some((d) => d !== 1)) throw unsupported("dilations", g.dil, "1 for AveragePool");
      const include = attrInt(n, "count_include_pad", 0) === 1;
      if (extra && !include) {
        throw unsupported("pads", g.pads, "symmetric pads unless count_include_pad=1");
      }
      return [
        ops.avgPool2d(padExtra(x, extra), {
          kernel: ks,
          stride: g.strides,
          padding: sym,
          ceilMode: ceil,
          countIncludePad: include,
        }),
      ];
    },
  };
}

function batchNorm(ctx: RunContext, ins: readonly (Val | undefined)[]): (Val | undefined)[] {
  const n = ctx.node;
  const x = ctx.tensor(need(ins, 0, "X"));
  if (ctx.opset < 9 && attrInt(n, "spatial", 1) !== 1) {
    throw unsupported("spatial", 0, "per-channel statistics (spatial=1)");
  }
  const [gamma, beta, rm, rv] = [1, 2, 3, 4].map((i) =>
    ctx.tensor(need(ins, i, ["", "scale", "B", "input_mean", "input_var"][i]))
  );
  const y = ops.batchNorm(x, gamma, beta, rm, rv, {
    training: ctx.training,
    momentum: 1 - attrFloat(n, "momentum", 0.9),
    eps: attrFloat(n, "epsilon", 1e-5),
  });
  // training_mode=1 also outputs the running statistics (updated in place by oto in training).
  return ctx.opset >= 14 ? [y, rm, rv] : [y];
}

function matmulOf(a: Tensor, b: Tensor, transA = false, transB = false): Tensor {
  // ONNX (NumPy) promotes 1-D operands to matrices and drops the added axis again.
  const a2 = a.rank === 1 ? ops.reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.rank === 1 ? ops.reshape(b, [b.shape[0], 1]) : b;
  let y = ops.matmul(a2, b2, transA, transB);
  if (a.rank === 1) y = ops.reshape(y, [...y.shape.slice(0, -2), y.shape[y.rank - 1]]);
  if (b.rank === 1) y = ops.reshape(y, y.shape.slice(0, -1));
  return y;
}

/** y = x·W (+ b) as oto's linear op when W is a 2-D parameter, so it prunes like a layer. */
function linearOrMatmul(
  ctx: RunContext,
  x: Tensor,
  w: Val,
  b: Val | undefined,
  inOut: boolean,
): Tensor {
  const wt = ctx.tensor(w);
  const bias = b === undefined ? null : ctx.tensor(b);
  const outF = wt.shape[inOut ? 1 : 0];
  if (ctx.isParam(w) && wt.rank === 2 && x.rank >= 1) {
    const direct = bias && ctx.isParam(b) && bias.rank === 1 && bias.shape[0] === outF;
    const y = linear(x, wt, direct ? bias : null, { weightInOut: inOut });
    return bias && !direct ? ops.add(y, bias) : y;
  }
  const y = matmulOf(x, wt, false, !inOut);
  return bias ? ops.add(y, bias) : y;
}

function normRoles(): (Role | undefined)[] {
  return [undefined, "gamma", "beta"];
}

function softmax(log: boolean): OpImport {
  return {
    run(ctx, ins) {
      const x = ctx.tensor(need(ins, 0, "input"));
      const def = ctx.opset >= 13 ? -1 : 1;
      const a = axis(attrInt(ctx.node, "axis", def), x.rank);
      const f = log ? ops.logSoftmax : ops.softmax;
      if (ctx.opset >= 13 || a === x.rank - 1) return [f(x, a)];
      // Before opset 13 the input is flattened to 2-D at `axis`.
      const inner = x.shape.slice(a).reduce((p, q) => p * q, 1);
      const y = f(ops.reshape(x, [x.size / inner, inner]), 1);
      return [ops.reshape(y, x.shape)];
    },
  };
}

function resize(ctx: RunContext, ins: readonly (Val | undefined)[]): Val[] {
  const n = ctx.node;
  const x = rank4(need(ins, 0, "X"), "X");
  const mode = attrString(n, "mode", "nearest");
  const legacy = n.opType === "Upsample";
  let scales: number[] | null = null;
  // Resize takes (X, scales) at opset 10, (X, roi, scales, sizes) from opset 11.
  const scaleIn = legacy || ctx.opset < 11 ? ins[1] : ins[2];
  if (legacy && ctx.opset < 9) scales = attrInts(n, "scales", null);
  else if (scaleIn !== undefined && host(scaleIn, "scales").data.length) {
    scales = Array.from(host(scaleIn, "scales").data);
  }
  if (!legacy && ins[3] !== undefined && host(ins[3], "sizes").data.length) {
    const sizes = Array.from(host(ins[3], "sizes").data);
    scales = sizes.map((s, i) => s / x.shape[i]);
  }
  if (!scales || scales.length !== 4 || scales[0] !== 1 || scales[1] !== 1) {
    throw new NodeError(`resizing needs scales or sizes on H and W only, got [${scales}]`);
  }
  // Upsample and opset-10 Resize map output to input coordinates as x / scale, floored.
  const old = legacy || ctx.opset < 11;
  const ct = old ? "asymmetric" : attrString(n, "coordinate_transformation_mode", "half_pixel");
  const scale: Pair = [scales[2], scales[3]];
  if (mode === "nearest") {
    const nm = old ? "floor" : attrString(n, "nearest_mode", "round_prefer_floor");
    const exact = scale.every((s) => Number.isInteger(s));
    // With integer scales every asymmetric rounding mode picks floor(dst / scale).
    if (ct !== "asymmetric" || !(nm === "floor" || exact)) {
      throw unsupported(
        "coordinate_transformation_mode",
        `${ct}/${nm}`,
        "nearest: asymmetric with floor rounding (PyTorch's nearest)",
      );
    }
    return [ops.upsample(x, { scaleFactor: scale, mode: "nearest" })];
  }
  if (mode === "linear" || mode === "bilinear") {
    if (ct === "align_corners") {
      return [ops.upsample(x, { scaleFactor: scale, mode: "bilinear", alignCorners: true })];
    }
    if (ct === "half_pixel" || ct === "pytorch_half_pixel") {
      return [ops.upsample(x, { scaleFactor: scale, mode: "bilinear" })];
    }
    throw unsupported("coordinate_transformation_mode", ct, "half_pixel, align_corners");
  }
  throw unsupported("mode", mode, "nearest, linear");
}

function padOp(ctx: RunContext, ins: readonly (Val | undefined)[]): Val[] {
  const n = ctx.node;
  const x = ctx.tensor(need(ins, 0, "data"));
  const mode = attrString(n, "mode", "constant");
  if (mode !== "constant") throw unsupported("mode", mode, "constant padding only");
  let pads = ctx.opset >= 11 ? Array.from(host(ins[1], "pads").data) : attrInts(n, "pads", [])!;
  const value = ctx.opset >= 11 ? optScalar(ins[2], "constant_value", 0) : attrFloat(n, "value", 0);
  const r = x.rank;
  if (ins[3] !== undefined) {
    // opset 18: pads for the listed axes only.
    const axes = Array.from(host(ins[3], "axes").data).map((a) => axis(a, r));
    const full = new Array(2 * r).fill(0);
    axes.forEach((a, i) => ((full[a] = pads[i]), (full[r + a] = pads[axes.length + i])));
    pads = full;
  }
  if (pads.length !== 2 * r) throw new NodeError(`pads has ${pads.length} entries for rank ${r}`);
  if (pads.some((p) => p < 0)) throw unsupported("pads", pads, "non-negative pads");
  if (pads.every((p) => p === 0)) return [x];
  return [ops.pad(x, x.shape.map((_, i) => [pads[i], pads[r + i]] as Pair), value)];
}

/** Operators of this file by ONNX op type. */
export const NN_OPS: Record<string, OpImport> = {
  Conv: { roles: convRoles, run: conv },
  ConvTranspose: { roles: convRoles, run: convTranspose },
  BatchNormalization: {
    roles: () => [undefined, "gamma", "beta", "runningMean", "runningVar"],
    run: batchNorm,
  },
  InstanceNormalization: {
    roles: normRoles,
    run: (ctx, ins) => [
      ops.instanceNorm(
        ctx.tensor(need(ins, 0, "input")),
        ctx.tensor(need(ins, 1, "scale")),
        ctx.tensor(need(ins, 2, "B")),
        {
          eps: attrFloat(ctx.node, "epsilon", 1e-5),
        },
      ),
    ],
  },
  LayerNormalization: {
    roles: normRoles,
    run(ctx, ins) {
      if (ctx.node.outputs.slice(1).some((o) => o)) {
        throw new NodeError(
          "the Mean and InvStdDev outputs of LayerNormalization are not supported",
        );
      }
      const x = ctx.tensor(need(ins, 0, "X"));
      const a = axis(attrInt(ctx.node, "axis", -1), x.rank);
      const ns = x.shape.slice(a);
      const g = ins[1] === undefined ? null : ctx.tensor(ins[1]);
      const b = ins[2] === undefined ? null : ctx.tensor(ins[2]);
      const eps = attrFloat(ctx.node, "epsilon", 1e-5);
      return [ops.layerNorm(x, g, b, { normalizedShape: ns, eps })];
    },
  },
  Gemm: {
    roles: () => [undefined, "weight", "bias"],
    run(ctx, ins) {
      const n = ctx.node;
      const a = ctx.tensor(need(ins, 0, "A"));
      const b = need(ins, 1, "B");
      const c = ins[2];
      const alpha = attrFloat(n, "alpha", 1), beta = attrFloat(n, "beta", 1);
      const transA = attrInt(n, "transA", 0) === 1, transB = attrInt(n, "transB", 0) === 1;
      if (!transA && alpha === 1 && beta === 1 && a.rank === 2) {
        return [linearOrMatmul(ctx, a, b, c, !transB)];
      }
      let y = ops.matmul(a, ctx.tensor(b), transA, transB);
      if (alpha !== 1) y = ops.scale(y, alpha);
      if (c !== undefined) {
        y = ops.add(y, beta === 1 ? ctx.tensor(c) : ops.scale(ctx.tensor(c), beta));
      }
      return [y];
    },
  },
  MatMul: {
    // x·W with a weight W is a linear layer; W·x (a weight on the left) is a plain product.
    roles: (_n, dynamic) => [
      dynamic[1] && !dynamic[0] ? "weight" : undefined,
      dynamic[0] ? "weight" : undefined,
    ],
    run(ctx, ins) {
      const a = need(ins, 0, "A"), b = need(ins, 1, "B");
      if (isHost(a) && isHost(b)) throw new NodeError("MatMul of two constants is not supported");
      if (ctx.isParam(a) && !ctx.isParam(b)) return [matmulOf(ctx.tensor(a), ctx.tensor(b))];
      return [linearOrMatmul(ctx, ctx.tensor(a), b, undefined, true)];
    },
  },
  "oto.Linear": {
    roles: () => [undefined, "weight", "bias"],
    run(ctx, ins) {
      const inOut = attrInt(ctx.node, "weight_in_out", 1) === 1;
      return [linearOrMatmul(ctx, ctx.tensor(need(ins, 0, "x")), need(ins, 1, "W"), ins[2], inOut)];
    },
  },
  MaxPool: pool("max"),
  AveragePool: pool("avg"),
  GlobalAveragePool: {
    run: (_ctx, ins) => [ops.adaptiveAvgPool2d(rank4(need(ins, 0, "X"), "X"), 1)],
  },
  GlobalMaxPool: {
    run: (_ctx, ins) => [ops.globalMaxPool2d(rank4(need(ins, 0, "X"), "X"))],
  },
  PRelu: {
    roles: () => [undefined, "weight"],
    run(ctx, ins) {
      const x = ctx.tensor(need(ins, 0, "X"));
      let s = ctx.tensor(need(ins, 1, "slope"));
      // ONNX broadcasts the slope ([C, 1, 1] from PyTorch); oto's prelu takes [C] or [1].
      const nonOne = s.shape.filter((d) => d !== 1);
      if (nonOne.length > 1 || (nonOne.length === 1 && x.shape[1] !== nonOne[0])) {
        throw new NodeError(`slope [${s.shape}] is not one value per channel of [${x.shape}]`);
      }
      if (s.rank !== 1) s = ops.reshape(s, [s.size]);
      return [ops.prelu(x, s)];
    },
  },
  Softmax: softmax(false),
  LogSoftmax: softmax(true),
  Dropout: {
    run(ctx, ins) {
      const x = need(ins, 0, "data");
      const p = ctx.opset >= 12
        ? optScalar(ins[1], "ratio", 0.5)
        : attrFloat(ctx.node, "ratio", 0.5);
      const identity = !ctx.training || isHost(x) || p === 0;
      if (ctx.node.outputs.length > 1 && ctx.node.outputs[1]) {
        // Exports of eval-mode or zero-ratio dropouts (Swin's attention) write a mask that is
        // all true; a random one would have to come from the dropout op itself.
        if (!identity) {
          throw new NodeError(
            `the mask output of a training-mode Dropout (ratio ${p}) is not supported`,
          );
        }
        return [x, hostValue("bool", x.shape, new Array(size(x.shape)).fill(1))];
      }
      if (identity) return [x];
      return [ops.dropout(x, { p, training: true })];
    },
  },
  Resize: { run: resize },
  Upsample: { run: resize },
  DepthToSpace: {
    run(ctx, ins) {
      const x = rank4(need(ins, 0, "input"), "input");
      const mode = attrString(ctx.node, "mode", "DCR");
      const bs = attrInt(ctx.node, "blocksize", 1);
      if (mode === "CRD") return [ops.pixelShuffle(x, bs)];
      if (mode !== "DCR") throw unsupported("mode", mode, "DCR, CRD");
      // DCR (TensorFlow's depth_to_space): depth blocks outermost, so a reshape/transpose the
      // partition follows channel by channel.
      const [n, c, h, w] = x.shape;
      if (c % (bs * bs)) throw new NodeError(`${c} channels do not split into ${bs}x${bs} blocks`);
      const blocks = ops.reshape(x, [n, bs, bs, c / (bs * bs), h, w]);
      return [
        ops.reshape(ops.permute(blocks, [0, 3, 4, 1, 5, 2]), [n, c / (bs * bs), h * bs, w * bs]),
      ];
    },
  },
  Pad: { run: padOp },
  "oto.Gelu": { run: (ctx, ins) => [ops.gelu(ctx.tensor(need(ins, 0, "x")))] },
  "oto.Silu": { run: (ctx, ins) => [ops.silu(ctx.tensor(need(ins, 0, "x")))] },
  "oto.LayerNorm2d": {
    roles: normRoles,
    run(ctx, ins) {
      const x = ctx.tensor(need(ins, 0, "x"));
      const c = x.shape[1];
      const flat = (v: Val | undefined) => {
        if (v === undefined) return null;
        const t = ctx.tensor(v);
        return t.rank === 1 ? t : ops.reshape(t, [c]);
      };
      return [
        ops.layerNorm2d(x, flat(ins[1]), flat(ins[2]), {
          eps: attrFloat(ctx.node, "epsilon", 1e-6),
          normCount: attrInt(ctx.node, "norm_count", c),
        }),
      ];
    },
  },
  "oto.GroupNorm": {
    roles: normRoles,
    run(ctx, ins) {
      const x = ctx.tensor(need(ins, 0, "x"));
      const c = x.shape[1];
      const flat = (v: Val | undefined) => {
        if (v === undefined) return null;
        const t = ctx.tensor(v);
        if (t.size !== c) throw new NodeError(`GroupNorm ${t.shape} is not one value per channel`);
        return t.rank === 1 ? t : ops.reshape(t, [c]);
      };
      return [
        ops.groupNorm(x, flat(ins[1]), flat(ins[2]), {
          groups: attrInt(ctx.node, "groups", 1),
          eps: attrFloat(ctx.node, "epsilon", 1e-5),
        }),
      ];
    },
  },
  "oto.LayerNormLast": {
    roles: normRoles,
    run(ctx, ins) {
      const x = ctx.tensor(need(ins, 0, "x"));
      const a = attrInt(ctx.node, "axis", -1);
      if (axis(a, x.rank) !== x.rank - 1) {
        throw new NodeError(`a LayerNorm written over axis ${a} of rank ${x.rank} (not the last)`);
      }
      const g = ins[1] === undefined ? null : ctx.tensor(ins[1]);
      const b = ins[2] === undefined ? null : ctx.tensor(ins[2]);
      return [
        ops.layerNorm(x, g, b, {
          normalizedShape: [x.shape[x.rank - 1]],
          eps: attrFloat(ctx.node, "epsilon", 1e-5),
        }),
      ];
    },
  },
};
