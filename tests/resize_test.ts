import assert from "node:assert/strict";
import * as o from "../mod.ts";
import {
  assertClose,
  compareBackends,
  gradCheck,
  type HostInput,
  hostRand,
  test,
} from "./helpers.ts";

type T = o.Tensor;

/**
 * Naive PyTorch upsampling of one [h, w] plane (independent of src/ops/resize.ts, f64 math):
 * nearest src = min(floor(dst/scale), in-1); bilinear half-pixel or align-corners sources.
 */
function naiveUpsample(
  x: ArrayLike<number>,
  h: number,
  w: number,
  sh: number,
  sw: number,
  mode: "nearest" | "bilinear",
  align: boolean,
): number[] {
  const oh = Math.floor(h * sh), ow = Math.floor(w * sw);
  const taps = (dst: number, len: number, out: number, s: number) => {
    if (mode === "nearest") {
      const i = Math.min(Math.floor(dst / s), len - 1);
      return [[i, 1]];
    }
    const src = align
      ? (out > 1 ? dst * (len - 1) / (out - 1) : 0)
      : Math.max((dst + 0.5) / s - 0.5, 0);
    const i0 = Math.floor(src), i1 = Math.min(i0 + 1, len - 1), l = src - i0;
    return [[i0, 1 - l], [i1, l]];
  };
  const y: number[] = [];
  for (let a = 0; a < oh; a++) {
    for (let b = 0; b < ow; b++) {
      let v = 0;
      for (const [i, wi] of taps(a, h, oh, sh)) {
        for (const [j, wj] of taps(b, w, ow, sw)) v += wi * wj * x[i * w + j];
      }
      y.push(v);
    }
  }
  return y;
}

test("upsample: hand-computed nearest and bilinear", async () => {
  const [n] = await compareBackends(
    "nearest x2",
    (t: T) => o.upsample(t, { scaleFactor: 2 }),
    [{ data: [1, 2, 3, 4], shape: [1, 1, 2, 2] }],
  );
  assert.deepEqual(n.shape, [1, 1, 4, 4]);
  assert.deepEqual(n.data, [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  const row: HostInput = { data: [0, 1], shape: [1, 1, 1, 2] };
  const [b] = await compareBackends(
    "bilinear x2",
    (t: T) => o.upsample(t, { scaleFactor: 2, mode: "bilinear" }),
    [row],
  );
  assertClose(b.data, [0, 0.25, 0.75, 1, 0, 0.25, 0.75, 1], "half-pixel bilinear");
  const [c] = await compareBackends(
    "bilinear align",
    (t: T) => o.upsample(t, { scaleFactor: 2, mode: "bilinear", alignCorners: true }),
    [row],
  );
  assertClose(c.data, [0, 1 / 3, 2 / 3, 1, 0, 1 / 3, 2 / 3, 1], "align-corners bilinear");
});

const CASES: { name: string; opts: o.UpsampleOptions; shape: number[] }[] = [
  { name: "nearest x3", opts: { scaleFactor: 3 }, shape: [1, 2, 3, 4] },
  { name: "nearest [1.5, 2.5]", opts: { scaleFactor: [1.5, 2.5] }, shape: [2, 1, 4, 3] },
  { name: "nearest 0.5 (down)", opts: { scaleFactor: 0.5 }, shape: [1, 1, 6, 5] },
  { name: "bilinear x2", opts: { scaleFactor: 2, mode: "bilinear" }, shape: [1, 2, 3, 5] },
  { name: "bilinear 1.5", opts: { scaleFactor: [1.5, 3], mode: "bilinear" }, shape: [2, 1, 4, 3] },
  {
    name: "bilinear [7, 2] (more candidate rows than the cache)",
    opts: { scaleFactor: [7, 2], mode: "bilinear" },
    shape: [1, 1, 2, 3],
  },
  {
    name: "bilinear align x2",
    opts: { scaleFactor: 2, mode: "bilinear", alignCorners: true },
    shape: [1, 2, 3, 4],
  },
  {
    name: "bilinear align 2.5",
    opts: { scaleFactor: 2.5, mode: "bilinear", alignCorners: true },
    shape: [1, 1, 3, 2],
  },
];

for (const c of CASES) {
  test(`upsample ${c.name}: naive reference, backends, gradient`, async () => {
    const x = hostRand(c.shape, 5);
    const [r] = await compareBackends(c.name, (t: T) => o.upsample(t, c.opts), [x]);
    const s = c.opts.scaleFactor;
    const [sh, sw] = typeof s === "number" ? [s, s] : s;
    const [h, w] = c.shape.slice(2);
    const expect: number[] = [];
    for (let p = 0; p < c.shape[0] * c.shape[1]; p++) {
      const plane = Array.from(x.data).slice(p * h * w, (p + 1) * h * w);
      expect.push(
        ...naiveUpsample(plane, h, w, sh, sw, c.opts.mode ?? "nearest", !!c.opts.alignCorners),
      );
    }
    assert.deepEqual(r.shape, [...c.shape.slice(0, 2), Math.floor(h * sh), Math.floor(w * sw)]);
    assertClose(r.data, expect, `${c.name} vs naive`);
    await gradCheck(c.name, (t: T) => o.upsample(t, c.opts), [x]);
  });
}

test("upsample backward gathers every output pixel (larger plane)", async () => {
  // Sum of the input gradient = sum of the output gradient for nearest (each output reads one
  // input) and for bilinear (weights sum to 1); checked against the cpu scatter on webgpu.
  for (const mode of ["nearest", "bilinear"] as const) {
    await compareBackends(
      `upsample ${mode} grad`,
      (t: T) => {
        const x = t;
        x.requiresGrad = true;
        const y = o.upsample(x, { scaleFactor: [2, 3], mode });
        o.backward(o.sum(o.mul(y, o.reshape(o.arange(y.size, { backend: y.backend }), y.shape))));
        const g = x.grad!;
        x.grad = null;
        return g;
      },
      [hostRand([1, 2, 9, 11], 3)],
      { atol: 1e-3 },
    );
  }
});

test("pixelShuffle / pixelUnshuffle: hand-computed, inverse, gradients", async () => {
  const [r] = await compareBackends("pixelShuffle", (t: T) => o.pixelShuffle(t, 2), [
    { data: [1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 8, 1, 1] },
  ]);
  assert.deepEqual(r.shape, [1, 2, 2, 2]);
  assert.deepEqual(r.data, [1, 2, 3, 4, 5, 6, 7, 8]);
  // [1, 4, 1, 2] -> [1, 1, 2, 4]: out[0, 0, i, w·2+j] = in[0, i·2+j, 0, w].
  const [s] = await compareBackends("pixelShuffle 2", (t: T) => o.pixelShuffle(t, 2), [
    { data: [1, 2, 3, 4, 5, 6, 7, 8], shape: [1, 4, 1, 2] },
  ]);
  assert.deepEqual(s.data, [1, 3, 2, 4, 5, 7, 6, 8]);
  const x = hostRand([2, 18, 2, 3], 9);
  const [sh, back] = await compareBackends("shuffle roundtrip", (t: T) => {
    const y = o.pixelShuffle(t, 3);
    return [y, o.pixelUnshuffle(y, 3)];
  }, [x]);
  assert.deepEqual(sh.shape, [2, 2, 6, 9]);
  assertClose(back.data, x.data, "pixelUnshuffle inverts pixelShuffle");
  await gradCheck("pixelShuffle", (t: T) => o.pixelShuffle(t, 2), [hostRand([1, 8, 2, 2], 10)]);
  await gradCheck("pixelUnshuffle", (t: T) => o.pixelUnshuffle(t, 2), [hostRand([1, 2, 4, 2], 11)]);
  assert.deepEqual(o.getOp("pixelShuffle").channels?.kind, "pixelShuffle");
  const rule = o.getOp("pixelShuffle").channels as unknown as { factor: (a: unknown) => number };
  assert.equal(rule.factor({ factor: 3 }), 3);
});

test("resize errors name the op and the shapes; facets", () => {
  const x = o.zeros([1, 3, 2, 2], { backend: "cpu" });
  assert.throws(
    () => o.pixelShuffle(x, 2),
    /pixelShuffle: 3 channels are not divisible by factor² = 4 \(shapes \[1,3,2,2\]\)/,
  );
  assert.throws(
    () => o.pixelUnshuffle(o.zeros([1, 1, 3, 4], { backend: "cpu" }), 2),
    /pixelUnshuffle: spatial size 3x4 is not divisible by the factor 2/,
  );
  assert.throws(
    () => o.upsample(o.zeros([3, 2, 2], { backend: "cpu" }), { scaleFactor: 2 }),
    /upsample: expects an NCHW input \(rank 4\), got rank 3 \(shapes \[3,2,2\]\)/,
  );
  assert.throws(
    () => o.upsample(x, { scaleFactor: 0.2 }),
    /upsample: scale factor 0.2,0.2 gives an empty output \(shapes \[1,3,2,2\]\)/,
  );
  assert.throws(
    () => o.upsample(x, { scaleFactor: -1 }),
    /upsample: scaleFactor must be a positive number or \[h, w\], got -1/,
  );
  assert.equal(o.getOp("upsample").channels?.kind, "passthrough");
  const nodes: { type: string; inputs: string[]; attrs?: Record<string, unknown> }[] = [];
  const e = {
    node: (type: string, inputs: string[], _o: string[], attrs?: Record<string, unknown>) =>
      void nodes.push({ type, inputs, attrs }),
    constant: () => "c",
    fresh: (h: string) => h,
  };
  const info = { ins: [{ shape: [1, 4, 2, 2], dtype: "f32" }], outs: [] };
  const emit = (name: string, attrs: unknown) =>
    (o.getOp(name).onnx as unknown as (e: unknown, io: unknown) => void)(e, {
      inputs: ["x"],
      outputs: ["y"],
      attrs,
      info,
    });
  emit("upsample", { scale: [2, 2], mode: "bilinear", alignCorners: false });
  assert.deepEqual(nodes[0], {
    type: "Resize",
    inputs: ["x", "", "c"],
    attrs: { mode: "linear", coordinate_transformation_mode: "pytorch_half_pixel" },
  });
  emit("pixelShuffle", { factor: 2 });
  assert.deepEqual(nodes[1].attrs, { blocksize: 2, mode: "CRD" });
});
