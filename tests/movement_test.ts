/**
 * Data movement ops: reshape, expand, permute/transpose, slice, concat/split, pad, gather,
 * indexSelect, oneHot. Forward on both backends (odd sizes, > 65535 workgroup threads),
 * hand-checked values against NumPy semantics, gradients against finite differences, and errors.
 */
import assert from "node:assert/strict";
import * as o from "../mod.ts";
import { assertClose, compareBackends, gradCheck, hostRand, onWebgpu, test } from "./helpers.ts";

const arange = (n: number) => ({ data: Array.from({ length: n }, (_, i) => i), shape: [n] });
const ints = (data: number[], shape = [data.length]) => ({ data, shape, dtype: "i32" as const });
const cpu = (data: number[], shape: number[]) =>
  o.fromHost(Float32Array.from(data), shape, "f32", "cpu");

test("reshape, expand, permute, transpose: both backends and gradients", async () => {
  const x = hostRand([2, 3, 5], 1);
  await compareBackends("reshape", (a) => o.reshape(a, [5, -1]), [x]);
  await compareBackends("expand", (a) => o.expand(a, [4, 2, 3, 5]), [hostRand([2, 1, 5], 2)]);
  await compareBackends("permute", (a) => o.permute(a, [2, 0, 1]), [x]);
  await compareBackends("transpose", (a) => o.transpose(a), [x]);
  await compareBackends("permute big", (a) => o.permute(a, [1, 0]), [hostRand([7, 10001], 3)]);
  const [t] = await compareBackends("transpose values", (a) => o.transpose(a), [{
    data: [1, 2, 3, 4, 5, 6],
    shape: [2, 3],
  }]);
  assert.deepEqual(t.data, [1, 4, 2, 5, 3, 6]);
  await gradCheck("reshape", (a) => o.reshape(a, [3, 10]), [x]);
  await gradCheck("expand", (a) => o.expand(a, [3, 2, 4, 5]), [hostRand([2, 1, 5], 4)]);
  await gradCheck("permute", (a) => o.permute(a, [1, 2, 0]), [x]);
  await gradCheck("transpose", (a) => o.transpose(a, 0, 2), [x]);
});

test("slice follows NumPy: negative indices, clamping, steps, reversal, empty", async () => {
  const cases: [number[], number[], number[] | undefined, number[]][] = [
    [[-3], [Infinity], undefined, [7, 8, 9]], // x[-3:]
    [[2], [-2], undefined, [2, 3, 4, 5, 6, 7]], // x[2:-2]
    [[-100], [100], undefined, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], // clamped
    [[1], [9], [3], [1, 4, 7]], // x[1:9:3]
    [[8], [2], [-2], [8, 6, 4]], // x[8:2:-2]
    [[-1], [-Infinity], [-1], [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]], // x[::-1]
    [[100], [-100], [-4], [9, 5, 1]], // start clamped to the end for negative steps
    [[5], [2], undefined, []], // empty
    [[3], [3], [-1], []],
  ];
  for (const [s, e, st, want] of cases) {
    const [r] = await compareBackends(
      `slice ${s}:${e}:${st}`,
      (a) => o.slice(a, s, e, st),
      [arange(10)],
    );
    assert.deepEqual(r.data, want, `x[${s}:${e}:${st ?? 1}]`);
    assert.deepEqual(r.shape, [want.length]);
  }
});

test("slice of several axes, odd and large sizes, on both backends", async () => {
  const x = hostRand([4, 5, 6], 5);
  const [r] = await compareBackends(
    "slice 3d",
    (a) => o.slice(a, [1, -1, 0], [3, 0, 6], [1, -2, 2]),
    [x],
  );
  assert.deepEqual(r.shape, [2, 2, 3]);
  // x[1:3, -1:0:-2, 0:6:2] by hand
  const want: number[] = [];
  for (const i of [1, 2]) {
    for (const j of [4, 2]) for (const k of [0, 2, 4]) want.push(x.data[i * 30 + j * 6 + k]);
  }
  assertClose(r.data, want, "slice 3d values", 0, 0);
  // Leading axes only; the rest stay whole.
  const [lead] = await compareBackends("slice leading", (a) => o.slice(a, [2], [4]), [x]);
  assert.deepEqual(lead.shape, [2, 5, 6]);
  await compareBackends("slice big", (a) => o.slice(a, [1, 3], [70002, 200], [1, 7]), [
    hostRand([70003, 211], 6),
  ]);
  await compareBackends("slice i32", (a) => o.slice(a, [1], [4]), [ints([5, 6, 7, 8, 9])]);
});

test("slice gradients (steps, negative steps) match finite differences", async () => {
  await gradCheck("slice", (a) => o.slice(a, [1, -1], [3, 0], [1, -2]), [hostRand([4, 6], 7)]);
  await gradCheck("slice step", (a) => o.slice(a, [0, 1, 1], [3, 4, 5], [2, 1, 3]), [
    hostRand([3, 4, 5], 8),
  ]);
});

test("concat and split along every axis, values, big sizes", async () => {
  const a = hostRand([2, 3, 4], 9), b = hostRand([2, 1, 4], 10), c = hostRand([2, 5, 4], 11);
  const [r] = await compareBackends("concat axis 1", (x, y, z) => o.concat([x, y, z], 1), [
    a,
    b,
    c,
  ]);
  assert.deepEqual(r.shape, [2, 9, 4]);
  // Row 0 of the batch: a's 12 values, then b's 4, then c's 20.
  assertClose(
    r.data.slice(0, 36),
    [
      ...Array.from(a.data).slice(0, 12),
      ...Array.from(b.data).slice(0, 4),
      ...Array.from(c.data).slice(0, 20),
    ],
    "concat values",
    0,
    0,
  );
  await compareBackends("concat axis 0", (x, y) => o.concat([x, y], 0), [
    hostRand([3, 7], 12),
    hostRand([1, 7], 13),
  ]);
  await compareBackends("concat axis -1", (x, y) => o.concat([x, y], -1), [
    hostRand([3, 2, 5], 14),
    hostRand([3, 2, 1], 15),
  ]);
  await compareBackends("concat big", (x, y) => o.concat([x, y], 0), [
    hostRand([70001], 16),
    hostRand([3], 17),
  ]);
  await compareBackends("concat i32", (x, y) => o.concat([x, y]), [ints([1, 2]), ints([3])]);

  const x = hostRand([3, 7, 2], 18);
  const parts = await compareBackends("split sizes", (t) => o.split(t, [2, 0, 5], 1), [x]);
  assert.deepEqual(parts.map((p) => p.shape), [[3, 2, 2], [3, 0, 2], [3, 5, 2]]);
  assertClose(parts[0].data.slice(0, 4), Array.from(x.data).slice(0, 4), "split values", 0, 0);
  const halves = await compareBackends("split count", (t) => o.split(t, 3, 0), [x]);
  assert.equal(halves.length, 3);
  assertClose(halves[2].data, Array.from(x.data).slice(28), "split count values", 0, 0);
  await compareBackends("split big", (t) => o.split(t, [35000, 35001]), [hostRand([70001], 19)]);
});

test("concat and split gradients match finite differences", async () => {
  await gradCheck("concat", (x, y) => o.concat([x, y, x], 1), [
    hostRand([2, 3], 20),
    hostRand([2, 2], 21),
  ]);
  await gradCheck("concat axis 0", (x, y) => o.concat([x, y], 0), [
    hostRand([1, 3], 22),
    hostRand([2, 3], 23),
  ]);
  // One part unused (its gradient is zero) and the others recombined.
  await gradCheck("split", (x) => {
    const [p, _q, r] = o.split(x, [1, 2, 2], 1);
    return o.concat([o.square(r), p], 1);
  }, [hostRand([2, 5], 24)]);
  await gradCheck("split count", (x) => o.split(x, 2, 0)[1], [hostRand([4, 3], 25)]);
});

test("pad: constant value, both backends, gradient", async () => {
  const [r] = await compareBackends("pad", (a) => o.pad(a, [[1, 0], [0, 2]], 7), [{
    data: [1, 2, 3, 4],
    shape: [2, 2],
  }]);
  assert.deepEqual(r.shape, [3, 4]);
  assert.deepEqual(r.data, [7, 7, 7, 7, 1, 2, 7, 7, 3, 4, 7, 7]);
  const [flat] = await compareBackends("pad flat", (a) => o.pad(a, [0, 0, 2, 1]), [
    hostRand([1, 3], 26),
  ]);
  assert.deepEqual(flat.shape, [1, 6]);
  assert.equal(flat.data[0], 0);
  await compareBackends("pad 4d", (a) => o.pad(a, [[0, 0], [0, 0], [1, 1], [2, 3]]), [
    hostRand([2, 3, 5, 4], 27),
  ]);
  await compareBackends("pad big", (a) => o.pad(a, [[3, 5]], -1), [hostRand([70001], 28)]);
  await compareBackends("pad i32", (a) => o.pad(a, [[1, 1]], -5), [ints([1, 2])]);
  await gradCheck("pad", (a) => o.pad(a, [[1, 2], [0, 1]], 0.5), [hostRand([2, 3], 29)]);
});

test("gather and indexSelect: repeated, negative and 2-D indices; gradients add up", async () => {
  const x = hostRand([4, 3], 30);
  const [g] = await compareBackends("indexSelect", (a, i) => o.indexSelect(a, 0, i), [
    x,
    ints([3, 0, 3, -1]),
  ]);
  assert.deepEqual(g.shape, [4, 3]);
  const row = (k: number) => Array.from(x.data).slice(k * 3, k * 3 + 3);
  assertClose(g.data, [...row(3), ...row(0), ...row(3), ...row(3)], "indexSelect rows", 0, 0);
  const [c] = await compareBackends("gather axis 1 with 2-D indices", (a, i) => o.gather(a, 1, i), [
    hostRand([2, 5, 3], 31),
    ints([4, 0, 2, 2, 1, -5], [2, 3]),
  ]);
  assert.deepEqual(c.shape, [2, 2, 3, 3]);
  await compareBackends("gather big", (a, i) => o.gather(a, 0, i), [
    hostRand([70001], 32),
    ints(Array.from({ length: 70001 }, (_, i) => (i * 7919) % 70001)),
  ]);
  await compareBackends("gather i32 values", (a, i) => o.gather(a, 0, i), [
    ints([10, 20, 30]),
    ints([2, 2, 0]),
  ]);
  // Repeated indices: the gradient sums every pick.
  await gradCheck("indexSelect", (a, i) => o.indexSelect(a, 0, i), [x, ints([1, 1, 3, -1])]);
  await gradCheck("gather 2-D", (a, i) => o.gather(a, 1, i), [
    hostRand([2, 4, 2], 33),
    ints([3, 3, 0, 1], [2, 2]),
  ]);
  const w = o.fromHost(Float32Array.from([1, 2, 3]), [3], "f32", "cpu");
  w.requiresGrad = true;
  o.backward(
    o.sum(o.indexSelect(w, 0, o.tensor([2, 0, 2, 2], [4], { dtype: "i32", backend: "cpu" }))),
  );
  assert.deepEqual(await w.grad!.array(), [1, 0, 3]);
});

test("gather: out-of-range indices throw on cpu and are clamped on the GPU", async () => {
  const x = o.fromHost(Float32Array.from([10, 20, 30]), [3], "f32", "cpu");
  const bad = o.tensor([0, 5], [2], { dtype: "i32", backend: "cpu" });
  assert.throws(
    () => o.gather(x, 0, bad),
    /gather: index 5 \(position 1\) is out of range for axis 0 of size 3/,
  );
  await onWebgpu("clamped indices", async () => {
    const gx = await o.toBackend(x, "webgpu"), gb = await o.toBackend(bad, "webgpu");
    assert.deepEqual(await o.gather(gx, 0, gb).array(), [10, 30]);
    const neg = o.tensor([-9], [1], { dtype: "i32", backend: "webgpu" });
    assert.deepEqual(await o.gather(gx, 0, neg).array(), [10]);
  });
});

test("oneHot: values, both backends, bad labels", async () => {
  const [r] = await compareBackends("oneHot", (y) => o.oneHot(y, 4), [ints([2, 0, 3], [3, 1])]);
  assert.deepEqual(r.shape, [3, 1, 4]);
  assert.deepEqual(r.data, [0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
  await compareBackends("oneHot big", (y) => o.oneHot(y, 3), [
    ints(Array.from({ length: 70001 }, (_, i) => i % 3)),
  ]);
  const y = o.tensor([1, 4], [2], { dtype: "i32", backend: "cpu" });
  assert.throws(
    () => o.oneHot(y, 4),
    /oneHot: label 4 \(position 1\) is out of range for 4 classes/,
  );
  assert.throws(() => o.oneHot(cpu([1], [1]), 4), /oneHot: labels must be i32, got f32/);
  await onWebgpu("out-of-range label", async () => {
    const gy = await o.toBackend(y, "webgpu");
    assert.deepEqual(await o.oneHot(gy, 4).array(), [0, 1, 0, 0, 0, 0, 0, 0]);
  });
});

test("movement errors name the op and the shapes", () => {
  const a = cpu([1, 2, 3, 4, 5, 6], [2, 3]), b = cpu([1, 2, 3, 4], [2, 2]);
  const c = cpu([1, 2, 3, 4], [4, 1]);
  assert.throws(
    () => o.concat([a, c], 1),
    /concat: sizes differ on axis 0 \(2 vs 4\); only axis 1 may differ \(shapes \[2,3\], \[4,1\]\)/,
  );
  assert.throws(() => o.concat([a, b], 0), /concat: sizes differ on axis 1 .*\[2,3\], \[2,2\]/);
  assert.throws(() => o.concat([a, cpu([1], [1])], 0), /concat: ranks differ .*\[2,3\], \[1\]/);
  assert.throws(() => o.concat([], 0), /concat: needs at least one tensor/);
  assert.throws(() => o.split(a, [1, 1], 1), /split: sizes \[1,1\] .* summing to 3 .*\[2,3\]/);
  assert.throws(() => o.split(a, 2, 1), /split: axis 1 of size 3 does not split into 2/);
  assert.throws(() => o.pad(a, [[1, 1]]), /pad: needs 2 \[before, after\] pairs.*\[2,3\]/);
  assert.throws(() => o.pad(a, [[1, 1], [-1, 0]]), /pad: pad sizes must be non-negative/);
  assert.throws(() => o.slice(a, [0, 0, 0], [1, 1, 1]), /slice: got 3 starts.*rank 2.*\[2,3\]/);
  assert.throws(() => o.slice(a, [0], [1], [0]), /slice: step must be a nonzero integer/);
  assert.throws(
    () => o.gather(a, 0, cpu([0], [1])),
    /gather: indices must be i32, got f32 .*\(shapes \[2,3\], \[1\]\)/,
  );
  assert.throws(
    () => o.gather(a, 2, o.tensor([0], [1], { dtype: "i32", backend: "cpu" })),
    /gather: axis 2/,
  );
  assert.throws(
    () => o.indexSelect(a, 0, o.tensor([[0]], [1, 1], { dtype: "i32", backend: "cpu" })),
    /indexSelect: indices must be 1-D \(shapes \[2,3\], \[1,1\]\)/,
  );
  assert.throws(() => o.expand(a, [3, 3]), /expand: cannot expand \(shapes \[2,3\], \[3,3\]\)/);
  assert.throws(() => o.permute(a, [0, 0]), /permute: \[0,0\] is not a permutation of 2 axes/);
});
