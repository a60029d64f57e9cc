/**
 * 2-D pooling on NCHW tensors: max pooling (padding, dilation, ceil mode), average pooling
 * (count_include_pad, ceil mode) and adaptive average pooling with PyTorch's bins (a fast path
 * for global pooling). Backward passes are gathers (one thread per input element), so no float
 * atomics are needed; max pooling computes each window's argmax (first on ties, like PyTorch)
 * in its backward instead of storing indices forward, in one pass (a thread per window) when
 * the windows tile the input.
 */
import fwdSrc from "../../kernels/pool/pool_fwd.wgsl" with { type: "text" };
import bwdSrc from "../../kernels/pool/pool_bwd.wgsl" with { type: "text" };
import globalSrc from "../../kernels/pool/global_avg.wgsl" with { type: "text" };
import argmaxSrc from "../../kernels/pool/pool_argmax.wgsl" with { type: "text" };
import windowSrc from "../../kernels/pool/max_pool_bwd_window.wgsl" with { type: "text" };
import poolParams from "../../kernels/lib/pool_params.wgsl" with { type: "text" };
import {
  acquireBuffer,
  bakeUniforms,
  dispatch,
  grid1d,
  type Kernel,
  releaseBuffer,
  specialize,
  Uniforms,
} from "../backend/webgpu.ts";
import { pool2d as pool2dWasm, type PoolGeometry } from "../backend/wasm/ops.ts";
import { type HostArray, numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, type OpInfo, type OpSpec, shapeError } from "./registry.ts";
import type { OnnxEmitter, OpSample, SampleInput, TieRule } from "./spec.ts";
import { fixed, ramp, rand, values } from "./samples.ts";

/** A [height, width] pair. */
export type Pair = [number, number];

/** Normalised window attributes of max and average pooling. */
export interface Pool2dAttrs {
  /** Window [h, w]. */
  kernel: Pair;
  /** Step between windows [h, w]. */
  stride: Pair;
  /** Padding on each side [h, w]. */
  padding: Pair;
  /** Spacing between window taps [h, w]. */
  dilation: Pair;
  /** Output sizes round up (a last, partial window). */
  ceilMode: boolean;
  /** Average pooling only: divide by the window including padding (PyTorch default true). */
  countIncludePad: boolean;
}

/** Attributes of adaptive average pooling: the output size. */
export interface AdaptivePoolAttrs {
  /** Output [h, w]. */
  size: Pair;
}

/** Options of {@link maxPool2d}. Numbers apply to both axes; pairs are [h, w]. */
export interface MaxPool2dOptions {
  /** Window size. */
  kernel: number | readonly number[];
  /** Step between windows (default: the window). */
  stride?: number | readonly number[];
  /** Implicit -infinity padding on each side (default 0). */
  padding?: number | readonly number[];
  /** Spacing between window taps (default 1). */
  dilation?: number | readonly number[];
  /** Round output sizes up (default false). */
  ceilMode?: boolean;
}

/** Options of {@link avgPool2d}. */
export interface AvgPool2dOptions {
  /** Window size. */
  kernel: number | readonly number[];
  /** Step between windows (default: the window). */
  stride?: number | readonly number[];
  /** Zero padding on each side (default 0). */
  padding?: number | readonly number[];
  /** Divide by the window including padding (default true, as PyTorch). */
  countIncludePad?: boolean;
  /** Round output sizes up (default false). */
  ceilMode?: boolean;
}

const MODE = { max: 0, avg: 1, adaptive: 2 } as const;

function pair(op: string, what: string, v: number | readonly number[], min: number): Pair {
  const p: Pair = typeof v === "number" ? [v, v] : [v[0], v[1]];
  if (
    (typeof v !== "number" && v.length !== 2) || p.some((d) => !Number.isInteger(d) || d < min)
  ) {
    throw shapeError(
      op,
      `${what} must be an integer >= ${min} or an [h, w] pair of them, got ${v}`,
    );
  }
  return p;
}

function checkNchw(op: string, x: TensorInfo): void {
  if (x.shape.length !== 4) {
    throw shapeError(op, `expects an NCHW input (rank 4), got rank ${x.shape.length}`, x.shape);
  }
  if (x.dtype !== "f32") throw shapeError(op, `expects f32, got ${x.dtype}`, x.shape);
}

/** PyTorch's pooling output size (with its ceil-mode rule: the last window starts inside). */
function outSize(len: number, k: number, s: number, p: number, d: number, ceil: boolean): number {
  const span = len + 2 * p - d * (k - 1) - 1;
  let o = Math.floor((span + (ceil ? s - 1 : 0)) / s) + 1;
  if (ceil && (o - 1) * s >= len + p) o--;
  return o;
}

function poolShape(op: string, x: TensorInfo, a: Pool2dAttrs): TensorInfo[] {
  checkNchw(op, x);
  const [n, c, h, w] = x.shape;
  const o = [0, 1].map((i) => {
    const k = a.kernel[i], p = a.padding[i];
    if (2 * p > k) {
      throw shapeError(
        op,
        `padding ${a.padding} must be at most half the kernel ${a.kernel}`,
        x.shape,
      );
    }
    return outSize([h, w][i], k, a.stride[i], p, a.dilation[i], a.ceilMode);
  });
  if (o[0] < 1 || o[1] < 1) {
    throw shapeError(
      op,
      `kernel ${a.kernel} (dilation ${a.dilation}) is larger than the padded input ` +
        `${h + 2 * a.padding[0]}x${w + 2 * a.padding[1]}`,
      x.shape,
    );
  }
  return [{ shape: [n, c, o[0], o[1]], dtype: "f32" }];
}

/** Window geometry shared by the cpu reference, the uniforms of the kernels and the wasm kernel. */
type Geo = PoolGeometry;

function geo(mode: number, xs: readonly number[], ys: readonly number[], a?: Pool2dAttrs): Geo {
  return {
    mode,
    cip: a?.countIncludePad ?? true,
    h: xs[2],
    w: xs[3],
    oh: ys[2],
    ow: ys[3],
    k: a?.kernel ?? [1, 1],
    s: a?.stride ?? [1, 1],
    p: a?.padding ?? [0, 0],
    d: a?.dilation ?? [1, 1],
  };
}

/** The geometry fields of kernels/lib/pool_params.wgsl, in struct order (after n and nx). */
function fields(g: Geo): Record<string, number> {
  return {
    mode: g.mode,
    cip: g.cip ? 1 : 0,
    h: g.h,
    w: g.w,
    oh: g.oh,
    ow: g.ow,
    kh: g.k[0],
    kw: g.k[1],
    sh: g.s[0],
    sw: g.s[1],
    ph: g.p[0],
    pw: g.p[1],
    dh: g.d[0],
    dw: g.d[1],
  };
}

function uniforms(n: number, nx: number, g: Geo): Uniforms {
  return new Uniforms().u32(n, nx, ...Object.values(fields(g)));
}

/**
 * A windowed pooling kernel with the shared uniform block prepended and the geometry baked in
 * (llvmpipe divides by a uniform lane by lane; a model has few pooling geometries).
 */
function poolKernel(name: string, src: string, g: Geo): Kernel {
  return bakeUniforms(specialize(name, poolParams + src), fields(g));
}

/** Taps of output (oy, ox): first row/col, counts, steps (adaptive bins or strided window). */
function window(g: Geo, oy: number, ox: number) {
  if (g.mode === MODE.adaptive) {
    const h0 = Math.floor((oy * g.h) / g.oh), w0 = Math.floor((ox * g.w) / g.ow);
    const h1 = Math.ceil(((oy + 1) * g.h) / g.oh), w1 = Math.ceil(((ox + 1) * g.w) / g.ow);
    return { h0, w0, kh: h1 - h0, kw: w1 - w0, dh: 1, dw: 1 };
  }
  return {
    h0: oy * g.s[0] - g.p[0],
    w0: ox * g.s[1] - g.p[1],
    kh: g.k[0],
    kw: g.k[1],
    dh: g.d[0],
    dw: g.d[1],
  };
}

/** Cpu reference: forward values and (optionally) the argmax / divisor of each window. */
function poolCpu(
  x: HostArray,
  y: HostArray,
  g: Geo,
  planes: number,
  gx?: HostArray,
  dy?: HostArray,
) {
  for (let pl = 0; pl < planes; pl++) {
    const xb = pl * g.h * g.w, yb = pl * g.oh * g.ow;
    for (let oy = 0; oy < g.oh; oy++) {
      for (let ox = 0; ox < g.ow; ox++) {
        const wd = window(g, oy, ox);
        let best = -Infinity, arg = -1, acc = 0, valid = 0;
        for (let a = 0; a < wd.kh; a++) {
          const hh = wd.h0 + a * wd.dh;
          if (hh < 0 || hh >= g.h) continue;
          for (let b = 0; b < wd.kw; b++) {
            const ww = wd.w0 + b * wd.dw;
            if (ww < 0 || ww >= g.w) continue;
            const v = x[xb + hh * g.w + ww];
            if (v > best || arg < 0) (best = v, arg = hh * g.w + ww);
            acc += v;
            valid++;
          }
        }
        let div = valid;
        if (g.mode === MODE.avg && g.cip) {
          const he = Math.min(wd.h0 + wd.kh, g.h + g.p[0]);
          const we = Math.min(wd.w0 + wd.kw, g.w + g.p[1]);
          div = (he - wd.h0) * (we - wd.w0);
        }
        const o = yb + oy * g.ow + ox;
        if (gx && dy) {
          // Backward: scatter the output gradient into the input gradient.
          if (g.mode === MODE.max) gx[xb + arg] += dy[o];
          else {
            for (let a = 0; a < wd.kh; a++) {
              const hh = wd.h0 + a * wd.dh;
              if (hh < 0 || hh >= g.h) continue;
              for (let b = 0; b < wd.kw; b++) {
                const ww = wd.w0 + b * wd.dw;
                if (ww >= 0 && ww < g.w) gx[xb + hh * g.w + ww] += dy[o] / div;
              }
            }
          }
        } else y[o] = g.mode === MODE.max ? best : acc / div;
      }
    }
  }
}

function poolGpu(x: GPUBuffer, y: GPUBuffer, g: Geo, info: OpInfo): void {
  const n = numel(info.outs[0].shape);
  const grid = grid1d(n);
  dispatch(
    poolKernel("pool_fwd", fwdSrc, g),
    [x, y],
    grid,
    uniforms(n, grid[0], g),
  );
}

// ---------------------------------------------------------------------------------------------
// Samples: window geometries that reach every kernel path (tiling windows, overlapping windows,
// padding, dilation, ceil mode's partial windows).

const win = (
  k: number[],
  s: number[],
  p = [0, 0],
  d = [1, 1],
  ceilMode = false,
  countIncludePad = true,
): Pool2dAttrs => ({
  kernel: [k[0], k[1]],
  stride: [s[0], s[1]],
  padding: [p[0], p[1]],
  dilation: [d[0], d[1]],
  ceilMode,
  countIncludePad,
});

const MAX_WINDOWS: [string, number[], Pool2dAttrs][] = [
  ["2x2 windows tiling the input", [2, 3, 4, 6], win([2, 2], [2, 2])],
  ["2x3 windows tiling the input", [1, 2, 4, 9], win([2, 3], [2, 3])],
  ["3x3 stride 2 padding 1 (overlapping)", [1, 2, 7, 6], win([3, 3], [2, 2], [1, 1])],
  [
    "dilation [2, 1], ceil mode (partial last window)",
    [1, 2, 7, 8],
    win([3, 2], [2, 3], [1, 0], [2, 1], true),
  ],
  // The other axis dilated: the ceil-mode end padding of W depends on W's own dilation.
  [
    "dilation [1, 2], ceil mode, W partial",
    [1, 2, 5, 10],
    win([2, 3], [2, 2], [0, 1], [1, 2], true),
  ],
];
const AVG_WINDOWS: [string, number[], Pool2dAttrs][] = [
  ["2x2 windows tiling the input", [2, 3, 4, 6], win([2, 2], [2, 2])],
  ["3x3 stride 2 padding 1, padding counted", [1, 2, 7, 6], win([3, 3], [2, 2], [1, 1])],
  [
    "padding not counted, ceil mode",
    [1, 2, 6, 7],
    win([3, 3], [2, 2], [1, 1], [1, 1], true, false),
  ],
  ["padding counted, ceil mode", [1, 2, 5, 8], win([2, 3], [2, 2], [1, 1], [1, 1], true)],
  [
    "stride [2, 1], padding counted, ceil mode",
    [1, 2, 6, 5],
    win([3, 3], [2, 1], [1, 1], [1, 1], true),
  ],
  ["padding [1, 0] counted, ceil mode", [1, 2, 5, 7], win([3, 2], [2, 2], [1, 0], [1, 1], true)],
];

/** Equal values inside windows (distinct values are >= 0.25 apart). */
function tiedPlane(h: number, w: number): number[] {
  return Array.from({ length: h * w }, (_, i) => [0.5, -1, 0.5, 2, -0.25, 2, 1, 1][i % 8]);
}
const tied = (x: number[]) => values(tiedPlane(x[0] * x[1] * x[2], x[3]), x);

/** dx of a pooling of x (fixed: max pooling is piecewise linear in it) from a random dy. */
function backwardSample(
  name: string,
  x: SampleInput,
  mode: number,
  pool?: Pool2dAttrs,
): OpSample<PoolBackwardAttrs> {
  const out = pool
    ? poolShape("pool2dBackward", { shape: x.shape, dtype: "f32" }, pool)[0].shape
    : [x.shape[0], x.shape[1], 3, 2];
  return { name, ins: [fixed(x), rand(out)], attrs: { mode, pool } };
}

const FIRST_WINS: TieRule = {
  rule: "tied maxima of a window: the first tap wins, as PyTorch",
  breaks: [["earlierHigher"]],
};
const maxPoolSamples: OpSample<Pool2dAttrs>[] = [
  ...MAX_WINDOWS.map(([name, x, attrs]) => ({ name, ins: [rand(x)], attrs })),
  ...MAX_WINDOWS.flatMap(([name, x, attrs]) => [
    { name: `rising values, ${name}`, ins: [ramp(x)], attrs },
    { name: `falling values, ${name}`, ins: [ramp(x, true)], attrs },
  ]),
  ...[MAX_WINDOWS[0], MAX_WINDOWS[1]].map(([name, x, attrs]) => ({
    name: `ties: ${name}`,
    ins: [tied(x)],
    attrs,
    ties: FIRST_WINS,
  })),
];

// ---------------------------------------------------------------------------------------------
// Backward ops (first-order only).

interface PoolBackwardAttrs {
  mode: number;
  pool?: Pool2dAttrs;
}

/** dx of a pooling op from x (needed by max) and the output gradient g. */
const poolBackwardOp = defineOp<PoolBackwardAttrs>({
  name: "pool2dBackward",
  inputNames: ["x", "gradOutput"],
  shape: ([x]) => [{ shape: x.shape, dtype: "f32" }],
  cpu([x, dy], [dx], a, info) {
    const g = geo(a.mode, info.ins[0].shape, info.ins[1].shape, a.pool);
    const planes = info.ins[0].shape[0] * info.ins[0].shape[1];
    poolCpu(x, new Float32Array(0), g, planes, dx, dy);
  },
  gpu([x, dy], [dx], a, info) {
    const g = geo(a.mode, info.ins[0].shape, info.ins[1].shape, a.pool);
    const n = numel(info.ins[0].shape);
    const grid = grid1d(n);
    if (a.mode !== MODE.max) {
      const k = poolKernel("pool_bwd", bwdSrc, g);
      dispatch(k, [dy, dy, dx], grid, uniforms(n, grid[0], g));
      return;
    }
    const nOut = numel(info.ins[1].shape);
    const tiles = g.k[0] === g.s[0] && g.k[1] === g.s[1] && g.p[0] === 0 && g.p[1] === 0 &&
      g.d[0] === 1 && g.d[1] === 1 && g.h === g.oh * g.s[0] && g.w === g.ow * g.s[1];
    if (tiles) {
      // The windows tile the input: one pass, a thread per window writes its whole window.
      const og = grid1d(nOut);
      const k = poolKernel("max_pool_bwd_window", windowSrc, g);
      dispatch(k, [x, dy, dx], og, uniforms(nOut, og[0], g));
      return;
    }
    // Argmax of every window first, then each input element checks the few windows over it.
    const arg = acquireBuffer(Math.max(nOut, 1) * 4);
    const og = grid1d(nOut);
    const argK = poolKernel("pool_argmax", argmaxSrc, g);
    dispatch(argK, [x, arg], og, uniforms(nOut, og[0], g));
    dispatch(
      poolKernel("pool_bwd", bwdSrc, g),
      [arg, dy, dx],
      grid,
      uniforms(n, grid[0], g),
    );
    releaseBuffer(arg);
  },
  wasm([x, dy], [dx], a, info) {
    const s = info.ins[0].shape;
    pool2dWasm(x, dy, dx, geo(a.mode, s, info.ins[1].shape, a.pool), s[0] * s[1]);
  },
  grad: { none: "pooling backward is first-order only" },
  // dx depends on gradOutput as well as x, so a zero channel of input 0 does not stay zero.
  channels: { kind: "block", reason: "backward op, not in forward graphs" },
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) * 4 }),
  onnx: {
    none:
      "pool2dBackward is a training-only op (the backward kernel of pooling); export the forward graph",
  },
  samples: [
    ...MAX_WINDOWS.map(([name, x, pool]) =>
      backwardSample(`max, ${name}`, rand(x), MODE.max, pool)
    ),
    ...AVG_WINDOWS.map(([name, x, pool]) =>
      backwardSample(`avg, ${name}`, rand(x), MODE.avg, pool)
    ),
    backwardSample("adaptive, uneven bins 3x2 of 7x5", rand([1, 2, 7, 5]), MODE.adaptive),
    ...[MAX_WINDOWS[0], MAX_WINDOWS[1]].map(([name, x, pool]) =>
      backwardSample(`max, tied window values, ${name}`, tied(x), MODE.max, pool)
    ),
  ],
});

// ---------------------------------------------------------------------------------------------

function poolOnnx(type: "MaxPool" | "AveragePool") {
  return (
    e: OnnxEmitter,
    io: { inputs: string[]; outputs: string[]; attrs: Pool2dAttrs; info: OpInfo },
  ) => {
    const a = io.attrs;
    const [h, w] = io.info.ins[0].shape.slice(2);
    const [oh, ow] = io.info.outs[0].shape.slice(2);
    // Ceil mode is written as floor mode with explicit end padding: ONNX runtimes differ from
    // PyTorch on ceil-mode windows that start in the padding and on their divisors.
    const end = a.ceilMode
      ? [[h, oh], [w, ow]].map(([len, out], i) =>
        Math.max(
          0,
          (out - 1) * a.stride[i] + a.dilation[i] * (a.kernel[i] - 1) + 1 - len - a.padding[i],
        )
      )
      : [...a.padding];
    const attrs: Record<string, number | number[]> = {
      kernel_shape: [...a.kernel],
      strides: [...a.stride],
      pads: [a.padding[0], a.padding[1], end[0], end[1]],
    };
    if (type === "MaxPool") {
      attrs.dilations = [...a.dilation];
      return e.node(type, io.inputs, io.outputs, attrs);
    }
    attrs.count_include_pad = a.countIncludePad ? 1 : 0;
    if (!a.ceilMode || !a.countIncludePad) return e.node(type, io.inputs, io.outputs, attrs);
    // PyTorch divides an edge window by its part inside the declared padding; the runtime
    // divides by the kernel size: rescale by kernel / PyTorch's divisor (a constant map).
    const g = geo(MODE.avg, io.info.ins[0].shape, io.info.outs[0].shape, a);
    const fix: number[] = [];
    for (let y = 0; y < oh; y++) {
      for (let x = 0; x < ow; x++) {
        const wd = window(g, y, x);
        const div = (Math.min(wd.h0 + wd.kh, h + g.p[0]) - wd.h0) *
          (Math.min(wd.w0 + wd.kw, w + g.p[1]) - wd.w0);
        fix.push((a.kernel[0] * a.kernel[1]) / div);
      }
    }
    const pooled = e.fresh("pooled");
    e.node(type, io.inputs, [pooled], attrs);
    e.node("Mul", [pooled, e.constant(fix, [oh, ow])], io.outputs);
  };
}

const windowCost = (info: OpInfo, a: Pool2dAttrs) => ({
  macs: 0,
  flops: numel(info.outs[0].shape) * a.kernel[0] * a.kernel[1],
});

const maxPoolOp: OpSpec<Pool2dAttrs> = defineOp<Pool2dAttrs>({
  name: "maxPool2d",
  inputNames: ["x"],
  shape: ([x], a) => poolShape("maxPool2d", x, a),
  cpu([x], [y], a, info) {
    const s = info.ins[0].shape;
    poolCpu(x, y, geo(MODE.max, s, info.outs[0].shape, a), s[0] * s[1]);
  },
  gpu([x], [y], a, info) {
    poolGpu(x, y, geo(MODE.max, info.ins[0].shape, info.outs[0].shape, a), info);
  },
  wasm([x], [y], a, info) {
    const s = info.ins[0].shape;
    pool2dWasm(x, 0, y, geo(MODE.max, s, info.outs[0].shape, a), s[0] * s[1]);
  },
  grad: ({ ins, attrs }, [g]) => [
    apply1(poolBackwardOp, [ins[0], g], { mode: MODE.max, pool: attrs }),
  ],
  channels: { kind: "passthrough", mixes: () => [2, 3] },
  cost: windowCost,
  onnx: poolOnnx("MaxPool"),
  samples: maxPoolSamples,
});

const avgPoolOp: OpSpec<Pool2dAttrs> = defineOp<Pool2dAttrs>({
  name: "avgPool2d",
  inputNames: ["x"],
  shape: ([x], a) => poolShape("avgPool2d", x, a),
  cpu([x], [y], a, info) {
    const s = info.ins[0].shape;
    poolCpu(x, y, geo(MODE.avg, s, info.outs[0].shape, a), s[0] * s[1]);
  },
  gpu([x], [y], a, info) {
    poolGpu(x, y, geo(MODE.avg, info.ins[0].shape, info.outs[0].shape, a), info);
  },
  wasm([x], [y], a, info) {
    const s = info.ins[0].shape;
    pool2dWasm(x, 0, y, geo(MODE.avg, s, info.outs[0].shape, a), s[0] * s[1]);
  },
  grad: ({ ins, attrs }, [g]) => [
    apply1(poolBackwardOp, [ins[0], g], { mode: MODE.avg, pool: attrs }),
  ],
  channels: { kind: "passthrough", mixes: () => [2, 3] },
  cost: windowCost,
  onnx: poolOnnx("AveragePool"),
  samples: AVG_WINDOWS.map(([name, x, attrs]) => ({ name, ins: [rand(x)], attrs })),
});

const adaptiveAvgPoolOp: OpSpec<AdaptivePoolAttrs> = defineOp<AdaptivePoolAttrs>({
  name: "adaptiveAvgPool2d",
  inputNames: ["x"],
  shape([x], a) {
    checkNchw("adaptiveAvgPool2d", x);
    if (a.size.some((d) => !Number.isInteger(d) || d < 1)) {
      throw shapeError("adaptiveAvgPool2d", `output size ${a.size} must be positive`, x.shape);
    }
    if (x.shape[2] < 1 || x.shape[3] < 1) {
      throw shapeError("adaptiveAvgPool2d", "input has an empty spatial axis", x.shape);
    }
    return [{ shape: [x.shape[0], x.shape[1], a.size[0], a.size[1]], dtype: "f32" }];
  },
  cpu([x], [y], _a, info) {
    const s = info.ins[0].shape;
    poolCpu(x, y, geo(MODE.adaptive, s, info.outs[0].shape), s[0] * s[1]);
  },
  gpu([x], [y], a, info) {
    const s = info.ins[0].shape;
    if (a.size[0] === 1 && a.size[1] === 1) {
      const planes = s[0] * s[1], len = s[2] * s[3];
      const small = len <= 64;
      const grid = small ? grid1d(planes, 64) : grid1d(planes, 1);
      const u = new Uniforms().u32(planes, grid[0], len, 0);
      const k: Kernel = small
        ? { ...specialize("global_avg_pool_per_thread", globalSrc), entry: "per_thread" }
        : specialize("global_avg_pool", globalSrc);
      dispatch(k, [x, y], grid, u);
    } else poolGpu(x, y, geo(MODE.adaptive, s, info.outs[0].shape), info);
  },
  wasm([x], [y], _a, info) {
    const s = info.ins[0].shape;
    pool2dWasm(x, 0, y, geo(MODE.adaptive, s, info.outs[0].shape), s[0] * s[1]);
  },
  grad: ({ ins }, [g]) => [apply1(poolBackwardOp, [ins[0], g], { mode: MODE.adaptive })],
  channels: { kind: "passthrough", mixes: () => [2, 3] },
  cost: (info) => ({ macs: 0, flops: numel(info.ins[0].shape) }),
  onnx: (e, io) => {
    const [h, w] = io.info.ins[0].shape.slice(2);
    const [oh, ow] = io.attrs.size;
    if (oh === 1 && ow === 1) return e.node("GlobalAveragePool", io.inputs, io.outputs);
    if (h % oh === 0 && w % ow === 0) {
      const k = [h / oh, w / ow];
      return e.node("AveragePool", io.inputs, io.outputs, { kernel_shape: k, strides: k });
    }
    // Uneven bins: one Slice + ReduceMean per bin, concatenated along W then H.
    const rows: string[] = [];
    for (let i = 0; i < oh; i++) {
      const cols: string[] = [];
      const h0 = Math.floor((i * h) / oh), h1 = Math.ceil(((i + 1) * h) / oh);
      for (let j = 0; j < ow; j++) {
        const w0 = Math.floor((j * w) / ow), w1 = Math.ceil(((j + 1) * w) / ow);
        const sl = e.fresh("bin"), m = e.fresh("bin_mean");
        e.node("Slice", [
          io.inputs[0],
          e.constant([h0, w0], [2], "i64"),
          e.constant([h1, w1], [2], "i64"),
          e.constant([2, 3], [2], "i64"),
        ], [sl]);
        e.node("ReduceMean", [sl], [m], { axes: [2, 3], keepdims: 1 });
        cols.push(m);
      }
      const row = e.fresh("bin_row");
      e.node("Concat", cols, [row], { axis: 3 });
      rows.push(row);
    }
    e.node("Concat", rows, io.outputs, { axis: 2 });
  },
  samples: [
    {
      name: "global, small plane (a thread per plane)",
      ins: [rand([2, 3, 5, 5])],
      attrs: { size: [1, 1] },
    },
    {
      name: "global, large plane (a workgroup per plane)",
      ins: [rand([1, 2, 9, 11])],
      attrs: { size: [1, 1] },
    },
    { name: "even bins", ins: [rand([1, 2, 6, 4])], attrs: { size: [3, 2] } },
    { name: "uneven bins", ins: [rand([2, 2, 7, 5])], attrs: { size: [3, 2] } },
  ],
});

function poolAttrs(op: string, o: MaxPool2dOptions & AvgPool2dOptions): Pool2dAttrs {
  const kernel = pair(op, "kernel", o.kernel, 1);
  return {
    kernel,
    stride: o.stride === undefined ? kernel : pair(op, "stride", o.stride, 1),
    padding: pair(op, "padding", o.padding ?? 0, 0),
    dilation: pair(op, "dilation", o.dilation ?? 1, 1),
    ceilMode: o.ceilMode ?? false,
    countIncludePad: o.countIncludePad ?? true,
  };
}

/**
 * Max pooling over [N, C, H, W] (PyTorch semantics: padded taps never win, ties go to the first
 * tap, `ceilMode` keeps a last partial window that starts inside the input or left padding).
 *
 * @example
 * ```ts
 * import { init, maxPool2d, randn } from "../../mod.ts";
 * await init();
 * const x = randn([1, 8, 32, 32], { seed: 0 });
 * const y = maxPool2d(x, { kernel: 3, stride: 2, padding: 1 }); // ResNet stem: [1, 8, 16, 16]
 * ```
 */
export function maxPool2d(x: Tensor, opts: MaxPool2dOptions): Tensor {
  return apply1(maxPoolOp, [x], poolAttrs("maxPool2d", opts));
}

/** Average pooling over [N, C, H, W] (`countIncludePad` default true, as in PyTorch). */
export function avgPool2d(x: Tensor, opts: AvgPool2dOptions): Tensor {
  if ("dilation" in opts) throw new Error("avgPool2d: dilation is not supported (as in PyTorch)");
  return apply1(avgPoolOp, [x], poolAttrs("avgPool2d", opts));
}

/**
 * Adaptive average pooling to `[oh, ow]` with PyTorch's bins (start = floor(i·H/oh),
 * end = ceil((i+1)·H/oh)); `[1, 1]` is global average pooling.
 */
export function adaptiveAvgPool2d(x: Tensor, size: number | readonly number[]): Tensor {
  return apply1(adaptiveAvgPoolOp, [x], { size: pair("adaptiveAvgPool2d", "size", size, 1) });
}
