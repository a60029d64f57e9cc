import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  assertClose,
  compareBackends,
  forBackends,
  gradCheck,
  type HostInput,
  hostRand,
  test,
} from "./helpers.ts";

/** Distinct values (spacing 0.1, shuffled) so max pooling has no near-ties under FD steps. */
function distinct(shape: number[], seed: number): HostInput {
  const n = shape.reduce((a, b) => a * b, 1);
  const rng = new o.Rng(seed);
  const perm = rng.permutation(n);
  return { data: Array.from(perm, (v) => (v - n / 2) * 0.1), shape };
}

const range = (n: number, shape: number[]): HostInput => ({
  data: Array.from({ length: n }, (_, i) => i + 1),
  shape,
});

/** Naive PyTorch-semantics pooling on one plane (independent of src/ops/pool.ts). */
function naivePool(
  x: ArrayLike<number>,
  h: number,
  w: number,
  k: number[],
  s: number[],
  p: number[],
  d: number[],
  ceil: boolean,
  kind: "max" | "avg",
  cip = true,
): number[] {
  const size = (L: number, i: number) => {
    const num = L + 2 * p[i] - d[i] * (k[i] - 1) - 1;
    let out = (ceil ? Math.ceil(num / s[i]) : Math.floor(num / s[i])) + 1;
    if (ceil && (out - 1) * s[i] >= L + p[i]) out--;
    return out;
  };
  const oh = size(h, 0), ow = size(w, 1);
  const out: number[] = [];
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      const vals: number[] = [];
      for (let a = 0; a < k[0]; a++) {
        for (let b = 0; b < k[1]; b++) {
          const y = i * s[0] - p[0] + a * d[0], xx = j * s[1] - p[1] + b * d[1];
          if (y >= 0 && y < h && xx >= 0 && xx < w) vals.push(x[y * w + xx]);
        }
      }
      if (kind === "max") out.push(Math.max(...vals));
      else {
        const h0 = i * s[0] - p[0], w0 = j * s[1] - p[1];
        const div = cip
          ? (Math.min(h0 + k[0], h + p[0]) - h0) * (Math.min(w0 + k[1], w + p[1]) - w0)
          : vals.length;
        out.push(vals.reduce((q, v) => q + v, 0) / div);
      }
    }
  }
  return out;
}

test("maxPool2d / avgPool2d: hand-computed 4x4, kernel 2", async () => {
  const x = range(16, [1, 1, 4, 4]);
  const [m] = await compareBackends("maxPool2d 4x4", (t) => o.maxPool2d(t, { kernel: 2 }), [x]);
  assert.deepEqual(m.shape, [1, 1, 2, 2]);
  assert.deepEqual(m.data, [6, 8, 14, 16]);
  const [a] = await compareBackends("avgPool2d 4x4", (t) => o.avgPool2d(t, { kernel: 2 }), [x]);
  assert.deepEqual(a.data, [3.5, 5.5, 11.5, 13.5]);
});

test("avgPool2d: padding with and without countIncludePad", async () => {
  const x: HostInput = { data: Array(9).fill(1), shape: [1, 1, 3, 3] };
  const opts = { kernel: 3, stride: 1, padding: 1 };
  const [inc] = await compareBackends("avg cip", (t) => o.avgPool2d(t, opts), [x]);
  assertClose(inc.data, [4, 6, 4, 6, 9, 6, 4, 6, 4].map((v) => v / 9), "count_include_pad");
  const [exc] = await compareBackends(
    "avg no cip",
    (t) => o.avgPool2d(t, { ...opts, countIncludePad: false }),
    [x],
  );
  assertClose(exc.data, Array(9).fill(1), "exclude pad");
});

test("ceilMode keeps the partial last window (5x5, kernel 2, stride 2)", async () => {
  const x = range(25, [1, 1, 5, 5]); // values 1..25
  const [m] = await compareBackends(
    "max ceil",
    (t) => o.maxPool2d(t, { kernel: 2, ceilMode: true }),
    [x],
  );
  assert.deepEqual(m.shape, [1, 1, 3, 3]);
  assert.deepEqual(m.data, [7, 9, 10, 17, 19, 20, 22, 24, 25]);
  const [a] = await compareBackends(
    "avg ceil",
    (t) => o.avgPool2d(t, { kernel: 2, ceilMode: true }),
    [x],
  );
  // Last column windows hold 2 values (rows r, r+1 of column 5); the corner holds 1.
  assertClose(a.data, [4, 6, 7.5, 14, 16, 17.5, 21.5, 23.5, 25], "avg ceil values");
  const [floor] = await compareBackends("max floor", (t) => o.maxPool2d(t, { kernel: 2 }), [x]);
  assert.deepEqual(floor.shape, [1, 1, 2, 2]);
});

const CASES: { name: string; opts: o.MaxPool2dOptions; shape: number[] }[] = [
  { name: "k3 s2 p1", opts: { kernel: 3, stride: 2, padding: 1 }, shape: [2, 3, 7, 6] },
  { name: "k2 d2", opts: { kernel: 2, dilation: 2, stride: 1 }, shape: [1, 2, 5, 6] },
  {
    name: "k[2,3] s[1,2] p[1,1]",
    opts: { kernel: [2, 3], stride: [1, 2], padding: [1, 1] },
    shape: [1, 2, 4, 7],
  },
  {
    name: "k3 s2 ceil",
    opts: { kernel: 3, stride: 2, ceilMode: true, padding: 1 },
    shape: [1, 2, 6, 6],
  },
];

for (const c of CASES) {
  test(`maxPool2d ${c.name}: naive reference, backends, gradient`, async () => {
    const x = distinct(c.shape, 3);
    const [r] = await compareBackends(`maxPool2d ${c.name}`, (t) => o.maxPool2d(t, c.opts), [x]);
    const pair = (v: number | readonly number[] | undefined, dflt: number[]) =>
      v === undefined ? dflt : typeof v === "number" ? [v, v] : [...v];
    const k = pair(c.opts.kernel, []), s = pair(c.opts.stride, k);
    const p = pair(c.opts.padding, [0, 0]), d = pair(c.opts.dilation, [1, 1]);
    const [h, w] = c.shape.slice(2), plane = h * w;
    const expect: number[] = [];
    for (let q = 0; q < c.shape[0] * c.shape[1]; q++) {
      const xs = Array.from(x.data).slice(q * plane, (q + 1) * plane);
      expect.push(...naivePool(xs, h, w, k, s, p, d, c.opts.ceilMode ?? false, "max"));
    }
    assertClose(r.data, expect, `maxPool2d ${c.name} vs naive`);
    await gradCheck(`maxPool2d ${c.name}`, (t) => o.maxPool2d(t, c.opts), [x]);
    if (!c.opts.dilation) {
      for (const cip of [true, false]) {
        const ao = { ...c.opts, countIncludePad: cip };
        const [ra] = await compareBackends(`avgPool2d ${c.name}`, (t) => o.avgPool2d(t, ao), [x]);
        const ea: number[] = [];
        for (let q = 0; q < c.shape[0] * c.shape[1]; q++) {
          const xs = Array.from(x.data).slice(q * plane, (q + 1) * plane);
          ea.push(...naivePool(xs, h, w, k, s, p, d, ao.ceilMode ?? false, "avg", cip));
        }
        assertClose(ra.data, ea, `avgPool2d ${c.name} cip=${cip} vs naive`);
        await gradCheck(`avgPool2d ${c.name} cip=${cip}`, (t) => o.avgPool2d(t, ao), [x]);
      }
    }
  });
}

test("maxPool2d gradient goes to the first maximum on ties", async () => {
  const x: HostInput = { data: [1, 5, 5, 0, 2, 5, 3, 5, 1], shape: [1, 1, 3, 3] };
  await forBackends(async (be) => {
    const t = o.fromHost(Float32Array.from(x.data), x.shape, "f32", be).keep();
    t.requiresGrad = true;
    o.tidy(() => o.backward(o.sum(o.maxPool2d(t, { kernel: 2, stride: 1 }))));
    // Windows: {1,5,0,2} {5,5,2,5} {0,2,3,5} {2,5,5,1}: maxima at (0,1), (0,1), (2,1), (1,2).
    assert.deepEqual(await t.grad!.array(), [0, 2, 0, 0, 0, 1, 0, 1, 0], `ties on ${be}`);
    t.grad!.dispose();
    t.dispose();
    // Windows that tile the input (kernel = stride: the one-pass backward): {5,5,5,0} -> (0,0),
    // {1,7,7,7} -> (0,3).
    const u = o.fromHost(Float32Array.from([5, 5, 1, 7, 5, 0, 7, 7]), [1, 1, 2, 4], "f32", be)
      .keep();
    u.requiresGrad = true;
    o.tidy(() => o.backward(o.sum(o.maxPool2d(u, { kernel: 2 }))));
    assert.deepEqual(await u.grad!.array(), [1, 0, 0, 1, 0, 0, 0, 0], `tiled ties on ${be}`);
    u.grad!.dispose();
    u.dispose();
  });
});

test("adaptiveAvgPool2d: PyTorch bins, global fast path, gradient", async () => {
  // 1x5 -> 3 bins: [0,2) [1,4) [3,5) (overlapping, PyTorch rule).
  const [r] = await compareBackends(
    "adaptive 1x5->1x3",
    (t) => o.adaptiveAvgPool2d(t, [1, 3]),
    [{ data: [1, 2, 3, 4, 10], shape: [1, 1, 1, 5] }],
  );
  assertClose(r.data, [1.5, 3, 7], "bins");
  const x = hostRand([2, 3, 5, 7], 11);
  const [g] = await compareBackends("global", (t) => o.adaptiveAvgPool2d(t, [1, 1]), [x]);
  const means = [];
  for (let p = 0; p < 6; p++) {
    means.push(Array.from(x.data).slice(p * 35, p * 35 + 35).reduce((a, b) => a + b, 0) / 35);
  }
  assertClose(g.data, means, "global means");
  // Many small planes: one thread per plane over several workgroups.
  await compareBackends("global 300 planes of 4x4", (t) => o.adaptiveAvgPool2d(t, 1), [
    hostRand([30, 10, 4, 4], 3),
  ]);
  // Larger plane for the workgroup reduction (> 64 elements per thread group pass).
  await compareBackends("global 40x40", (t) => o.adaptiveAvgPool2d(t, 1), [
    hostRand([3, 2, 40, 40], 2),
  ]);
  await compareBackends("adaptive 5x7->3x4", (t) => o.adaptiveAvgPool2d(t, [3, 4]), [x]);
  await compareBackends("adaptive up 2x3->4x5", (t) => o.adaptiveAvgPool2d(t, [4, 5]), [
    hostRand([1, 2, 2, 3], 5),
  ]);
  await gradCheck("adaptive 5x7->3x4", (t) => o.adaptiveAvgPool2d(t, [3, 4]), [
    hostRand([1, 2, 5, 7], 4),
  ]);
  await gradCheck("adaptive global", (t) => o.adaptiveAvgPool2d(t, [1, 1]), [
    hostRand([2, 2, 3, 3], 6),
  ]);
});

test("pool errors name the op and the shapes", () => {
  const x = o.zeros([1, 2, 4, 4], { backend: "cpu" });
  assert.throws(
    () => o.maxPool2d(o.zeros([2, 4, 4], { backend: "cpu" }), { kernel: 2 }),
    /maxPool2d: expects an NCHW input \(rank 4\), got rank 3 \(shapes \[2,4,4\]\)/,
  );
  assert.throws(
    () => o.maxPool2d(x, { kernel: 2, padding: 2 }),
    /maxPool2d: padding 2,2 must be at most half the kernel 2,2 \(shapes \[1,2,4,4\]\)/,
  );
  assert.throws(
    () => o.avgPool2d(x, { kernel: 5 }),
    /avgPool2d: kernel 5,5 .*larger than the padded input 4x4/,
  );
  assert.throws(() => o.maxPool2d(x, { kernel: 0 }), /maxPool2d: kernel must be an integer >= 1/);
  assert.throws(
    () => o.adaptiveAvgPool2d(x, [0, 2]),
    /adaptiveAvgPool2d: size must be an integer >= 1/,
  );
});

test("pool facets: passthrough channels, ONNX nodes, cost", () => {
  for (const name of ["maxPool2d", "avgPool2d", "adaptiveAvgPool2d"]) {
    assert.equal(o.getOp(name).channels?.kind, "passthrough", name);
  }
  const nodes: { type: string; attrs?: Record<string, unknown> }[] = [];
  const consts: number[][] = [];
  const e = {
    node: (type: string, _i: string[], _o: string[], attrs?: Record<string, unknown>) =>
      void nodes.push({ type, attrs }),
    constant: (v: number[]) => (consts.push(v), `c${consts.length - 1}`),
    fresh: (h: string) => h,
  };
  const io = (x: number[], y: number[]) => ({
    ins: [{ shape: x, dtype: "f32" as const }],
    outs: [{ shape: y, dtype: "f32" as const }],
  });
  const attrs = {
    kernel: [3, 3],
    stride: [2, 2],
    padding: [1, 1],
    dilation: [1, 1],
    ceilMode: false,
    countIncludePad: true,
  };
  const emit = (name: string, a: unknown, info = io([1, 2, 6, 6], [1, 2, 3, 3])) =>
    (o.getOp(name).onnx as unknown as (e: unknown, io: unknown) => void)(e, {
      inputs: ["x"],
      outputs: ["y"],
      attrs: a,
      info,
    });
  emit("maxPool2d", attrs);
  assert.deepEqual(nodes[0], {
    type: "MaxPool",
    attrs: { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1], dilations: [1, 1] },
  });
  const cost = o.getOp("maxPool2d").cost!(io([1, 2, 6, 6], [1, 2, 3, 3]), attrs as never);
  assert.deepEqual(cost, { macs: 0, flops: 18 * 9 });
  // Ceil mode: floor mode with end padding, then PyTorch's divisors as a constant rescale.
  nodes.length = 0;
  const ceil = { ...attrs, kernel: [2, 2], padding: [0, 0], ceilMode: true };
  emit("avgPool2d", ceil, io([1, 1, 5, 5], [1, 1, 3, 3]));
  assert.deepEqual(nodes.map((n) => n.type), ["AveragePool", "Mul"]);
  assert.deepEqual(nodes[0].attrs!.pads, [0, 0, 1, 1]);
  assert.deepEqual(consts.at(-1), [1, 1, 2, 1, 1, 2, 2, 2, 4]);
  nodes.length = 0;
  emit("adaptiveAvgPool2d", { size: [1, 1] });
  assert.equal(nodes[0].type, "GlobalAveragePool");
  emit("adaptiveAvgPool2d", { size: [4, 4] }, io([1, 2, 6, 6], [1, 2, 4, 4])); // uneven bins
  assert.equal(nodes.filter((n) => n.type === "ReduceMean").length, 16);
});
