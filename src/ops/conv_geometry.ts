/**
 * Conv geometry shared by the conv ops' facets: attribute types and checks, output sizes, and
 * the direct-conv view ({@link Dims}) that the cpu references and the GPU dispatch both take.
 */
import type { OpInfo, TensorInfo } from "./spec.ts";
import { shapeError } from "./registry.ts";
import type { ConvGeometry } from "../backend/wasm/conv.ts";

/** A size given once for both spatial axes or as [height, width]. */
export type ConvSize = number | readonly [number, number];

/** Options of `conv2d`. */
export interface Conv2dOptions {
  /** Step between output pixels (default 1). */
  stride?: ConvSize;
  /** Zero padding added to each side (default 0). */
  padding?: ConvSize;
  /** Spacing between kernel taps (default 1). */
  dilation?: ConvSize;
  /** Channel groups: input and output channels are split into `groups` independent convs. */
  groups?: number;
}

/** Options of `convTranspose2d`. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns added to one side of the output (smaller than stride or dilation). */
  outputPadding?: ConvSize;
}

/** Normalised attributes of `conv2d`. */
export interface Conv2dAttrs {
  /** Step between windows [h, w]. */
  stride: [number, number];
  /** Zero padding on each side [h, w]. */
  padding: [number, number];
  /** Spacing between kernel taps [h, w]. */
  dilation: [number, number];
  /** Channel groups. */
  groups: number;
}

/** Normalised attributes of `convTranspose2d`. */
export interface ConvTranspose2dAttrs extends Conv2dAttrs {
  /** Extra rows and columns added to one side of the output [h, w]. */
  outputPadding: [number, number];
}

/**
 * Attributes of the backward ops: the conv's attributes and the spatial size of what the op
 * produces ([H, W] of the conv input for `conv2dBackwardInput`, [kh, kw] for the weight).
 */
export interface ConvBackwardAttrs extends Conv2dAttrs {
  /** [H, W] of the conv input (input gradient) or [kh, kw] (weight gradient). */
  size: [number, number];
}

/** A [height, width] pair from one size or a pair (`dflt` when absent). */
export function pair(v: ConvSize | undefined, dflt: number): [number, number] {
  if (v === undefined) return [dflt, dflt];
  return typeof v === "number" ? [v, v] : [v[0], v[1]];
}

/** Throw, naming `op`, unless stride/padding/dilation/groups (and outputPadding) are valid. */
export function checkAttrs(op: string, a: Conv2dAttrs, outputPadding?: [number, number]): void {
  const bad = (what: string, v: readonly number[], min: number) =>
    v.some((d) => !Number.isInteger(d) || d < min) &&
    shapeError(op, `${what} must be integers >= ${min}, got [${v}]`);
  const e = bad("stride", a.stride, 1) || bad("padding", a.padding, 0) ||
    bad("dilation", a.dilation, 1) || bad("groups", [a.groups], 1) ||
    (outputPadding && bad("outputPadding", outputPadding, 0));
  if (e) throw e;
  if (outputPadding?.some((p, i) => p >= Math.max(a.stride[i], a.dilation[i]))) {
    throw shapeError(
      op,
      `outputPadding [${outputPadding}] must be smaller than the stride [${a.stride}] or the ` +
        `dilation [${a.dilation}]`,
    );
  }
}

/** Throw, naming `op`, unless `t` is a 4-D f32 tensor. */
export function checkRank4(op: string, what: string, t: TensorInfo): void {
  if (t.shape.length !== 4) {
    throw shapeError(op, `${what} must be 4-D (${what === "weight" ? "OIHW" : "NCHW"})`, t.shape);
  }
  if (t.dtype !== "f32") throw shapeError(op, `${what} must be f32, got ${t.dtype}`, t.shape);
}

/** Throw, naming `op`, unless the bias (if any) is f32 [channels]. */
export function checkBias(op: string, b: TensorInfo | undefined, channels: number): void {
  if (!b) return;
  if (b.dtype !== "f32" || b.shape.length !== 1 || b.shape[0] !== channels) {
    throw shapeError(op, `bias must be f32 of shape [${channels}], got [${b.shape}]`, b.shape);
  }
}

/** Output size of a direct conv along one axis. */
export function convOut(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Output size of a transposed conv along one axis. */
export function convTOut(
  size: number,
  k: number,
  s: number,
  p: number,
  d: number,
  op: number,
): number {
  return (size - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

/**
 * Everything a kernel needs, in the direct-conv view: x [n, cin, h, w] -> y [n, cout, ho, wo],
 * groups of `r` reduction (input) channels and `o` output channels.
 */
export interface Dims extends ConvGeometry {
  cin: number;
  cout: number;
  a: Conv2dAttrs;
}

/** Direct conv dims of x [N,C,H,W] with a conv2d weight [Cout, C/g, kh, kw]. */
export function directDims(x: readonly number[], w: readonly number[], a: Conv2dAttrs): Dims {
  const [n, cin, h, wd] = x;
  const [cout, r, kh, kw] = w;
  return {
    n,
    cin,
    h,
    w: wd,
    cout,
    ho: convOut(h, kh, a.stride[0], a.padding[0], a.dilation[0]),
    wo: convOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1]),
    groups: a.groups,
    r,
    o: cout / a.groups,
    kh,
    kw,
    a,
  };
}

/**
 * Transposed conv dims: x [N, Cin, H, W], weight [Cin, O, kh, kw] (convT layout, which is also
 * the conv2d weight of the conv whose input gradient this is), output [N, O*g, ho, wo].
 */
export function transposedDims(
  x: readonly number[],
  w: readonly number[],
  a: Conv2dAttrs,
  ho: number,
  wo: number,
): Dims {
  const [n, cin, h, wd] = x;
  const [, o, kh, kw] = w;
  return {
    n,
    cin,
    h,
    w: wd,
    cout: o * a.groups,
    ho,
    wo,
    groups: a.groups,
    r: cin / a.groups,
    o,
    kh,
    kw,
    a,
  };
}

/** Multiply-adds of a conv in the direct-conv view. */
export function macsOf(d: Dims): number {
  // The direct view counts output pixels; the transposed one (x is the small side) input pixels.
  return d.n * d.cout * d.ho * d.wo * d.r * d.kh * d.kw;
}

/** Check that dy is the conv output of an input of spatial size `hw` (backward ops). */
export function checkBackwardGeometry(
  op: string,
  dy: TensorInfo,
  w: readonly number[],
  hw: readonly number[],
  a: Conv2dAttrs,
  other: TensorInfo,
  cropped = false,
): void {
  const ho = convOut(hw[0], w[2], a.stride[0], a.padding[0], a.dilation[0]);
  const wo = convOut(hw[1], w[3], a.stride[1], a.padding[1], a.dilation[1]);
  const [gh, gw] = [dy.shape[2], dy.shape[3]];
  if (cropped ? gh > ho || gw > wo || gh < 1 || gw < 1 : gh !== ho || gw !== wo) {
    throw shapeError(
      op,
      `output gradient is ${dy.shape[2]}x${dy.shape[3]} but the conv of a ${hw[0]}x${hw[1]} ` +
        `input gives ${ho}x${wo}`,
      dy.shape,
      other.shape,
    );
  }
}

/** Transposed-conv dims of convTranspose2d from its input and weight. */
export function convTDims(info: OpInfo, a: ConvTranspose2dAttrs): Dims {
  const [x, w] = info.ins;
  const [, , h, wd] = x.shape;
  const [, , kh, kw] = w.shape;
  const ho = convTOut(h, kh, a.stride[0], a.padding[0], a.dilation[0], a.outputPadding[0]);
  const wo = convTOut(wd, kw, a.stride[1], a.padding[1], a.dilation[1], a.outputPadding[1]);
  return transposedDims(x.shape, w.shape, a, ho, wo);
}

/** Direct-conv dims of a weight gradient: x, dw's kernel, and dy's (possibly cropped) size. */
export function wgradDims(info: OpInfo, a: Conv2dAttrs): Dims {
  const dy = info.ins[1].shape;
  return { ...directDims(info.ins[0].shape, info.outs[0].shape, a), ho: dy[2], wo: dy[3] };
}

/** Direct-conv dims of convTranspose2d's input gradient: dy ⋆ w cropped to `size`. */
export function convTBackDims(info: OpInfo, a: ConvBackwardAttrs): Dims {
  return { ...directDims(info.ins[0].shape, info.ins[1].shape, a), ho: a.size[0], wo: a.size[1] };
}

/** Attributes of a conv from the user-facing options (defaults filled in). */
export function convAttrs(opts: Conv2dOptions): Conv2dAttrs {
  return {
    stride: pair(opts.stride, 1),
    padding: pair(opts.padding, 0),
    dilation: pair(opts.dilation, 1),
    groups: opts.groups ?? 1,
  };
}

/**
 * A stride-1 transposed conv (weight [G*R, O, kh, kw]) as the direct conv both backends run for
 * it: the kernel mirrored (`flip`), padding d*(k-1) - p, and the weight's strides (group, output
 * channel, reduction channel) as the direct conv reads them.
 */
export function mirroredDirect(d: Dims): {
  steps: { sh: number; sw: number; ph: number; pw: number; dh: number; dw: number };
  strides: { sg: number; so: number; sr: number };
} {
  const { a } = d;
  return {
    steps: {
      sh: 1,
      sw: 1,
      ph: a.dilation[0] * (d.kh - 1) - a.padding[0],
      pw: a.dilation[1] * (d.kw - 1) - a.padding[1],
      dh: a.dilation[0],
      dw: a.dilation[1],
    },
    strides: transposedStrides(d),
  };
}

/** A transposed weight [G*R, O, kh, kw]'s strides (group, output, reduction channel). */
export function transposedStrides(d: Dims): { sg: number; so: number; sr: number } {
  const kk = d.kh * d.kw;
  return { sg: d.r * d.o * kk, so: kk, sr: d.o * kk };
}
