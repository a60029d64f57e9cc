/**
 * Resizing NCHW tensors: `upsample` (nearest / bilinear with PyTorch's source-index rules and a
 * scale factor), `pixelShuffle` and `pixelUnshuffle` (pure permutations through the strided
 * movement kernel).
 */
import fwdSrc from "../../kernels/resize/upsample_fwd.wgsl" with { type: "text" };
import bwdSrc from "../../kernels/resize/upsample_bwd.wgsl" with { type: "text" };
import { dispatch, grid1d, specialize, Uniforms } from "../backend/webgpu.ts";
import { numel, type Tensor, type TensorInfo } from "../tensor.ts";
import { apply1, defineOp, type OpSpec, shapeError } from "./registry.ts";
import { stridedCpu, stridedGpu } from "./movement.ts";
import { fixed, rand } from "./samples.ts";
import type { OpSample } from "./spec.ts";

const up = (mode: "nearest" | "bilinear", scale: number[], alignCorners = false) =>
  ({ scale: [scale[0], scale[1]], mode, alignCorners }) as UpsampleAttrs;
const UPSAMPLES: [string, number[], UpsampleAttrs][] = [
  ["nearest x2", [2, 3, 3, 4], up("nearest", [2, 2])],
  ["nearest, scales 1.5 and 2.5", [1, 2, 4, 3], up("nearest", [1.5, 2.5])],
  ["bilinear x2", [2, 2, 3, 4], up("bilinear", [2, 2])],
  ["bilinear x2, align corners", [1, 2, 3, 3], up("bilinear", [2, 2], true)],
  ["bilinear, scales 1.75 and 0.5 (downsampling)", [1, 2, 4, 6], up("bilinear", [1.75, 0.5])],
];
const outOf = (
  x: number[],
  a: UpsampleAttrs,
) => [x[0], x[1], Math.floor(x[2] * a.scale[0]), Math.floor(x[3] * a.scale[1])];
const upsampleSamples: OpSample<UpsampleAttrs>[] = UPSAMPLES.map(([name, x, attrs]) => ({
  name,
  ins: [rand(x)],
  attrs,
}));
const shuffles = (inverse: boolean): OpSample<ShuffleAttrs>[] => [
  { name: "factor 2", ins: [rand(inverse ? [2, 3, 4, 6] : [2, 12, 2, 3])], attrs: { factor: 2 } },
  { name: "factor 3", ins: [rand(inverse ? [1, 2, 3, 6] : [1, 18, 2, 1])], attrs: { factor: 3 } },
];

const f32 = Math.fround;

/** Attributes of {@link upsample} (normalised). */
export interface UpsampleAttrs {
  /** Output size / input size [h, w]. */
  scale: [number, number];
  /** How output pixels are computed from input pixels. */
  mode: "nearest" | "bilinear";
  /** Bilinear only: corner pixel centres map onto each other. */
  alignCorners: boolean;
}

/** Options of {@link upsample}. */
export interface UpsampleOptions {
  /** Output size = floor(input size · scaleFactor) per spatial axis. */
  scaleFactor: number | readonly number[];
  /** "nearest" (default) or "bilinear". */
  mode?: "nearest" | "bilinear";
  /** Bilinear only: map corner pixel centres onto each other (PyTorch default false). */
  alignCorners?: boolean;
}

function outSizes(x: TensorInfo, a: UpsampleAttrs): [number, number] {
  return [Math.floor(x.shape[2] * a.scale[0]), Math.floor(x.shape[3] * a.scale[1])];
}

/** Source step per output pixel along one axis, as PyTorch computes it (f32). */
function step(a: UpsampleAttrs, axis: number, len: number, out: number): number {
  if (a.mode === "bilinear" && a.alignCorners) return out > 1 ? f32((len - 1) / (out - 1)) : 0;
  if (a.mode === "nearest" && out === len) return 1; // PyTorch's identity shortcut
  return f32(1 / a.scale[axis]);
}

/** Taps of output index `dst` along one axis (bit-compatible with the kernel's f32 math). */
function tap(a: UpsampleAttrs, dst: number, r: number, len: number) {
  if (a.mode === "nearest") {
    const s = Math.min(Math.floor(f32(dst * r)), len - 1);
    return { i0: s, i1: s, l0: 1, l1: 0 };
  }
  const src = a.alignCorners ? f32(r * dst) : Math.max(f32(f32(r * f32(dst + 0.5)) - 0.5), 0);
  const i0 = Math.min(Math.floor(src), len - 1);
  const i1 = Math.min(i0 + 1, len - 1);
  const l1 = f32(src - i0);
  return { i0, i1, l0: f32(1 - l1), l1 };
}

function geometry(a: UpsampleAttrs, xs: readonly number[], ys: readonly number[]) {
  const [h, w, oh, ow] = [xs[2], xs[3], ys[2], ys[3]];
  return { h, w, oh, ow, rh: step(a, 0, h, oh), rw: step(a, 1, w, ow) };
}

function uniforms(n: number, nx: number, a: UpsampleAttrs, g: ReturnType<typeof geometry>) {
  return new Uniforms().u32(n, nx, a.mode === "nearest" ? 0 : 1, a.alignCorners ? 1 : 0)
    .u32(g.h, g.w, g.oh, g.ow).f32(g.rh, g.rw).u32(0, 0);
}

const upsampleBackwardOp = defineOp<UpsampleAttrs>({
  name: "upsampleBackward",
  inputNames: ["gradOutput", "x"],
  // Input 1 only provides the input shape (x of the forward).
  shape: ([_g, x]) => [{ shape: x.shape, dtype: "f32" }],
  cpu([g], [dx], a, info) {
    const geo = geometry(a, info.ins[1].shape, info.ins[0].shape);
    const planes = info.ins[1].shape[0] * info.ins[1].shape[1];
    for (let pl = 0; pl < planes; pl++) {
      const gb = pl * geo.oh * geo.ow, xb = pl * geo.h * geo.w;
      for (let oy = 0; oy < geo.oh; oy++) {
        const ty = tap(a, oy, geo.rh, geo.h);
        for (let ox = 0; ox < geo.ow; ox++) {
          const tx = tap(a, ox, geo.rw, geo.w);
          const v = g[gb + oy * geo.ow + ox];
          dx[xb + ty.i0 * geo.w + tx.i0] += ty.l0 * tx.l0 * v;
          dx[xb + ty.i0 * geo.w + tx.i1] += ty.l0 * tx.l1 * v;
          dx[xb + ty.i1 * geo.w + tx.i0] += ty.l1 * tx.l0 * v;
          dx[xb + ty.i1 * geo.w + tx.i1] += ty.l1 * tx.l1 * v;
        }
      }
    }
  },
  gpu([g], [dx], a, info) {
    const geo = geometry(a, info.ins[1].shape, info.ins[0].shape);
    const n = numel(info.ins[1].shape);
    const grid = grid1d(n);
    dispatch(specialize("upsample_bwd", bwdSrc), [g, dx], grid, uniforms(n, grid[0], a, geo));
  },
  grad: { none: "upsample backward is first-order only" },
  channels: { kind: "passthrough" },
  cost: (info) => ({ macs: 0, flops: 4 * numel(info.ins[0].shape) }),
  onnx: {
    none:
      "upsampleBackward is a training-only op (the backward kernel of upsample); export the forward graph",
  },
  samples: UPSAMPLES.map(([name, x, attrs]) => ({
    name,
    ins: [rand(outOf(x, attrs)), fixed(rand(x))],
    attrs,
  })),
});

const upsampleOp: OpSpec<UpsampleAttrs> = defineOp<UpsampleAttrs>({
  name: "upsample",
  inputNames: ["x"],
  shape([x], a) {
    if (x.shape.length !== 4) {
      throw shapeError(
        "upsample",
        `expects an NCHW input (rank 4), got rank ${x.shape.length}`,
        x.shape,
      );
    }
    if (x.dtype !== "f32") throw shapeError("upsample", `expects f32, got ${x.dtype}`, x.shape);
    const [oh, ow] = outSizes(x, a);
    if (oh < 1 || ow < 1) {
      throw shapeError("upsample", `scale factor ${a.scale} gives an empty output`, x.shape);
    }
    return [{ shape: [x.shape[0], x.shape[1], oh, ow], dtype: "f32" }];
  },
  cpu([x], [y], a, info) {
    const geo = geometry(a, info.ins[0].shape, info.outs[0].shape);
    const planes = info.ins[0].shape[0] * info.ins[0].shape[1];
    for (let pl = 0; pl < planes; pl++) {
      const xb = pl * geo.h * geo.w, yb = pl * geo.oh * geo.ow;
      for (let oy = 0; oy < geo.oh; oy++) {
        const ty = tap(a, oy, geo.rh, geo.h);
        for (let ox = 0; ox < geo.ow; ox++) {
          const tx = tap(a, ox, geo.rw, geo.w);
          const top = tx.l0 * x[xb + ty.i0 * geo.w + tx.i0] + tx.l1 * x[xb + ty.i0 * geo.w + tx.i1];
          const bot = tx.l0 * x[xb + ty.i1 * geo.w + tx.i0] + tx.l1 * x[xb + ty.i1 * geo.w + tx.i1];
          y[yb + oy * geo.ow + ox] = ty.l0 * top + ty.l1 * bot;
        }
      }
    }
  },
  gpu([x], [y], a, info) {
    const geo = geometry(a, info.ins[0].shape, info.outs[0].shape);
    const n = numel(info.outs[0].shape);
    const grid = grid1d(n);
    dispatch(specialize("upsample_fwd", fwdSrc), [x, y], grid, uniforms(n, grid[0], a, geo));
  },
  grad: ({ ins, attrs }, [g]) => [apply1(upsampleBackwardOp, [g, ins[0]], attrs)],
  channels: { kind: "passthrough", mixes: () => [2, 3] },
  cost: (info, a) => ({
    macs: 0,
    flops: numel(info.outs[0].shape) * (a.mode === "nearest" ? 1 : 6),
  }),
  onnx: (e, io) => {
    const a = io.attrs;
    const attrs: Record<string, string> = a.mode === "nearest"
      ? { mode: "nearest", coordinate_transformation_mode: "asymmetric", nearest_mode: "floor" }
      : {
        mode: "linear",
        coordinate_transformation_mode: a.alignCorners ? "align_corners" : "pytorch_half_pixel",
      };
    const scales = e.constant([1, 1, a.scale[0], a.scale[1]], [4]);
    e.node("Resize", [io.inputs[0], "", scales], io.outputs, attrs);
  },
  samples: upsampleSamples,
});

/**
 * Upsample [N, C, H, W] by `scaleFactor` (PyTorch `nn.Upsample` semantics: the scale, not the
 * size ratio, sets the source coordinates).
 *
 * @example
 * ```ts
 * import { init, randn, upsample } from "../../mod.ts";
 * await init();
 * const x = randn([1, 3, 4, 4], { seed: 0 });
 * const y = upsample(x, { scaleFactor: 2, mode: "bilinear" }); // [1, 3, 8, 8]
 * ```
 */
export function upsample(x: Tensor, opts: UpsampleOptions): Tensor {
  const s = opts.scaleFactor;
  const scale: [number, number] = typeof s === "number" ? [s, s] : [s[0], s[1]];
  if ((typeof s !== "number" && s.length !== 2) || scale.some((v) => !(v > 0) || !isFinite(v))) {
    throw shapeError(
      "upsample",
      `scaleFactor must be a positive number or [h, w], got ${s}`,
      x.shape,
    );
  }
  const mode = opts.mode ?? "nearest";
  if (mode !== "nearest" && mode !== "bilinear") {
    throw shapeError("upsample", `mode must be "nearest" or "bilinear", got "${mode}"`, x.shape);
  }
  if (mode === "nearest" && opts.alignCorners) {
    throw shapeError("upsample", "alignCorners applies to bilinear mode only", x.shape);
  }
  return apply1(upsampleOp, [x], { scale, mode, alignCorners: opts.alignCorners ?? false });
}

// ---------------------------------------------------------------------------------------------
// Pixel shuffle

/** Attributes of pixelShuffle / pixelUnshuffle. */
export interface ShuffleAttrs {
  /** The block side r: r^2 channels become an r x r block of pixels (or back). */
  factor: number;
}

/** out[n, c, h·r+i, w·r+j] = in[n, c·r²+i·r+j, h, w] as a strided gather of the input. */
function shufflePlan(x: readonly number[], r: number) {
  const [n, c, h, w] = x;
  const oc = c / (r * r);
  // Output viewed as [N, C', H, r, W, r]; strides into the input [N, C', r, r, H, W].
  const shape = [n, oc, h, r, w, r];
  const strides = [c * h * w, r * r * h * w, w, r * h * w, 1, h * w];
  return { shape, strides };
}

/** out[n, c·r²+i·r+j, h, w] = in[n, c, h·r+i, w·r+j]. */
function unshufflePlan(x: readonly number[], r: number) {
  const [n, c, h, w] = x;
  const shape = [n, c, r, r, h / r, w / r];
  const strides = [c * h * w, h * w, w, 1, r * w, r];
  return { shape, strides };
}

function shuffleShape(op: string, x: TensorInfo, r: number, unshuffle: boolean): TensorInfo[] {
  if (x.shape.length !== 4) {
    throw shapeError(op, `expects an NCHW input (rank 4), got rank ${x.shape.length}`, x.shape);
  }
  if (!Number.isInteger(r) || r < 1) {
    throw shapeError(op, `factor must be a positive integer, got ${r}`, x.shape);
  }
  const [n, c, h, w] = x.shape;
  if (unshuffle) {
    if (h % r || w % r) {
      throw shapeError(op, `spatial size ${h}x${w} is not divisible by the factor ${r}`, x.shape);
    }
    return [{ shape: [n, c * r * r, h / r, w / r], dtype: x.dtype }];
  }
  if (c % (r * r)) {
    throw shapeError(op, `${c} channels are not divisible by factor² = ${r * r}`, x.shape);
  }
  return [{ shape: [n, c / (r * r), h * r, w * r], dtype: x.dtype }];
}

const pixelUnshuffleOp: OpSpec<ShuffleAttrs> = defineOp<ShuffleAttrs>({
  name: "pixelUnshuffle",
  inputNames: ["x"],
  shape: ([x], a) => shuffleShape("pixelUnshuffle", x, a.factor, true),
  cpu([x], [y], a, info) {
    const p = unshufflePlan(info.ins[0].shape, a.factor);
    stridedCpu(x, y, p.shape, p.strides, 0);
  },
  gpu([x], [y], a, info) {
    const p = unshufflePlan(info.ins[0].shape, a.factor);
    stridedGpu("pixelUnshuffle", x, y, info.ins[0].dtype, p.shape, p.strides, 0);
  },
  grad: ({ attrs }, [g]) => [apply1(pixelShuffleOp, [g], attrs)],
  // Input channel c becomes output channels c·r² ... c·r²+r²-1 (pure data movement).
  channels: { kind: "pixelShuffle", factor: (a) => a.factor, inverse: true },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) => {
    // SpaceToDepth orders channels (i, j, c); PyTorch's order is (c, i, j): spell it out.
    const [n, c, h, w] = io.info.ins[0].shape, r = io.attrs.factor;
    const a = e.fresh("unshuffle6"), t = e.fresh("unshuffle6_t");
    e.node("Reshape", [io.inputs[0], e.constant([n, c, h / r, r, w / r, r], [6], "i64")], [a]);
    e.node("Transpose", [a], [t], { perm: [0, 1, 3, 5, 2, 4] });
    e.node("Reshape", [t, e.constant([n, c * r * r, h / r, w / r], [4], "i64")], io.outputs);
  },
  samples: shuffles(true),
});

const pixelShuffleOp: OpSpec<ShuffleAttrs> = defineOp<ShuffleAttrs>({
  name: "pixelShuffle",
  inputNames: ["x"],
  shape: ([x], a) => shuffleShape("pixelShuffle", x, a.factor, false),
  cpu([x], [y], a, info) {
    const p = shufflePlan(info.ins[0].shape, a.factor);
    stridedCpu(x, y, p.shape, p.strides, 0);
  },
  gpu([x], [y], a, info) {
    const p = shufflePlan(info.ins[0].shape, a.factor);
    stridedGpu("pixelShuffle", x, y, info.ins[0].dtype, p.shape, p.strides, 0);
  },
  grad: ({ attrs }, [g]) => [apply1(pixelUnshuffleOp, [g], attrs)],
  channels: { kind: "pixelShuffle", factor: (a) => a.factor },
  cost: () => ({ macs: 0, flops: 0 }),
  onnx: (e, io) =>
    e.node("DepthToSpace", io.inputs, io.outputs, { blocksize: io.attrs.factor, mode: "CRD" }),
  samples: shuffles(false),
});

/** [N, C·r², H, W] -> [N, C, H·r, W·r] (PyTorch `pixel_shuffle`). */
export function pixelShuffle(x: Tensor, factor: number): Tensor {
  return apply1(pixelShuffleOp, [x], { factor });
}

/** [N, C, H·r, W·r] -> [N, C·r², H, W] (PyTorch `pixel_unshuffle`). */
export function pixelUnshuffle(x: Tensor, factor: number): Tensor {
  return apply1(pixelUnshuffleOp, [x], { factor });
}
