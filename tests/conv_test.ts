import assert from "node:assert/strict";
import * as o from "../mod.ts";
import type { Conv2dOptions, ConvTranspose2dOptions } from "../mod.ts";
import { withPath } from "../src/ops/registry.ts";
import type { OnnxAttr, OnnxEmitter, OnnxRule } from "../src/onnx/rules.ts";
import { assertClose, compareBackends, gradCheck, hostRand, test } from "./helpers.ts";

const cpu = (data: number[], shape: number[]) =>
  o.fromHost(Float32Array.from(data), shape, "f32", "cpu");

test("conv2d: hand-computed 2x2 kernel with bias, stride and padding", async () => {
  // x = 1..9 in a 3x3 image, w = identity diagonal: y[i,j] = x[i,j] + x[i+1,j+1] + 0.5.
  const x = { data: [1, 2, 3, 4, 5, 6, 7, 8, 9], shape: [1, 1, 3, 3] };
  const w = { data: [1, 0, 0, 1], shape: [1, 1, 2, 2] };
  const b = { data: [0.5], shape: [1] };
  const [y] = await compareBackends("conv2d tiny", (x, w, b) => o.conv2d(x, w, b), [x, w, b]);
  assert.deepEqual(y.shape, [1, 1, 2, 2]);
  assert.deepEqual(y.data, [6.5, 8.5, 12.5, 14.5]);
  // padding 1, stride 2: output 2x2 at padded positions (0,0),(0,2),(2,0),(2,2).
  const [z] = await compareBackends(
    "conv2d tiny s2p1",
    (x, w) => o.conv2d(x, w, null, { stride: 2, padding: 1 }),
    [x, w],
  );
  assert.deepEqual(z.shape, [1, 1, 2, 2]);
  // (0,0): pad + x[0,0]=1; (0,2): pad + x[0,2]=3... y[oy,ox] = x[2oy-1,2ox-1] + x[2oy,2ox].
  assert.deepEqual(z.data, [1, 3, 7, 9 + 5]);
});

test("convTranspose2d: hand-computed stride-2 upsampling", async () => {
  // Each input pixel paints a 2x2 block of ones scaled by its value.
  const x = { data: [1, 2, 3, 4], shape: [1, 1, 2, 2] };
  const w = { data: [1, 1, 1, 1], shape: [1, 1, 2, 2] };
  const [y] = await compareBackends(
    "convT tiny",
    (x, w) => o.convTranspose2d(x, w, null, { stride: 2 }),
    [x, w],
  );
  assert.deepEqual(y.shape, [1, 1, 4, 4]);
  assert.deepEqual(y.data, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  // Stride 1 overlaps: a 2x2 ones kernel sums the neighbourhood (3x3 output).
  const [z] = await compareBackends(
    "convT tiny s1",
    (x, w) => o.convTranspose2d(x, w, null),
    [x, w],
  );
  assert.deepEqual(z.shape, [1, 1, 3, 3]);
  assert.deepEqual(z.data, [1, 3, 2, 4, 10, 6, 3, 7, 4]);
});

interface Case {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  opts: Conv2dOptions;
}

// Every option and both kernel paths (3x3 stride-1 fast path, generic, 1x1 flattened).
const CONV_CASES: Case[] = [
  {
    name: "3x3 s1 p1 (fast path, odd width)",
    x: [2, 3, 6, 11],
    w: [5, 3, 3, 3],
    bias: true,
    opts: { padding: 1 },
  },
  { name: "3x3 s1 p0", x: [1, 2, 7, 9], w: [4, 2, 3, 3], bias: false, opts: {} },
  {
    name: "stride 2 pad 1",
    x: [2, 3, 7, 8],
    w: [6, 3, 3, 3],
    bias: true,
    opts: { stride: 2, padding: 1 },
  },
  {
    name: "dilation 2",
    x: [1, 2, 9, 8],
    w: [3, 2, 3, 3],
    bias: true,
    opts: { dilation: 2, padding: 2 },
  },
  {
    name: "groups 2",
    x: [2, 4, 5, 6],
    w: [6, 2, 3, 3],
    bias: true,
    opts: { groups: 2, padding: 1 },
  },
  {
    name: "depthwise",
    x: [2, 3, 6, 5],
    w: [3, 1, 3, 3],
    bias: true,
    opts: { groups: 3, padding: 1 },
  },
  {
    name: "non-square kernel, asymmetric stride/pad",
    x: [1, 2, 7, 9],
    w: [3, 2, 2, 3],
    bias: false,
    opts: { stride: [1, 2], padding: [1, 0] },
  },
  {
    name: "stride/dilation [2,1] (3-wide weight-gradient path with row stride)",
    x: [2, 3, 9, 6],
    w: [5, 3, 3, 3],
    bias: false,
    opts: { stride: [2, 1], dilation: [2, 1], padding: [2, 1] },
  },
  {
    name: "1x1 vec4 pixels, groups 2",
    x: [2, 4, 4, 5],
    w: [6, 2, 1, 1],
    bias: true,
    opts: { groups: 2 },
  },
  { name: "1x1", x: [2, 5, 3, 5], w: [7, 5, 1, 1], bias: true, opts: {} },
  { name: "1x1 stride 2", x: [1, 3, 5, 5], w: [2, 3, 1, 1], bias: false, opts: { stride: 2 } },
  {
    name: "5x5 s1 d1 (generic k)",
    x: [1, 2, 6, 7],
    w: [2, 2, 5, 5],
    bias: true,
    opts: { padding: 2 },
  },
];

for (const c of CONV_CASES) {
  test(`conv2d ${c.name}: webgpu matches cpu, gradients match finite differences`, async () => {
    const ins = [hostRand(c.x, 1), hostRand(c.w, 2)];
    if (c.bias) ins.push(hostRand([c.w[0]], 3));
    const f = (...t: o.Tensor[]) => o.conv2d(t[0], t[1], t[2] ?? null, c.opts);
    await compareBackends(`conv2d ${c.name}`, f, ins);
    await gradCheck(`conv2d ${c.name}`, f, ins);
  });
}

interface TCase {
  name: string;
  x: number[];
  w: number[];
  bias: boolean;
  opts: ConvTranspose2dOptions;
  out: number[];
}

const CONVT_CASES: TCase[] = [
  {
    name: "stride 2 pad 1 outputPadding 1",
    x: [2, 3, 4, 5],
    w: [3, 4, 3, 3],
    bias: true,
    opts: { stride: 2, padding: 1, outputPadding: 1 },
    out: [2, 4, 8, 10],
  },
  {
    name: "stride 1 pad 1 (mirrored direct path)",
    x: [1, 3, 5, 6],
    w: [3, 2, 3, 3],
    bias: true,
    opts: { padding: 1 },
    out: [1, 2, 5, 6],
  },
  {
    name: "groups 2, stride 2",
    x: [1, 4, 3, 4],
    w: [4, 3, 2, 2],
    bias: false,
    opts: { stride: 2, groups: 2 },
    out: [1, 6, 6, 8],
  },
  {
    name: "dilation 2, stride [2,3]",
    x: [1, 2, 3, 3],
    w: [2, 2, 3, 2],
    bias: true,
    opts: { stride: [2, 3], dilation: 2, padding: [1, 0], outputPadding: [1, 2] },
    out: [1, 2, 8, 11],
  },
  {
    name: "stride 1, dilation 2, outputPadding 1 (>= stride: cropped input gradient)",
    x: [1, 2, 3, 4],
    w: [2, 2, 3, 3],
    bias: true,
    opts: { dilation: 2, padding: 1, outputPadding: 1 },
    out: [1, 2, 6, 7],
  },
];

for (const c of CONVT_CASES) {
  test(`convTranspose2d ${c.name}: shape, webgpu matches cpu, gradients`, async () => {
    const ins = [hostRand(c.x, 4), hostRand(c.w, 5)];
    if (c.bias) ins.push(hostRand([c.w[1] * (c.opts.groups ?? 1)], 6));
    const f = (...t: o.Tensor[]) => o.convTranspose2d(t[0], t[1], t[2] ?? null, c.opts);
    const [y] = await compareBackends(`convT ${c.name}`, f, ins);
    assert.deepEqual(y.shape, c.out);
    await gradCheck(`convT ${c.name}`, f, ins);
  });
}

test("conv2d is the adjoint of convTranspose2d (<conv(x), y> = <x, convT(y)>)", async () => {
  const opts = { stride: 2, padding: 1, dilation: 1, groups: 2 };
  const x = cpu(Array.from(hostRand([1, 4, 7, 7], 7).data), [1, 4, 7, 7]);
  const w = cpu(Array.from(hostRand([6, 2, 3, 3], 8).data), [6, 2, 3, 3]);
  const yv = cpu(Array.from(hostRand([1, 6, 4, 4], 9).data), [1, 6, 4, 4]);
  const lhs = await o.sum(o.mul(o.conv2d(x, w, null, opts), yv)).item();
  const rhs = await o.sum(o.mul(x, o.convTranspose2d(yv, w, null, opts))).item();
  assertClose([lhs], [rhs], "adjoint identity", 1e-4, 1e-4);
});

test("backward ops on larger shapes (chunked weight gradient, many channels)", async () => {
  // N*Ho rows > one chunk, channel counts not multiples of 4.
  const x = hostRand([4, 6, 20, 7], 10);
  const dy = hostRand([4, 10, 20, 7], 11);
  const w = hostRand([10, 6, 3, 3], 12);
  const opts = { padding: 1 };
  await compareBackends(
    "conv2dBackwardWeight",
    (x, dy) => o.conv2dBackwardWeight(x, dy, [3, 3], opts),
    [x, dy],
    { atol: 1e-4 },
  );
  await compareBackends(
    "conv2dBackwardInput",
    (dy, w) => o.conv2dBackwardInput(dy, w, [20, 7], opts),
    [dy, w],
    { atol: 1e-4 },
  );
  // The register tiles (4 channel quads x up to 8 pixels forward, 2 x 2 quads for the weight
  // gradient) with channel counts and widths that leave partial tiles: 3x3 stride 1 (the k3
  // kernels) and stride 2 (the generic ones), plain and grouped.
  for (const [groups, stride] of [[1, 1], [2, 1], [1, 2], [2, 2]]) {
    const xt = hostRand([2, 10, 5, 21], 18), wt = hostRand([22, 10 / groups, 3, 3], 19);
    const oh = stride === 1 ? 5 : 3, ow = stride === 1 ? 21 : 11;
    const dyt = hostRand([2, 22, oh, ow], 20);
    const go = { padding: 1, groups, stride };
    const tag = `tiles g${groups} s${stride}`;
    await compareBackends(`conv2d ${tag}`, (x, w) => o.conv2d(x, w, null, go), [xt, wt], {
      atol: 1e-4,
    });
    await compareBackends(
      `conv2dBackwardWeight ${tag}`,
      (x, dy) => o.conv2dBackwardWeight(x, dy, [3, 3], go),
      [xt, dyt],
      { atol: 1e-4 },
    );
    await compareBackends(
      `conv2dBackwardInput ${tag}`,
      (dy, w) => o.conv2dBackwardInput(dy, w, [5, 21], go),
      [dyt, wt],
      { atol: 1e-4 },
    );
  }
  // 1x1 weight gradients over several chunks (vec4 pixels and a ragged plane of 63 pixels).
  for (const [xs, co] of [[[4, 6, 16, 12], 5], [[3, 5, 9, 7], 6]] as const) {
    await compareBackends(
      `conv2dBackwardWeight 1x1 [${xs}]`,
      (x, dy) => o.conv2dBackwardWeight(x, dy, [1, 1]),
      [hostRand(xs, 16), hostRand([xs[0], co, xs[2], xs[3]], 17)],
      { atol: 1e-4 },
    );
  }
  // Stride 2 with an input size the stride does not divide (the last row is never used).
  const dy2 = hostRand([2, 5, 4, 3], 13);
  const w2 = hostRand([5, 3, 3, 3], 14);
  await compareBackends(
    "conv2dBackwardInput stride 2",
    (dy, w) => o.conv2dBackwardInput(dy, w, [8, 6], { stride: 2, padding: 1 }),
    [dy2, w2],
  );
  await compareBackends(
    "conv2dBackwardWeight stride 2",
    (x, dy) => o.conv2dBackwardWeight(x, dy, [3, 3], { stride: 2, padding: 1 }),
    [hostRand([2, 3, 8, 6], 15), dy2],
  );
});

test("conv2d: errors name the op, the shapes and the layer", () => {
  const x = cpu(new Array(75).fill(0), [1, 3, 5, 5]);
  assert.throws(
    () => o.conv2d(x, cpu(new Array(72).fill(0), [2, 4, 3, 3]), null),
    /conv2d: input has 3 channels, weight expects 4 \(shapes \[1,3,5,5\], \[2,4,3,3\]\)/,
  );
  assert.throws(
    () =>
      withPath(
        "features",
        () => withPath("0", () => o.conv2d(x, cpu(new Array(72).fill(0), [2, 4, 3, 3]), null)),
      ),
    /weight expects 4 .*\(layer features\.0\)/,
  );
  const x4 = cpu(new Array(100).fill(0), [1, 4, 5, 5]);
  assert.throws(
    () => o.conv2d(x4, cpu(new Array(108).fill(0), [6, 2, 3, 3]), null, { groups: 4 }),
    /conv2d: 6 output channels are not divisible by groups 4/,
  );
  assert.throws(
    () => o.conv2d(x4, cpu(new Array(108).fill(0), [6, 2, 3, 3]), null, { groups: 1 }),
    /input has 4 channels, weight expects 2/,
  );
  assert.throws(
    () => o.conv2d(x, cpu(new Array(54).fill(0), [2, 3, 3, 3]), cpu([0, 0, 0], [3])),
    /conv2d: bias must be f32 of shape \[2\], got \[3\]/,
  );
  assert.throws(
    () => o.conv2d(x, cpu(new Array(6 * 49).fill(0), [2, 3, 7, 7]), null),
    /conv2d: output would be empty: input 5x5 with padding \[0,0\]/,
  );
  assert.throws(
    () => o.conv2d(x, cpu(new Array(54).fill(0), [2, 3, 3, 3]), null, { stride: 0 }),
    /conv2d: stride must be integers >= 1, got \[0,0\]/,
  );
  assert.throws(
    () =>
      o.conv2d(cpu(new Array(25).fill(0), [5, 5]), cpu(new Array(54).fill(0), [2, 3, 3, 3]), null),
    /conv2d: input must be 4-D \(NCHW\)/,
  );
  assert.throws(
    () =>
      o.convTranspose2d(x, cpu(new Array(54).fill(0), [3, 2, 3, 3]), null, {
        stride: 2,
        outputPadding: 2,
      }),
    /convTranspose2d: outputPadding \[2,2\] must be smaller than the stride \[2,2\] or the dilation \[1,1\]/,
  );
  assert.throws(
    () => o.convTranspose2d(x, cpu(new Array(36).fill(0), [2, 2, 3, 3]), null),
    /convTranspose2d: input has 3 channels, weight expects 2/,
  );
});

test("conv ops: cost, channel rules and ONNX attributes", () => {
  const conv = o.getOp("conv2d");
  const info = {
    ins: [
      { shape: [2, 4, 8, 8], dtype: "f32" as const },
      { shape: [6, 2, 3, 3], dtype: "f32" as const },
    ],
    outs: [{ shape: [2, 6, 4, 4], dtype: "f32" as const }],
  };
  const attrs = { stride: [2, 2], padding: [1, 1], dilation: [1, 1], groups: 2 } as never;
  assert.equal(conv.cost(info, attrs).macs, 2 * 6 * 4 * 4 * 2 * 3 * 3);
  assert.deepEqual(
    { ...conv.channels, groups: undefined },
    { kind: "stem", outAxis: 0, inAxis: 1, groups: undefined },
  );
  const ct = o.getOp("convTranspose2d").channels as { outAxis: number; inAxis: number };
  assert.deepEqual([ct.outAxis, ct.inAxis], [1, 0]);
  const nodes: { type: string; attrs?: Record<string, OnnxAttr> }[] = [];
  const e: OnnxEmitter = {
    node: (type, _i, _o, attrs) => void nodes.push({ type, attrs }),
    constant: () => "c",
    fresh: (h) => h,
  };
  (conv.onnx as OnnxRule<never>)(e, { inputs: ["x", "w"], outputs: ["y"], attrs, info });
  assert.deepEqual(nodes[0], {
    type: "Conv",
    attrs: {
      kernel_shape: [3, 3],
      strides: [2, 2],
      pads: [1, 1, 1, 1],
      dilations: [1, 1],
      group: 2,
    },
  });
});
