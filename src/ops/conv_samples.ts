/**
 * Conformance samples of the five conv ops, derived from one table of conv geometries (and one
 * of transposed-conv geometries) that reaches every kernel path: the 3x3 stride-1 kernel with
 * partial pixel tiles and channel quads, 1x1 with vec4 and odd planes, the generic kernel with
 * strides, dilation and padding larger than the kernel, groups, depthwise, an empty batch, and
 * the transposed kernel with strides, output padding and dilation.
 */
import type { OpSample } from "./spec.ts";
import type { Conv2dAttrs, ConvBackwardAttrs, ConvTranspose2dAttrs } from "./conv_geometry.ts";
import { convOut, convTOut } from "./conv_geometry.ts";
import { rand } from "./samples.ts";

type P = [number, number];
interface Geo {
  name: string;
  /** Input [N, C, H, W] and conv2d weight [Cout, C/groups, kh, kw] (convT: [C, Cout/g, kh, kw]). */
  x: number[];
  w: number[];
  stride?: P;
  padding?: P;
  dilation?: P;
  groups?: number;
  bias?: boolean;
  outputPadding?: P;
}

const CONV: Geo[] = [
  {
    name: "3x3 stride 1 (k3 kernel), padding 1, bias",
    x: [2, 3, 6, 7],
    w: [5, 3, 3, 3],
    padding: [1, 1],
    bias: true,
  },
  {
    name: "3x3 on a wide row: partial pixel tiles, 5 channel quads",
    x: [1, 2, 3, 37],
    w: [17, 2, 3, 3],
  },
  { name: "1x1, plane a multiple of 4 (vec4), bias", x: [2, 6, 2, 4], w: [8, 6, 1, 1], bias: true },
  { name: "1x1, odd plane", x: [1, 5, 3, 5], w: [3, 5, 1, 1] },
  {
    name: "1x1, vec4 plane of 3 quads (a thread's second quad past the end)",
    x: [2, 3, 3, 4],
    w: [5, 3, 1, 1],
  },
  {
    name: "stride [2, 1], dilation [2, 1], padding larger than the kernel",
    x: [1, 2, 5, 6],
    w: [3, 2, 3, 2],
    stride: [2, 1],
    padding: [4, 3],
    dilation: [2, 1],
  },
  {
    name: "groups 2 of 10 output channels (3 quads), stride 2",
    x: [1, 4, 5, 5],
    w: [20, 2, 3, 3],
    groups: 2,
    stride: [2, 2],
    padding: [1, 1],
    bias: true,
  },
  {
    name: "depthwise, dilation 2",
    x: [1, 4, 6, 6],
    w: [4, 1, 3, 3],
    groups: 4,
    padding: [2, 2],
    dilation: [2, 2],
  },
  {
    name: "groups 2 of 9 output channels, 3x3 stride 1 (k3 kernels)",
    x: [1, 4, 4, 5],
    w: [18, 2, 3, 3],
    groups: 2,
    padding: [1, 1],
  },
  { name: "1x1 stride 2 (generic kernel)", x: [1, 3, 5, 5], w: [4, 3, 1, 1], stride: [2, 2] },
  {
    name: "3x3 stride 1, padding [2, 1] (k3 kernels, unequal padding)",
    x: [1, 2, 5, 6],
    w: [3, 2, 3, 3],
    padding: [2, 1],
  },
  {
    name: "kernel 5x3, stride [2, 1] (the 3-wide weight-gradient kernel with 5 rows)",
    x: [1, 2, 7, 6],
    w: [4, 2, 5, 3],
    stride: [2, 1],
    padding: [1, 1],
  },
  {
    name: "dilation [1, 2], input narrower than the dilated kernel",
    x: [1, 2, 5, 3],
    w: [3, 2, 3, 3],
    dilation: [1, 2],
    padding: [1, 2],
  },
  { name: "empty batch", x: [0, 2, 4, 4], w: [3, 2, 3, 3] },
];

const TRANSPOSED: Geo[] = [
  {
    name: "stride 1 (mirrored direct conv), padding 1, bias",
    x: [2, 3, 4, 5],
    w: [3, 4, 3, 3],
    padding: [1, 1],
    bias: true,
  },
  {
    name: "stride 2, output padding 1",
    x: [1, 4, 3, 3],
    w: [4, 2, 3, 3],
    stride: [2, 2],
    padding: [1, 1],
    outputPadding: [1, 1],
  },
  {
    name: "stride [2, 3], dilation 2, output padding [1, 0]",
    x: [1, 2, 3, 4],
    w: [2, 3, 3, 3],
    stride: [2, 3],
    padding: [1, 2],
    dilation: [2, 2],
    outputPadding: [1, 0],
  },
  {
    name: "groups 2, stride 2, 2x2 kernel, bias",
    x: [1, 4, 3, 3],
    w: [4, 3, 2, 2],
    groups: 2,
    stride: [2, 2],
    bias: true,
  },
  { name: "padding 2 shrinks the output", x: [1, 2, 5, 5], w: [2, 2, 3, 3], padding: [2, 2] },
  {
    name: "dilation 2 with output padding 1 (stride 1), bias",
    x: [1, 2, 3, 3],
    w: [2, 2, 3, 3],
    dilation: [2, 2],
    outputPadding: [1, 1],
    bias: true,
  },
  {
    name: "stride 2, dilation 3, output padding 2 > padding 1",
    x: [1, 2, 3, 2],
    w: [2, 1, 2, 3],
    stride: [2, 2],
    padding: [1, 0],
    dilation: [3, 3],
    outputPadding: [2, 2],
  },
];

function attrsOf(g: Geo): Conv2dAttrs {
  return {
    stride: g.stride ?? [1, 1],
    padding: g.padding ?? [0, 0],
    dilation: g.dilation ?? [1, 1],
    groups: g.groups ?? 1,
  };
}

/** Output size of the direct conv of `g`. */
function directOut(g: Geo): number[] {
  const a = attrsOf(g);
  return [0, 1].map((i) =>
    convOut(g.x[2 + i], g.w[2 + i], a.stride[i], a.padding[i], a.dilation[i])
  );
}

/** Output size of the transposed conv of `g`. */
function transposedOut(g: Geo): number[] {
  const a = attrsOf(g), op = g.outputPadding ?? [0, 0];
  return [0, 1].map((i) =>
    convTOut(g.x[2 + i], g.w[2 + i], a.stride[i], a.padding[i], a.dilation[i], op[i])
  );
}

export const conv2dSamples: OpSample<Conv2dAttrs>[] = CONV.map((g) => ({
  name: g.name,
  ins: [rand(g.x), rand(g.w), ...(g.bias ? [rand([g.w[0]])] : [])],
  attrs: attrsOf(g),
}));

export const conv2dBackwardInputSamples: OpSample<ConvBackwardAttrs>[] = CONV.map((g) => ({
  name: g.name,
  ins: [rand([g.x[0], g.w[0], ...directOut(g)]), rand(g.w)],
  attrs: { ...attrsOf(g), size: [g.x[2], g.x[3]] },
}));

export const conv2dBackwardWeightSamples: OpSample<ConvBackwardAttrs>[] = CONV.map((g) => ({
  name: g.name,
  ins: [rand(g.x), rand([g.x[0], g.w[0], ...directOut(g)])],
  attrs: { ...attrsOf(g), size: [g.w[2], g.w[3]] },
}));

const coutT = (g: Geo) => g.w[1] * (g.groups ?? 1);

export const convTranspose2dSamples: OpSample<ConvTranspose2dAttrs>[] = TRANSPOSED.map((g) => ({
  name: g.name,
  ins: [rand(g.x), rand(g.w), ...(g.bias ? [rand([coutT(g)])] : [])],
  attrs: { ...attrsOf(g), outputPadding: g.outputPadding ?? [0, 0] },
}));

export const convTranspose2dBackwardInputSamples: OpSample<ConvBackwardAttrs>[] = TRANSPOSED.map(
  (g) => ({
    name: g.name,
    ins: [rand([g.x[0], coutT(g), ...transposedOut(g)]), rand(g.w)],
    attrs: { ...attrsOf(g), size: [g.x[2], g.x[3]] },
  }),
);
