/**
 * Reductions: sum/mean/max/min over single axes, several non-adjacent axes, all axes, keepDims,
 * the two-pass GPU path (few outputs, > 2048 reduced elements), argmax ties, gradients.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, compareBackends, gradCheck, hostRand, test } from "./helpers.ts";

const KINDS = ["sum", "mean", "max", "min"] as const;
type Red = (x: o.Tensor, axes?: number | number[], keep?: boolean) => o.Tensor;

/** Reference reduction in float64 over `axes` of a row-major array. */
function reference(
  data: ArrayLike<number>,
  shape: number[],
  axes: number[],
  kind: (typeof KINDS)[number],
): number[] {
  const outShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const nOut = outShape.reduce((a, b) => a * b, 1);
  const acc = new Array(nOut).fill(kind === "max" ? -Infinity : kind === "min" ? Infinity : 0);
  const count = axes.reduce((a, ax) => a * shape[ax], 1);
  for (let i = 0; i < data.length; i++) {
    let rem = i, o = 0, mul = 1;
    for (let d = shape.length - 1; d >= 0; d--) {
      const c = rem % shape[d];
      rem = (rem - c) / shape[d];
      if (!axes.includes(d)) o += c * mul;
      mul *= outShape[d];
    }
    const v = data[i];
    acc[o] = kind === "max"
      ? Math.max(acc[o], v)
      : kind === "min"
      ? Math.min(acc[o], v)
      : acc[o] + v;
  }
  return kind === "mean" ? acc.map((v) => v / count) : acc;
}

for (const kind of KINDS) {
  test(`${kind}: single, non-adjacent, all axes, keepDims, both backends`, async () => {
    const f = o[kind] as Red;
    const x = hostRand([3, 4, 5, 2], 1);
    const cases: [number[] | undefined, boolean, number[]][] = [
      [[1], false, [3, 5, 2]],
      [[-1], true, [3, 4, 5, 1]],
      [[0, 2], false, [4, 2]],
      [[1, 3], true, [3, 1, 5, 1]],
      [[0, 1, 3], false, [5]],
      [undefined, false, []],
      [undefined, true, [1, 1, 1, 1]],
    ];
    for (const [axes, keep, shape] of cases) {
      const [r] = await compareBackends(`${kind} ${axes} keep=${keep}`, (t) => f(t, axes, keep), [
        x,
      ]);
      assert.deepEqual(r.shape, shape, `${kind} over ${axes} keepDims=${keep}`);
      const norm = (axes ?? [0, 1, 2, 3]).map((a) => (a + 4) % 4);
      assertClose(r.data, reference(x.data, [3, 4, 5, 2], norm, kind), `${kind} ${axes} values`);
    }
  });

  test(`${kind}: two-pass path (few outputs, many reduced elements) and odd sizes`, async () => {
    const f = o[kind] as Red;
    const big = hostRand([3, 5000], 2);
    const [r] = await compareBackends(`${kind} [3,5000] axis 1`, (t) => f(t, 1), [big], {
      rtol: 1e-4,
      atol: 1e-4,
    });
    assertClose(r.data, reference(big.data, [3, 5000], [1], kind), `${kind} two-pass`, 1e-4, 1e-4);
    // Non-contiguous reduced axes through the chunked path: [2, 3001, 2] over axes 0 and 1.
    const nc = hostRand([2, 3001, 2], 3);
    const [s] = await compareBackends(
      `${kind} non-contiguous two-pass`,
      (t) => f(t, [0, 1]),
      [nc],
      {
        atol: 1e-4,
      },
    );
    assertClose(s.data, reference(nc.data, [2, 3001, 2], [0, 1], kind), `${kind} nc`, 1e-4, 1e-4);
    // Everything of an odd, large size (not a multiple of any workgroup size).
    const [all] = await compareBackends(
      `${kind} all of 70001`,
      (t) => f(t),
      [hostRand([70001], 4)],
      {
        atol: 1e-3,
      },
    );
    assert.deepEqual(all.shape, []);
    // Many outputs, short rows.
    await compareBackends(`${kind} [70001,3] axis 1`, (t) => f(t, 1), [hostRand([70001, 3], 5)]);
  });
}

test("reductions: hand-checked values", async () => {
  const x = { data: [1, 2, 3, 4, 5, 6], shape: [2, 3] };
  const [s] = await compareBackends("sum axis 0", (t) => o.sum(t, 0), [x]);
  assert.deepEqual(s.data, [5, 7, 9]);
  const [m] = await compareBackends("mean axis 1", (t) => o.mean(t, 1, true), [x]);
  assert.deepEqual(m.data, [2, 5]);
  assert.deepEqual(m.shape, [2, 1]);
  const [mx] = await compareBackends("max all", (t) => o.max(t), [x]);
  assert.deepEqual(mx.data, [6]);
  const [mn] = await compareBackends("min axis 1", (t) => o.min(t, -1), [x]);
  assert.deepEqual(mn.data, [1, 4]);
});

test("argmax: first index wins ties, any axis, both backends", async () => {
  const [r] = await compareBackends("argmax ties", (t) => o.argmax(t, 1), [{
    data: [1, 3, 3, 2, 5, 5, 5, 5, -1, -2, -1, -3],
    shape: [3, 4],
  }]);
  assert.deepEqual(r.data, [1, 0, 0]);
  const [c] = await compareBackends("argmax axis 0", (t) => o.argmax(t, 0), [{
    data: [0, 9, 2, 9, 1, 2],
    shape: [3, 2],
  }]);
  assert.deepEqual(c.data, [1, 0]);
  const x = hostRand([7, 70001], 6);
  await compareBackends("argmax big", (t) => o.argmax(t, 0), [x]);
  await compareBackends("argmax rows", (t) => o.argmax(t, -1), [hostRand([301, 257], 7)]);
  assert.throws(
    () => o.argmax(o.zeros([2, 3], { backend: "cpu" }), 2),
    /argmax: axis 2 is out of range for a tensor of rank 2/,
  );
});

test("reduction gradients match finite differences", async () => {
  const x = hostRand([3, 4, 2], 8);
  await gradCheck("sum axes", (t) => o.sum(t, [0, 2]), [x]);
  await gradCheck("sum keepDims", (t) => o.sum(t, 1, true), [x]);
  await gradCheck("mean", (t) => o.mean(t, [2, 0], true), [x]);
  await gradCheck("mean all", (t) => o.mean(t), [x]);
  await gradCheck("max", (t) => o.max(t, 1), [x]);
  await gradCheck("min all", (t) => o.min(t), [x]);
});

test("max/min gradients split evenly between tied extremes", async () => {
  const cases = [
    [o.max, [1, 3, 3, 2], [0, 0.5, 0.5, 0]],
    [o.min, [0, 1, 2, 0, 0], [1 / 3, 0, 0, 1 / 3, 1 / 3]],
  ] as const;
  const backends: o.BackendName[] = o.getDefaultBackend() === "webgpu"
    ? ["cpu", "webgpu"]
    : ["cpu"];
  for (const [f, data, want] of cases) {
    for (const be of backends) {
      const x = o.fromHost(Float32Array.from(data), [data.length], "f32", be);
      x.requiresGrad = true;
      o.backward(f(x));
      assertClose(await x.grad!.array(), want, `${f.name} tie gradient (${be})`);
      x.grad!.dispose();
    }
  }
});

test("reduction errors name the op", () => {
  const x = o.zeros([2, 3], { backend: "cpu" });
  assert.throws(() => o.sum(x, 2), /sum: axis 2 is out of range for a tensor of rank 2/);
  assert.throws(() => o.mean(x, [1, -1]), /mean: repeated axis in \[1,-1\]/);
  assert.throws(
    () => o.max(o.zeros([2], { backend: "cpu", dtype: "i32" })),
    /max: expects f32, got i32/,
  );
});
